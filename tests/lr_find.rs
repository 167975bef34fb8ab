//! The learning-rate range test on real data: the worker's range-test mode leaves the weights,
//! the optimizer state and the data order exactly as they were, and `alexnet-tui lr-find` runs
//! end to end (progress, table, suggestions, `--write` editing one value, `--json`, `--out`), and
//! fails cleanly on bad input (a NaN from the first batch, a read-only config, bad settings).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use alexnet_tui::config::Config;
use alexnet_tui::model::AlexNetConfig;
use alexnet_tui::train::checkpoint::{self, Checkpoint};
use alexnet_tui::train::metrics::BatchRecord;
use alexnet_tui::train::range_test::{RangeEnd, RangeTest};
use alexnet_tui::train::worker::{self, WorkerHandle, WorkerOptions};
use alexnet_tui::train::{Command, Event, SaveReason};
use common::{MINUTE, next, serial, small_config, until};

/// Every weight of a checkpoint, by name, as bits.
fn weights(path: &Path) -> Vec<(String, Vec<u32>)> {
    let checkpoint = Checkpoint::read(path).expect("a checkpoint");
    let trained = &checkpoint.meta.config.model;
    let model = AlexNetConfig {
        resize: trained.resize,
        dropout: trained.dropout,
    }
    .init(&alexnet_tui::train::runtime::cpu());
    checkpoint::model_from_bytes(model, checkpoint.model, path)
        .expect("weights")
        .torch_named_tensors()
        .into_iter()
        .map(|(name, _, values)| (name, values.iter().map(|v| v.to_bits()).collect()))
        .collect()
}

fn branch(config: &Config, from: &Path, autostart: bool) -> WorkerHandle {
    let checkpoint = Checkpoint::read(from).expect("the parent checkpoint");
    worker::spawn(WorkerOptions {
        config: config.clone(),
        resume: Some((from.to_path_buf(), checkpoint)),
        autostart,
        locations: None,
        branch: true,
    })
}

/// What a worker trains until it finishes: its batches and its checkpoints by reason.
fn train_to_the_end(handle: &mut WorkerHandle) -> (Vec<BatchRecord>, Vec<(SaveReason, PathBuf)>) {
    let (mut batches, mut saved) = (Vec::new(), Vec::new());
    loop {
        match next(handle, 5 * MINUTE) {
            Event::Batch(batch) => batches.push(batch),
            Event::Checkpointed { path, reason, .. } => saved.push((reason, path)),
            Event::Finished { .. } => return (batches, saved),
            _ => {}
        }
    }
}

/// The bits of what training sees and does per batch (timings differ, of course).
fn trained(batches: &[BatchRecord]) -> Vec<(usize, usize, u64, u64, u64, u64)> {
    batches
        .iter()
        .map(|b| {
            (
                b.epoch,
                b.batch,
                b.step,
                b.learning_rate.to_bits(),
                b.loss.to_bits(),
                b.accuracy.to_bits(),
            )
        })
        .collect()
}

