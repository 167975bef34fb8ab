//! How one run stands against another at the same place on the epoch axis: the other run's
//! curves read from its metrics.csv ([`read_curves`], [`RunCurves`]) and the comparison
//! ([`standing`], [`Standing`]): the live run's latest test against the other's test curve
//! there, or before its first test, its recent training loss against the other's over the same
//! stretch. The dashboard's overlay draws and words it; a headless run or an attached viewer
//! can ask the same question.

use std::path::{Path, PathBuf};

use crate::curves::{Curve, Metrics, interpolate};
use crate::train::metrics::{METRICS_FILE, TestPoint, epoch_label};

/// The stretch of the epoch axis, ending at a position, whose batch losses are averaged when two
/// runs' training losses are compared or drawn: one batch's loss is too noisy to compare, and a
/// stretch in epochs (not a count of rows) stays fair between runs logged at different rates.
pub const LOSS_WINDOW: f64 = 0.05;

/// Which run: a folder already found (one a listing gave), or a name a person gave (a run id,
/// a run folder, or "latest").
#[derive(Debug, Clone, PartialEq)]
pub enum RunRef {
    Folder {
        id: String,
        dir: PathBuf,
    },
    /// `--compare`: a run id, a run folder, or "latest" ([`super::newest`]).
    Named(String),
}

/// Reads the run's metrics.csv (after finding the run, for a name).
pub fn read_curves(root: &Path, run: RunRef) -> Result<RunCurves, String> {
    let (id, dir) = match run {
        RunRef::Folder { id, dir } => (id, dir),
        RunRef::Named(name) => {
            let dir = crate::runs::resolve(root, &name).map_err(|error| error.to_string())?;
            let id = dir
                .file_name()
                .map_or_else(|| name.clone(), |n| n.to_string_lossy().into_owned());
            (id, dir)
        }
    };
    let metrics = Metrics::read(&dir.join(METRICS_FILE)).map_err(|error| error.to_string())?;
    Ok(RunCurves::new(id, metrics))
}

/// Another run's curves, read once from its metrics.csv: to draw behind a live run and to
/// compare it against.
#[derive(Debug, Clone, PartialEq)]
pub struct RunCurves {
    pub id: String,
    pub metrics: Metrics,
    /// The training loss of every logged batch.
    pub batch_loss: Curve,
    /// The training loss averaged over [`LOSS_WINDOW`], at every logged batch.
    pub loss: Curve,
    /// Training accuracy at epoch ends.
    pub train_accuracy: Curve,
    /// Test accuracy, epoch ends and tests inside epochs.
    pub test_accuracy: Curve,
}

impl RunCurves {
    pub fn new(id: String, metrics: Metrics) -> RunCurves {
        let batch_loss: Curve = metrics
            .batches
            .iter()
            .map(|row| (row.position, row.loss))
            .collect();
        let loss = window_means(&batch_loss);
        let train_accuracy = metrics
            .epochs
            .iter()
            .map(|row| (row.epoch as f64, row.train_accuracy))
            .collect();
        let test_accuracy = metrics.test_curves().1;
        RunCurves {
            id,
            metrics,
            batch_loss,
            loss,
            train_accuracy,
            test_accuracy,
        }
    }

    /// The right end of its epoch axis.
    pub fn last_position(&self) -> f64 {
        self.metrics.last_position()
    }

    /// Its training loss at `position`: the mean over the window ending there, or read off the
    /// line between logged batches when it logged too rarely to have one in the window.
    pub fn loss_at(&self, position: f64) -> Option<f64> {
        let losses = &self.batch_loss;
        let covers = losses.first().is_some_and(|&(x, _)| x <= position)
            && losses.last().is_some_and(|&(x, _)| x >= position);
        if !covers {
            return None;
        }
        window_mean(losses, position).or_else(|| interpolate(losses, position))
    }

    /// Its test accuracy at `position`, read off the line between its tests (as
    /// [`Metrics::test_accuracy_at`], from the curve read once).
    pub fn test_accuracy_at(&self, position: f64) -> Option<f64> {
        interpolate(&self.test_accuracy, position)
    }
}

