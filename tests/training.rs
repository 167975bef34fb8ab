//! The training worker on the real Fashion-MNIST (a slice of it, at a small input size): it learns,
//! obeys its commands, saves checkpoints that restore bit for bit, resumes exactly where it
//! stopped, and pauses instead of saving when the loss stops being finite.
//!
//! These tests need the real data (the README's test command installs Debian's
//! dataset-fashion-mnist) and libtorch.

use std::path::Path;
use std::time::Duration;

use alexnet_tui::config::{Config, OptimizerKind, Precision, Schedule};
use alexnet_tui::model::AlexNetConfig;
use alexnet_tui::process::ProcessSampler;
use alexnet_tui::session;
use alexnet_tui::train::checkpoint::{self, Checkpoint};
use alexnet_tui::train::lock::{self, LockState};
use alexnet_tui::train::metrics::BatchRecord;
use alexnet_tui::train::record::{EndReason, RunRecord};
use alexnet_tui::train::snapshot::Moment;
use alexnet_tui::train::{Command, Event, FinishReason, PauseReason, SaveReason};

mod common;
use common::{MINUTE, next, serial, small_config, start, until};

#[test]
fn learns_on_real_data_loss_falls_and_accuracy_is_far_above_chance() {
    let _serial = serial();
    let runs = tempfile::tempdir().expect("temp dir");
    let mut config = small_config(runs.path());
    config.data.train_limit = 4000;
    config.data.test_limit = 1000;
    config.training.epochs = 2.0;
    config.training.threads = 0;
    // A test halfway through the second epoch (63 batches per epoch: after batch 32, at 1.508)
    // and at the run's end, none at the end of the first epoch: it is before eval_from.
    config.training.eval_every = 0.5;
    config.training.eval_from = 1.5;
    let mut handle = start(config, true, None);
    let mut batches: Vec<BatchRecord> = Vec::new();
    let mut test_accuracy = Vec::new();
    let mut checks = Vec::new();
    loop {
        match next(&mut handle, 5 * MINUTE) {
            Event::Batch(batch) => batches.push(batch),
            Event::Epoch(record) => {
                assert!(record.test.as_ref().is_none_or(|t| t.images == 1000));
                test_accuracy.push(record.test.map(|t| t.accuracy));
            }
            Event::Tested(check) => {
                assert_eq!(check.test.images, 1000);
                assert_eq!(batches.len(), 63 + 32, "a test after batch 32 of epoch 2");
                checks.push(check.position);
            }
            Event::Finished { reason } => {
                assert_eq!(reason, FinishReason::Completed);
                break;
            }
            _ => {}
        }
    }
    assert_eq!(batches.len(), 2 * 63);
    assert_eq!(checks, [1.0 + 32.0 / 63.0]);
    let mean =
        |slice: &[BatchRecord]| slice.iter().map(|b| b.loss).sum::<f64>() / slice.len() as f64;
    let first = mean(&batches[..10]);
    let last = mean(&batches[batches.len() - 10..]);
    assert!(last < first * 0.7, "loss went from {first:.3} to {last:.3}");
    assert_eq!(test_accuracy.len(), 2);
    assert_eq!(test_accuracy[0], None, "epoch 1 ends before eval_from");
    assert!(
        test_accuracy[1].is_some_and(|accuracy| accuracy > 0.5),
        "test accuracy {test_accuracy:?} (chance is 0.1)"
    );
    for batch in &batches {
        assert!(batch.images_per_second > 0.0 && batch.images == 64 || batch.batch == 62);
    }
    let _ = handle.thread.join();
}

