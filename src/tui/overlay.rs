//! The overlay: an earlier run's curves drawn dimmed behind the live ones, the picker that
//! chooses it, and how the live run stands against it. Listing runs and reading the chosen
//! run's metrics.csv is file work: the event loop does it off the draw path ([`list_runs`],
//! [`load`]) and hands the results to [`App::update`](super::app::App::update); everything else
//! here is pure.

use std::path::{Path, PathBuf};

use crate::config::{Change, Config};
use crate::curves::{Curve, Metrics, interpolate};
use crate::train::metrics::{METRICS_FILE, TestPoint, epoch_label};

/// The stretch of the epoch axis, ending at a position, whose batch losses are averaged when two
/// runs' training losses are compared or drawn: one batch's loss is too noisy to compare, and a
/// stretch in epochs (not a count of rows) stays fair between runs logged at different rates.
pub const LOSS_WINDOW: f64 = 0.05;

/// A run's best test accuracy and where on the epoch axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BestTest {
    pub accuracy: f64,
    pub position: f64,
}

/// One earlier run, as the picker lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunChoice {
    pub id: String,
    pub dir: PathBuf,
    /// How the run stands, in the `runs` command's word ("finished", "stopped", ...).
    pub state: String,
    pub best: Option<BestTest>,
    /// Its settings that differ from the live run's, briefly, with its values; `None` when
    /// its settings are not known.
    pub differs: Option<String>,
    /// The run it branched from.
    pub parent: Option<String>,
}

impl RunChoice {
    /// "best 0.8712 at epoch 2", or nothing known.
    pub fn best_words(&self) -> String {
        self.best.map_or_else(
            || "no test yet".to_string(),
            |best| {
                format!(
                    "best {:.4} at epoch {}",
                    best.accuracy,
                    epoch_label(best.position)
                )
            },
        )
    }

    /// What differs, briefly ("lr=0.02 batch=64"), or "same settings".
    pub fn differs_words(&self) -> String {
        match &self.differs {
            Some(words) if words.is_empty() => "same settings".to_string(),
            Some(words) => words.clone(),
            None => "settings not known".to_string(),
        }
    }
}

/// The settings `earlier` trained with that differ from `live`'s and bear on training, in the
/// `runs` command's words, with the earlier run's values: "lr=0.02 batch=64".
pub fn differences(earlier: &Config, live: &Config) -> String {
    let diff = live.diff(earlier);
    let changes: Vec<Change> = diff.live.into_iter().chain(diff.restart).collect();
    crate::runs::short_changes(&changes)
}

/// The runs under `root` (`checkpoint.dir`), newest first, with what differs from `live`.
pub fn list_runs(root: &Path, live: &Config) -> Result<Vec<RunChoice>, String> {
    // Before the first run there is no folder yet: no earlier runs, not an error.
    if !root.exists() {
        return Ok(Vec::new());
    }
    let summaries = crate::runs::list(root).map_err(|error| error.to_string())?;
    Ok(summaries
        .into_iter()
        .map(|summary| RunChoice {
            state: summary.state.label().to_string(),
            best: summary.best.map(|best| BestTest {
                accuracy: best.accuracy,
                position: best.position,
            }),
            differs: summary
                .config
                .as_ref()
                .map(|config| differences(config, live)),
            parent: summary.parent.map(|parent| parent.run_id),
            id: summary.id,
            dir: summary.dir,
        })
        .collect())
}

/// Which run to draw: one the picker listed, or a name given on the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum RunRef {
    Folder {
        id: String,
        dir: PathBuf,
    },
    /// `--compare`: a run id, a run folder, or "latest".
    Named(String),
}

/// Reads the run's metrics.csv (after finding the run, for a name).
pub fn load(root: &Path, run: RunRef) -> Result<Overlay, String> {
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
    Ok(Overlay::new(id, metrics))
}

/// The chosen earlier run, its curves ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlay {
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

