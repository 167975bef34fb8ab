//! `alexnet-tui plot runs/<run-id>`: a run's loss and accuracy curves as a PNG, drawn from its
//! metrics.csv by [`crate::curves`], for those who would rather look than read. Two or more
//! runs are drawn over each other in one picture, each named in the legend by its id and what
//! sets it apart from the others ([`crate::runs::side_by_side`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::curves::{CURVES_FILE, CurvesError, Metrics, PlottedRun, plot_metrics, plot_runs};
use crate::runs::{RunsFolder, side_by_side::compare, summarize};
use crate::session::Error;
use crate::train::metrics::METRICS_FILE;

#[derive(Debug, Clone, Args)]
pub struct PlotArgs {
    /// A run: its folder (runs/<run-id>), a metrics.csv file, its run id, or "latest" (the run
    /// started last). Name two or more to draw them in one picture.
    #[arg(value_name = "RUN", required = true)]
    pub runs: Vec<String>,
    /// The PNG to write (default: curves.png next to metrics.csv for one run;
    /// compare-<id>-<id>.png in the current folder for several).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub folder: RunsFolder,
}

/// `alexnet-tui plot RUN [RUN ...] [--out FILE]`.
pub fn run(args: &PlotArgs) -> Result<ExitCode, Error> {
    let out = match args.runs.as_slice() {
        [one] => plot_one(args, one)?,
        several => plot_several(args, several)?,
    };
    println!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// The metrics.csv a name stands for: a metrics.csv file, a run folder's, or a run's by id.
/// A path (with a folder in it, or a .csv) is taken as given, there or not.
fn metrics_of(args: &PlotArgs, name: &str) -> Result<PathBuf, Error> {
    let path = Path::new(name);
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    let is_path = path.components().count() > 1 || name.ends_with(".csv");
    let dir = if path.is_dir() || is_path {
        path.to_path_buf()
    } else {
        args.folder.resolve(name)?
    };
    let metrics = dir.join(METRICS_FILE);
    if metrics.is_file() {
        Ok(metrics)
    } else {
        Err(Error::Failed(CurvesError::NoMetrics(dir).to_string()))
    }
}

fn plot_one(args: &PlotArgs, name: &str) -> Result<PathBuf, Error> {
    let metrics = metrics_of(args, name)?;
    let out = args.out.clone().unwrap_or_else(|| {
        metrics
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(CURVES_FILE)
    });
    plot_metrics(&metrics, &out).map_err(|error| Error::Failed(error.to_string()))?;
    Ok(out)
}

fn plot_several(args: &PlotArgs, names: &[String]) -> Result<PathBuf, Error> {
    let mut runs = Vec::with_capacity(names.len());
    for name in names {
        let path = metrics_of(args, name)?;
        let metrics = Metrics::read(&path).map_err(|error| Error::Failed(error.to_string()))?;
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        runs.push((summarize(dir), metrics));
    }
    let comparison = compare(&runs);
    let ids: Vec<&str> = runs.iter().map(|(run, _)| run.id.as_str()).collect();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("compare-{}.png", ids.join("-"))));
    let title = match ids.as_slice() {
        [a, b] => format!("alexnet-tui runs {a} and {b}"),
        _ => format!("alexnet-tui, {} runs", ids.len()),
    };
    // A branch drawn with its parent: its curves before the branch point are the parent's.
    let branched_at = |run: &crate::runs::RunSummary| {
        run.parent
            .as_ref()
            .filter(|parent| ids.contains(&parent.run_id.as_str()))
            .map(|parent| parent.position)
    };
    let drawn: Vec<PlottedRun> = runs
        .iter()
        .enumerate()
        .map(|(index, (run, metrics))| PlottedRun {
            legend: comparison.legend(index),
            metrics: metrics.clone(),
            branched_at: branched_at(run),
        })
        .collect();
    plot_runs(&drawn, &title, &out).map_err(|error| Error::Failed(error.to_string()))?;
    Ok(out)
}
