//! `alexnet-tui plot runs/<run-id>`: a run's loss and accuracy curves as a PNG, drawn from its
//! metrics.csv by [`crate::curves`], for those who would rather look than read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use crate::curves::{CURVES_FILE, CurvesError, plot_metrics};
use crate::session::Error;
use crate::train::metrics::METRICS_FILE;

#[derive(Debug, Clone, Args)]
pub struct PlotArgs {
    /// A run folder (runs/<run-id>) holding metrics.csv, or a metrics.csv file.
    #[arg(value_name = "RUN")]
    pub run: PathBuf,
    /// The PNG to write (default: curves.png next to metrics.csv).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `alexnet-tui plot runs/<run-id> [--out FILE]`.
pub fn run(args: &PlotArgs) -> Result<ExitCode, Error> {
    let metrics = if args.run.is_dir() {
        args.run.join(METRICS_FILE)
    } else {
        args.run.clone()
    };
    if !metrics.is_file() {
        return Err(Error::Failed(
            CurvesError::NoMetrics(args.run.clone()).to_string(),
        ));
    }
    let out = args.out.clone().unwrap_or_else(|| {
        metrics
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join(CURVES_FILE)
    });
    plot_metrics(&metrics, &out).map_err(|error| Error::Failed(error.to_string()))?;
    println!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}