/// A test inside an epoch is in metrics.csv as soon as run.json names it (issue 20, point 9):
/// `compare`, `plot` and overlays read metrics.csv, and must not miss the test that `runs` says
/// is the best.
#[test]
fn a_test_is_in_metrics_csv_as_soon_as_run_json_names_it() {
    let _serial = serial();
    let runs = tempfile::tempdir().expect("temp dir");
    let mut config = small_config(runs.path());
    // 20 batches an epoch, a test after every 5th.
    config.data.train_limit = 1280;
    config.training.eval_every = 0.25;
    config.training.epochs = 2.0;
    let mut handle = start(config, true, None);
    let Event::Opened { run_dir, .. } =
        until(&mut handle, MINUTE, |e| matches!(e, Event::Opened { .. }))
    else {
        unreachable!()
    };
    until(&mut handle, 5 * MINUTE, |e| matches!(e, Event::Tested(_)));
    // Read at once: the next write of either file is 5 batches away.
    let record = RunRecord::read(&run_dir)
        .expect("readable")
        .expect("run.json");
    let metrics = alexnet_tui::curves::Metrics::read(&run_dir.join("metrics.csv"));
    handle.commands.send(Command::Stop).expect("send");
    until(&mut handle, MINUTE, |e| matches!(e, Event::Finished { .. }));
    let _ = handle.thread.join();
    let last = record.last_test.expect("run.json names the test");
    let metrics = metrics.expect("metrics.csv");
    assert!(
        metrics
            .tests
            .iter()
            .any(|row| (row.position - last.position).abs() < 1e-9),
        "run.json's test at epoch {} is not in metrics.csv: {:?}",
        last.position,
        metrics.tests
    );
}

#[test]
fn a_test_inside_an_epoch_that_reaches_the_target_ends_the_run_there_and_saves() {
    let _serial = serial();
    let runs = tempfile::tempdir().expect("temp dir");
    let mut config = small_config(runs.path());
    // 10 batches per epoch, a test after every 5th; any trained model beats 5% on 200 images.
    config.training.eval_every = 0.5;
    config.training.target_accuracy = 0.05;
    let mut handle = start(config, true, None);
    let mut batches = 0;
    let mut saved = None;
    loop {
        match next(&mut handle, 5 * MINUTE) {
            Event::Batch(_) => batches += 1,
            Event::Evaluating { position } => assert_eq!(position, 0.5),
            Event::Epoch(_) => panic!("the run must end before the epoch does"),
            Event::Checkpointed { path, reason, .. } => {
                assert_eq!(reason, SaveReason::TargetReached);
                saved = Some(path);
            }
            Event::Finished { reason } => {
                assert_eq!(reason, FinishReason::TargetReached);
                break;
            }
            _ => {}
        }
    }
    assert_eq!(batches, 5);
    let saved = saved.expect("a checkpoint at the target");
    let checkpoint = Checkpoint::read(&saved).expect("read");
    assert_eq!((checkpoint.meta.epoch, checkpoint.meta.batch), (0, 5));
    let history = &checkpoint.meta.history;
    assert_eq!(history.checks.len(), 1);
    let reached = history.target_reached_at.expect("the target is recorded");
    assert_eq!(reached.position, 0.5);
    assert_eq!(Some(reached.accuracy), checkpoint.meta.test_accuracy);
    // metrics.csv carries the test row, which `plot` reads back.
    let run_dir = saved
        .ancestors()
        .nth(2)
        .expect("runs/<id>/checkpoints/<file>");
    let csv = run_dir.join("metrics.csv");
    let metrics = alexnet_tui::curves::Metrics::read(&csv).expect("metrics.csv");
    assert_eq!(metrics.tests.len(), 1);
    assert_eq!(metrics.tests[0].test_accuracy, reached.accuracy);
    let _ = handle.thread.join();
}

