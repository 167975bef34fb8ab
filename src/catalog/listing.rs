//! The `runs` listing: one line per run, branches under their parents, and a total.

use crate::runs::{
    Mark, RunState, RunSummary, is_bookkeeping, key_rank, setting_value, short_key,
    short_live_change, started_text,
};

use super::{fitted_table, table_width};
use crate::config::Config;
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

pub(super) fn mark_text(mark: Option<Mark>) -> String {
    mark.map_or_else(
        || "-".to_string(),
        |mark| format!("{:.4} @{:.2}", mark.accuracy, mark.position),
    )
}

fn target_text(run: &RunSummary) -> String {
    match run.target_reached {
        Some(Mark {
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

/// The `runs` table, with the settings every run shares on a line above it, its notes (damaged
/// runs, failures) and the disk total. With a `width` (a terminal's), no row is wider than it
/// when the other columns leave room: a branch listed under its parent says only where it left
/// it (`@1.50`), and the SETTINGS cells are cut to fit, with an ellipsis. Other columns are never
/// cut: a row they alone make wider than `width` stays that wide.
pub(super) fn runs_table(runs: &[RunSummary], root: &str, width: Option<usize>) -> String {
    let (shared, settings) = split_settings(runs);
    let any_branch = runs.iter().any(|run| run.parent.is_some());
    let mut header = vec![
        "RUN",
        "STARTED",
        "STATE",
        "SETTINGS",
        "EPOCHS",
        "BEST TEST",
        "TO TARGET",
        "IMAGES/S",
        "DISK",
    ];
    if any_branch {
        header.insert(1, "BRANCH OF");
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    // Per row, the short BRANCH OF of a branch listed under its parent (`@1.50`: the parent is
    // the run it hangs under), for a table that does not fit otherwise.
    let mut under_parent: Vec<Option<String>> = Vec::new();
    for (depth, index) in tree_order(runs) {
        let run = &runs[index];
        let name = if depth == 0 {
            run.id.clone()
        } else {
            format!("{}└ {}", "  ".repeat(depth - 1), run.id)
        };
        let state = match (run.state, run.pid) {
            (RunState::Running, Some(pid)) => format!("running ({pid})"),
            (RunState::Opened, Some(pid)) => format!("opened ({pid}), not training"),
            (state, _) => state.label().to_string(),
        };
        let mut row = vec![
            name,
            run.started
                .as_deref()
                .map_or_else(String::new, started_text),
            state,
            settings[index].clone(),
            run.epochs_done
                .map_or_else(|| "-".to_string(), |e| format!("{e:.2}")),
            mark_text(run.best),
            target_text(run),
            run.images_per_second
                .map_or_else(|| "-".to_string(), |speed| format!("{speed:.0}")),
            units::bytes(run.disk_bytes),
        ];
        if any_branch {
            row.insert(
                1,
                run.parent.as_ref().map_or_else(
                    || "-".to_string(),
                    |parent| format!("{} @{:.2}", parent.run_id, parent.position),
                ),
            );
        }
        under_parent.push(
            run.parent
                .as_ref()
                .filter(|_| depth > 0)
                .map(|parent| format!("@{:.2}", parent.position)),
        );
        rows.push(row);
    }
    if width.is_some_and(|width| table_width(&header, &rows) > width) {
        for (row, short) in rows.iter_mut().zip(under_parent) {
            if let Some(short) = short {
                row[1] = short;
            }
        }
    }
    let mut out = if shared.is_empty() {
        String::new()
    } else {
        shared_line(&shared, width)
    };
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