/// The mean of the points in (x - [`LOSS_WINDOW`], x], for every point's x.
fn window_means(points: &[(f64, f64)]) -> Curve {
    let mut out = Vec::with_capacity(points.len());
    let (mut start, mut sum) = (0, 0.0);
    for (end, &(x, y)) in points.iter().enumerate() {
        sum += y;
        while points[start].0 <= x - LOSS_WINDOW {
            sum -= points[start].1;
            start += 1;
        }
        out.push((x, sum / (end + 1 - start) as f64));
    }
    out
}

/// The mean of the points in (x - [`LOSS_WINDOW`], x]; `None` if there are none.
pub fn window_mean(points: &[(f64, f64)], x: f64) -> Option<f64> {
    let (sum, count) = points
        .iter()
        .rev()
        .skip_while(|&&(at, _)| at > x)
        .take_while(|&&(at, _)| at > x - LOSS_WINDOW)
        .fold((0.0, 0usize), |(sum, count), &(_, y)| (sum + y, count + 1));
    (count > 0).then(|| sum / count as f64)
}

/// How the live run stands against another at the live run's latest position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Standing {
    /// The live run has no batch yet.
    Waiting,
    /// Live test accuracy minus the other run's at the live run's latest test.
    Accuracy { difference: f64, position: f64 },
    /// Before the live run's first test: live training loss minus the other run's.
    Loss { difference: f64, position: f64 },
    /// The other run has no test (or no batches, for `loss`) around that position.
    NoData { position: f64, loss: bool },
}

/// Where the live run stands: its latest test against the other run's test curve there, or
/// before its first test, its recent training loss (`losses`: every batch's, in order) against
/// the other run's over the same stretch of the epoch axis.
pub fn standing(tests: &[TestPoint], losses: &[(f64, f64)], other: &RunCurves) -> Standing {
    if let Some(test) = tests.last() {
        return match other.test_accuracy_at(test.position) {
            Some(theirs) => Standing::Accuracy {
                difference: test.accuracy - theirs,
                position: test.position,
            },
            None => Standing::NoData {
                position: test.position,
                loss: false,
            },
        };
    }
    let Some(&(position, _)) = losses.last() else {
        return Standing::Waiting;
    };
    match (window_mean(losses, position), other.loss_at(position)) {
        (Some(ours), Some(theirs)) => Standing::Loss {
            difference: ours - theirs,
            position,
        },
        _ => Standing::NoData {
            position,
            loss: true,
        },
    }
}

impl Standing {
    /// The comparison in words, naming the other run `id`.
    pub fn words(&self, id: &str) -> String {
        match *self {
            Standing::Waiting => format!("vs {id} once training starts"),
            Standing::Accuracy {
                difference,
                position,
            } => format!(
                "{difference:+.3} vs {id} at epoch {}",
                epoch_label(position)
            ),
            Standing::Loss {
                difference,
                position,
            } => format!(
                "loss {difference:+.3} vs {id} at epoch {}",
                epoch_label(position)
            ),
            Standing::NoData { position, loss } => format!(
                "{id} has no {} at epoch {}",
                if loss { "batches" } else { "test" },
                epoch_label(position)
            ),
        }
    }