#[test]
fn a_fractional_run_ends_inside_its_last_epoch_with_a_test_and_extends_on_resume() {
    let _serial = serial();
    let runs = tempfile::tempdir().expect("temp dir");
    let mut config = small_config(runs.path());
    // 10 batches per epoch; 1.5 epochs = 15 batches, tests inside epochs every 0.2 from 1.0.
    config.training.epochs = 1.5;
    config.training.eval_every = 0.2;
    config.training.eval_from = 1.0;
    let mut handle = start(config.clone(), true, None);
    let mut batches: Vec<BatchRecord> = Vec::new();
    let mut epochs = 0;
    let mut checks = Vec::new();
    let mut saved = None;
    loop {
        match next(&mut handle, 5 * MINUTE) {
            Event::Batch(batch) => batches.push(batch),
            Event::Epoch(_) => epochs += 1,
            Event::Tested(check) => checks.push((check.position, batches.len())),
            Event::Checkpointed { path, reason, .. } => saved = Some((path, reason)),
            Event::Finished { reason } => {
                assert_eq!(reason, FinishReason::Completed);
                break;
            }
            _ => {}
        }
    }
    let _ = handle.thread.join();
    assert_eq!(batches.len(), 15);
    assert_eq!(epochs, 1, "one whole epoch, then half of one");
    // The run's end is tested once, at 1.5; the tests inside the epoch come before it.
    assert_eq!(checks, [(1.2, 12), (1.4, 14), (1.5, 15)]);
    // The one-cycle schedule spans the 15 batches: its last step is near the floor (2% of the
    // peak), where a 2-epoch schedule would still be at a third of it.
    let last_rate = batches.last().expect("batches").learning_rate;
    assert!(
        last_rate < config.training.learning_rate * 0.05,
        "learning rate {last_rate} at the last batch"
    );
    let (path, reason) = saved.expect("a checkpoint at the end");
    assert_eq!(reason, SaveReason::RunEnd);
    let checkpoint = Checkpoint::read(&path).expect("read");
    assert_eq!((checkpoint.meta.epoch, checkpoint.meta.batch), (1, 5));
    assert_eq!(checkpoint.meta.history.checks.len(), 3);
    assert_eq!(
        checkpoint.meta.test_accuracy,
        Some(checkpoint.meta.history.checks[2].test.accuracy)
    );

    // Resumed with two epochs, the run trains the rest of its second epoch and ends it.
    let mut longer = config;
    longer.training.epochs = 2.0;
    let mut handle = start(longer, true, Some((path, checkpoint)));
    let mut more = 0;
    let mut ended = false;
    loop {
        match next(&mut handle, 5 * MINUTE) {
            Event::Batch(batch) => {
                assert_eq!(batch.epoch, 1);
                more += 1;
            }
            Event::Epoch(record) => {
                assert_eq!(record.epoch, 1);
                ended = true;
            }
            Event::Finished { reason } => {
                assert_eq!(reason, FinishReason::Completed);
                break;
            }
            _ => {}
        }
    }
    let _ = handle.thread.join();
    assert_eq!(more, 5);
    assert!(ended, "the second epoch ends with its test");
}

/// CPU seconds this process uses over `wall`.
fn cpu_over(wall: Duration) -> f64 {
    let mut sampler = ProcessSampler::new();
    std::thread::sleep(wall);
    sampler.sample().cpu_percent / 100.0 * wall.as_secs_f64()
}

