//! `alexnet-tui runs`, `runs clean` and `compare`: the runs under the checkpoint folder as a
//! table (or JSON for scripts), their checkpoints removed to free disk, and two or more runs
//! side by side. What is computed is [`crate::runs`]'s; this module words and prints it.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand};

use crate::curves::Metrics;
use crate::runs::clean::{self, CleanPlan};
use crate::runs::compare::{Comparison, compare};
use crate::runs::{
    Mark, RunState, RunSummary, RunsFolder, duration_text, list, runs_error, short_changes,
    short_live_change, size_text, started_text, summarize,
};
use crate::session::Error;
use crate::train::metrics::METRICS_FILE;

#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct RunsArgs {
    #[command(subcommand)]
    pub action: Option<RunsAction>,
    #[command(flatten)]
    pub folder: RunsFolder,
    /// Print the runs as a JSON array, one object per run, for scripts.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum RunsAction {
    /// Delete the checkpoints of runs (never their metrics.csv, config.toml, run.json or
    /// curves.png, never a running run's), after saying what goes.
    Clean(CleanArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CleanArgs {
    /// Runs to clean: run ids, run folders, or "latest".
    #[arg(value_name = "RUN")]
    pub runs: Vec<String>,
    /// Only runs last written longer ago than this (e.g. 7d, 12h, 2w); alone, every such run.
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<String>,
    /// Delete without asking.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub folder: RunsFolder,
}

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Two or more runs: run ids, run folders, or "latest".
    #[arg(value_name = "RUN", num_args = 2.., required = true)]
    pub runs: Vec<String>,
    #[command(flatten)]
    pub folder: RunsFolder,
}

/// `alexnet-tui runs [--json]`, or `runs clean ...`.
pub fn runs(args: &RunsArgs) -> Result<ExitCode, Error> {
    if let Some(RunsAction::Clean(clean)) = &args.action {
        return run_clean(clean);
    }
    let root = args.folder.root()?;
    let runs = match list(&root) {
        Ok(runs) => runs,
        // The config's folder before the first run; a folder named with --dir must be there.
        Err(crate::runs::RunsError::ReadRoot { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound && args.folder.dir.is_none() =>
        {
            Vec::new()
        }
        Err(error) => return Err(runs_error(error)),
    };
    if args.json {
        let text = serde_json::to_string_pretty(&runs)
            .map_err(|error| Error::Failed(format!("cannot write the runs as JSON: {error}")))?;
        return output(&format!("{text}\n"));
    }
    if runs.is_empty() {
        println!("no runs in {} yet", root.display());
        return Ok(ExitCode::SUCCESS);
    }
    output(&runs_table(&runs, &root.display().to_string()))
}

/// Prints a listing. A reader that stops early (`runs --json | head`) is no error: what it
/// did not read was not wanted.
fn output(text: &str) -> Result<ExitCode, Error> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(error) => Err(Error::Failed(format!("cannot write to stdout: {error}"))),
    }
}

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

