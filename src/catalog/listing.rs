//! The `runs` listing: one line per run, branches under their parents, and a total.

use crate::runs::{
    RunState, RunSummary, is_bookkeeping, key_rank, setting_value, short_key, short_live_change,
    started_text,
};

use super::{fitted_table, table_width};
use crate::config::Config;
use crate::train::metrics::TestPoint;
use crate::units;

/// The runs as a tree: each run followed by its branches (newest first), indented under it.
/// A branch whose parent is not listed (deleted) stands on its own. Each as its depth and its
/// index in `runs`.
fn tree_order(runs: &[RunSummary]) -> Vec<(usize, usize)> {
    let index_of = |id: &str| runs.iter().position(|run| run.id == id);
    let parents: Vec<Option<usize>> = runs
        .iter()
        .enumerate()
        .map(|(index, run)| {
            run.parent
                .as_ref()
                .and_then(|parent| index_of(&parent.run_id))
                .filter(|&parent| parent != index)
        })
        .collect();
    let mut ordered = Vec::with_capacity(runs.len());
    let mut placed = vec![false; runs.len()];
    // Runs without a listed parent first; then any left (a cycle of hand-edited records).
    let starts = (0..runs.len())
        .filter(|&index| parents[index].is_none())
        .chain(0..runs.len());
    for start in starts {
        let mut stack = vec![(start, 0)];
        while let Some((index, depth)) = stack.pop() {
            if std::mem::replace(&mut placed[index], true) {
                continue;
            }
            ordered.push((depth, index));
            // Pushed oldest first, so that the newest branch is taken first.
            for child in (0..runs.len()).rev() {
                if parents[child] == Some(index) {
                    stack.push((child, depth + 1));
                }
            }
        }
    }
    ordered
}

pub(super) fn mark_text(mark: Option<TestPoint>) -> String {
    mark.map_or_else(
        || "-".to_string(),
        |mark| format!("{:.4} @{:.2}", mark.accuracy, mark.position),
    )
}

fn target_text(run: &RunSummary) -> String {
    match run.target_reached {
        Some(TestPoint {
            elapsed_seconds: Some(seconds),
            ..
        }) => units::duration(seconds),
        Some(mark) => format!("@{:.2}", mark.position),
        None => "-".to_string(),
    }
}

/// A run's settings that bear on training, as `(key, shown)`: its profile (`fast`), then each
/// of `keys` (`lr=0.1`), read from the config it started with (or, without one, from what
/// differs from its profile); `None` for all when its settings are not known (a damaged run), and
/// `shown` is `None` for a value that is not known.
fn known_settings(run: &RunSummary, keys: &[String]) -> Option<Vec<(String, Option<String>)>> {
    let profile = run.profile.clone()?;
    let mut settings = vec![("profile".to_string(), Some(profile))];
    for key in keys {
        let value = run
            .config
            .as_ref()
            .and_then(|config| config.value_of(key))
            .or_else(|| {
                run.differs
                    .iter()
                    .find(|change| &change.key == key)
                    .map(|change| change.new.clone())
            });
        let shown = value.map(|value| format!("{}={}", short_key(key), setting_value(&value)));
        settings.push((key.clone(), shown));
    }
    Some(settings)
}