impl Overlay {
    pub fn new(id: String, metrics: Metrics) -> Overlay {
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
        Overlay {
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

/// How the live run stands against the overlay at the live run's latest position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Standing {
    /// The live run has no batch yet.
    Waiting,
    /// Live test accuracy minus the overlay's at the live run's latest test.
    Accuracy { difference: f64, position: f64 },
    /// Before the live run's first test: live training loss minus the overlay's.
    Loss { difference: f64, position: f64 },
    /// The overlay has no test (or no batches, for `loss`) around that position.
    NoData { position: f64, loss: bool },
}

/// Where the live run stands: its latest test against the overlay's test curve there, or
/// before its first test, its recent training loss (`losses`: every batch's, in order) against
/// the overlay's over the same stretch of the epoch axis.
pub fn standing(tests: &[TestPoint], losses: &[(f64, f64)], overlay: &Overlay) -> Standing {
    if let Some(test) = tests.last() {
        return match overlay.test_accuracy_at(test.position) {
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
    match (window_mean(losses, position), overlay.loss_at(position)) {
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
    /// The comparison in words, naming the overlay run `id`.
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

/// What the picker lists.
#[derive(Debug, Clone, PartialEq)]
pub enum Listing {
    /// The runs are being read.
    Loading,
    Failed(String),
    Runs(Vec<RunChoice>),
}

/// The open picker.
#[derive(Debug, Clone, PartialEq)]
pub struct Picker {
    pub listing: Listing,
    /// Index into the rows ([`Picker::rows`]).
    pub selected: usize,
}

/// One line of the picker.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Row<'a> {
    Run {
        run: &'a RunChoice,
        /// The live run's parent.
        parent: bool,
    },
    /// No overlay.
    None,
}

impl Picker {
    pub fn new() -> Picker {
        Picker {
            listing: Listing::Loading,
            selected: 0,
        }
    }

    /// The rows: the live run's parent first, then every other earlier run newest first (never
    /// the live run itself), then "none".
    pub fn rows<'a>(&'a self, live: Option<&str>, parent: Option<&str>) -> Vec<Row<'a>> {
        let runs: &[RunChoice] = match &self.listing {
            Listing::Runs(runs) => runs,
            _ => &[],
        };
        let earlier = runs.iter().filter(|run| Some(run.id.as_str()) != live);
        let (first, rest): (Vec<&RunChoice>, Vec<&RunChoice>) =
            earlier.partition(|run| Some(run.id.as_str()) == parent);
        first
            .into_iter()
            .map(|run| Row::Run { run, parent: true })
            .chain(rest.into_iter().map(|run| Row::Run { run, parent: false }))
            .chain(std::iter::once(Row::None))
            .collect()
    }

    /// Moves the selection by `delta` rows, stopping at either end.
    pub fn step(&mut self, delta: isize, rows: usize) {
        let last = rows.saturating_sub(1);
        self.selected = self.selected.saturating_add_signed(delta).min(last);
    }
}

impl Default for Picker {
    fn default() -> Self {
        Picker::new()
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
    fn overlay() -> Overlay {
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
        Overlay::new(
            "20261202-103551".into(),
            Metrics {
                batches,
                epochs,
                tests: Vec::new(),
            },
        )
    }

    fn test(position: f64, accuracy: f64) -> TestPoint {
        TestPoint {
            position,
            accuracy,
            elapsed_seconds: 0.0,
        }
    }

    #[test]
    fn ahead_and_behind_in_test_accuracy_at_the_live_runs_latest_test() {
        let overlay = overlay();
        assert_eq!(
            overlay.test_accuracy_at(1.4),
            overlay.metrics.test_accuracy_at(1.4)
        );
        let ahead = standing(&[test(1.0, 0.79), test(1.4, 0.832)], &[], &overlay);
        assert_eq!(ahead.ahead(), Some(true));
        assert_eq!(
            ahead.words(&overlay.id),
            "+0.012 vs 20261202-103551 at epoch 1.40"
        );
        let behind = standing(&[test(2.0, 0.84)], &[], &overlay);
        assert_eq!(behind.ahead(), Some(false));
        assert_eq!(
            behind.words(&overlay.id),
            "-0.010 vs 20261202-103551 at epoch 2"
        );
        let level = standing(&[test(1.0, 0.8)], &[], &overlay);
        assert_eq!(level.ahead(), None);
    }

    #[test]
    fn no_test_there_is_said_briefly() {
        let overlay = overlay();
        // Before the overlay's first test, and after its last.
        for position in [0.5, 2.5] {
            let standing = standing(&[test(position, 0.7)], &[], &overlay);
            assert_eq!(standing.ahead(), None);
            assert_eq!(
                standing.words(&overlay.id),
                format!("20261202-103551 has no test at epoch {position:.2}")
            );
        }
    }

    #[test]
    fn before_the_first_test_the_training_loss_is_compared_over_the_same_stretch() {
        let overlay = overlay();
        // The live run's loss is 0.05 under the overlay's line, batch for batch.
        let losses: Vec<(f64, f64)> = (1..=30)
            .map(|i| {
                let x = i as f64 / 100.0;
                (x, 2.0 - 0.5 * x - 0.05)
            })
            .collect();
        let standing = standing(&[], &losses, &overlay);
        assert_eq!(standing.ahead(), Some(true));
        assert_eq!(
            standing.words(&overlay.id),
            "loss -0.050 vs 20261202-103551 at epoch 0.30"
        );
        let Standing::Loss { difference, .. } = standing else {
            panic!("{standing:?}");
        };
        assert!((difference + 0.05).abs() < 1e-9, "{difference}");
        // Beyond the overlay's batches.
        let late = [(2.3, 0.5)];
        assert_eq!(
            super::standing(&[], &late, &overlay).words(&overlay.id),
            "20261202-103551 has no batches at epoch 2.30"
        );
        assert_eq!(super::standing(&[], &[], &overlay), Standing::Waiting);
    }

    #[test]
    fn a_rarely_logged_overlay_is_read_between_its_rows() {
        let sparse = Overlay::new(
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

    fn choice(id: &str) -> RunChoice {
        RunChoice {
            id: id.into(),
            dir: PathBuf::from("runs").join(id),
            state: "completed".into(),
            best: None,
            differs: Some(String::new()),
            parent: None,
        }
    }

    #[test]
    fn the_parent_comes_first_the_live_run_not_at_all_and_none_last() {
        let picker = Picker {
            listing: Listing::Runs(vec![choice("c"), choice("b"), choice("a")]),
            selected: 0,
        };
        let ids = |rows: Vec<Row>| -> Vec<String> {
            rows.iter()
                .map(|row| match row {
                    Row::Run { run, parent: true } => format!("{} (parent)", run.id),
                    Row::Run { run, .. } => run.id.clone(),
                    Row::None => "none".into(),
                })
                .collect()
        };
        assert_eq!(
            ids(picker.rows(Some("c"), Some("a"))),
            ["a (parent)", "b", "none"]
        );
        assert_eq!(ids(picker.rows(None, None)), ["c", "b", "a", "none"]);
        assert_eq!(ids(Picker::new().rows(None, None)), ["none"]);
    }

    #[test]
    fn the_selection_stops_at_either_end() {
        let mut picker = Picker::new();
        picker.step(-1, 3);
        assert_eq!(picker.selected, 0);
        picker.step(1, 3);
        picker.step(1, 3);
        picker.step(1, 3);
        assert_eq!(picker.selected, 2);
        picker.step(-1, 3);
        assert_eq!(picker.selected, 1);
    }

    #[test]
    fn differences_name_the_earlier_runs_values_and_leave_out_bookkeeping() {
        let live = Config::default();
        let mut earlier = live.clone();
        earlier.training.learning_rate = 0.02;
        earlier.ui.refresh_hz = 3.0;
        let run = RunChoice {
            differs: Some(differences(&earlier, &live)),
            ..choice("a")
        };
        assert_eq!(run.differs_words(), "lr=0.02");
        assert_eq!(choice("b").differs_words(), "same settings");
        let unknown = RunChoice {
            differs: None,
            ..choice("c")
        };
        assert_eq!(unknown.differs_words(), "settings not known");
    }
}
