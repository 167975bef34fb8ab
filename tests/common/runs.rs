//! Run folders as training leaves them, made without training: run.json written through
//! [`RunRecord`], metrics.csv in the worker's format ([`MetricsRow::COLUMNS`]), the config used,
//! and checkpoints of a few bytes named as the worker names them and beginning with this
//! program's magic bytes (nothing here reads further). Shared by tests/runs.rs (the commands, as
//! the binary) and tests/run_folders.rs (the same folders through the library).

use std::path::{Path, PathBuf};

use alexnet_tui::config::Config;
use alexnet_tui::train::checkpoint;
use alexnet_tui::train::metrics::TestPoint;
use alexnet_tui::train::metrics::{METRICS_FILE, MetricsRow};
use alexnet_tui::train::record::RunRecord;

/// The size of each dummy checkpoint.
pub const CKPT_BYTES: u64 = 20;

/// A metrics.csv of two epochs of 20 batches: a logged batch every 0.25 epoch (128 images at
/// 640 images/s), an epoch end at 1 and 2, and tests at `tests` (position, accuracy).
pub fn metrics_csv(tests: &[(f64, f64)]) -> String {
    let mut rows = vec![MetricsRow::COLUMNS.join(",")];
    let mut tests = tests.to_vec();
    tests.sort_by(|a, b| a.0.total_cmp(&b.0));
    let accuracy_at = |position: f64| {
        tests
            .iter()
            .find(|(at, _)| (*at - position).abs() < 1e-9)
            .map(|(_, accuracy)| format!("{accuracy:.4}"))
    };
    for quarter in 1..=8 {
        let position = f64::from(quarter) * 0.25;
        let epoch = ((position - 1e-9).floor() as usize) + 1;
        let batch = ((position - (epoch - 1) as f64) * 20.0).round() as usize;
        let step = (position * 20.0).round() as u64;
        for (at, accuracy) in &tests {
            // A test inside an epoch is written before the first batch trained after it; one
            // at an epoch's end is in that epoch's row.
            let inside = at.fract().abs() > 1e-9;
            if inside && *at >= position - 0.25 - 1e-9 && *at < position - 1e-9 {
                rows.push(format!(
                    "test,{},,,{at},{step},,,0.45,{accuracy:.4},,,,{:.1}",
                    (at.ceil() as usize).max(1),
                    at * 10.0
                ));
            }
        }
        rows.push(format!(
            "batch,{epoch},{batch},20,{position},{step},{:.3},{:.3},,,0.05,640,0.2,{:.1}",
            2.0 - position * 0.6,
            0.5 + position * 0.2,
            position * 10.0
        ));
        if batch == 20 {
            let test = accuracy_at(position);
            rows.push(format!(
                "epoch,{epoch},,,{epoch},,{:.3},{:.3},{},{},,640,,{:.1}",
                2.0 - position * 0.6,
                0.5 + position * 0.2,
                if test.is_some() { "0.42" } else { "" },
                test.unwrap_or_default(),
                position * 10.0
            ));
        }
    }
    rows.join("\n") + "\n"
}

/// `count` checkpoints in `dir`'s checkpoints/, one at the end of each epoch.
pub fn checkpoints(dir: &Path, count: usize) {
    let folder = dir.join("checkpoints");
    std::fs::create_dir_all(&folder).expect("checkpoints folder");
    for epoch in 0..count {
        let name = checkpoint::file_name((epoch as u64 + 1) * 20 - 1, epoch, 20);
        let mut bytes = checkpoint::MAGIC.to_vec();
        bytes.resize(CKPT_BYTES as usize, 7);
        std::fs::write(folder.join(name), bytes).expect("checkpoint");
    }
}

/// A test result of a run of 20 batches an epoch.
pub fn mark(accuracy: f64, position: f64, elapsed_seconds: f64) -> TestPoint {
    TestPoint {
        step: Some((position * 20.0) as u64),
        elapsed_seconds: Some(elapsed_seconds),
        ..TestPoint::at(position, accuracy)
    }
}

/// The time a run id (`YYYYMMDD-HHMMSS`) names, RFC 3339 in UTC.
pub fn time_of_id(id: &str) -> String {
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &id[0..4],
        &id[4..6],
        &id[6..8],
        &id[9..11],
        &id[11..13],
        &id[13..15]
    )
}

/// A run of this version under `root`, started at its id's time, two epochs trained (8 s, 5120
/// images), with two checkpoints, `tests` in its record and metrics.csv, and the fast profile's
/// config as `edit` leaves it.
pub fn recorded(
    root: &Path,
    id: &str,
    tests: &[(f64, f64)],
    edit: impl FnOnce(&mut RunRecord),
) -> PathBuf {
    let dir = root.join(id);
    checkpoints(&dir, 2);
    let mut record = RunRecord::new(id, &Config::default(), None);
    record.started_at = time_of_id(id);
    record.progress.position = 2.0;
    record.progress.step = 40;
    record.progress.images = 5120;
    record.progress.train_seconds = 8.0;
    edit(&mut record);
    for &(position, accuracy) in tests {
        let target = record.config.training.target_accuracy;
        record.note_test(mark(accuracy, position, position * 100.0), target);
    }
    record.write(&dir).expect("run.json");
    std::fs::write(
        dir.join("config.toml"),
        toml::to_string_pretty(&record.config).expect("toml"),
    )
    .expect("config.toml");
    std::fs::write(dir.join(METRICS_FILE), metrics_csv(tests)).expect("metrics.csv");
    dir
}

/// A run of a version before run.json: `metrics` as its metrics.csv, the default config.toml
/// and one checkpoint.
pub fn legacy(root: &Path, id: &str, metrics: &str) -> PathBuf {
    let dir = root.join(id);
    checkpoints(&dir, 1);
    std::fs::write(dir.join(METRICS_FILE), metrics).expect("metrics.csv");
    std::fs::write(
        dir.join("config.toml"),
        toml::to_string_pretty(&Config::default()).expect("toml"),
    )
    .expect("config.toml");
    dir
}