/// The settings of the listed runs, split: those every run whose settings are known shares
/// (`fast`, `train_limit=6400`), for one line above the table, and per run the rest: what
/// differs between the runs, then its live changes (`lr 0.1→0.02@1.40`), or `-`. The settings
/// looked at are the profile and every setting that differs from its profile in any run (and
/// bears on training), the profile first, then those people change most (`lr`, `batch`, ...),
/// then the others by section and key.
pub(super) fn split_settings(runs: &[RunSummary]) -> (Vec<String>, Vec<String>) {
    let mut keys: Vec<String> = Config::keys()
        .into_iter()
        .filter(|key| !is_bookkeeping(key))
        .filter(|key| {
            runs.iter()
                .flat_map(|run| &run.differs)
                .any(|change| &change.key == key)
        })
        .collect();
    // The settings people change most first: what a cut cell keeps.
    keys.sort_by_key(|key| key_rank(key));
    let known: Vec<_> = runs.iter().map(|run| known_settings(run, &keys)).collect();
    let first = known.iter().flatten().next();
    let shared: Vec<bool> = match first {
        Some(first) => (0..first.len())
            .map(|index| {
                first[index].1.is_some()
                    && known
                        .iter()
                        .flatten()
                        .all(|settings| settings[index].1 == first[index].1)
            })
            .collect(),
        None => Vec::new(),
    };
    let shared_text = first
        .map(|first| {
            first
                .iter()
                .zip(&shared)
                .filter(|(_, shared)| **shared)
                .filter_map(|((_, shown), _)| shown.clone())
                .collect()
        })
        .unwrap_or_default();
    let per_run = runs
        .iter()
        .zip(known)
        .map(|(run, settings)| {
            let mut parts: Vec<String> = settings
                .unwrap_or_default()
                .into_iter()
                .zip(&shared)
                .filter(|(_, shared)| !**shared)
                .filter_map(|((_, shown), _)| shown)
                .collect();
            parts.extend(run.live_changes.iter().map(short_live_change));
            if parts.is_empty() {
                "-".to_string()
            } else {
                parts.join(" ")
            }
        })
        .collect();
    (shared_text, per_run)
}

/// `all runs: fast, train_limit=6400, ...`, broken between settings to fit `width` when given
/// (each further line indented under the first setting).
fn shared_line(shared: &[String], width: Option<usize>) -> String {
    const LEAD: &str = "all runs: ";
    let mut out = String::from(LEAD);
    let mut line = LEAD.chars().count();
    for (index, setting) in shared.iter().enumerate() {
        let last = index + 1 == shared.len();
        let piece = if last {
            setting.clone()
        } else {
            format!("{setting},")
        };
        let length = piece.chars().count();
        if index > 0 {
            if width.is_some_and(|width| line + 1 + length > width) {
                out.push('\n');
                out.push_str(&" ".repeat(LEAD.len()));
                line = LEAD.len();
            } else {
                out.push(' ');
                line += 1;
            }
        }
        out.push_str(&piece);
        line += length;
    }
    out.push('\n');
    out
}

/// One column of the `runs` table: its header and a cell per row.
struct Column {
    header: &'static str,
    cells: Vec<String>,
}

