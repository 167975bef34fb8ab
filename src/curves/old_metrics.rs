//! metrics.csv as versions before the `position` column wrote it:
//! `kind,epoch,batch,step,loss,accuracy,test_loss,test_accuracy,learning_rate,images_per_second,elapsed_seconds`.
//!
//! Those files do not say how many batches an epoch has, and a test row's `epoch` cell holds its
//! position on the epoch axis (1.6000), so where a batch sits is inferred as those versions'
//! `plot` did (see [`batches_per_epoch`]). A run stopped in its first epoch cannot be placed
//! exactly: its last logged batch is taken as the epoch's end.

use serde::Deserialize;

use super::read::{RowError, epoch_test, needed};
use super::{BatchRow, EpochRow, Metrics, TestRow};
use crate::train::metrics::RowKind;

/// The columns these files are read by; the others (`learning_rate`, `images_per_second`, and
/// `elapsed_seconds`, which meant a batch's duration on batch rows) are not drawn.
pub(super) const COLUMNS: [&str; 8] = [
    "kind",
    "epoch",
    "batch",
    "step",
    "loss",
    "accuracy",
    "test_loss",
    "test_accuracy",
];

#[derive(Debug, Deserialize)]
pub(super) struct Row {
    kind: RowKind,
    /// The epoch from 1, or a test row's position on the epoch axis.
    epoch: f64,
    batch: Option<usize>,
    step: Option<u64>,
    loss: Option<f64>,
    accuracy: Option<f64>,
    test_loss: Option<f64>,
    test_accuracy: Option<f64>,
}

/// A batch or epoch row's `epoch` cell, which must be a whole epoch number.
fn whole_epoch(epoch: f64, line: usize) -> Result<usize, RowError> {
    if epoch >= 1.0 && epoch.fract() == 0.0 && epoch < u32::MAX as f64 {
        Ok(epoch as usize)
    } else {
        Err((
            line,
            format!("epoch \"{epoch}\" is not an epoch number (1, 2, ...)"),
        ))
    }
}

pub(super) fn from_rows(rows: Vec<(usize, Row)>) -> Result<Metrics, RowError> {
    let mut metrics = Metrics::default();
    for (line, row) in rows {
        let kind = row.kind;
        match kind {
            RowKind::Batch => {
                let batch = needed(row.batch, line, kind, "batch")?;
                if batch == 0 {
                    return Err((line, "batch 0: batches are counted from 1".into()));
                }
                metrics.batches.push(BatchRow {
                    epoch: whole_epoch(row.epoch, line)?,
                    batch,
                    // Both set below, once every batch row is known.
                    batches_per_epoch: 0,
                    position: 0.0,
                    step: needed(row.step, line, kind, "step")?,
                    loss: needed(row.loss, line, kind, "loss")?,
                    accuracy: needed(row.accuracy, line, kind, "accuracy")?,
                });
            }
            RowKind::Epoch => {
                let epoch = whole_epoch(row.epoch, line)?;
                metrics.epochs.push(EpochRow {
                    epoch,
                    train_loss: needed(row.loss, line, kind, "loss")?,
                    train_accuracy: needed(row.accuracy, line, kind, "accuracy")?,
                    test: epoch_test(epoch as f64, row.test_loss, row.test_accuracy)
                        .map_err(|message| (line, message))?,
                });
            }
            RowKind::Test => metrics.tests.push(TestRow {
                position: row.epoch,
                test_loss: needed(row.test_loss, line, kind, "test_loss")?,
                test_accuracy: needed(row.test_accuracy, line, kind, "test_accuracy")?,
            }),
        }
    }
    let per_epoch = batches_per_epoch(&metrics.batches);
    for row in &mut metrics.batches {
        row.batches_per_epoch = per_epoch;
        row.position = (row.epoch - 1) as f64 + row.batch as f64 / per_epoch as f64;
    }
    Ok(metrics)
}

