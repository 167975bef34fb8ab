//! metrics.csv: the run's history as one row per logged batch, per test and per epoch end, for
//! `plot`, spreadsheets and scripts (README.md's "metrics.csv" section documents the columns).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{BatchRecord, EpochRecord, History, TestCheck};

impl History {
    /// Writes [`METRICS_FILE`]: one row per logged batch, per test inside an epoch and per epoch
    /// end, in training order, replacing the file at once (see [`crate::files::write_atomic`]).
    pub fn write_csv(&self, path: &Path) -> std::io::Result<()> {
        crate::files::write_atomic(path, |file| {
            // The header is written even when there are no rows yet (serde would write it with
            // the first row only).
            let mut out = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(file);
            out.write_record(MetricsRow::COLUMNS).map_err(csv_to_io)?;
            for row in self.csv_rows() {
                out.serialize(row).map_err(csv_to_io)?;
            }
            out.flush()
        })
    }

    /// The rows of metrics.csv: a test inside an epoch before the first batch trained after it,
    /// an epoch end before the next epoch's first batch.
    pub fn csv_rows(&self) -> Vec<MetricsRow> {
        let mut rows =
            Vec::with_capacity(self.batches.len() + self.epochs.len() + self.checks.len());
        let mut epochs = self.epochs.iter().peekable();
        let mut checks = self.checks.iter().peekable();
        for batch in &self.batches {
            while let Some(epoch) = epochs.next_if(|e| e.epoch < batch.epoch) {
                rows.push(MetricsRow::epoch_end(epoch));
            }
            while let Some(check) = checks.next_if(|c| c.step <= batch.step) {
                rows.push(MetricsRow::test(check));
            }
            rows.push(MetricsRow::batch(batch));
        }
        rows.extend(checks.map(MetricsRow::test));
        rows.extend(epochs.map(MetricsRow::epoch_end));
        rows
    }
}

/// The file in each run folder that [`History::write_csv`] writes and `plot` reads.
pub const METRICS_FILE: &str = "metrics.csv";

/// What a row of metrics.csv stands for; written as `batch`, `epoch` and `test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowKind {
    /// A logged training batch.
    Batch,
    /// An epoch end: the epoch's mean training figures and, when it was tested, its test.
    Epoch,
    /// A test of the whole test split inside an epoch.
    Test,
}

/// One row of metrics.csv. The field names, in this order, are its header ([`Self::COLUMNS`]);
/// `None` is an empty cell, a column that means nothing for the row's kind. README.md's
/// "metrics.csv" section says what each column holds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    pub kind: RowKind,
    /// The epoch the row belongs to, from 1; a test's is the epoch it was taken in.
    pub epoch: usize,
    /// The batch within its epoch, from 1 (batch rows).
    pub batch: Option<usize>,
    pub batches_per_epoch: Option<usize>,
    /// The row's place on the epoch axis: 1.5 is halfway through the second epoch, 2 its end.
    pub position: f64,
    /// Training steps taken since the run began: up to and including a batch, before a test.
    pub step: Option<u64>,
    /// Training loss and accuracy: the batch's, or the epoch's mean.
    pub loss: Option<f64>,
    pub accuracy: Option<f64>,
    pub test_loss: Option<f64>,
    pub test_accuracy: Option<f64>,
    pub learning_rate: Option<f64>,
    pub images_per_second: Option<f64>,
    /// How long the batch took (batch rows).
    pub batch_seconds: Option<f64>,
    /// The run's training time when the row was written.
    pub elapsed_seconds: f64,
}

impl MetricsRow {
    /// The header of metrics.csv: the field names in order (a test checks that they agree).
    pub const COLUMNS: [&str; 14] = [
        "kind",
        "epoch",
        "batch",
        "batches_per_epoch",
        "position",
        "step",
        "loss",
        "accuracy",
        "test_loss",
        "test_accuracy",
        "learning_rate",
        "images_per_second",
        "batch_seconds",
        "elapsed_seconds",
    ];

    fn batch(batch: &BatchRecord) -> MetricsRow {
        MetricsRow {
            kind: RowKind::Batch,
            epoch: batch.epoch + 1,
            batch: Some(batch.batch + 1),
            batches_per_epoch: Some(batch.batches_per_epoch),
            position: batch.epoch_position(),
            step: Some(batch.step),
            loss: Some(batch.loss),
            accuracy: Some(batch.accuracy),
            test_loss: None,
            test_accuracy: None,
            learning_rate: Some(batch.learning_rate),
            images_per_second: Some(batch.images_per_second),
            batch_seconds: Some(batch.seconds),
            elapsed_seconds: batch.elapsed_seconds,
        }
    }

    /// An epoch end; its test columns are empty when the epoch was not tested.
    fn epoch_end(epoch: &EpochRecord) -> MetricsRow {
        MetricsRow {
            kind: RowKind::Epoch,
            epoch: epoch.epoch + 1,
            batch: None,
            batches_per_epoch: None,
            position: (epoch.epoch + 1) as f64,
            step: None,
            loss: Some(epoch.train_loss),
            accuracy: Some(epoch.train_accuracy),
            test_loss: epoch.test.as_ref().map(|test| test.loss),
            test_accuracy: epoch.test.as_ref().map(|test| test.accuracy),
            learning_rate: None,
            images_per_second: Some(epoch.images_per_second),
            batch_seconds: None,
            elapsed_seconds: epoch.elapsed_seconds,
        }
    }

    pub(super) fn test(check: &TestCheck) -> MetricsRow {
        MetricsRow {
            kind: RowKind::Test,
            // Position 1.6 is in the second epoch, and 1.0, the first epoch's last batch, in
            // the first.
            epoch: (check.position.ceil() as usize).max(1),
            batch: None,
            batches_per_epoch: None,
            position: check.position,
            step: Some(check.step),
            loss: None,
            accuracy: None,
            test_loss: Some(check.test.loss),
            test_accuracy: Some(check.test.accuracy),
            learning_rate: None,
            images_per_second: None,
            batch_seconds: None,
            elapsed_seconds: check.elapsed_seconds,
        }
    }
}

/// Keeps the kind of an I/O error (a full disk is told apart by the worker).
fn csv_to_io(error: csv::Error) -> std::io::Error {
    match error.into_kind() {
        csv::ErrorKind::Io(error) => error,
        other => std::io::Error::other(format!("{other:?}")),
    }
}
