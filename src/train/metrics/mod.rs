//! What a run has measured so far: logged batches and finished epochs. It travels in every
//! checkpoint, so a resumed run (and its dashboard) starts with the whole history.

mod csv_file;

use serde::{Deserialize, Serialize};

pub use csv_file::{METRICS_FILE, MetricsRow, RowKind};

/// One logged training batch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BatchRecord {
    /// Epoch index, from 0.
    pub epoch: usize,
    /// Batch index within the epoch, from 0.
    pub batch: usize,
    pub batches_per_epoch: usize,
    /// Training steps taken since the run began.
    pub step: u64,
    /// Images in the batch (the last batch of an epoch may be smaller).
    pub images: usize,
    pub loss: f64,
    pub accuracy: f64,
    pub learning_rate: f64,
    pub images_per_second: f64,
    /// How long this batch took.
    pub seconds: f64,
    /// The run's training time when this batch ended (previous sessions of a resumed run
    /// included). Checkpoints written before this field existed read it as 0.
    #[serde(default)]
    pub elapsed_seconds: f64,
}

impl BatchRecord {
    /// Position on an epoch axis: 1.5 is halfway through the second epoch.
    pub fn epoch_position(&self) -> f64 {
        self.epoch as f64 + (self.batch + 1) as f64 / self.batches_per_epoch.max(1) as f64
    }
}

/// Test-set results of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub accuracy: f64,
    pub loss: f64,
    pub images: usize,
    /// `confusion[true][predicted]` counts.
    pub confusion: [[u32; 10]; 10],
    pub seconds: f64,
}

impl Evaluation {
    /// Accuracy of each class: correct over the images of that class.
    pub fn per_class_accuracy(&self) -> [f64; 10] {
        let mut out = [0.0; 10];
        for (class, row) in self.confusion.iter().enumerate() {
            let total: u32 = row.iter().sum();
            out[class] = if total == 0 {
                0.0
            } else {
                f64::from(row[class]) / f64::from(total)
            };
        }
        out
    }
}

/// One finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    /// The test at the epoch end; `None` for an epoch that ended before `training.eval_from`
    /// (unless it ended the run), whose test would cost time far below the target.
    #[serde(default)]
    pub test: Option<Evaluation>,
    pub images_per_second: f64,
    /// Wall-clock seconds of the run when the epoch ended, evaluation included.
    pub elapsed_seconds: f64,
    /// The process's resident and peak resident memory in bytes when the epoch ended (none in
    /// checkpoints of earlier versions, or where the figures cannot be read).
    #[serde(default)]
    pub memory: Option<(u64, u64)>,
}

/// A test of the whole test split inside an epoch (`training.eval_every` below 1). Tests at
/// epoch ends are part of their [`EpochRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestCheck {
    /// Where training stood on the epoch axis (1.6: 60% through the second epoch).
    pub position: f64,
    /// Training steps taken before the test.
    pub step: u64,
    pub test: Evaluation,
    /// Wall-clock seconds of the run when the test ended.
    pub elapsed_seconds: f64,
}

impl EpochRecord {
    /// The result of its test at the epoch end, if it was tested.
    pub fn test_point(&self) -> Option<TestPoint> {
        self.test.as_ref().map(|test| TestPoint {
            elapsed_seconds: Some(self.elapsed_seconds),
            ..TestPoint::at(self.epoch as f64 + 1.0, test.accuracy)
        })
    }
}

impl TestCheck {
    /// Its result at its place.
    pub fn point(&self) -> TestPoint {
        TestPoint {
            accuracy: self.test.accuracy,
            position: self.position,
            step: Some(self.step),
            elapsed_seconds: Some(self.elapsed_seconds),
        }
    }
}

/// A test-set accuracy at a place in a run, from an epoch end or from inside an epoch: the one
/// type for a test result, whoever keeps or shows it (the worker, the dashboard, the headless
/// lines, run.json, checkpoint metadata, `runs`, `compare`, the overlay picker).
///
/// Serialized, it is run.json's shape (`accuracy`, `position`, `step`, `elapsed_seconds`).
/// Checkpoint metadata ([`History::target_reached_at`], through [`in_checkpoints`]) and
/// `runs --json` (`crate::runs`) keep the shapes they always had, so that files written before
/// read back and the same run is written byte for byte as it was.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestPoint {
    pub accuracy: f64,
    /// Place on the epoch axis (1.6: 60% through the second epoch).
    pub position: f64,
    /// The training step it followed; `None` where that is not kept (an epoch end's test in the
    /// history, checkpoint metadata, a run of an earlier version).
    pub step: Option<u64>,
    /// Wall-clock seconds of the run when the test ended; `None` for a run of an earlier
    /// version, whose files do not say.
    pub elapsed_seconds: Option<f64>,
}

