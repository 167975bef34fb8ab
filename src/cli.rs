//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// Draw a run's loss and accuracy curves from its metrics.csv into a PNG.
    Plot(PlotArgs),
}

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Each picture is made grey, inverted if it is dark on light, fitted into 28x28 keeping its aspect ratio and padded with its background, as Fashion-MNIST's images are; then resized and normalized as the checkpoint was trained. Without --dark-on-light or --light-on-dark, a picture whose border is mostly lighter than middle grey is taken as dark on light."
)]
pub struct PredictArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// A checkpoint file, or "latest".
    #[arg(long, value_name = "PATH|latest")]
    pub checkpoint: String,
    /// PNG or JPEG files, of any size.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// The pictures show a dark object on a light background (most photos): invert them.
    #[arg(long, conflicts_with = "light_on_dark")]
    pub dark_on_light: bool,
    /// The pictures show a light object on a dark background (as Fashion-MNIST): never invert.
    #[arg(long)]
    pub light_on_dark: bool,
    /// Print one JSON object instead of lines.
    #[arg(long)]
    pub json: bool,
    /// What the convolutions and matrix products compute in: "f32", "bf16" or "auto" (bf16 where
    /// the CPU computes it natively). Default: the checkpoint's run's training.precision.
    #[arg(long, value_enum)]
    pub precision: Option<crate::precision::Precision>,
}

#[derive(Debug, Clone, Args)]
pub struct PlotArgs {
    /// A run folder (runs/<run-id>) holding metrics.csv, or a metrics.csv file.
    #[arg(value_name = "RUN")]
    pub run: PathBuf,
    /// The PNG to write (default: curves.png next to metrics.csv).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// A checkpoint file, or "latest".
    #[arg(long, value_name = "PATH|latest")]
    pub checkpoint: String,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
    /// What the convolutions and matrix products compute in: "f32", "bf16" or "auto" (bf16 where
    /// the CPU computes it natively). Default: the checkpoint's run's training.precision.
    #[arg(long, value_enum)]
    pub precision: Option<crate::precision::Precision>,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// A checkpoint file, or "latest".
    #[arg(long, value_name = "PATH|latest")]
    pub checkpoint: String,
    /// The safetensors file to write.
    #[arg(long)]
    pub out: std::path::PathBuf,
}

#[derive(Debug, Clone, Args, Default)]
pub struct ConfigArgs {
    /// The config file.
    #[arg(long, default_value = "config.toml")]
    pub config: PathBuf,
    /// A named profile ("seed" or "fast"); keys written in the config file still override it.
    #[arg(long)]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, Args, Default)]
pub struct TrainArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Continue a run from a checkpoint file, or from the newest one with "latest".
    #[arg(long, value_name = "PATH|latest")]
    pub resume: Option<String>,
    /// Print progress lines instead of opening the dashboard.
    #[arg(long)]
    pub headless: bool,
    /// With --headless (or without a terminal): print one JSON object per event.
    #[arg(long)]
    pub json: bool,
    /// In the dashboard, start training at once instead of waiting for a key.
    #[arg(long)]
    pub start: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Input side; defaults to the config's model.resize.
    #[arg(long)]
    pub resize: Option<usize>,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Input side (default: the config's model.resize).
    #[arg(long)]
    pub resize: Option<usize>,
    /// Batch size (default: the config's training.batch_size).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Timed steps per repeat.
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Repeats (the median and spread over them are printed).
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Untimed warm-up steps, at least.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// After --warmup steps, keep warming up until two consecutive steps are within 5% of each
    /// other, up to this many warm-up steps in all (ours and PyTorch's alike).
    #[arg(long, default_value_t = 12)]
    pub warmup_max: usize,
    /// Also run bench/reference.py (PyTorch) in turn with ours, in its variants (eager,
    /// channels_last, bf16 autocast, channels_last + bf16 autocast), and print the ratios.
    #[arg(long)]
    pub pytorch: bool,
    /// What our convolutions and matrix products compute in: f32, bf16, or both in turn with
    /// their ratio (default: what training.precision gives on this machine).
    #[arg(long, value_enum)]
    pub precision: Option<PrecisionChoice>,
    /// Run the bf16 variants (ours and PyTorch's) even where the CPU has no native bf16: there
    /// bf16 is emulated and hopelessly slow, so they are skipped unless forced.
    #[arg(long)]
    pub force_bf16: bool,
    /// Gradients of the convolutions: libtorch's own convolution_backward (what training uses),
    /// burn's generic fallback, or both in turn with their ratio.
    #[arg(long, value_enum, default_value_t = ConvBackwardChoice::Libtorch)]
    pub conv_backward: ConvBackwardChoice,
    /// Memory layout of the CPU convolutions: channels-last (what training uses), contiguous
    /// (upstream burn-tch's and PyTorch's default), or both in turn with their ratio.
    #[arg(long, value_enum, default_value_t = ConvLayoutChoice::ChannelsLast)]
    pub conv_layout: ConvLayoutChoice,
    /// Instead of whole steps, time each layer's forward and backward alone (median of the
    /// repeats; with --pytorch, bench/layers.py's figures for the same layers alongside).
    #[arg(long)]
    pub layers: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrecisionChoice {
    F32,
    Bf16,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConvLayoutChoice {
    Contiguous,
    ChannelsLast,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConvBackwardChoice {
    Generic,
    Libtorch,
    Both,
}
