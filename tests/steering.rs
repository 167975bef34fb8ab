//! Steering a real worker: every live setting takes effect where the table in `config::live`
//! says it is applied, and a checkpoint that cannot be written (a small file system the test
//! mounts) is retried after pruning, then reported, pausing the run, never passed over.
//!
//! Needs the real data and libtorch, like tests/training.rs; the full-disk tests mount a tmpfs
//! and so need root (as CI and the README's test command run here); elsewhere they fail unless
//! `ALEXNET_TUI_ALLOW_SKIP=1` lets them pass unchecked (see tests/common/skip.rs).

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use alexnet_tui::config::{Applier, Config, LIVE, Schedule};
use alexnet_tui::control::Steering;
use alexnet_tui::report::Steer;
use alexnet_tui::train::checkpoint::{self, Checkpoint};
use alexnet_tui::train::range_test::RangeEnd;
use alexnet_tui::train::snapshot::Moment;
use alexnet_tui::train::{Command, Event, PauseReason, SaveReason};

mod common;
use common::skip::{self, Tmpfs};
use common::{MINUTE, serial, small_config, start, until};

/// A config in which every live setting differs from `base`'s, with values a run accepts.
fn every_live_key_changed(base: &Config) -> Config {
    let mut new = base.clone();
    new.training.learning_rate = base.training.learning_rate * 0.5;
    new.training.momentum = if base.training.momentum == 0.8 {
        0.7
    } else {
        0.8
    };
    new.training.nesterov = !base.training.nesterov;
    new.training.weight_decay = base.training.weight_decay + 1e-4;
    new.training.epochs = base.training.epochs + 2.0;
    new.training.target_accuracy = 0.99;
    new.checkpoint.interval_minutes = base.checkpoint.interval_minutes + 7.0;
    new.checkpoint.keep = base.checkpoint.keep + 1;
    new.checkpoint.keep_at_end = base.checkpoint.keep_at_end + 1;
    new.ui.refresh_hz = base.ui.refresh_hz + 1.0;
    new.ui.headless_interval_seconds = base.ui.headless_interval_seconds + 1.0;
    new.lr_find.start = base.lr_find.start * 10.0;
    new.lr_find.end = base.lr_find.end / 2.0;
    new.lr_find.steps = if base.lr_find.steps == 10 { 11 } else { 10 };
    let diff = base.diff(&new);
    assert_eq!(
        diff.live.len(),
        LIVE.len(),
        "the test must change every live key: {diff:?}"
    );
    new
}

