//! `runs clean`: what would go (planned by [`crate::runs::clean_plan`]), asked for, then
//! deleted.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::Args;

use crate::runs::clean_plan::{self, CleanPlan};
use crate::runs::{RunSummary, RunsFolder, list, runs_error, summarize};
use crate::session::Error;
use crate::units;

#[derive(Debug, Clone, Args)]
pub struct CleanArgs {
    /// Runs to clean: run ids, run folders, or "latest" (the run started last).
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
pub(super) fn run_clean(args: &CleanArgs) -> Result<ExitCode, Error> {
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
    let plan = clean_plan::plan(&runs, named, older_than, SystemTime::now());
    print!("{}", plan_text(&plan));
    if plan.files.is_empty() {
        println!("nothing to delete");
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes && !confirm(&plan)? {
        println!("nothing deleted");
        return Ok(ExitCode::SUCCESS);
    }
    let cleaned = clean_plan::execute(&plan);
    for skipped in &cleaned.skipped {
        println!("skipped {}: {}", skipped.run_id, skipped.reason);
    }
    println!(
        "deleted {} checkpoint file{}, {} freed",
        cleaned.files,
        if cleaned.files == 1 { "" } else { "s" },
        units::bytes(cleaned.bytes)
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
            units::bytes(file.bytes)
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
            units::bytes(plan.bytes())
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
        units::bytes(plan.bytes())
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
}
