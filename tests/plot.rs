//! `plot` draws a run's metrics.csv into a PNG of the expected size; a folder without metrics.csv
//! and an output that cannot be written are clear errors that leave no file behind; what the
//! training writes is read back point for point, files of earlier versions still plot, and a
//! finished headless run draws its own curves.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use alexnet_tui::curves::{CURVES_FILE, Metrics, PLOT_SIZE, write_run_plot};
use alexnet_tui::train::metrics::{
    BatchRecord, EpochRecord, Evaluation, History, METRICS_FILE, TestCheck,
};

fn plot(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_alexnet-tui"))
        .arg("plot")
        .args(args)
        .output()
        .expect("run plot")
}

/// A run folder whose metrics.csv (written by the training's own writer) holds three epochs of
/// twenty batches each, with a falling loss and a rising accuracy.
fn run_folder(root: &Path) -> PathBuf {
    let dir = root.join("20260101-000000");
    std::fs::create_dir_all(&dir).expect("run folder");
    three_epochs()
        .write_csv(&dir.join(METRICS_FILE))
        .expect("write metrics.csv");
    dir
}

fn evaluation(accuracy: f64, loss: f64) -> Evaluation {
    Evaluation {
        accuracy,
        loss,
        images: 100,
        confusion: [[0; 10]; 10],
        seconds: 1.0,
    }
}

fn three_epochs() -> History {
    let mut history = History::default();
    for epoch in 0..3 {
        for batch in 0..20 {
            let step = (epoch * 20 + batch) as u64;
            history.batches.push(BatchRecord {
                epoch,
                batch,
                batches_per_epoch: 20,
                step,
                images: 32,
                loss: 2.3 / (1.0 + step as f64 / 10.0),
                accuracy: 0.1 + 0.8 * step as f64 / 60.0,
                learning_rate: 0.01,
                images_per_second: 100.0,
                seconds: 0.3,
                elapsed_seconds: 0.5 * (step + 1) as f64,
            });
        }
        history.epochs.push(EpochRecord {
            epoch,
            train_loss: 1.0 / (epoch as f64 + 1.0),
            train_accuracy: 0.6 + 0.1 * epoch as f64,
            test: Some(evaluation(
                0.55 + 0.1 * epoch as f64,
                1.1 / (epoch as f64 + 1.0),
            )),
            images_per_second: 100.0,
            elapsed_seconds: 10.0 * (epoch as f64 + 1.0),
            memory: None,
        });
    }
    history
}

/// A run of 469 batches an epoch stopped after batch 292 of its first, tested at batch 200.
fn stopped_in_its_first_epoch() -> History {
    let mut history = History::default();
    for batch in (0..292).step_by(10).chain([291]) {
        history.batches.push(BatchRecord {
            epoch: 0,
            batch,
            batches_per_epoch: 469,
            step: batch as u64,
            images: 128,
            loss: 2.3 - batch as f64 / 300.0,
            accuracy: 0.1 + batch as f64 / 500.0,
            learning_rate: 0.01,
            images_per_second: 400.0,
            seconds: 0.32,
            elapsed_seconds: 0.32 * (batch + 1) as f64,
        });
    }
    history.checks.push(TestCheck {
        position: 200.0 / 469.0,
        step: 200,
        test: evaluation(0.7, 0.8),
        elapsed_seconds: 70.0,
    });
    history
}

/// Decodes a PNG and counts the pixels close to a colour.
fn check_png(path: &Path) -> image::RgbImage {
    let bytes = std::fs::read(path).expect("the PNG exists");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let picture = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .expect("a valid PNG")
        .to_rgb8();
    assert_eq!(picture.dimensions(), PLOT_SIZE);
    picture
}

fn close(pixel: [u8; 3], colour: [u8; 3]) -> bool {
    pixel.iter().zip(colour).all(|(a, b)| a.abs_diff(b) <= 12)
}

fn pixels_near(picture: &image::RgbImage, colour: [u8; 3]) -> usize {
    picture.pixels().filter(|p| close(p.0, colour)).count()
}

