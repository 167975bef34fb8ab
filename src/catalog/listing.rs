//! The `runs` listing: one line per run, branches under their parents, and a total.

use crate::runs::{
    Mark, RunState, RunSummary, duration_text, short_changes, short_live_change, size_text,
    started_text,
};

use super::table;

/// The runs as a tree: each run followed by its branches (newest first), indented under it.
/// A branch whose parent is not listed (deleted) stands on its own.
fn tree_order(runs: &[RunSummary]) -> Vec<(usize, &RunSummary)> {
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
            ordered.push((depth, &runs[index]));
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
        }) => duration_text(seconds),
        Some(mark) => format!("@{:.2}", mark.position),
        None => "-".to_string(),
    }
}

fn settings_text(run: &RunSummary) -> String {
    let mut parts: Vec<String> = Vec::new();
    parts.extend(run.profile.clone());
    let differs = short_changes(&run.differs);
    if !differs.is_empty() {
        parts.push(differs);
    }
    parts.extend(run.live_changes.iter().map(short_live_change));
    if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join(" ")
    }
}

/// The `runs` table, its notes (damaged runs, failures) and the disk total.
pub(super) fn runs_table(runs: &[RunSummary], root: &str) -> String {
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
    for (depth, run) in tree_order(runs) {
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
            settings_text(run),
            run.epochs_done
                .map_or_else(|| "-".to_string(), |e| format!("{e:.2}")),
            mark_text(run.best),
            target_text(run),
            run.images_per_second
                .map_or_else(|| "-".to_string(), |speed| format!("{speed:.0}")),
            size_text(run.disk_bytes),
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
        rows.push(row);
    }
    let mut out = table(&header, &rows);
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
        size_text(disk),
        size_text(checkpoints),
    ));
    out
}