#[test]
fn commands_pause_save_reconfigure_resume_and_stop() {
    let _serial = serial();
    let runs = tempfile::tempdir().expect("temp dir");
    let mut config = small_config(runs.path());
    config.training.schedule = Schedule::Constant;
    config.training.epochs = 5.0;
    let mut handle = start(config.clone(), false, None);
    let Event::Ready(info) = until(&mut handle, MINUTE, |e| matches!(e, Event::Ready(_))) else {
        unreachable!()
    };
    assert_eq!(info.batches_per_epoch, 10);
    assert_eq!(info.summary.len(), 21);
    assert_eq!(
        info.run_id, None,
        "a new run has no folder before it starts"
    );
    // Ready is followed by the pictures of the initial weights, then waits for Start: no batch
    // arrives on its own.
    let Event::Snapshot(snapshot) = until(&mut handle, MINUTE, |_| true) else {
        panic!("the initial snapshot should follow Ready")
    };
    assert_eq!(
        snapshot.moment,
        Moment::Start {
            epoch_position: 0.0
        }
    );
    assert_eq!(snapshot.gallery.len(), 20);
    std::thread::sleep(Duration::from_millis(500));
    assert!(handle.events.try_recv().is_err());
    // Nothing is written before training starts: an opened-and-quit dashboard leaves no folder.
    assert_eq!(
        std::fs::read_dir(runs.path())
            .map(Iterator::count)
            .unwrap_or(0),
        0
    );

    handle.commands.send(Command::Start).expect("send");
    let Event::Opened {
        run_id,
        run_dir,
        parent: None,
    } = until(&mut handle, MINUTE, |e| matches!(e, Event::Opened { .. }))
    else {
        panic!("a new run has no parent")
    };
    assert_eq!(run_dir, runs.path().join(&run_id));
    assert!(
        matches!(lock::state(&run_dir), LockState::Held(owner) if owner.pid == std::process::id()),
        "the training process holds the run's lock"
    );
    until(&mut handle, MINUTE, |e| matches!(e, Event::Batch(_)));
    handle.commands.send(Command::Pause).expect("send");
    until(&mut handle, MINUTE, |e| {
        matches!(
            e,
            Event::Paused {
                reason: PauseReason::Requested
            }
        )
    });
    // A pause shows the current weights' predictions...
    let Event::Snapshot(snapshot) = until(&mut handle, MINUTE, |_| true) else {
        panic!("a pause refreshes the gallery and the filters")
    };
    assert!(matches!(snapshot.moment, Moment::Current { .. }));
    // ...then nothing: no batches, and (next to) no CPU.
    let cpu = cpu_over(Duration::from_millis(1500));
    assert!(cpu < 0.15, "used {cpu:.3} CPU seconds while paused");
    assert!(
        handle.events.try_recv().is_err(),
        "an event arrived while paused"
    );

    // Save while paused.
    handle.commands.send(Command::Save).expect("send");
    let Event::Checkpointed { path, reason, .. } = until(&mut handle, MINUTE, |e| {
        matches!(e, Event::Checkpointed { .. })
    }) else {
        unreachable!()
    };
    assert_eq!(reason, SaveReason::Requested);
    assert!(path.is_file());
    let requested = path.clone();
    assert!(path.starts_with(&run_dir));

    // A live change applies at the next batch.
    let mut edited = config.clone();
    edited.training.learning_rate = 0.0123;
    handle
        .commands
        .send(Command::Reconfigure(Box::new(edited)))
        .expect("send");
    handle.commands.send(Command::Resume).expect("send");
    let Event::Reconfigured { changes } = until(&mut handle, MINUTE, |e| {
        matches!(e, Event::Reconfigured { .. })
    }) else {
        unreachable!()
    };
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].key, "training.learning_rate");
    until(&mut handle, MINUTE, |e| matches!(e, Event::Resumed));
    let Event::Batch(batch) = until(&mut handle, MINUTE, |e| matches!(e, Event::Batch(_))) else {
        unreachable!()
    };
    assert_eq!(batch.learning_rate, 0.0123);

    handle.commands.send(Command::Stop).expect("send");
    let Event::Checkpointed { path, reason, .. } = until(&mut handle, MINUTE, |e| {
        matches!(e, Event::Checkpointed { .. })
    }) else {
        unreachable!()
    };
    assert_eq!(reason, SaveReason::Stop);
    let saved = Checkpoint::read(&path).expect("the stop checkpoint reads back");
    assert_eq!(saved.meta.config.training.learning_rate, 0.0123);
    // Stopping shows the stopped weights' predictions, then the run ends.
    let Event::Snapshot(stopped) = next(&mut handle, MINUTE) else {
        panic!("a stop refreshes the gallery and the filters")
    };
    assert!(matches!(stopped.moment, Moment::Current { .. }));
    // The run ended: its checkpoints are thinned to the newest (the stop's) and the best (none
    // was tested), then it is over.
    let Event::Pruned { paths, .. } = next(&mut handle, MINUTE) else {
        panic!("a run that ends thins its checkpoints")
    };
    assert_eq!(paths, [requested]);
    assert!(matches!(
        next(&mut handle, MINUTE),
        Event::Finished {
            reason: FinishReason::Stopped
        }
    ));
    handle.thread.join().expect("worker thread ends");
    assert!(run_dir.join("config.toml").is_file());
    // run.json: the live change with the step it applied from, how the run ended, no lock left.
    let record = RunRecord::read(&run_dir)
        .expect("readable")
        .expect("run.json");
    assert_eq!(record.run_id, run_id);
    assert_eq!(
        record.config.training.learning_rate,
        config.training.learning_rate
    );
    assert_eq!(record.changes.len(), 1, "{:?}", record.changes);
    assert_eq!(record.changes[0].key, "training.learning_rate");
    assert_eq!(record.changes[0].new, "0.0123");
    assert!(record.changes[0].step >= 1 && record.changes[0].step <= saved.meta.step);
    assert_eq!(
        record.ended.as_ref().map(|e| e.reason),
        Some(EndReason::Stopped)
    );
    assert_eq!(record.progress.step, saved.meta.step);
    assert!(record.progress.images >= 64 * record.progress.step.saturating_sub(1));
    assert!(
        record
            .progress
            .images_per_second()
            .is_some_and(|speed| speed > 0.0)
    );
    assert_eq!(lock::state(&run_dir), LockState::Free);
    let kept = checkpoint::list(&run_dir.join("checkpoints"));
    assert_eq!(kept, [path], "checkpoint.keep_at_end = 1 and no test yet");
    // The run stopped mid-epoch: metrics.csv still has every batch trained so far.
    let csv = std::fs::read_to_string(run_dir.join("metrics.csv")).expect("metrics.csv");
    // The one header typed out in the tests, as the guard of the file format (plot and runs read
    // files written by earlier runs): every other test builds it from MetricsRow::COLUMNS.
    assert_eq!(
        csv.lines().next(),
        Some(
            "kind,epoch,batch,batches_per_epoch,position,step,loss,accuracy,test_loss,test_accuracy,learning_rate,images_per_second,batch_seconds,elapsed_seconds"
        )
    );
    assert!(
        csv.lines()
            .filter(|line| line.starts_with("batch,"))
            .count()
            >= 2,
        "{csv}"
    );
}