#[test]
fn a_run_folder_becomes_curves_png_next_to_its_metrics() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = run_folder(root.path());
    let output = plot(&[&dir]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out = dir.join(CURVES_FILE);
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("wrote {}", out.display())
    );
    let picture = check_png(&out);
    // Both the train (blue) and the test (orange) curves and markers are drawn, and text is there
    // (dark pixels beyond the axes' own lines).
    assert!(pixels_near(&picture, [31, 119, 180]) > 500, "train curves");
    assert!(pixels_near(&picture, [230, 110, 0]) > 300, "test curves");
    assert!(pixels_near(&picture, [0, 0, 0]) > 2000, "axes and text");
    // Nothing but the PNG is left in the folder.
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("run folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["curves.png", "metrics.csv"]);

    // --out elsewhere, and a metrics.csv named directly.
    let elsewhere = root.path().join("elsewhere.png");
    let output = plot(&[&dir.join("metrics.csv"), Path::new("--out"), &elsewhere]);
    assert!(output.status.success());
    check_png(&elsewhere);
}

#[test]
fn missing_metrics_and_unwritable_outputs_are_clear_errors_without_files() {
    let root = tempfile::tempdir().expect("temp dir");
    let empty = root.path().join("not-a-run");
    std::fs::create_dir(&empty).expect("folder");
    let output = plot(&[&empty]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}: no metrics.csv there", empty.display())),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
    assert_eq!(std::fs::read_dir(&empty).expect("folder").count(), 0);

    let output = plot(&[&root.path().join("no-such-run")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no-such-run: no metrics.csv there"));

    let dir = run_folder(root.path());
    // A folder that cannot be made: a file is in its place.
    let under_a_file = dir.join(METRICS_FILE).join(CURVES_FILE);
    let output = plot(&[&dir, Path::new("--out"), &under_a_file]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}: cannot write", under_a_file.display())),
        "{stderr}"
    );
    // An output that is a folder: the temporary file is written, the rename fails, and the
    // temporary file is removed again.
    let taken = dir.join("taken");
    std::fs::create_dir(&taken).expect("folder");
    let output = plot(&[&dir, Path::new("--out"), &taken]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}: cannot write", taken.display())),
        "{stderr}"
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("run folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["metrics.csv", "taken"]);

    // A metrics.csv that is not one.
    std::fs::write(dir.join("metrics.csv"), "a,b\n1,2\n").expect("write");
    let output = plot(&[&dir]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("metrics.csv:1: not a metrics.csv"),
        "{stderr}"
    );
    assert!(!dir.join(CURVES_FILE).exists());
}

#[test]
fn what_the_training_writes_is_read_back_point_for_point() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(METRICS_FILE);
    let mut history = three_epochs();
    history.checks.push(TestCheck {
        position: 1.5,
        step: 30,
        test: evaluation(0.6, 0.9),
        elapsed_seconds: 15.0,
    });
    history.write_csv(&path).expect("write metrics.csv");
    let metrics = Metrics::read(&path).expect("read metrics.csv");

    let written: Vec<(f64, f64, f64)> = history
        .batches
        .iter()
        .map(|b| (b.epoch_position(), b.loss, b.accuracy))
        .collect();
    let read: Vec<(f64, f64, f64)> = metrics
        .batches
        .iter()
        .map(|b| (b.position, b.loss, b.accuracy))
        .collect();
    assert_eq!(read, written);
    let written: Vec<(usize, f64, f64)> = history
        .epochs
        .iter()
        .map(|e| (e.epoch + 1, e.train_loss, e.train_accuracy))
        .collect();
    let read: Vec<(usize, f64, f64)> = metrics
        .epochs
        .iter()
        .map(|e| (e.epoch, e.train_loss, e.train_accuracy))
        .collect();
    assert_eq!(read, written);
    let written: Vec<(f64, f64)> = history
        .test_points()
        .iter()
        .map(|p| (p.position, p.accuracy))
        .collect();
    assert_eq!(metrics.test_curves().1, written);
}

#[test]
fn a_run_stopped_in_its_first_epoch_is_drawn_where_it_stopped() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("20260101-000000");
    stopped_in_its_first_epoch()
        .write_csv(&dir.join(METRICS_FILE))
        .expect("write metrics.csv");
    let metrics = Metrics::read(&dir.join(METRICS_FILE)).expect("read metrics.csv");
    let last = metrics.batches.last().expect("batches");
    // 292 of 469 batches: 0.62 of the epoch, where earlier versions drew 1.0.
    assert!(
        (last.position - 292.0 / 469.0).abs() < 1e-9,
        "{}",
        last.position
    );
    assert_eq!(metrics.tests[0].position, 200.0 / 469.0);

    let out = write_run_plot(&dir).expect("curves drawn");
    assert_eq!(out, dir.join(CURVES_FILE));
    let picture = check_png(&out);
    // The faint per-batch loss line (below the legend, in the left panel) ends about 62% of the
    // way along the epoch axis, not at its right end.
    let faint_train = [188, 214, 232];
    let loss_panel = PLOT_SIZE.0 / 2;
    let line_end = (0..loss_panel)
        .rev()
        .find(|&x| (150..PLOT_SIZE.1 - 60).any(|y| close(picture.get_pixel(x, y).0, faint_train)))
        .expect("the per-batch loss line");
    let along = f64::from(line_end) / f64::from(loss_panel);
    assert!(
        (0.55..0.75).contains(&along),
        "ends at {along:.2} of the panel"
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("run folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["curves.png", "metrics.csv"], "no temporary file");
}

#[test]
fn a_metrics_csv_of_an_earlier_version_still_plots() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("old-run");
    std::fs::create_dir(&dir).expect("folder");
    std::fs::write(
        dir.join(METRICS_FILE),
        "kind,epoch,batch,step,loss,accuracy,test_loss,test_accuracy,learning_rate,images_per_second,elapsed_seconds
batch,1,10,9,2.100000,0.200000,,,0.010000,100.00,0.10
batch,1,20,19,1.500000,0.400000,,,0.010000,100.00,0.10
test,0.8000,,20,,,1.300000,0.500000,,,1.60
epoch,1,,,1.700000,0.350000,1.200000,0.550000,,100.00,2.00
batch,2,5,29,1.000000,0.600000,,,0.010000,100.00,0.10
",
    )
    .expect("write");
    let output = plot(&[&dir]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let picture = check_png(&dir.join(CURVES_FILE));
    assert!(pixels_near(&picture, [230, 110, 0]) > 100, "the test curve");
}

#[test]
fn a_damaged_metrics_csv_is_named_with_its_line() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = run_folder(root.path());
    let path = dir.join(METRICS_FILE);
    let text = std::fs::read_to_string(&path).expect("read");
    // Cut in the middle of the fifth line, as a crash in an earlier, non-atomic writer could.
    let fifth: usize = text.lines().take(4).map(|l| l.len() + 1).sum();
    std::fs::write(&path, &text[..fifth + 20]).expect("write");
    let output = plot(&[&dir]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:5: ", path.display())),
        "{stderr}"
    );
    assert!(!dir.join(CURVES_FILE).exists());
}

const CONFIG: &str = r#"
[data]
train_limit = 256
test_limit = 64

[model]
resize = 65

[training]
batch_size = 32
epochs = 2
device = "cpu"
threads = 1
log_every = 1

[checkpoint]
dir = "runs"
interval_minutes = 0
keep = 1
"#;

#[test]
fn a_finished_headless_run_draws_its_curves() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("config.toml"), CONFIG).expect("write config");
    let output = Command::new(env!("CARGO_BIN_EXE_alexnet-tui"))
        .args(["train", "--headless", "--config", "config.toml"])
        .current_dir(dir.path())
        .output()
        .expect("run headless");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.path().join("runs"))
        .expect("runs")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(runs.len(), 1);
    let curves = runs[0].join(CURVES_FILE);
    assert!(
        stdout.contains(&format!(
            "curves: {}",
            Path::new("runs")
                .join(runs[0].file_name().expect("name"))
                .join(CURVES_FILE)
                .display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.trim_end().ends_with("finished: all epochs done"),
        "{stdout}"
    );
    let picture = check_png(&curves);
    assert!(pixels_near(&picture, [230, 110, 0]) > 100, "the test curve");
}
