//! Rows of metrics.csv as cells: the csv reader's errors turned into messages that name the
//! line and the column, and rows in today's format (every row says where it is) into
//! [`Metrics`].

use csv::{DeserializeErrorKind, StringRecord};
use serde::de::DeserializeOwned;

use super::{BatchRow, EpochRow, Metrics, TestRow};
use crate::train::metrics::{MetricsRow, RowKind};

/// A row's problem, and the line of the file it is on.
pub(super) type RowError = (usize, String);

/// Checks that the header has every column in `names`.
pub(super) fn require(header: &StringRecord, names: &[&str]) -> Result<(), RowError> {
    match names
        .iter()
        .find(|name| !header.iter().any(|h| h == **name))
    {
        Some(name) => Err((1, format!("not a metrics.csv: no \"{name}\" column"))),
        None => Ok(()),
    }
}

/// Every row after the header, with its line.
pub(super) fn rows<T: DeserializeOwned>(
    reader: &mut csv::Reader<&[u8]>,
    header: &StringRecord,
) -> Result<Vec<(usize, T)>, RowError> {
    // Both formats have it (`require` has checked); serde's word for a bad one is "variant".
    let kind = header.iter().position(|name| name == "kind").unwrap_or(0);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(&e))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let kind = record.get(kind).unwrap_or_default();
        if !matches!(kind, "batch" | "epoch" | "test") {
            return Err((
                line,
                format!("unknown row kind \"{kind}\" (batch, epoch or test)"),
            ));
        }
        let row = record
            .deserialize(Some(header))
            .map_err(|e| match e.kind() {
                csv::ErrorKind::Deserialize { err, .. } => {
                    (line, field_error(err, header, &record))
                }
                _ => csv_error(&e),
            })?;
        rows.push((line, row));
    }
    Ok(rows)
}

/// A cell that does not hold what its column should, said with the column's name.
fn field_error(
    error: &csv::DeserializeError,
    header: &StringRecord,
    record: &StringRecord,
) -> String {
    let Some(at) = error.field().map(|at| at as usize) else {
        return error.kind().to_string();
    };
    let name = header.get(at).unwrap_or_default();
    let value = record.get(at).unwrap_or_default();
    match error.kind() {
        _ if value.is_empty() => format!("{name} is empty"),
        DeserializeErrorKind::ParseInt(_) => format!("{name} \"{value}\" is not a whole number"),
        DeserializeErrorKind::ParseFloat(_) => format!("{name} \"{value}\" is not a number"),
        other => format!("{name} \"{value}\": {other}"),
    }
}

/// A csv error other than a bad cell: a row with a missing or an extra column, mostly.
pub(super) fn csv_error(error: &csv::Error) -> RowError {
    let line = error.position().map_or(0, |p| p.line() as usize);
    match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => (
            line,
            format!("{len} columns, the header has {expected_len} (a cut or damaged line?)"),
        ),
        _ => (line, error.to_string()),
    }
}

/// A cell that a row of this kind must have.
pub(super) fn needed<T>(
    value: Option<T>,
    line: usize,
    kind: RowKind,
    name: &str,
) -> Result<T, RowError> {
    let kind = match kind {
        RowKind::Batch => "batch",
        RowKind::Epoch => "epoch",
        RowKind::Test => "test",
    };
    value.ok_or_else(|| (line, format!("a {kind} row needs {name}, it is empty")))
}

/// Rows as today's `History::write_csv` writes them: every row says where it is.
pub(super) fn from_rows(rows: Vec<(usize, MetricsRow)>) -> Result<Metrics, RowError> {
    let mut metrics = Metrics::default();
    for (line, row) in rows {
        if row.epoch == 0 {
            return Err((line, "epoch 0: epochs are counted from 1".into()));
        }
        // Epoch 2 spans positions 1 to 2; a little slack for the decimal round trip.
        let epoch = row.epoch as f64;
        if !(epoch - 1.0 - 1e-9..=epoch + 1e-9).contains(&row.position) {
            return Err((
                line,
                format!(
                    "position {} is not in epoch {} (from {} to {epoch})",
                    row.position,
                    row.epoch,
                    epoch - 1.0
                ),
            ));
        }
        let kind = row.kind;
        match kind {
            RowKind::Batch => metrics.batches.push(BatchRow {
                epoch: row.epoch,
                batch: needed(row.batch, line, kind, "batch")?,
                batches_per_epoch: needed(row.batches_per_epoch, line, kind, "batches_per_epoch")?,
                position: row.position,
                step: needed(row.step, line, kind, "step")?,
                loss: needed(row.loss, line, kind, "loss")?,
                accuracy: needed(row.accuracy, line, kind, "accuracy")?,
            }),
            RowKind::Epoch => metrics.epochs.push(EpochRow {
                epoch: row.epoch,
                train_loss: needed(row.loss, line, kind, "loss")?,
                train_accuracy: needed(row.accuracy, line, kind, "accuracy")?,
                test: epoch_test(row.position, row.test_loss, row.test_accuracy)
                    .map_err(|message| (line, message))?,
            }),
            RowKind::Test => metrics.tests.push(TestRow {
                position: row.position,
                test_loss: needed(row.test_loss, line, kind, "test_loss")?,
                test_accuracy: needed(row.test_accuracy, line, kind, "test_accuracy")?,
            }),
        }
    }
    Ok(metrics)
}