/// Batches per epoch. Every batch row has `step` (from 0) and `batch` (from 1), so
/// `step - (batch - 1)` is the number of steps before its epoch: exact from any row past the
/// first epoch. A run still in its first epoch is measured by its last logged batch.
fn batches_per_epoch(batches: &[BatchRow]) -> usize {
    batches
        .iter()
        .find(|row| row.epoch >= 2)
        .map(|row| (row.step + 1).saturating_sub(row.batch as u64) as usize / (row.epoch - 1))
        .filter(|&count| count > 0)
        .or_else(|| batches.iter().map(|row| row.batch).max())
        .unwrap_or(1)
        .max(1)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::curves::CurvesError;

    const CSV: &str = "kind,epoch,batch,step,loss,accuracy,test_loss,test_accuracy,learning_rate,images_per_second,elapsed_seconds
batch,1,10,9,2.100000,0.200000,,,0.010000,100.00,0.10
batch,1,20,19,1.500000,0.400000,,,0.010000,100.00,0.10
test,0.8000,,20,,,1.300000,0.500000,,,1.60
epoch,1,,,1.700000,0.350000,1.200000,0.550000,,100.00,2.00
batch,2,5,29,1.000000,0.600000,,,0.010000,100.00,0.10
";

    fn positions(metrics: &Metrics) -> Vec<f64> {
        metrics.batches.iter().map(|row| row.position).collect()
    }

    #[test]
    fn parses_rows_and_places_batches_in_epochs() {
        let metrics = Metrics::parse(CSV, Path::new("m.csv")).expect("valid");
        assert_eq!(metrics.batches.len(), 3);
        assert_eq!(metrics.epochs.len(), 1);
        assert_eq!(metrics.epochs[0].test.map(|t| t.test_accuracy), Some(0.55));
        // Step 29 is batch 5 of epoch 2: 25 steps before it, so 25 batches per epoch.
        assert_eq!(metrics.batches[0].batches_per_epoch, 25);
        assert_eq!(positions(&metrics), vec![0.4, 0.8, 1.2]);
        // The test inside the first epoch comes before the one at its end.
        let (losses, accuracies) = metrics.test_curves();
        assert_eq!(losses, vec![(0.8, 1.3), (1.0, 1.2)]);
        assert_eq!(accuracies, vec![(0.8, 0.5), (1.0, 0.55)]);
    }

    #[test]
    fn an_untested_epoch_end_adds_no_test_point() {
        let text = CSV.replace(
            "epoch,1,,,1.700000,0.350000,1.200000,0.550000,,100.00,2.00",
            "epoch,1,,,1.700000,0.350000,,,,100.00,2.00",
        );
        let metrics = Metrics::parse(&text, Path::new("m.csv")).expect("valid");
        assert_eq!(metrics.epochs.len(), 1);
        assert_eq!(metrics.epochs[0].test, None);
        assert_eq!(metrics.epochs[0].train_accuracy, 0.35);
        let (losses, accuracies) = metrics.test_curves();
        assert_eq!(losses, vec![(0.8, 1.3)]);
        assert_eq!(accuracies, vec![(0.8, 0.5)]);
    }

    #[test]
    fn a_run_in_its_first_epoch_is_measured_by_its_last_batch() {
        let text: String = CSV.lines().take(3).map(|l| format!("{l}\n")).collect();
        let metrics = Metrics::parse(&text, Path::new("m.csv")).expect("valid");
        assert_eq!(metrics.batches[0].batches_per_epoch, 20);
        assert_eq!(positions(&metrics), vec![0.5, 1.0]);
    }

    #[test]
    fn bad_files_are_named_with_the_line() {
        let parse = |text: &str| {
            Metrics::parse(text, Path::new("m.csv"))
                .expect_err("damaged")
                .to_string()
        };
        assert_eq!(
            parse(&CSV.replace("1.500000", "one and a half")),
            "m.csv:3: loss \"one and a half\" is not a number"
        );
        assert_eq!(
            parse(&CSV.replace("batch,2,5,", "batch,1.5,5,")),
            "m.csv:6: epoch \"1.5\" is not an epoch number (1, 2, ...)"
        );
        assert_eq!(
            parse(&CSV.replace("batch,1,10,", "batch,1,0,")),
            "m.csv:2: batch 0: batches are counted from 1"
        );
        let header_only = CSV.lines().next().unwrap_or_default();
        assert!(matches!(
            Metrics::parse(header_only, Path::new("m.csv")),
            Err(CurvesError::Empty(_))
        ));
    }
}
