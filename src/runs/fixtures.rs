//! Run folders for the tests of this module: recorded runs written through [`RunRecord`], runs
//! of earlier versions as a metrics.csv in today's format, and checkpoints of a few bytes.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::train::checkpoint;
use crate::train::metrics::TestPoint;
use crate::train::metrics::{METRICS_FILE, MetricsRow};
use crate::train::record::RunRecord;

/// The size of each dummy checkpoint: this program's magic bytes (so that it counts as one of
/// its checkpoints) and a few more; nothing here reads further.
pub const CKPT_BYTES: u64 = 20;

/// metrics.csv's header as the worker writes it.
pub const METRICS_HEADER: &str = "kind,epoch,batch,batches_per_epoch,position,step,loss,accuracy,test_loss,test_accuracy,learning_rate,images_per_second,batch_seconds,elapsed_seconds";

/// Two epochs of 20 batches, tested at 1.0 (0.80), 1.5 (0.86) and 2.0 (0.85); two logged batches
/// of 128 images at 640 images/s.
pub const METRICS_TESTED: &str = "kind,epoch,batch,batches_per_epoch,position,step,loss,accuracy,test_loss,test_accuracy,learning_rate,images_per_second,batch_seconds,elapsed_seconds
batch,1,10,20,0.5,10,1.2,0.6,,,0.05,640,0.2,2.0
epoch,1,,,1,,1.0,0.65,0.5,0.8000,,640,,4.0
batch,2,10,20,1.5,30,0.6,0.8,,,0.05,640,0.2,6.0
test,2,,,1.5,30,,,0.4,0.8600,,,,6.5
epoch,2,,,2,,0.5,0.82,0.42,0.8500,,640,,9.0
";

pub fn mark(accuracy: f64, position: f64, elapsed_seconds: f64) -> TestPoint {
    TestPoint {
        step: Some((position * 20.0) as u64),
        elapsed_seconds: Some(elapsed_seconds),
        ..TestPoint::at(position, accuracy)
    }
}

/// `YYYYMMDD-HHMMSS` as RFC 3339.
fn time_of_id(id: &str) -> String {
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

fn checkpoints(dir: &Path, count: u64) {
    let folder = dir.join("checkpoints");
    std::fs::create_dir_all(&folder).expect("mkdir");
    for index in 0..count {
        let name = checkpoint::file_name(index * 20 + 19, index as usize, 19);
        let mut bytes = checkpoint::MAGIC.to_vec();
        bytes.resize(CKPT_BYTES as usize, 0);
        std::fs::write(folder.join(name), bytes).expect("checkpoint");
    }
}

/// A run of this version: run.json (started at its id's time, fast profile, then `edit`), two
/// checkpoints, the config used and a metrics.csv.
pub fn recorded(root: &Path, id: &str, edit: impl FnOnce(&mut RunRecord)) -> PathBuf {
    let dir = root.join(id);
    checkpoints(&dir, 2);
    let mut record = RunRecord::new(id, &Config::default(), None);
    record.started_at = time_of_id(id);
    edit(&mut record);
    record.write(&dir).expect("record");
    std::fs::write(
        dir.join("config.toml"),
        toml::to_string_pretty(&record.config).expect("toml"),
    )
    .expect("config");
    std::fs::write(dir.join(METRICS_FILE), METRICS_TESTED).expect("metrics");
    dir
}

/// A run of an earlier version: `metrics` as its metrics.csv, one checkpoint, no run.json.
pub fn legacy_run(root: &Path, id: &str, metrics: &str) -> PathBuf {
    let dir = root.join(id);
    checkpoints(&dir, 1);
    std::fs::write(dir.join(METRICS_FILE), metrics).expect("metrics");
    dir
}

#[test]
fn the_header_is_the_one_the_worker_writes() {
    assert_eq!(METRICS_HEADER, MetricsRow::COLUMNS.join(","));
    assert!(METRICS_TESTED.starts_with(METRICS_HEADER));
}