impl TestPoint {
    /// The test at `position` with `accuracy`, and nothing else known.
    pub fn at(position: f64, accuracy: f64) -> TestPoint {
        TestPoint {
            accuracy,
            position,
            step: None,
            elapsed_seconds: None,
        }
    }
}

/// [`TestPoint`] as checkpoint metadata has always held it: `position`, `accuracy`,
/// `elapsed_seconds` (for `#[serde(with)]`).
pub mod in_checkpoints {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::TestPoint;

    #[derive(Serialize, Deserialize)]
    struct Shape {
        position: f64,
        accuracy: f64,
        elapsed_seconds: f64,
    }

    pub fn serialize<S: Serializer>(point: &Option<TestPoint>, to: S) -> Result<S::Ok, S::Error> {
        point
            .map(|point| Shape {
                position: point.position,
                accuracy: point.accuracy,
                elapsed_seconds: point.elapsed_seconds.unwrap_or_default(),
            })
            .serialize(to)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<Option<TestPoint>, D::Error> {
        Ok(Option::<Shape>::deserialize(from)?.map(|shape| TestPoint {
            elapsed_seconds: Some(shape.elapsed_seconds),
            ..TestPoint::at(shape.position, shape.accuracy)
        }))
    }
}

/// Every test so far, epoch ends and tests inside epochs together, in training order.
pub fn test_points(epochs: &[EpochRecord], checks: &[TestCheck]) -> Vec<TestPoint> {
    let mut points: Vec<TestPoint> = epochs
        .iter()
        .filter_map(EpochRecord::test_point)
        .chain(checks.iter().map(TestCheck::point))
        .collect();
    points.sort_by(|a, b| a.position.total_cmp(&b.position));
    points
}

/// A position on the epoch axis for people: "2" at the end of the second epoch, "1.60" inside it.
pub fn epoch_label(position: f64) -> String {
    if position.fract() == 0.0 {
        format!("{position:.0}")
    } else {
        format!("{position:.2}")
    }
}

/// Whether `point` reaches `target` (0 = no target); the first such point is kept in `reached_at`.
pub fn note_target(reached_at: &mut Option<TestPoint>, point: TestPoint, target: f64) -> bool {
    let reached = target > 0.0 && point.accuracy >= target;
    if reached && reached_at.is_none() {
        *reached_at = Some(point);
    }
    reached
}

/// The highest test accuracy (the earliest of equals).
pub fn best_test(points: &[TestPoint]) -> Option<TestPoint> {
    points.iter().copied().fold(None, |best, point| match best {
        Some(b) if b.accuracy >= point.accuracy => best,
        _ => Some(point),
    })
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub batches: Vec<BatchRecord>,
    pub epochs: Vec<EpochRecord>,
    /// Tests inside epochs (checkpoints written before these existed have none).
    #[serde(default)]
    pub checks: Vec<TestCheck>,
    /// Wall-clock seconds spent in the run before this process (previous sessions of a resumed run).
    pub elapsed_seconds: f64,
    /// The first test at or above the target accuracy: where and when.
    #[serde(default, with = "in_checkpoints")]
    pub target_reached_at: Option<TestPoint>,
}

impl History {
    pub fn test_points(&self) -> Vec<TestPoint> {
        test_points(&self.epochs, &self.checks)
    }

    pub fn best_test_accuracy(&self) -> Option<TestPoint> {
        best_test(&self.test_points())
    }
}

/// Running sums over the batches of the current epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochTotals {
    pub loss_sum: f64,
    pub correct: u64,
    pub images: u64,
    pub train_seconds: f64,
}

impl EpochTotals {
    pub fn add(&mut self, loss: f64, correct: u64, images: u64, seconds: f64) {
        self.loss_sum += loss * images as f64;
        self.correct += correct;
        self.images += images;
        self.train_seconds += seconds;
    }

    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.images.max(1) as f64
    }

    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.images.max(1) as f64
    }

    pub fn images_per_second(&self) -> f64 {
        if self.train_seconds > 0.0 {
            self.images as f64 / self.train_seconds
        } else {
            0.0
        }
    }
}

/// Exponential moving average, for the smoothed loss line and the "images/s now" figure, and,
/// debiased, for the range test's smoothed loss.
#[derive(Debug, Clone, Copy)]
pub struct Ema {
    value: Option<f64>,
    weight: f64,
    /// Debiased (see [`Ema::debiased`]): values pushed so far, and the average started at zero.
    debias: Option<(u32, f64)>,
}

impl Ema {
    /// An average that starts at the first value.
    pub fn new(weight: f64) -> Self {
        Self {
            value: None,
            weight,
            debias: None,
        }
    }

