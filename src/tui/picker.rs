//! The overlay's picker: the earlier runs it lists, how it words them, and which one is
//! selected (drawn by `ui/picker.rs`). Listing the runs ([`list_runs`]) and reading the chosen
//! one's curves ([`crate::runs::standing::read_curves`]) is file work: the event loop does it
//! off the draw path and hands the results to [`App::update`](super::app::App::update); how the
//! live run stands against the chosen one is [`crate::runs::standing`]'s.

use std::path::Path;

use crate::config::{Change, Config};
use crate::runs::RunSummary;
use crate::train::metrics::epoch_label;

/// One earlier run, as the picker lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunChoice {
    /// The run, as `runs` lists it.
    pub summary: RunSummary,
    /// Its settings that differ from the live run's, briefly, with its values; `None` when
    /// its settings are not known.
    pub differs: Option<String>,
}

impl RunChoice {
    /// How the run stands, in the `runs` command's word ("finished", "stopped", ...).
    pub fn state_words(&self) -> &'static str {
        self.summary.state.label()
    }

    /// "best 0.8712 at epoch 2", or nothing known.
    pub fn best_words(&self) -> String {
        self.summary.best.map_or_else(
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
            differs: summary
                .config
                .as_ref()
                .map(|config| differences(config, live)),
            summary,
        })
        .collect())
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
        let earlier = runs
            .iter()
            .filter(|run| Some(run.summary.id.as_str()) != live);
        let (first, rest): (Vec<&RunChoice>, Vec<&RunChoice>) =
            earlier.partition(|run| Some(run.summary.id.as_str()) == parent);
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

    /// A run folder that is not there: listed by its name alone.
    fn choice(id: &str) -> RunChoice {
        RunChoice {
            summary: crate::runs::summarize(&Path::new("no such folder").join(id)),
            differs: Some(String::new()),
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
                    Row::Run { run, parent: true } => format!("{} (parent)", run.summary.id),
                    Row::Run { run, .. } => run.summary.id.clone(),
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
