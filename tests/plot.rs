//! `plot` draws a run's metrics.csv into a PNG of the expected size; a folder without metrics.csv
//! and an output that cannot be written are clear errors that leave no file behind; and a
//! finished headless run draws its own curves.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use alexnet_tui::plot::{CURVES_FILE, PLOT_SIZE};
use alexnet_tui::train::metrics::{BatchRecord, EpochRecord, Evaluation, History};

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
            });
        }
        history.epochs.push(EpochRecord {
            epoch,
            train_loss: 1.0 / (epoch as f64 + 1.0),
            train_accuracy: 0.6 + 0.1 * epoch as f64,
            test: Some(Evaluation {
                accuracy: 0.55 + 0.1 * epoch as f64,
                loss: 1.1 / (epoch as f64 + 1.0),
                images: 100,
                confusion: [[0; 10]; 10],
                seconds: 1.0,
            }),
            images_per_second: 100.0,
            elapsed_seconds: 10.0 * (epoch as f64 + 1.0),
        });
    }
    history
        .write_csv(&dir.join("metrics.csv"))
        .expect("write metrics.csv");
    dir
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

fn pixels_near(picture: &image::RgbImage, colour: [u8; 3]) -> usize {
    picture
        .pixels()
        .filter(|p| p.0.iter().zip(colour).all(|(a, b)| a.abs_diff(b) <= 12))
        .count()
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
    let output = plot(&[
        &dir,
        Path::new("--out"),
        Path::new("/nonexistent-folder/curves.png"),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/nonexistent-folder/curves.png: cannot write"),
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