    /// An average that starts at zero and is divided by `1 - weight^n` after `n` values, as
    /// fastai's smoothed loss is (`AvgSmoothLoss`): the early values are not pulled toward the
    /// first one.
    pub fn debiased(weight: f64) -> Self {
        Self {
            debias: Some((0, 0.0)),
            ..Self::new(weight)
        }
    }

    pub fn push(&mut self, x: f64) -> f64 {
        let next = match (&mut self.debias, self.value) {
            (Some((count, raw)), _) => {
                *count = count.saturating_add(1);
                *raw = self.weight * *raw + (1.0 - self.weight) * x;
                *raw / (1.0 - self.weight.powf(f64::from(*count)))
            }
            (None, None) => x,
            (None, Some(v)) => self.weight * v + (1.0 - self.weight) * x,
        };
        self.value = Some(next);
        next
    }

    pub fn get(&self) -> Option<f64> {
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A history as checkpoints of this version keep it in their metadata (JSON).
    const CHECKPOINT_HISTORY: &str = r#"{"batches":[],"epochs":[],"checks":[],"elapsed_seconds":12.5,"target_reached_at":{"position":1.75,"accuracy":0.8812,"elapsed_seconds":175.5}}"#;

    #[test]
    fn a_history_in_checkpoint_metadata_reads_back_and_is_written_as_before() {
        let history: History = serde_json::from_str(CHECKPOINT_HISTORY).expect("readable");
        let reached = history.target_reached_at.expect("the target reached");
        assert_eq!((reached.position, reached.accuracy), (1.75, 0.8812));
        assert_eq!(
            serde_json::to_string(&history).expect("written"),
            CHECKPOINT_HISTORY
        );
        // Checkpoints from before the target was kept have none.
        let older: History =
            serde_json::from_str(r#"{"batches":[],"epochs":[],"elapsed_seconds":0.0}"#)
                .expect("readable");
        assert_eq!(older.target_reached_at, None);
    }

    fn evaluation(accuracy: f64) -> Evaluation {
        Evaluation {
            accuracy,
            loss: 0.5,
            images: 10,
            confusion: [[0; 10]; 10],
            seconds: 1.0,
        }
    }

    fn epoch_record(epoch: usize, accuracy: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: 1.0,
            train_accuracy: 0.5,
            test: Some(evaluation(accuracy)),
            images_per_second: 10.0,
            elapsed_seconds: epoch as f64 + 1.0,
            memory: None,
        }
    }

    fn check(position: f64, accuracy: f64) -> TestCheck {
        TestCheck {
            position,
            step: (position * 100.0) as u64,
            test: evaluation(accuracy),
            elapsed_seconds: position,
        }
    }

    #[test]
    fn best_accuracy_prefers_the_earliest_of_equals() {
        let mut history = History::default();
        assert_eq!(history.best_test_accuracy(), None);
        for (epoch, accuracy) in [(0, 0.5), (1, 0.8), (2, 0.8), (3, 0.7)] {
            history.epochs.push(epoch_record(epoch, accuracy));
        }
        let best = history.best_test_accuracy().expect("a best test");
        assert_eq!((best.position, best.accuracy), (2.0, 0.8));
    }

    #[test]
    fn tests_inside_epochs_join_the_epoch_ends_in_order() {
        let mut history = History::default();
        history.epochs.push(epoch_record(0, 0.7));
        history.epochs.push(epoch_record(1, 0.85));
        history.checks.push(check(1.5, 0.86));
        history.checks.push(check(0.5, 0.6));
        let positions: Vec<f64> = history.test_points().iter().map(|p| p.position).collect();
        assert_eq!(positions, [0.5, 1.0, 1.5, 2.0]);
        let best = history.best_test_accuracy().expect("a best test");
        assert_eq!((best.position, best.accuracy), (1.5, 0.86));
    }

    #[test]
    fn the_first_test_at_the_target_is_kept() {
        let mut reached = None;
        let point = |position, accuracy| TestPoint {
            elapsed_seconds: Some(position * 60.0),
            ..TestPoint::at(position, accuracy)
        };
        assert!(!note_target(&mut reached, point(1.0, 0.87), 0.88));
        assert!(note_target(&mut reached, point(1.2, 0.88), 0.88));
        assert!(note_target(&mut reached, point(1.4, 0.89), 0.88));
        assert_eq!(reached, Some(point(1.2, 0.88)));
        let mut never = None;
        assert!(!note_target(&mut never, point(1.0, 0.99), 0.0));
        assert_eq!(never, None);
    }

    #[test]
    fn epoch_labels_are_whole_at_epoch_ends() {
        assert_eq!(epoch_label(2.0), "2");
        assert_eq!(epoch_label(1.6), "1.60");
    }

    #[test]
    fn per_class_accuracy_divides_by_class_totals() {
        let mut evaluation = evaluation(0.0);
        evaluation.confusion[3][3] = 3;
        evaluation.confusion[3][6] = 1;
        let per_class = evaluation.per_class_accuracy();
        assert_eq!(per_class[3], 0.75);
        assert_eq!(per_class[0], 0.0);
    }

    #[test]
    fn csv_interleaves_tests_and_epochs_after_their_batches() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut history = History::default();
        for (epoch, batch) in [(0, 0), (0, 1), (1, 0)] {
            history.batches.push(BatchRecord {
                epoch,
                batch,
                batches_per_epoch: 2,
                step: (epoch * 2 + batch) as u64,
                images: 4,
                loss: 1.0,
                accuracy: 0.5,
                learning_rate: 0.1,
                images_per_second: 100.0,
                seconds: 0.1,
                elapsed_seconds: 5.0 + (epoch * 2 + batch) as f64,
            });
        }
        history.epochs.push(epoch_record(0, 0.6));
        history.checks.push(TestCheck {
            position: 0.5,
            step: 1,
            test: evaluation(0.55),
            elapsed_seconds: 1.0,
        });
        let path = dir.path().join("metrics.csv");
        history.write_csv(&path).expect("write csv");
        let text = std::fs::read_to_string(path).expect("read csv");
        let kinds: Vec<&str> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap_or(""))
            .collect();
        assert_eq!(kinds, ["batch", "test", "batch", "epoch", "batch"]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], MetricsRow::COLUMNS.join(","));
        // The second batch ends the first epoch; the test after the first batch is in epoch 1;
        // batch_seconds is the batch's duration, elapsed_seconds the run's.
        assert_eq!(lines[2], "test,1,,,0.5,1,,,0.5,0.55,,,,1.0");
        assert_eq!(lines[3], "batch,1,2,2,1.0,1,1.0,0.5,,,0.1,100.0,0.1,6.0");
    }

    #[test]
    fn an_untested_epoch_has_no_test_point_and_empty_test_columns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut history = History::default();
        history.epochs.push(EpochRecord {
            test: None,
            ..epoch_record(0, 0.0)
        });
        history.checks.push(check(1.5, 0.87));
        history.epochs.push(epoch_record(1, 0.89));
        let positions: Vec<f64> = history.test_points().iter().map(|p| p.position).collect();
        assert_eq!(positions, [1.5, 2.0]);
        assert_eq!(history.best_test_accuracy().map(|p| p.accuracy), Some(0.89));

        let path = dir.path().join("metrics.csv");
        history.write_csv(&path).expect("write csv");
        let text = std::fs::read_to_string(path).expect("read csv");
        let epoch_rows: Vec<&str> = text.lines().filter(|l| l.starts_with("epoch,")).collect();
        assert_eq!(
            epoch_rows,
            [
                "epoch,1,,,1.0,,1.0,0.5,,,,10.0,,1.0",
                "epoch,2,,,2.0,,1.0,0.5,0.5,0.89,,10.0,,2.0"
            ]
        );
    }

    #[test]
    fn the_columns_are_the_row_fields_in_order() {
        let mut out = csv::Writer::from_writer(Vec::new());
        out.serialize(MetricsRow::test(&check(0.5, 0.6)))
            .expect("serialize a row");
        let bytes = out.into_inner().expect("flush");
        let text = String::from_utf8(bytes).expect("utf-8");
        assert_eq!(
            text.lines().next(),
            Some(MetricsRow::COLUMNS.join(",").as_str())
        );
    }

    #[test]
    fn an_empty_history_writes_the_header_alone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(METRICS_FILE);
        History::default().write_csv(&path).expect("write csv");
        let text = std::fs::read_to_string(&path).expect("read csv");
        assert_eq!(text, format!("{}\n", MetricsRow::COLUMNS.join(",")));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("folder")
            .map(|entry| entry.expect("entry").file_name())
            .collect();
        assert_eq!(names, [METRICS_FILE], "no temporary file is left");
    }

    #[test]
    fn a_debiased_average_is_not_pulled_toward_the_first_value() {
        let mut plain = Ema::new(0.98);
        let mut debiased = Ema::debiased(0.98);
        assert!((debiased.push(2.0) - 2.0).abs() < 1e-12);
        plain.push(2.0);
        // fastai's AvgSmoothLoss: raw = 0.98 * 0.04 + 0.02 * 1, divided by 1 - 0.98^2.
        let second = debiased.push(1.0);
        assert!((second - (0.98 * 0.04 + 0.02) / (1.0 - 0.98f64.powi(2))).abs() < 1e-12);
        assert!((second - 0.0592 / 0.0396).abs() < 1e-12);
        // The plain one barely moves from its first value.
        assert!((plain.push(1.0) - 1.98).abs() < 1e-12);
        assert_eq!(debiased.get(), Some(second));
    }
}