fn mark_text(mark: Option<Mark>) -> String {
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
fn runs_table(runs: &[RunSummary], root: &str) -> String {
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

/// Columns padded to their widest cell, two spaces apart; the last is not padded. A row of one
/// cell is a heading: printed as it is, it widens no column.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let width = |column: usize| {
        rows.iter()
            .filter(|row| row.len() > 1)
            .map(|row| row.get(column).map_or(0, |cell| cell.chars().count()))
            .chain(std::iter::once(header[column].chars().count()))
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |cells: &[&str]| {
        let mut text = String::new();
        for (index, cell) in cells.iter().enumerate() {
            text.push_str(cell);
            if index + 1 < cells.len() {
                let pad = widths[index].saturating_sub(cell.chars().count());
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        text.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for row in rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        out.push_str(&line(&cells));
    }
    out
}

/// `7d`, `12h`, `2w`, `90m` (jiff's friendly durations, days and weeks of 24 hours) as a
/// duration.
fn parse_age(text: &str) -> Result<Duration, Error> {
    let usage = |why: &str| {
        Error::Usage(format!(
            "--older-than {text}: {why}; give an age like 7d, 12h or 2w"
        ))
    };
    let span: jiff::Span = text.parse().map_err(|_| usage("not an age"))?;
    let length = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|_| usage("months and years have no fixed length"))?;
    Duration::try_from(length).map_err(|_| usage("an age cannot be negative"))
}

/// `alexnet-tui runs clean [RUN ...] [--older-than AGE] [--yes]`.
fn run_clean(args: &CleanArgs) -> Result<ExitCode, Error> {
    if args.runs.is_empty() && args.older_than.is_none() {
        return Err(Error::Usage(
            "runs clean: name the runs to clean, or --older-than AGE (e.g. 7d) for every run last written before then; `alexnet-tui runs` lists them".into(),
        ));
    }
    let older_than = args.older_than.as_deref().map(parse_age).transpose()?;
    let named = !args.runs.is_empty();
    let runs: Vec<RunSummary> = if named {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for name in &args.runs {
            let dir = args.folder.resolve(name)?;
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        dirs.iter().map(|dir| summarize(dir)).collect()
    } else {
        let root = args.folder.root()?;
        list(&root).map_err(runs_error)?
    };
    let plan = clean::plan(&runs, named, older_than, SystemTime::now());
    print!("{}", plan_text(&plan));
    if plan.files.is_empty() {
        println!("nothing to delete");
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes && !confirm(&plan)? {
        println!("nothing deleted");
        return Ok(ExitCode::SUCCESS);
    }
    let cleaned = clean::execute(&plan);
    for skipped in &cleaned.skipped {
        println!("skipped {}: {}", skipped.run_id, skipped.reason);
    }
    println!(
        "deleted {} checkpoint file{}, {} freed",
        cleaned.files,
        if cleaned.files == 1 { "" } else { "s" },
        size_text(cleaned.bytes)
    );
    if let Some((path, error)) = cleaned.failed.first() {
        return Err(Error::Failed(format!(
            "{}: cannot delete: {error}{}",
            path.display(),
            match cleaned.failed.len() {
                1 => String::new(),
                more => format!(" (and {} more)", more - 1),
            }
        )));
    }
    Ok(ExitCode::SUCCESS)
}

fn plan_text(plan: &CleanPlan) -> String {
    let mut out = String::new();
    for file in &plan.files {
        out.push_str(&format!(
            "{}  {}\n",
            file.path.display(),
            size_text(file.bytes)
        ));
    }
    for skipped in &plan.skipped {
        out.push_str(&format!("skipped {}: {}\n", skipped.run_id, skipped.reason));
    }
    if !plan.files.is_empty() {
        out.push_str(&format!(
            "{} checkpoint file{}, {}\n",
            plan.files.len(),
            if plan.files.len() == 1 { "" } else { "s" },
            size_text(plan.bytes())
        ));
    }
    out
}

/// Asks on stdin; anything but y or yes (an empty line, the end of input) is no.
fn confirm(plan: &CleanPlan) -> Result<bool, Error> {
    print!(
        "delete {} checkpoint file{} ({})? [y/N] ",
        plan.files.len(),
        if plan.files.len() == 1 { "" } else { "s" },
        size_text(plan.bytes())
    );
    std::io::stdout()
        .flush()
        .map_err(|error| Error::Failed(format!("cannot ask: {error}")))?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|error| Error::Failed(format!("cannot read the answer: {error}")))?;
    let answer = answer.trim().to_ascii_lowercase();
    if answer.is_empty() {
        // The prompt's line was not ended by the person's Enter.
        println!();
    }
    Ok(answer == "y" || answer == "yes")
}

/// A run named on the command line, summarized, with its metrics.csv read.
fn load_run(folder: &RunsFolder, name: &str) -> Result<(RunSummary, Metrics), Error> {
    let dir = folder.resolve(name)?;
    let summary = summarize(&dir);
    if let Some(problem) = &summary.problem {
        return Err(Error::Failed(problem.clone()));
    }
    let path = dir.join(METRICS_FILE);
    if !path.is_file() {
        return Err(Error::Failed(format!(
            "{}: no metrics.csv, nothing to compare (the run stopped before its first logged batch)",
            dir.display()
        )));
    }
    let metrics = Metrics::read(&path).map_err(|error| Error::Failed(error.to_string()))?;
    Ok((summary, metrics))
}

/// `alexnet-tui compare A B [C ...]`.
pub fn run_compare(args: &CompareArgs) -> Result<ExitCode, Error> {
    let runs = args
        .runs
        .iter()
        .map(|name| load_run(&args.folder, name))
        .collect::<Result<Vec<_>, _>>()?;
    output(&comparison_text(&compare(&runs), &runs))
}

fn comparison_text(comparison: &Comparison, runs: &[(RunSummary, Metrics)]) -> String {
    let mut header: Vec<String> = vec![String::new()];
    header.extend(comparison.columns.iter().map(|column| column.id.clone()));
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |label: &str, cells: Vec<String>| {
        let mut row = vec![label.to_string()];
        row.extend(cells);
        rows.push(row);
    };
    let dash = || "-".to_string();
    if comparison
        .columns
        .iter()
        .any(|column| column.branch.is_some())
    {
        row(
            "branch",
            comparison
                .columns
                .iter()
                .map(|column| column.branch.clone().unwrap_or_else(dash))
                .collect(),
        );
    }
    row(
        "started",
        runs.iter()
            .map(|(run, _)| run.started.as_deref().map_or_else(dash, started_text))
            .collect(),
    );
    row(
        "state",
        runs.iter()
            .map(|(run, _)| run.state.label().to_string())
            .collect(),
    );
    row("", Vec::new());
    if comparison.settings.is_empty() {
        row("settings: the same", Vec::new());
    } else {
        row("settings that differ", Vec::new());
        for setting in &comparison.settings {
            row(
                &format!("  {}", setting.key),
                setting
                    .values
                    .iter()
                    .map(|value| value.clone().unwrap_or_else(|| "?".to_string()))
                    .collect(),
            );
        }
    }
    row("", Vec::new());
    row(
        match comparison.aligned_from {
            Some(_) => "test accuracy (from the branch point)",
            None => "test accuracy",
        },
        Vec::new(),
    );
    let column = |f: &dyn Fn(&crate::runs::compare::Column) -> String| -> Vec<String> {
        comparison.columns.iter().map(f).collect()
    };
    row("  best", column(&|c| mark_text(c.best)));
    row("  final", column(&|c| mark_text(c.final_test)));
    if comparison.positions.is_empty() {
        row(
            "  (no stretch of epochs where every run was tested)",
            Vec::new(),
        );
    }
    for (position, accuracies) in comparison.positions.iter().zip(&comparison.accuracy_at) {
        row(
            &format!("  at epoch {position:.2}"),
            accuracies
                .iter()
                .map(|accuracy| accuracy.map_or_else(dash, |a| format!("{a:.4}")))
                .collect(),
        );
    }
    row("", Vec::new());
    row(
        "time to target",
        column(&|c| match (c.target_accuracy, c.target_reached) {
            (Some(target), Some(mark)) if target > 0.0 => match mark.elapsed_seconds {
                Some(seconds) => format!("{} ({target})", duration_text(seconds)),
                None => format!("@{:.2} ({target})", mark.position),
            },
            (Some(target), None) if target > 0.0 => format!("not reached ({target})"),
            _ => dash(),
        }),
    );
    row(
        "images/s",
        column(&|c| {
            c.images_per_second
                .map_or_else(dash, |speed| format!("{speed:.0}"))
        }),
    );
    row(
        "epochs",
        column(&|c| c.epochs_done.map_or_else(dash, |e| format!("{e:.2}"))),
    );
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    table(&header, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_days_hours_and_weeks() {
        assert_eq!(
            parse_age("7d").expect("7d"),
            Duration::from_secs(7 * 86_400)
        );
        assert_eq!(
            parse_age("12h").expect("12h"),
            Duration::from_secs(12 * 3600)
        );
        assert_eq!(
            parse_age("2w").expect("2w"),
            Duration::from_secs(14 * 86_400)
        );
        assert_eq!(
            parse_age("1d 6h").expect("1d 6h"),
            Duration::from_secs(30 * 3600)
        );
        for bad in ["soon", "1mo", "-3d", ""] {
            let error = parse_age(bad).expect_err(bad).to_string();
            assert!(
                error.starts_with(&format!("--older-than {bad}:")),
                "{error}"
            );
        }
    }

    #[test]
    fn the_table_pads_columns_and_keeps_the_last_loose() {
        let text = table(
            &["A", "BB", "C"],
            &[
                vec!["long".into(), "x".into(), "end".into()],
                vec!["s".into(), "yyy".into(), "".into()],
            ],
        );
        assert_eq!(text, "A     BB   C\nlong  x    end\ns     yyy\n");
    }
}