#[test]
fn every_worker_key_takes_effect_in_a_real_worker() {
    let _serial = serial();
    let runs = tempfile::tempdir().expect("temp dir");
    let mut config = small_config(runs.path());
    config.training.nesterov = false;
    config.training.momentum = 0.9;
    config.training.epochs = 1.0;
    // The learning rate a batch reports is the configured one only without a schedule.
    config.training.schedule = Schedule::Constant;
    let edited = every_live_key_changed(&config);
    let mut handle = start(config.clone(), false, None);
    until(&mut handle, MINUTE, |e| matches!(e, Event::Ready(_)));
    handle
        .commands
        .send(Command::Reconfigure(Box::new(edited.clone())))
        .expect("send");
    let Event::Reconfigured { changes } = until(&mut handle, MINUTE, |e| {
        matches!(e, Event::Reconfigured { .. })
    }) else {
        unreachable!()
    };
    // Exactly the worker's keys, each with the new value as config.toml writes it.
    let mut worker_keys: Vec<&str> = LIVE
        .iter()
        .filter(|live| live.applier == Applier::Worker)
        .map(|live| live.key)
        .collect();
    worker_keys.sort_unstable();
    let mut changed: Vec<&str> = changes.iter().map(|c| c.key.as_str()).collect();
    changed.sort_unstable();
    assert_eq!(changed, worker_keys);
    for change in &changes {
        assert_eq!(Some(change.new.clone()), edited.value_of(&change.key));
    }
    // They are in force: a range test runs over the new `[lr_find]` settings (cancelled before
    // its first batch), the next batch uses the new learning rate, and the run's config as a
    // checkpoint saves it holds every new worker value and none of the front end's.
    handle
        .commands
        .send(Command::FindLearningRate)
        .expect("send");
    handle
        .commands
        .send(Command::CancelRangeTest)
        .expect("send");
    let Event::RangeStarted(settings) =
        until(&mut handle, MINUTE, |e| matches!(e, Event::RangeStarted(_)))
    else {
        unreachable!()
    };
    assert_eq!(
        (settings.start, settings.end, settings.steps),
        (
            edited.lr_find.start,
            edited.lr_find.end,
            edited.lr_find.steps
        )
    );
    let Event::RangeTested(test) =
        until(&mut handle, MINUTE, |e| matches!(e, Event::RangeTested(_)))
    else {
        unreachable!()
    };
    assert_eq!(test.end, RangeEnd::Cancelled);
    handle.commands.send(Command::Start).expect("send");
    let Event::Batch(batch) = until(&mut handle, MINUTE, |e| matches!(e, Event::Batch(_))) else {
        unreachable!()
    };
    assert_eq!(batch.learning_rate, edited.training.learning_rate);
    handle.commands.send(Command::Stop).expect("send");
    let Event::Checkpointed { path, .. } = until(&mut handle, MINUTE, |e| {
        matches!(e, Event::Checkpointed { .. })
    }) else {
        unreachable!()
    };
    until(&mut handle, MINUTE, |e| matches!(e, Event::Finished { .. }));
    let _ = handle.thread.join();
    let saved = Checkpoint::read(&path).expect("checkpoint").meta.config;
    for live in LIVE {
        let expected = match live.applier {
            Applier::Worker => edited.value_of(live.key),
            Applier::FrontEnd => config.value_of(live.key),
        };
        assert_eq!(saved.value_of(live.key), expected, "{}", live.key);
    }
}

#[test]
fn every_front_end_key_takes_effect_through_the_controller() {
    let config = Config::default();
    let edited = every_live_key_changed(&config);
    let text = toml::to_string(&edited).expect("toml");
    for steer in [Steer::Keys, Steer::FileOnly] {
        let mut steering = Steering::new(config.clone(), steer);
        let decision = steering.reload(Config::parse(&text, Path::new("config.toml"), None));
        for live in LIVE.iter().filter(|live| live.applier == Applier::FrontEnd) {
            assert_eq!(
                steering.config().value_of(live.key),
                edited.value_of(live.key),
                "{}",
                live.key
            );
        }
        // The worker is sent the new config once, for its own keys.
        assert_eq!(decision.commands.len(), 1);
        assert!(
            matches!(&decision.commands[0], Command::Reconfigure(new) if **new == *steering.config())
        );
    }
}

/// The size of one checkpoint of `config`'s model with SGD momentum, measured.
fn checkpoint_bytes(config: &Config) -> u64 {
    let scratch = tempfile::tempdir().expect("temp dir");
    let mut config = config.clone();
    config.checkpoint.dir = scratch.path().display().to_string();
    config.training.epochs = 1.0;
    let mut handle = start(config, true, None);
    let Event::Checkpointed { path, .. } = until(&mut handle, MINUTE, |e| {
        matches!(e, Event::Checkpointed { .. })
    }) else {
        unreachable!()
    };
    until(&mut handle, MINUTE, |e| matches!(e, Event::Finished { .. }));
    let _ = handle.thread.join();
    std::fs::metadata(path).expect("checkpoint").len()
}

/// One batch per epoch, epoch ends untested but the last: checkpoints without test accuracy,
/// so pruning keeps only by age.
fn tiny_epochs(runs: &Path) -> Config {
    let mut config = small_config(runs);
    config.data.train_limit = 64;
    config.data.test_limit = 64;
    config.training.eval_from = 100.0;
    config.checkpoint.keep = 2;
    // What the keep rule left stays when the run ends: these tests watch that rule.
    config.checkpoint.keep_at_end = 0;
    config
}

