//! A run's loss and accuracy curves: [`Metrics`] reads a metrics.csv, [`render`] draws it, and
//! [`write_run_plot`] puts the picture next to the file as `curves.png`; [`plot_runs`] draws
//! several runs in one picture (`several_runs.rs`), [`plot_range_test`] a learning-rate range
//! test's curve. The `plot` command and the front ends (which draw a finished run's curves)
//! share it.
//!
//! metrics.csv is read by its header, so any copy of it plots on its own. Files written before
//! the `position` column existed (11 columns) are read by `old_metrics.rs`, which has to infer
//! where each batch sits. A damaged file is a [`CurvesError`] naming the file and the line, never
//! a panic.

mod draw;
mod old_metrics;
mod range_test;
mod read;
mod several_runs;

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::train::metrics::{METRICS_FILE, MetricsRow};

pub use draw::{PLOT_SIZE, render};
pub use range_test::{plot_range_test, render_range_test};
pub use several_runs::{PlottedRun, plot_runs, render_runs};

/// The file a finished run's curves are written to, next to its metrics.csv.
pub const CURVES_FILE: &str = "curves.png";

#[derive(Debug, Error)]
pub enum CurvesError {
    #[error("{0}: no metrics.csv there; plot takes a run folder (runs/<run-id>) or a metrics.csv")]
    NoMetrics(PathBuf),
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{0}: no batch, test or epoch rows yet, nothing to plot")]
    Empty(PathBuf),
    #[error("cannot draw the curves: {0}")]
    Draw(String),
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One `batch` row of metrics.csv (epoch and batch counted from 1, as in the file).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchRow {
    pub epoch: usize,
    pub batch: usize,
    pub batches_per_epoch: usize,
    /// Place on the epoch axis: 1.5 is halfway through the second epoch.
    pub position: f64,
    pub step: u64,
    pub loss: f64,
    pub accuracy: f64,
}

/// One `epoch` row of metrics.csv (epoch counted from 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochRow {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    /// The test at the epoch end, `None` for an epoch not tested (before `training.eval_from`).
    pub test: Option<TestRow>,
}

/// A test on the epoch axis: a `test` row of metrics.csv, or the test of an epoch end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestRow {
    /// Position on the epoch axis (1.6: 60% through the second epoch).
    pub position: f64,
    pub test_loss: f64,
    pub test_accuracy: f64,
}

/// (x, y) points of one line.
pub type Curve = Vec<(f64, f64)>;

/// What metrics.csv holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    pub batches: Vec<BatchRow>,
    pub epochs: Vec<EpochRow>,
    pub tests: Vec<TestRow>,
}

