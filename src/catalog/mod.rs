//! `alexnet-tui runs`, `runs clean` and `compare`, one file each: the runs under the checkpoint
//! folder as a table (or JSON for scripts; `listing.rs`), their checkpoints removed to free disk
//! (`clean.rs`), and two or more runs side by side (`compare.rs`). What is computed is
//! [`crate::runs`]'s (`clean_plan.rs`, `side_by_side.rs`); this module words and prints it.

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
    /// Whole rows however wide, also in a terminal (where rows are otherwise narrowed to fit:
    /// columns that say least left out, SETTINGS cut).
    #[arg(long)]
    pub wide: bool,
    /// Fit the rows to this many columns, as in a terminal that wide (for tests).
    #[arg(long, hide = true, value_name = "COLUMNS")]
    pub width: Option<usize>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum RunsAction {
    /// Delete the checkpoints of runs (never their metrics.csv, config.toml, run.json or
    /// curves.png, never a running run's), after saying what goes.
    Clean(CleanArgs),
}

/// `alexnet-tui runs [--wide | --json]`, or `runs clean ...`.
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
    output(&listing::runs_table(
        &runs,
        &root.display().to_string(),
        fit_width(args),
    ))
}

/// The width the `runs` table fits its rows to: the terminal's when standard output is one (or
/// the hidden `--width`'s), none (whole rows) when it is piped or redirected, or with `--wide`.
fn fit_width(args: &RunsArgs) -> Option<usize> {
    use std::io::IsTerminal;
    if args.wide {
        return None;
    }
    args.width.or_else(|| {
        std::io::stdout()
            .is_terminal()
            .then(crossterm::terminal::size)
            .and_then(Result::ok)
            .map(|(columns, _)| usize::from(columns))
            .filter(|&columns| columns > 0)
    })
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
    fitted_table(header, rows, None)
}

/// The width of each column of [`table`]: its widest cell, or its header.
fn column_widths(header: &[&str], rows: &[Vec<String>]) -> Vec<usize> {
    let width = |column: usize| {
        rows.iter()
            .filter(|row| row.len() > 1)
            .map(|row| row.get(column).map_or(0, |cell| cell.chars().count()))
            .chain(std::iter::once(header[column].chars().count()))
            .max()
            .unwrap_or(0)
    };
    (0..header.len()).map(width).collect()
}

/// The width of [`table`]'s widest row.
fn table_width(header: &[&str], rows: &[Vec<String>]) -> usize {
    let widths = column_widths(header, rows);
    widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1)
}

/// `text` in at most `width` characters: whole, or its beginning and `…`.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// [`table`], and with `fit` (a column, a width): the cells of that column cut (with `…`) so
/// that no row is wider than the width, the column never narrower than its header. Rows wider
/// than that even so stay whole: no other column is cut.
fn fitted_table(header: &[&str], rows: &[Vec<String>], fit: Option<(usize, usize)>) -> String {
    let mut widths = column_widths(header, rows);
    let mut rows = std::borrow::Cow::Borrowed(rows);
    if let Some((column, limit)) = fit {
        let total = table_width(header, rows.as_ref());
        if total > limit {
            let narrowest = header[column].chars().count();
            widths[column] = widths[column].saturating_sub(total - limit).max(narrowest);
            let cut_to = widths[column];
            for row in rows.to_mut().iter_mut().filter(|row| row.len() > 1) {
                if let Some(cell) = row.get_mut(column) {
                    *cell = cut(cell, cut_to);
                }
            }
        }
    }
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
    for row in rows.iter() {
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

    #[test]
    fn a_fitted_table_cuts_one_column_to_the_width_and_no_further_than_its_header() {
        let rows = [
            vec!["a".to_string(), "lr=0.1 batch=64 wd=0".into(), "end".into()],
            vec!["b".to_string(), "-".into(), "end".into()],
        ];
        let header = ["ID", "SETTINGS", "X"];
        // Whole, 1 + 2 + 20 + 2 + 3 = 28 wide.
        let whole = fitted_table(&header, &rows, None);
        assert_eq!(whole.lines().nth(1), Some("a   lr=0.1 batch=64 wd=0  end"));
        assert_eq!(fitted_table(&header, &rows, Some((1, 40))), whole);
        let fitted = fitted_table(&header, &rows, Some((1, 20)));
        assert_eq!(
            fitted,
            "ID  SETTINGS     X\na   lr=0.1 bat…  end\nb   -            end\n"
        );
        assert!(fitted.lines().all(|line| line.chars().count() <= 20));
        // Too narrow for the other columns: the column stops at its header's width.
        let narrow = fitted_table(&header, &rows, Some((1, 5)));
        assert_eq!(narrow.lines().nth(1), Some("a   lr=0.1 …  end"));
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "ab…");
    }
}