#[test]
fn checkpoint_weights_round_trip_bit_for_bit() {
    let _serial = serial();
    let device = alexnet_tui::train::runtime::cpu().autodiff();
    let config = AlexNetConfig {
        resize: 65,
        dropout: 0.5,
    };
    let model = config.init(&device);
    let bytes = checkpoint::model_to_bytes(&model).expect("serialize");
    let fresh = config.init(&device);
    let loaded = checkpoint::model_from_bytes(fresh, bytes, Path::new("x.ckpt")).expect("load");
    let before = model.torch_named_tensors();
    let after = loaded.torch_named_tensors();
    assert_eq!(before.len(), 16);
    for ((name, shape, a), (name2, shape2, b)) in before.iter().zip(&after) {
        assert_eq!((name, shape), (name2, shape2));
        let same = a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same, "{name} differs after the round trip");
    }
    // Weights for another flatten width (1024 at 128 against 256 at 65) are an error, not a panic.
    let other = AlexNetConfig {
        resize: 128,
        dropout: 0.5,
    }
    .init(&device);
    let bytes = checkpoint::model_to_bytes(&model).expect("serialize");
    let error = checkpoint::model_from_bytes(other, bytes, Path::new("x.ckpt"))
        .expect_err("shape mismatch")
        .to_string();
    assert!(error.starts_with("x.ckpt: "), "{error}");
    assert!(error.contains("do not fit"), "{error}");
}

#[test]
fn a_stopped_and_resumed_run_continues_with_the_same_next_batch() {
    let runs = tempfile::tempdir().expect("temp dir");
    stop_and_resume_continues_exactly(runs.path(), OptimizerKind::Sgd);
}

/// AdamW's two moment buffers travel in the checkpoint as SGD's momentum does; a checkpoint of
/// one optimizer does not resume under the other.
#[test]
fn an_adamw_run_resumes_exactly_and_only_as_adamw() {
    let runs = tempfile::tempdir().expect("temp dir");
    let config = stop_and_resume_continues_exactly(runs.path(), OptimizerKind::AdamW);
    let mut sgd = config.clone();
    sgd.training.optimizer = OptimizerKind::Sgd;
    let error = session::load_resume("latest", &sgd, false).expect_err("another optimizer");
    assert!(
        error.to_string().contains(
            "the checkpoint was trained with training.optimizer = adamw, the config says sgd"
        ),
        "{error}"
    );
}