/// What a table too wide for the terminal gives up, one step at a time, until its rows fit with
/// SETTINGS at least [`SETTINGS_MINIMUM`] wide (or as wide as its longest cell, if less).
enum Narrowing {
    /// A column said shorter, saying as much (`header`, `cells`).
    Shorter {
        column: &'static str,
        header: &'static str,
        cells: Option<Vec<String>>,
    },
    /// A column left out.
    LeftOut(&'static str),
}

/// The narrowest SETTINGS a table is fitted to before columns are left out: room for the two
/// settings people change most (`lr=0.05 batch=64`).
const SETTINGS_MINIMUM: usize = 16;

/// `12-02 12:00`: a STARTED cell (`2026-12-02 12:00`) without its year; any other text as it is.
fn without_year(started: &str) -> String {
    let bytes = started.as_bytes();
    if bytes.len() == 16 && bytes[4] == b'-' && bytes[10] == b' ' {
        started[5..].to_string()
    } else {
        started.to_string()
    }
}

/// The narrowings of a table too wide for its terminal, in the order they are made. First
/// those that lose nothing: a branch listed under its parent says only where it left it
/// (`@1.50`, under the header FROM: its parent is the run it hangs under); STARTED without its
/// year; TO TARGET left out when no listed run has a target; shorter headers (IMG/S, TARGET).
/// Then columns that say least, each left out only if the table still does not fit: STARTED
/// (a run's id is the time it was made, to the second), IMAGES/S, DISK (the total stays under
/// the table), TO TARGET. RUN, STATE, SETTINGS, EPOCHS and BEST TEST are never left out, and no
/// cell but a SETTINGS cell is ever cut.
fn narrowings(runs: &[RunSummary], order: &[(usize, usize)], columns: &[Column]) -> Vec<Narrowing> {
    let cells_of = |header: &str| {
        columns
            .iter()
            .find(|column| column.header == header)
            .map(|column| column.cells.clone())
    };
    let mut steps = Vec::new();
    if columns.iter().any(|column| column.header == "BRANCH OF") {
        let cells = order
            .iter()
            .zip(cells_of("BRANCH OF").unwrap_or_default())
            .map(|(&(depth, index), cell)| match &runs[index].parent {
                Some(parent) if depth > 0 => format!("@{:.2}", parent.position),
                _ => cell,
            })
            .collect();
        steps.push(Narrowing::Shorter {
            column: "BRANCH OF",
            header: "FROM",
            cells: Some(cells),
        });
    }
    let started = cells_of("STARTED").unwrap_or_default();
    steps.push(Narrowing::Shorter {
        column: "STARTED",
        header: "STARTED",
        cells: Some(started.iter().map(|cell| without_year(cell)).collect()),
    });
    let any_target = runs.iter().any(|run| {
        run.target_reached.is_some() || run.target_accuracy.is_some_and(|target| target > 0.0)
    });
    if !any_target {
        steps.push(Narrowing::LeftOut("TO TARGET"));
    }
    steps.extend([
        Narrowing::Shorter {
            column: "IMAGES/S",
            header: "IMG/S",
            cells: None,
        },
        Narrowing::Shorter {
            column: "TO TARGET",
            header: "TARGET",
            cells: None,
        },
        Narrowing::LeftOut("STARTED"),
        Narrowing::LeftOut("IMG/S"),
        Narrowing::LeftOut("DISK"),
        Narrowing::LeftOut("TARGET"),
    ]);
    steps
}

impl Narrowing {
    fn apply(self, columns: &mut Vec<Column>) {
        match self {
            Narrowing::Shorter {
                column,
                header,
                cells,
            } => {
                if let Some(found) = columns.iter_mut().find(|c| c.header == column) {
                    found.header = header;
                    if let Some(cells) = cells {
                        found.cells = cells;
                    }
                }
            }
            Narrowing::LeftOut(column) => columns.retain(|c| c.header != column),
        }
    }
}

/// The header and rows of `columns`.
fn header_and_rows(columns: &[Column]) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = columns.iter().map(|column| column.header).collect();
    let count = columns.first().map_or(0, |column| column.cells.len());
    let rows = (0..count)
        .map(|row| {
            columns
                .iter()
                .map(|column| column.cells[row].clone())
                .collect()
        })
        .collect();
    (header, rows)
}

/// How wide `columns` are with SETTINGS cut to `settings` characters (when wider).
fn width_with_settings(columns: &[Column], settings: usize) -> usize {
    let (header, mut rows) = header_and_rows(columns);
    if let Some(column) = header.iter().position(|name| *name == "SETTINGS") {
        for row in &mut rows {
            row[column] = row[column].chars().take(settings).collect();
        }
    }
    table_width(&header, &rows)
}