/// A tmpfs with room for `room` checkpoints of the tiny run, that run's three-epoch config on
/// it, and the size of one checkpoint; `None` where no tmpfs can be mounted, which fails the
/// test unless skipping is allowed (`common::skip`).
fn small_disk(room: f64) -> Option<(Tmpfs, Config, u64)> {
    let probe = tempfile::tempdir().expect("temp dir");
    let size = checkpoint_bytes(&tiny_epochs(probe.path()));
    let disk = match Tmpfs::mount(&format!("size={}", (size as f64 * room) as u64)) {
        Ok(disk) => disk,
        Err(why) => {
            skip::skip("a full disk", &why);
            return None;
        }
    };
    let mut config = tiny_epochs(disk.path());
    config.training.epochs = 3.0;
    Some((disk, config, size))
}

#[test]
fn a_full_disk_prunes_what_the_keep_rule_drops_and_retries() {
    let _serial = serial();
    // Room for two checkpoints and a half: the third fits only once the oldest is gone.
    let Some((_disk, config, _)) = small_disk(2.5) else {
        return;
    };
    let mut handle = start(config, true, None);
    let mut saved = Vec::new();
    let mut pruned_for_room = Vec::new();
    loop {
        match until(&mut handle, MINUTE, |_| true) {
            Event::Checkpointed { path, reason, .. } => saved.push((path, reason)),
            Event::Pruned { paths, why } if why.contains("room") => pruned_for_room.extend(paths),
            Event::SaveFailed(failure) => panic!("pruning should have made room: {failure:?}"),
            Event::Finished { .. } => break,
            _ => {}
        }
    }
    let _ = handle.thread.join();
    assert_eq!(saved.len(), 3, "every epoch end saved: {saved:?}");
    assert!(
        saved
            .iter()
            .all(|(_, reason)| *reason == SaveReason::EpochEnd)
    );
    assert_eq!(
        pruned_for_room,
        vec![saved[0].0.clone()],
        "the oldest made room"
    );
    let left = checkpoint::list(saved[2].0.parent().expect("folder"));
    assert_eq!(left, vec![saved[1].0.clone(), saved[2].0.clone()]);
}

#[test]
fn a_checkpoint_that_cannot_be_written_pauses_until_space_is_freed() {
    let _serial = serial();
    let Some((disk, config, size)) = small_disk(2.5) else {
        return;
    };
    // Something else fills the disk: one checkpoint fits, the next does not, and pruning this
    // run's own checkpoints cannot help (the newest good one is never removed).
    let filler = disk.path().join("someone-elses-file");
    std::fs::write(&filler, vec![0u8; size as usize]).expect("filler");
    let mut handle = start(config, true, None);
    let Event::Checkpointed { path: first, .. } = until(&mut handle, MINUTE, |e| {
        matches!(e, Event::Checkpointed { .. })
    }) else {
        unreachable!()
    };
    let Event::SaveFailed(failure) =
        until(&mut handle, MINUTE, |e| matches!(e, Event::SaveFailed(_)))
    else {
        unreachable!()
    };
    assert!(failure.out_of_space, "{failure:?}");
    assert_eq!(failure.reason, SaveReason::EpochEnd);
    assert_eq!(failure.newest_saved.as_ref(), Some(&first));
    assert_eq!(failure.unsaved_steps, 1);
    let event = until(&mut handle, MINUTE, |e| matches!(e, Event::Paused { .. }));
    assert!(
        matches!(
            event,
            Event::Paused {
                reason: PauseReason::SaveFailed { .. }
            }
        ),
        "{event:?}"
    );
    // The person frees space and saves: it is written, and training stays paused until resumed.
    std::fs::remove_file(&filler).expect("free space");
    handle.commands.send(Command::Save).expect("send");
    let Event::Checkpointed { path, reason, .. } = until(&mut handle, MINUTE, |e| {
        matches!(e, Event::Checkpointed { .. } | Event::Batch(_))
    }) else {
        panic!("saved before any batch")
    };
    assert_eq!(reason, SaveReason::Requested);
    assert!(path.is_file());
    handle.commands.send(Command::Resume).expect("send");
    until(&mut handle, MINUTE, |e| matches!(e, Event::Resumed));
    handle.commands.send(Command::Stop).expect("send");
    until(&mut handle, MINUTE, |e| matches!(e, Event::Finished { .. }));
    let _ = handle.thread.join();
}

