//! `compare`: two or more runs side by side, as [`crate::runs::side_by_side`] lines them up,
//! printed as a table.

use std::process::ExitCode;

use clap::Args;

use crate::curves::Metrics;
use crate::runs::side_by_side::{Comparison, compare};
use crate::runs::{RunSummary, RunsFolder, started_text, summarize};
use crate::session::Error;
use crate::train::metrics::METRICS_FILE;
use crate::units;

use super::listing::mark_text;
use super::{output, table};

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Two or more runs: run ids, run folders, or "latest" (the run started last).
    #[arg(value_name = "RUN", num_args = 2.., required = true)]
    pub runs: Vec<String>,
    #[command(flatten)]
    pub folder: RunsFolder,
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
    output(&comparison_text(&compare(&runs)))
}

fn comparison_text(comparison: &Comparison) -> String {
    let mut header: Vec<String> = vec![String::new()];
    header.extend(
        comparison
            .columns
            .iter()
            .map(|column| column.run.id.clone()),
    );
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
        comparison
            .columns
            .iter()
            .map(|column| {
                column
                    .run
                    .started
                    .as_deref()
                    .map_or_else(dash, started_text)
            })
            .collect(),
    );
    row(
        "state",
        comparison
            .columns
            .iter()
            .map(|column| column.run.state.label().to_string())
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
    let column = |f: &dyn Fn(&crate::runs::side_by_side::Column) -> String| -> Vec<String> {
        comparison.columns.iter().map(f).collect()
    };
    row("  best", column(&|c| mark_text(c.run.best)));
    row("  final", column(&|c| mark_text(c.run.final_test)));
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
        column(&|c| match (c.run.target_accuracy, c.run.target_reached) {
            (Some(target), Some(mark)) if target > 0.0 => match mark.elapsed_seconds {
                Some(seconds) => format!("{} ({target})", units::duration(seconds)),
                None => format!("@{:.2} ({target})", mark.position),
            },
            (Some(target), None) if target > 0.0 => format!("not reached ({target})"),
            _ => dash(),
        }),
    );
    row(
        "images/s",
        column(&|c| {
            c.run
                .images_per_second
                .map_or_else(dash, |speed| format!("{speed:.0}"))
        }),
    );
    row(
        "epochs",
        column(&|c| c.run.epochs_done.map_or_else(dash, |e| format!("{e:.2}"))),
    );
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    table(&header, &rows)
}