/// The test of an epoch end: both test columns, or neither for an epoch not tested.
pub(super) fn epoch_test(
    position: f64,
    test_loss: Option<f64>,
    test_accuracy: Option<f64>,
) -> Result<Option<TestRow>, String> {
    match (test_loss, test_accuracy) {
        (Some(test_loss), Some(test_accuracy)) => Ok(Some(TestRow {
            position,
            test_loss,
            test_accuracy,
        })),
        (None, None) => Ok(None),
        _ => Err("test_loss and test_accuracy: one is empty, the other is not".into()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::curves::CurvesError;

    fn header() -> String {
        MetricsRow::COLUMNS.join(",")
    }

    /// A run stopped after batch 292 of 469 in its first epoch, with a test at batch 200.
    fn stopped_in_first_epoch() -> String {
        format!(
            "{}
batch,1,100,469,0.21321961620469082,99,2.1,0.2,,,0.01,400.0,0.3,30.5
test,1,,,0.42643923240938164,200,,,1.3,0.5,,,,62.0
batch,1,292,469,0.6226012793176973,291,1.5,0.4,,,0.01,400.0,0.3,90.25
",
            header()
        )
    }

    #[test]
    fn a_run_stopped_in_its_first_epoch_is_drawn_where_it_stopped() {
        let metrics = Metrics::parse(&stopped_in_first_epoch(), Path::new("m.csv")).expect("valid");
        assert_eq!(metrics.batches.len(), 2);
        let last = metrics.batches[1];
        assert_eq!(
            (last.epoch, last.batch, last.batches_per_epoch),
            (1, 292, 469)
        );
        assert!(
            (last.position - 292.0 / 469.0).abs() < 1e-12,
            "{}",
            last.position
        );
        assert_eq!(metrics.tests.len(), 1);
        assert_eq!(metrics.test_curves().1, vec![(200.0 / 469.0, 0.5)]);
        // The axis still shows the whole first epoch.
        assert_eq!(metrics.last_position(), 1.0);
    }

    #[test]
    fn epoch_rows_carry_their_test_or_none() {
        let text = format!(
            "{}
epoch,1,,,1.0,,1.7,0.35,,,,100.0,,20.0
epoch,2,,,2.0,,1.2,0.6,1.1,0.62,,100.0,,40.0
",
            header()
        );
        let metrics = Metrics::parse(&text, Path::new("m.csv")).expect("valid");
        assert_eq!(metrics.epochs[0].test, None);
        assert_eq!(
            metrics.epochs[1].test,
            Some(TestRow {
                position: 2.0,
                test_loss: 1.1,
                test_accuracy: 0.62
            })
        );
        assert_eq!(metrics.last_position(), 2.0);
    }

    #[test]
    fn bad_files_are_named_with_the_line() {
        let parse = |text: &str| {
            Metrics::parse(text, Path::new("m.csv"))
                .expect_err("damaged")
                .to_string()
        };
        let good = stopped_in_first_epoch();
        assert_eq!(
            parse(&good.replace(",1.5,", ",one and a half,")),
            "m.csv:4: loss \"one and a half\" is not a number"
        );
        assert_eq!(
            parse(&good.replace(",292,", ",292.5,")),
            "m.csv:4: batch \"292.5\" is not a whole number"
        );
        // A line cut short, as a crash in the middle of a write would leave it.
        let cut = &good[..good.rfind(",0.01,").expect("a learning rate")];
        assert_eq!(
            parse(cut),
            "m.csv:4: 10 columns, the header has 14 (a cut or damaged line?)"
        );
        assert_eq!(
            parse(&good.replace("test,1,,,", "probe,1,,,")),
            "m.csv:3: unknown row kind \"probe\" (batch, epoch or test)"
        );
        assert_eq!(
            parse(&good.replace(",2.1,0.2,", ",,0.2,")),
            "m.csv:2: a batch row needs loss, it is empty"
        );
        assert_eq!(
            parse(&good.replace(",0.6226012793176973,", ",,")),
            "m.csv:4: position is empty"
        );
        assert_eq!(
            parse(&good.replace(",0.6226012793176973,", ",1.25,")),
            "m.csv:4: position 1.25 is not in epoch 1 (from 0 to 1)"
        );
        assert_eq!(
            parse(&good.replace(",batch_seconds,", ",seconds,")),
            "m.csv:1: not a metrics.csv: no \"batch_seconds\" column"
        );
        let message = parse("a,b\n1,2\n");
        assert_eq!(message, "m.csv:1: not a metrics.csv: no \"kind\" column");
        assert!(matches!(
            Metrics::parse(&header(), Path::new("m.csv")),
            Err(CurvesError::Empty(_))
        ));
        assert!(matches!(
            Metrics::parse("", Path::new("m.csv")),
            Err(CurvesError::Empty(_))
        ));
    }

    #[test]
    fn blank_lines_and_spaces_are_allowed() {
        let text = stopped_in_first_epoch().replace("\ntest,1,", "\n\n test , 1 ,");
        let metrics = Metrics::parse(&text, Path::new("m.csv")).expect("valid");
        assert_eq!(metrics.tests.len(), 1);
    }
}