/// Trains an uninterrupted run and the same run stopped after 4 batches and resumed, and checks
/// that both saw the same batches with the same losses: the second resumed batch shows that the
/// optimizer's state was restored too. Returns the config (its runs folder is `runs`).
fn stop_and_resume_continues_exactly(runs: &Path, optimizer: OptimizerKind) -> Config {
    let _serial = serial();
    let mut config = small_config(runs);
    config.training.flip = true;
    config.training.epochs = 2.0;
    config.training.optimizer = optimizer;
    if optimizer == OptimizerKind::AdamW {
        config.training.learning_rate = 1e-3;
        config.training.momentum = 0.0;
        config.training.weight_decay = 0.01;
    }

    // The uninterrupted run.
    let mut full = start(config.clone(), true, None);
    let mut uninterrupted: Vec<BatchRecord> = Vec::new();
    loop {
        match next(&mut full, 5 * MINUTE) {
            Event::Batch(batch) => uninterrupted.push(batch),
            Event::Finished { .. } => break,
            _ => {}
        }
    }
    let _ = full.thread.join();

    // The same run, stopped after a few batches...
    let mut first = start(config.clone(), true, None);
    let mut seen = 0;
    let stop_path = loop {
        match next(&mut first, 5 * MINUTE) {
            Event::Batch(_) => {
                seen += 1;
                if seen == 4 {
                    first.commands.send(Command::Stop).expect("send");
                }
            }
            Event::Checkpointed {
                path,
                reason: SaveReason::Stop,
                ..
            } => break path,
            _ => {}
        }
    };
    let _ = first.thread.join();
    // ...and resumed through the same path as `--resume`.
    let (path, checkpoint) =
        session::load_resume(&stop_path.display().to_string(), &config, false).expect("resume");
    let (epoch, batch) = (checkpoint.meta.epoch, checkpoint.meta.batch);
    let history_len = checkpoint.meta.history.batches.len();
    assert_eq!(history_len, batch);
    let mut resumed = start(config.clone(), true, Some((path, checkpoint)));
    let Event::Ready(info) = until(&mut resumed, MINUTE, |e| matches!(e, Event::Ready(_))) else {
        unreachable!()
    };
    assert_eq!(info.position, (epoch, batch));
    // The same batches, losses and learning rates (timings differ, of course).
    let trained = |b: &BatchRecord| {
        (
            b.epoch,
            b.batch,
            b.step,
            b.images,
            b.loss,
            b.accuracy,
            b.learning_rate,
        )
    };
    let restored: Vec<_> = info.history.batches.iter().map(trained).collect();
    let original: Vec<_> = uninterrupted[..history_len].iter().map(trained).collect();
    assert_eq!(restored, original);
    for expected in &uninterrupted[batch..batch + 2] {
        let Event::Batch(next_batch) =
            until(&mut resumed, MINUTE, |e| matches!(e, Event::Batch(_)))
        else {
            unreachable!()
        };
        assert_eq!(
            (next_batch.epoch, next_batch.batch),
            (expected.epoch, expected.batch)
        );
        assert_eq!(next_batch.step, expected.step);
        assert_eq!(next_batch.learning_rate, expected.learning_rate);
        assert!(
            (next_batch.loss - expected.loss).abs() < 1e-5,
            "resumed loss {} vs uninterrupted {} at step {}",
            next_batch.loss,
            expected.loss,
            expected.step
        );
        assert_eq!(next_batch.accuracy, expected.accuracy);
    }
    resumed.commands.send(Command::Stop).expect("send");
    until(&mut resumed, MINUTE, |e| {
        matches!(e, Event::Finished { .. })
    });
    let _ = resumed.thread.join();
    config
}

#[test]
fn a_non_finite_loss_pauses_and_never_overwrites_a_good_checkpoint() {
    let _serial = serial();
    let runs = tempfile::tempdir().expect("temp dir");
    let mut config = small_config(runs.path());
    config.training.learning_rate = 10.0;
    config.training.momentum = 0.9;
    config.training.schedule = Schedule::Constant;
    config.training.epochs = 20.0;
    let mut handle = start(config, true, None);
    let event = until(&mut handle, 5 * MINUTE, |e| {
        matches!(e, Event::Paused { .. } | Event::Epoch(_))
    });
    let Event::Paused {
        reason: PauseReason::NonFiniteLoss {
            loss,
            learning_rate,
        },
    } = event
    else {
        panic!("expected a pause on a non-finite loss, got {event:?}");
    };
    assert!(!loss.is_finite());
    assert_eq!(learning_rate, 10.0);
    handle.commands.send(Command::Save).expect("send");
    let Event::NotSaved { reason, last_good } =
        until(&mut handle, MINUTE, |e| matches!(e, Event::NotSaved { .. }))
    else {
        unreachable!()
    };
    assert_eq!(reason, SaveReason::Requested);
    assert_eq!(
        last_good, None,
        "the run diverged before its first checkpoint"
    );
    handle.commands.send(Command::Stop).expect("send");
    until(&mut handle, MINUTE, |e| matches!(e, Event::Finished { .. }));
    let run = std::fs::read_dir(runs.path())
        .expect("runs")
        .next()
        .expect("a run")
        .expect("entry");
    assert!(checkpoint::list(&run.path().join("checkpoints")).is_empty());
}

