//! `alexnet-tui runs`, `runs clean` and `compare`: the runs under the checkpoint folder as a
//! table (or JSON for scripts; `listing.rs`), their checkpoints removed to free disk (`clean.rs`),
//! and two or more runs side by side (`compare.rs`). What is computed is [`crate::runs`]'s; this
//! module words and prints it.

mod clean;
mod compare;
mod listing;

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::runs::{RunsFolder, list, runs_error};
use crate::session::Error;

pub use clean::CleanArgs;
pub use compare::{CompareArgs, run_compare};

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

/// `alexnet-tui runs [--json]`, or `runs clean ...`.
pub fn runs(args: &RunsArgs) -> Result<ExitCode, Error> {
    if let Some(RunsAction::Clean(clean_args)) = &args.action {
        return clean::run_clean(clean_args);
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
    output(&listing::runs_table(&runs, &root.display().to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;

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