/// A run resumed from a checkpoint with momentum (Nesterov, weight decay: the fast recipe) runs a
/// range test up to lr 1 before it trains. A checkpoint saved right after the test holds the
/// parent checkpoint's weights bit for bit at its position, and the two batches trained next see
/// the same data and give the same losses and the same weights, bit for bit, as a run without
/// the test: the momentum buffers they use were put back too.
#[test]
fn the_range_test_leaves_weights_optimizer_state_and_data_order_as_they_were() {
    let _serial = serial();
    let runs = tempfile::tempdir().expect("temp dir");
    let mut config = small_config(runs.path());
    config.training.flip = true;
    // 640 images in batches of 64: the parent ends after 3 of the 10 batches of an epoch.
    config.training.epochs = 0.3;
    config.lr_find.steps = 12;
    // Every checkpoint stays when a run ends: they are compared afterwards.
    config.checkpoint.keep_at_end = 0;
    let mut parent = common::start(config.clone(), true, None);
    let (_, saved) = train_to_the_end(&mut parent);
    let _ = parent.thread.join();
    let parent_checkpoint = saved
        .iter()
        .find(|(reason, _)| *reason == SaveReason::RunEnd)
        .map(|(_, path)| path.clone())
        .expect("the parent's last checkpoint");
    let parent_meta = checkpoint::read_meta(&parent_checkpoint).expect("its metadata");
    assert_eq!(parent_meta.step, 3);

    // Both branches train two more batches (to 0.5 epoch) from the parent's checkpoint.
    config.training.epochs = 0.5;
    let mut without = branch(&config, &parent_checkpoint, true);
    let (plain_batches, plain_saved) = train_to_the_end(&mut without);
    let _ = without.thread.join();

    let mut with = branch(&config, &parent_checkpoint, false);
    until(&mut with, MINUTE, |e| matches!(e, Event::Ready(_)));
    with.commands.send(Command::FindLearningRate).expect("send");
    let Event::RangeTested(test) = until(&mut with, 5 * MINUTE, |e| {
        matches!(e, Event::RangeTested(_))
    }) else {
        unreachable!()
    };
    check_the_test_trained(&test);
    // Start, and save before the first batch: the weights training starts from.
    with.commands.send(Command::Start).expect("send");
    with.commands.send(Command::Save).expect("send");
    let (tested_batches, tested_saved) = train_to_the_end(&mut with);
    let _ = with.thread.join();

    let at_start = tested_saved
        .iter()
        .find(|(reason, _)| *reason == SaveReason::Requested)
        .map(|(_, path)| path.clone())
        .expect("the checkpoint saved before the first batch");
    let meta = checkpoint::read_meta(&at_start).expect("its metadata");
    assert_eq!(
        (meta.epoch, meta.batch, meta.step),
        (parent_meta.epoch, parent_meta.batch, parent_meta.step),
        "the position is the parent's"
    );
    assert!(
        weights(&at_start) == weights(&parent_checkpoint),
        "the weights after the range test differ from the parent checkpoint's"
    );

    assert_eq!(plain_batches.len(), 2);
    assert_eq!(
        trained(&tested_batches),
        trained(&plain_batches),
        "the batches after the range test are not those of a run without it"
    );
    let end = |saved: &[(SaveReason, PathBuf)]| {
        saved
            .iter()
            .find(|(reason, _)| *reason == SaveReason::RunEnd)
            .map(|(_, path)| path.clone())
            .expect("the run's last checkpoint")
    };
    assert!(
        weights(&end(&tested_saved)) == weights(&end(&plain_saved)),
        "two batches after the range test, the weights differ from a run without it"
    );
}

/// The test really trained (and so really had something to put back): the rate rose to
/// `lr_find.end` (or the loss blew up first) and the loss moved.
fn check_the_test_trained(test: &RangeTest) {
    assert_eq!(test.settings.steps, 12);
    let last = test.points.last().expect("points");
    match test.end {
        RangeEnd::Completed => {
            assert_eq!(test.points.len(), 12);
            assert!((last.learning_rate - 1.0).abs() < 1e-12);
        }
        RangeEnd::Diverged { .. } | RangeEnd::NonFinite { .. } => {}
        RangeEnd::Cancelled => panic!("cancelled"),
    }
    let first = test.points[0].loss;
    assert!(
        test.points.iter().any(|p| p.loss != first),
        "the loss never moved: {test:?}"
    );
}

/// The tiny run `lr-find` tests on: 65x65, 640 images, batches of 32, one thread, f32.
const CONFIG: &str = "\
# A tiny range test.
profile = \"fast\"

[data]
train_limit = 640
test_limit = 100

[model]
resize = 65

[training]
batch_size = 32
# The rate the test replaces.
learning_rate = 0.05   # the profile's
threads = 1
precision = \"f32\"

[lr_find]
# Enough points for a valley after the first tenth and the last five are left out.
steps = 30

[ui]
headless_interval_seconds = 0.1
";