/// The `runs` table, with the settings every run shares on a line above it, its notes (damaged
/// runs, failures) and the disk total. With a `width` (a terminal's), no row is wider than it:
/// the table is narrowed as [`narrowings`] says until it fits with SETTINGS at a useful width,
/// and the SETTINGS cells are then cut to fit, with an ellipsis. Without one (piped output,
/// `--wide`), rows are whole.
pub(super) fn runs_table(runs: &[RunSummary], root: &str, width: Option<usize>) -> String {
    let (shared, settings) = split_settings(runs);
    let any_branch = runs.iter().any(|run| run.parent.is_some());
    let order = tree_order(runs);
    let column = |header: &'static str, cell: &dyn Fn(&RunSummary, usize) -> String| Column {
        header,
        cells: order
            .iter()
            .map(|&(depth, index)| cell(&runs[index], depth))
            .collect(),
    };
    let mut columns = vec![
        column("RUN", &|run, depth| {
            if depth == 0 {
                run.id.clone()
            } else {
                format!("{}└ {}", "  ".repeat(depth - 1), run.id)
            }
        }),
        column("STARTED", &|run, _| {
            run.started
                .as_deref()
                .map_or_else(String::new, started_text)
        }),
        column("STATE", &|run, _| match (run.state, run.pid) {
            (RunState::Running, Some(pid)) => format!("running ({pid})"),
            (RunState::Opened, Some(pid)) => format!("opened ({pid}), not training"),
            (state, _) => state.label().to_string(),
        }),
        Column {
            header: "SETTINGS",
            cells: order
                .iter()
                .map(|&(_, index)| settings[index].clone())
                .collect(),
        },
        column("EPOCHS", &|run, _| {
            run.epochs_done
                .map_or_else(|| "-".to_string(), |e| format!("{e:.2}"))
        }),
        column("BEST TEST", &|run, _| mark_text(run.best)),
        column("TO TARGET", &|run, _| target_text(run)),
        column("IMAGES/S", &|run, _| {
            run.images_per_second
                .map_or_else(|| "-".to_string(), |speed| format!("{speed:.0}"))
        }),
        column("DISK", &|run, _| units::bytes(run.disk_bytes)),
    ];
    if any_branch {
        columns.insert(
            1,
            column("BRANCH OF", &|run, _| {
                run.parent.as_ref().map_or_else(
                    || "-".to_string(),
                    |parent| format!("{} @{:.2}", parent.run_id, parent.position),
                )
            }),
        );
    }
    if let Some(width) = width {
        let whole_settings = settings.iter().map(|cell| cell.chars().count()).max();
        let minimum = whole_settings.unwrap_or(0).min(SETTINGS_MINIMUM);
        for step in narrowings(runs, &order, &columns) {
            if width_with_settings(&columns, minimum) <= width {
                break;
            }
            step.apply(&mut columns);
        }
    }
    let mut out = if shared.is_empty() {
        String::new()
    } else {
        shared_line(&shared, width)
    };
    let (header, rows) = header_and_rows(&columns);
    let settings_column = header
        .iter()
        .position(|name| *name == "SETTINGS")
        .expect("a SETTINGS column");
    out.push_str(&fitted_table(
        &header,
        &rows,
        width.map(|width| (settings_column, width)),
    ));
    let mut notes = Vec::new();
    for run in runs {
        if let Some(problem) = &run.problem {
            notes.push(format!("{}: damaged: {problem}", run.id));
        } else if let Some(message) = &run.end_message {
            notes.push(format!("{}: {message}", run.id));
        }
        if run.state == RunState::Crashed {
            notes.push(format!(
                "{}: crashed (no end recorded, no process training it); resume it with --resume from its last checkpoint",
                run.id
            ));
        }
    }
    if !notes.is_empty() {
        out.push('\n');
        for note in notes {
            out.push_str(&note);
            out.push('\n');
        }
    }
    let disk: u64 = runs.iter().map(|run| run.disk_bytes).sum();
    let checkpoints: u64 = runs.iter().map(|run| run.checkpoint_bytes).sum();
    out.push_str(&format!(
        "\n{root}: {} run{}, {} on disk, {} of it checkpoints (`alexnet-tui runs clean` deletes them)\n",
        runs.len(),
        if runs.len() == 1 { "" } else { "s" },
        units::bytes(disk),
        units::bytes(checkpoints),
    ));
    out
}