#[test]
fn headless_ends_with_a_failure_and_names_what_was_lost_when_the_disk_is_full() {
    let _serial = serial();
    let Some((disk, config, _)) = small_disk(1.5) else {
        return;
    };
    let config_path = disk.path().join("config.toml");
    std::fs::write(&config_path, toml::to_string(&config).expect("toml")).expect("config");
    let output = Process::new(env!("CARGO_BIN_EXE_alexnet-tui"))
        .args(["train", "--headless", "--config"])
        .arg(&config_path)
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("the run ended with training that is not saved"),
        "{stderr}"
    );
    let first: Vec<PathBuf> = std::fs::read_dir(disk.path())
        .expect("runs")
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("checkpoints"))
        .filter(|dir| dir.is_dir())
        .flat_map(|dir| checkpoint::list(&dir))
        .collect();
    assert_eq!(first.len(), 1, "only the first epoch's checkpoint fits");
    assert!(last.contains(&first[0].display().to_string()), "{last}");
    assert!(last.contains("epoch 2, batch 1"), "{last}");
    assert!(!stdout.contains("finished: all epochs done"), "{stdout}");
}

#[test]
fn the_gallery_follows_the_weights_during_the_first_epoch() {
    let _serial = serial();
    let runs = tempfile::tempdir().expect("temp dir");
    let mut config = small_config(runs.path());
    // About 20 s of training in one epoch: the periodic refresh (every 10 s) comes inside it.
    config.data.train_limit = 60_000;
    config.training.epochs = 1.0;
    let mut handle = start(config, true, None);
    let Event::Snapshot(start_snapshot) =
        until(&mut handle, MINUTE, |e| matches!(e, Event::Snapshot(_)))
    else {
        unreachable!()
    };
    assert!(matches!(start_snapshot.moment, Moment::Start { .. }));
    let Event::Snapshot(during) = until(&mut handle, MINUTE, |e| {
        assert!(!matches!(e, Event::Epoch(_)), "no refresh inside the epoch");
        matches!(e, Event::Snapshot(_))
    }) else {
        unreachable!()
    };
    let Moment::Current { epoch_position } = during.moment else {
        panic!(
            "a refresh during training shows the current weights: {:?}",
            during.moment
        )
    };
    assert!(
        epoch_position > 0.0 && epoch_position < 1.0,
        "{epoch_position}"
    );
    // The same twenty images, judged by other weights.
    let indices = |s: &alexnet_tui::train::snapshot::Snapshot| {
        s.gallery.iter().map(|item| item.index).collect::<Vec<_>>()
    };
    assert_eq!(indices(&start_snapshot), indices(&during));
    let changed = start_snapshot
        .gallery
        .iter()
        .zip(&during.gallery)
        .filter(|(a, b)| a.predicted != b.predicted || (a.confidence - b.confidence).abs() > 1e-3)
        .count();
    assert!(changed > 0, "the predictions did not change");
    assert_ne!(start_snapshot.filters.pixels, during.filters.pixels);
    handle.commands.send(Command::Stop).expect("send");
    until(&mut handle, MINUTE, |e| matches!(e, Event::Finished { .. }));
    let _ = handle.thread.join();
}