#[test]
fn resume_refuses_corrupt_and_incompatible_checkpoints() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = small_config(dir.path());
    let path = dir.path().join("bad.ckpt");
    let mut bytes = b"ALEXNET-TUI-CKPT\x01\x00\x00\x00".to_vec();
    bytes.extend_from_slice(&[7u8; 64]);
    std::fs::write(&path, bytes).expect("write");
    let error =
        session::load_resume(&path.display().to_string(), &config, false).expect_err("corrupt");
    assert_eq!(
        error.to_string(),
        format!(
            "{}: the checkpoint is truncated or corrupt (checksum mismatch)",
            path.display()
        )
    );

    let mut other = config.clone();
    other.model.resize = 96;
    let checkpoint = Checkpoint {
        meta: checkpoint::CheckpointMeta::at_start("r", other),
        model: Vec::new(),
        optimizer: Vec::new(),
    };
    let path = dir.path().join("other.ckpt");
    checkpoint.write(&path).expect("write");
    let error = session::load_resume(&path.display().to_string(), &config, false)
        .expect_err("incompatible");
    assert_eq!(error.exit_code(), 2);
    assert!(
        error.to_string().ends_with("cannot resume: the checkpoint was trained with model.resize = 96, the config says 65. Set it back in the config, or start a new run"),
        "{error}"
    );
    let error = session::load_resume("latest", &config, false).expect_err("no runs");
    assert!(error.to_string().contains("--resume latest"), "{error}");
}

/// Mixed precision on real data (issue 15): a run with its convolutions and matrix products in
/// bf16 learns far above chance, the ready event says bf16 and why, and its checkpoint holds f32
/// weights that load into an f32 model. The sizes are those of
/// `learns_on_real_data_loss_falls_and_accuracy_is_far_above_chance` (f32, same assertion).
///
/// Ignored by default: on a CPU without avx512_bf16/amx_bf16, bf16 is emulated, about 1.3
/// images/s at 65x65 here (a 640-image, 20-step try took 480 s and was still at chance, 0.08),
/// so this run would take well over an hour. Run it with `--ignored` where bf16 is native.
#[test]
#[ignore = "emulated bf16 is far too slow on CPUs without avx512_bf16/amx_bf16"]
fn a_short_bf16_run_learns_far_above_chance() {
    let _serial = serial();
    let runs = tempfile::tempdir().expect("temp dir");
    let mut config = small_config(runs.path());
    config.training.precision = Precision::Bf16;
    config.data.train_limit = 4000;
    config.data.test_limit = 1000;
    config.training.epochs = 2.0;
    config.training.threads = 0;
    let started = std::time::Instant::now();
    let mut handle = start(config, true, None);
    let mut test_accuracy = None;
    let mut losses = Vec::new();
    loop {
        match next(&mut handle, 5 * MINUTE) {
            Event::Ready(info) => {
                assert_eq!(info.precision, "bf16");
                assert!(
                    info.precision_reason
                        .starts_with("training.precision = \"bf16\""),
                    "{}",
                    info.precision_reason
                );
            }
            Event::Batch(batch) => losses.push(batch.loss),
            Event::Epoch(record) => test_accuracy = record.test.map(|t| t.accuracy),
            Event::Finished { reason } => {
                assert_eq!(reason, FinishReason::Completed);
                break;
            }
            _ => {}
        }
    }
    let accuracy = test_accuracy.expect("the run's last epoch end is tested");
    println!(
        "bf16 run: {} steps, test accuracy {accuracy:.3} on 1000 images, {:.1} s",
        losses.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        accuracy > 0.5,
        "test accuracy {accuracy:.3} after a bf16 run (chance is 0.1)"
    );
    let path = checkpoint::newest_unheld(runs.path()).expect("a checkpoint");
    let saved = Checkpoint::read(&path).expect("checkpoint reads");
    assert_eq!(saved.meta.config.training.precision, Precision::Bf16);
    let model = checkpoint::model_from_bytes(
        AlexNetConfig {
            resize: 65,
            dropout: 0.5,
        }
        .init(&alexnet_tui::train::runtime::cpu()),
        saved.model,
        &path,
    )
    .expect("the bf16 run's weights load into an f32 model");
    assert!(
        model
            .torch_named_tensors()
            .iter()
            .all(|(_, _, v)| v.iter().all(|x| x.is_finite()))
    );
}