impl Metrics {
    /// Parses metrics.csv as `History::write_csv` writes it, or as versions before the
    /// `position` column wrote it; columns are found by their names.
    pub fn parse(text: &str, path: &Path) -> Result<Metrics, CurvesError> {
        let error = |(line, message): read::RowError| CurvesError::Parse {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let header = reader
            .headers()
            .map_err(|e| error(read::csv_error(&e)))?
            .clone();
        if header.iter().all(str::is_empty) {
            return Err(CurvesError::Empty(path.to_path_buf()));
        }
        let metrics = if header.iter().any(|name| name == "position") {
            read::require(&header, &MetricsRow::COLUMNS).map_err(error)?;
            read::from_rows(read::rows(&mut reader, &header).map_err(error)?).map_err(error)?
        } else {
            read::require(&header, &old_metrics::COLUMNS).map_err(error)?;
            old_metrics::from_rows(read::rows(&mut reader, &header).map_err(error)?)
                .map_err(error)?
        };
        if metrics.batches.is_empty() && metrics.epochs.is_empty() && metrics.tests.is_empty() {
            return Err(CurvesError::Empty(path.to_path_buf()));
        }
        Ok(metrics)
    }

    pub fn read(path: &Path) -> Result<Metrics, CurvesError> {
        let text = std::fs::read_to_string(path).map_err(|source| CurvesError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Metrics::parse(&text, path)
    }

    /// Test loss and accuracy on the epoch axis, epoch ends and tests inside epochs in order.
    pub fn test_curves(&self) -> (Curve, Curve) {
        let mut tests: Vec<TestRow> = self
            .epochs
            .iter()
            .filter_map(|e| e.test)
            .chain(self.tests.iter().copied())
            .collect();
        tests.sort_by(|a, b| a.position.total_cmp(&b.position));
        tests
            .iter()
            .map(|t| ((t.position, t.test_loss), (t.position, t.test_accuracy)))
            .unzip()
    }

    /// The test accuracy at `position` on the epoch axis, read off the test curve: a test there,
    /// or the straight line between the tests either side of it (runs tested on different
    /// schedules compare at the same places this way). `None` outside the tested stretch.
    pub fn test_accuracy_at(&self, position: f64) -> Option<f64> {
        interpolate(&self.test_curves().1, position)
    }

    /// The training loss at `position`, read off the logged batches the same way.
    pub fn train_loss_at(&self, position: f64) -> Option<f64> {
        let losses: Curve = self
            .batches
            .iter()
            .map(|row| (row.position, row.loss))
            .collect();
        interpolate(&losses, position)
    }

    /// The right end of the epoch axis: the last row's position, at least one epoch.
    pub fn last_position(&self) -> f64 {
        self.batches
            .iter()
            .map(|row| row.position)
            .chain(self.epochs.iter().map(|row| row.epoch as f64))
            .chain(self.tests.iter().map(|row| row.position))
            .fold(1.0, f64::max)
    }
}

/// The value of a curve (points in increasing x) at `x`, on the straight line between the points
/// either side; `None` before the first point or after the last.
pub fn interpolate(curve: &[(f64, f64)], x: f64) -> Option<f64> {
    let after = curve.iter().position(|&(at, _)| at >= x)?;
    let (x1, y1) = curve[after];
    if x1 == x || after == 0 {
        return (x1 == x).then_some(y1);
    }
    let (x0, y0) = curve[after - 1];
    Some(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
}

/// The part of a curve (points in increasing x) from `at` on, beginning at `at` itself (read off
/// the curve) when the curve covers it: what a branch drew itself, from where it left its parent.
pub fn from_branch_point(curve: &[(f64, f64)], at: f64) -> Curve {
    let start = interpolate(curve, at).map(|y| (at, y));
    start
        .into_iter()
        .chain(curve.iter().copied().filter(|&(x, _)| x > at))
        .collect()
}

/// Draws `metrics_path` (a metrics.csv) into the PNG `out`; the title names the run folder.
pub fn plot_metrics(metrics_path: &Path, out: &Path) -> Result<(), CurvesError> {
    let metrics = Metrics::read(metrics_path)?;
    let run = metrics_path
        .parent()
        .and_then(Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let title = if run.is_empty() {
        "alexnet-tui".to_string()
    } else {
        format!("alexnet-tui run {run}")
    };
    let png = draw::encode_png(render(&metrics, &title)?)?;
    // A failure leaves neither a partial PNG nor the temporary file.
    crate::files::write_bytes_atomic(out, &png).map_err(|source| CurvesError::Write {
        path: out.to_path_buf(),
        source,
    })
}

/// Writes `curves.png` next to a run's metrics.csv and returns its path. Called when a run ends,
/// by the dashboard and the headless runner.
pub fn write_run_plot(run_dir: &Path) -> Result<PathBuf, CurvesError> {
    let metrics = run_dir.join(METRICS_FILE);
    if !metrics.is_file() {
        return Err(CurvesError::NoMetrics(run_dir.to_path_buf()));
    }
    let out = run_dir.join(CURVES_FILE);
    plot_metrics(&metrics, &out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{from_branch_point, interpolate};

    #[test]
    fn a_branch_draws_from_its_branch_point_on() {
        let curve = [(0.5, 0.6), (1.0, 0.7), (1.5, 0.8), (2.0, 0.9)];
        assert_eq!(
            from_branch_point(&curve, 1.0),
            [(1.0, 0.7), (1.5, 0.8), (2.0, 0.9)]
        );
        let between = from_branch_point(&curve, 1.25);
        assert_eq!(between.len(), 3);
        assert!((between[0].1 - 0.75).abs() < 1e-12, "{between:?}");
        // A curve that starts after the branch point is drawn whole.
        assert_eq!(from_branch_point(&curve[2..], 1.0), curve[2..]);
    }

    #[test]
    fn interpolation_reads_between_points_and_not_beyond() {
        let curve = [(1.0, 0.5), (1.5, 0.7), (2.0, 0.8)];
        assert_eq!(interpolate(&curve, 1.0), Some(0.5));
        assert_eq!(interpolate(&curve, 2.0), Some(0.8));
        let middle = interpolate(&curve, 1.25).expect("inside");
        assert!((middle - 0.6).abs() < 1e-12, "{middle}");
        assert_eq!(interpolate(&curve, 0.9), None);
        assert_eq!(interpolate(&curve, 2.1), None);
        assert_eq!(interpolate(&[], 1.0), None);
    }
}