fn lr_find(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_alexnet-tui"))
        .arg("lr-find")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run lr-find")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn lr_find_prints_the_curve_and_the_pick_and_writes_exactly_one_value() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, CONFIG).expect("config");

    // As people read it: progress, the table, both suggestions and the pick; nothing written.
    let output = lr_find(dir.path(), &["--out", "curve.png"]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert!(
        stdout.contains("range test batch 1/30 | lr 0.00001 | loss "),
        "{stdout}"
    );
    assert!(
        stdout.contains("batch  learning rate      loss  smoothed"),
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("<- valley (the pick)").count(),
        1,
        "{stdout}"
    );
    assert!(stdout.contains("\nvalley "), "{stdout}");
    assert!(stdout.contains("\nsteep "), "{stdout}");
    assert!(
        stdout.contains("is what goes into config.toml as training.learning_rate (the one-cycle schedule's peak)"),
        "{stdout}"
    );
    assert!(stdout.contains("add --write to put "), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(&config_path).expect("config"),
        CONFIG
    );
    let picture = image::open(dir.path().join("curve.png")).expect("the PNG");
    assert_eq!(
        (picture.width(), picture.height()),
        alexnet_tui::curves::PLOT_SIZE
    );
    // No run folder: the test never starts a run.
    assert!(!dir.path().join("runs").exists());

    // --write --json: the points and the pick as JSON, and the file edited in one place.
    let output = lr_find(dir.path(), &["--write", "--json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is one JSON object");
    let points = json["points"].as_array().expect("points");
    assert!(points.len() >= 10, "{json}");
    assert!(points[0]["smoothed_loss"].is_number());
    assert_eq!(json["pick"]["method"], "valley");
    let new = json["written"]["new"].as_str().expect("the value written");
    assert_eq!(json["written"]["old"], "0.05");
    assert_eq!(json["pick"]["written_as"], new);
    let edited = std::fs::read_to_string(&config_path).expect("config");
    let changed: Vec<(&str, &str)> = CONFIG
        .lines()
        .zip(edited.lines())
        .filter(|(before, after)| before != after)
        .collect();
    assert_eq!(edited.lines().count(), CONFIG.lines().count());
    assert_eq!(
        changed,
        [(
            "learning_rate = 0.05   # the profile's",
            format!("learning_rate = {new}   # the profile's").as_str()
        )]
    );
    let config = Config::load(&config_path, None).expect("the edited config loads");
    assert_eq!(config.training.learning_rate.to_string(), new);
}

/// A checkpoint whose weights are NaN: the loss is not finite from the first batch.
#[test]
fn a_loss_nan_from_the_first_batch_gives_no_usable_points_and_writes_nothing() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("config.toml");
    let config_text = CONFIG.replace("steps = 30", "steps = 10");
    std::fs::write(&config_path, &config_text).expect("config");
    let config = Config::load(&config_path, None).expect("config");
    let path = nan_checkpoint(dir.path(), &config);

    let output = lr_find(
        dir.path(),
        &["--resume", &path.display().to_string(), "--write"],
    );
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("warning: no usable points: the loss was not finite from the first batch"),
        "{stderr}"
    );
    assert!(
        stderr.contains("no suggestion, so nothing was written"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&config_path).expect("config"),
        config_text
    );
}

/// A run of one batch, its checkpoint's weights replaced by NaN, in the run folder `lr-find
/// --resume` expects.
fn nan_checkpoint(dir: &Path, config: &Config) -> PathBuf {
    use burn::module::{Module, ModuleMapper, Param};
    use burn::tensor::Tensor;
    struct Poison;
    impl ModuleMapper for Poison {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            param.map(|tensor| tensor.mul_scalar(f32::NAN))
        }
    }
    let mut short = config.clone();
    short.training.epochs = 0.05;
    short.checkpoint.dir = dir.join("runs").display().to_string();
    let mut handle = common::start(short, true, None);
    let (_, saved) = train_to_the_end(&mut handle);
    let _ = handle.thread.join();
    let path = saved.last().map(|(_, path)| path.clone()).expect("saved");
    let mut checkpoint = Checkpoint::read(&path).expect("checkpoint");
    let model = AlexNetConfig {
        resize: config.model.resize,
        dropout: config.model.dropout,
    }
    .init(&alexnet_tui::train::runtime::cpu());
    let model = checkpoint::model_from_bytes(model, checkpoint.model.clone(), &path)
        .expect("weights")
        .map(&mut Poison);
    checkpoint.model = checkpoint::model_to_bytes(&model).expect("bytes");
    checkpoint.write(&path).expect("write");
    path
}

#[test]
fn a_read_only_config_is_not_written_and_says_so() {
    use std::os::unix::fs::PermissionsExt;
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("config.toml");
    let config_text = CONFIG.replace("steps = 30", "steps = 20");
    std::fs::write(&config_path, &config_text).expect("config");
    std::fs::set_permissions(&config_path, std::fs::Permissions::from_mode(0o444))
        .expect("read-only");
    let output = lr_find(dir.path(), &["--write"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("config.toml: the file is read-only; nothing written"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&config_path).expect("config"),
        config_text
    );
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("folder")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["config.toml"], "no temporary file, no run folder");
}

#[test]
fn bad_range_settings_are_refused_before_any_work() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("config.toml"),
        "[lr_find]\nstart = 0.1\nend = 0.01\n",
    )
    .expect("config");
    let output = lr_find(dir.path(), &["--write"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        text(&output.stderr).trim(),
        "alexnet-tui: config.toml:3: lr_find.end: must be above lr_find.start (0.1): the rate rises from start to end, got 0.01"
    );
    assert!(output.stdout.is_empty());
}
