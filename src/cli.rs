//! The command line: the commands and where their options live. Each command's options are
//! defined next to the command (`bench::BenchArgs`, `inspect::EvalArgs`, ...); training's, which
//! both front ends read, in `session`.

use clap::{Parser, Subcommand};

use crate::bench::BenchArgs;
use crate::catalog::{CompareArgs, RunsArgs};
use crate::inspect::{EvalArgs, ExportArgs, SummaryArgs};
use crate::lr_find::LrFindArgs;
use crate::plot::PlotArgs;
use crate::predict::PredictArgs;
use crate::session::TrainArgs;

#[derive(Debug, Parser)]
#[command(
    name = "alexnet-tui",
    version,
    about = "Train the classic AlexNet on Fashion-MNIST with Burn on libtorch, and watch and steer it live in the terminal",
    after_help = "With no command, `alexnet-tui` opens the dashboard (or prints progress lines when stdout is not a terminal)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Commands>,
    #[command(flatten)]
    pub train: TrainArgs,
}

#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Train (the default command).
    Train(TrainArgs),
    /// Print the layer-by-layer output shapes and parameter counts, like the notebook's loop.
    Summary(SummaryArgs),
    /// Measure training throughput (images/s) and peak memory, optionally against PyTorch.
    Bench(BenchArgs),
    /// Test accuracy, per-class accuracy and the confusion matrix of a checkpoint.
    Eval(EvalArgs),
    /// Write a checkpoint's weights as safetensors under the notebook's nn.Sequential names.
    Export(ExportArgs),
    /// Classify PNG or JPEG pictures with a checkpoint: the three likeliest classes of each.
    Predict(PredictArgs),
    /// Draw a run's loss and accuracy curves from its metrics.csv into a PNG, or several runs'
    /// in one picture.
    Plot(PlotArgs),
    /// List the runs: state, settings, progress, best test accuracy, disk used; `runs clean`
    /// deletes their checkpoints.
    Runs(RunsArgs),
    /// Two or more runs side by side: the settings that differ and the test accuracy at the same
    /// epochs.
    Compare(CompareArgs),
    /// A learning-rate range test from the initial weights: the curve, the suggested rate and
    /// why; --write puts it into the config file.
    LrFind(LrFindArgs),
}