    /// Whether the live run is ahead (higher accuracy, lower loss); `None` when not compared
    /// or level to the shown digits.
    pub fn ahead(&self) -> Option<bool> {
        match *self {
            Standing::Accuracy { difference, .. } if difference.abs() >= 0.0005 => {
                Some(difference > 0.0)
            }
            Standing::Loss { difference, .. } if difference.abs() >= 0.0005 => {
                Some(difference < 0.0)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::curves::{BatchRow, EpochRow, TestRow};

    fn batch(position: f64, loss: f64) -> BatchRow {
        BatchRow {
            epoch: position.floor() as usize + 1,
            batch: 1,
            batches_per_epoch: 100,
            position,
            step: (position * 100.0) as u64,
            loss,
            accuracy: 0.5,
        }
    }

    /// Loss 2.0 falling by 0.5 an epoch, tests at epoch ends 1 and 2 (0.80, 0.85).
    fn other() -> RunCurves {
        let batches = (1..=200)
            .map(|i| {
                let x = i as f64 / 100.0;
                batch(x, 2.0 - 0.5 * x)
            })
            .collect();
        let epochs = [(1, 0.80), (2, 0.85)]
            .iter()
            .map(|&(epoch, accuracy)| EpochRow {
                epoch,
                train_loss: 1.0,
                train_accuracy: accuracy - 0.05,
                test: Some(TestRow {
                    position: epoch as f64,
                    test_loss: 0.4,
                    test_accuracy: accuracy,
                }),
            })
            .collect();
        RunCurves::new(
            "20261202-103551".into(),
            Metrics {
                batches,
                epochs,
                tests: Vec::new(),
            },
        )
    }

    fn test(position: f64, accuracy: f64) -> TestPoint {
        TestPoint::at(position, accuracy)
    }

    #[test]
    fn ahead_and_behind_in_test_accuracy_at_the_live_runs_latest_test() {
        let other = other();
        assert_eq!(
            other.test_accuracy_at(1.4),
            other.metrics.test_accuracy_at(1.4)
        );
        let ahead = standing(&[test(1.0, 0.79), test(1.4, 0.832)], &[], &other);
        assert_eq!(ahead.ahead(), Some(true));
        assert_eq!(
            ahead.words(&other.id),
            "+0.012 vs 20261202-103551 at epoch 1.40"
        );
        let behind = standing(&[test(2.0, 0.84)], &[], &other);
        assert_eq!(behind.ahead(), Some(false));
        assert_eq!(
            behind.words(&other.id),
            "-0.010 vs 20261202-103551 at epoch 2"
        );
        let level = standing(&[test(1.0, 0.8)], &[], &other);
        assert_eq!(level.ahead(), None);
    }

    #[test]
    fn no_test_there_is_said_briefly() {
        let other = other();
        // Before the other run's first test, and after its last.
        for position in [0.5, 2.5] {
            let standing = standing(&[test(position, 0.7)], &[], &other);
            assert_eq!(standing.ahead(), None);
            assert_eq!(
                standing.words(&other.id),
                format!("20261202-103551 has no test at epoch {position:.2}")
            );
        }
    }

    #[test]
    fn before_the_first_test_the_training_loss_is_compared_over_the_same_stretch() {
        let other = other();
        // The live run's loss is 0.05 under the other run's line, batch for batch.
        let losses: Vec<(f64, f64)> = (1..=30)
            .map(|i| {
                let x = i as f64 / 100.0;
                (x, 2.0 - 0.5 * x - 0.05)
            })
            .collect();
        let standing = standing(&[], &losses, &other);
        assert_eq!(standing.ahead(), Some(true));
        assert_eq!(
            standing.words(&other.id),
            "loss -0.050 vs 20261202-103551 at epoch 0.30"
        );
        let Standing::Loss { difference, .. } = standing else {
            panic!("{standing:?}");
        };
        assert!((difference + 0.05).abs() < 1e-9, "{difference}");
        // Beyond the other run's batches.
        let late = [(2.3, 0.5)];
        assert_eq!(
            super::standing(&[], &late, &other).words(&other.id),
            "20261202-103551 has no batches at epoch 2.30"
        );
        assert_eq!(super::standing(&[], &[], &other), Standing::Waiting);
    }

    #[test]
    fn a_rarely_logged_run_is_read_between_its_rows() {
        let sparse = RunCurves::new(
            "r".into(),
            Metrics {
                batches: vec![batch(0.1, 2.0), batch(0.5, 1.0)],
                ..Metrics::default()
            },
        );
        let at = sparse.loss_at(0.3).expect("between the rows");
        assert!((at - 1.5).abs() < 1e-9, "{at}");
        assert_eq!(sparse.loss_at(0.05), None);
    }

    #[test]
    fn the_drawn_loss_is_the_window_mean() {
        let points = [(0.01, 4.0), (0.02, 2.0), (0.07, 1.0), (0.08, 3.0)];
        let means = window_means(&points);
        assert_eq!(means[0], (0.01, 4.0));
        assert_eq!(means[1], (0.02, 3.0));
        // 0.01 and 0.02 are 0.05 or more before 0.07: out of its window.
        assert_eq!(means[2], (0.07, 1.0));
        assert_eq!(means[3], (0.08, 2.0));
        assert_eq!(window_mean(&points, 0.08), Some(2.0));
        assert_eq!(window_mean(&points, 0.0), None);
    }
}
