//! `alexnet-tui bench`: training throughput of the exact step the worker runs, with figures:
//! warm-up excluded, several repeats, median and spread, the cost of our batch preparation next to
//! a bare burn step, peak memory, and optionally PyTorch's `bench/reference.py` run in turn with
//! ours in the same invocation (this machine's speed drifts, so only interleaved ratios mean much).
//! `--conv-backward both` also times our step with burn's generic convolution backward in turn with
//! libtorch's own, and `--conv-layout both` the CPU convolutions in the contiguous layout in turn
//! with channels-last (the vendored burn-tch's switches, see vendor/burn-tch/VENDORED.md), and
//! `--precision both` our step in f32 in turn with bf16 (skipped, with PyTorch's bf16 variants,
//! where the CPU has no native bf16, unless `--force-bf16`). Warm-up runs until two consecutive
//! steps are within 5% (capped), and the one-pass SGD's path is reported.
//!
//! [`ours`] times our step, [`layers`] each layer alone, [`pytorch`] runs the reference scripts,
//! [`bf16`] decides which precisions run; this file reads the options and prints the figures.

mod bf16;
mod comparison;
mod layers;
mod ours;
mod pytorch;

use std::process::ExitCode;

use burn::module::Module;
use clap::Args;

use crate::config::Config;
use crate::model::AlexNetConfig;
use crate::session::{self, ConfigArgs, Error};
use crate::train::runtime::{configure_threads, device_for};
use comparison::Comparison;
use ours::OurStep;

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

/// Images per second of one side of the comparison, one figure per repeat.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    pub images_per_second: Vec<f64>,
}

impl Figures {
    pub fn median(&self) -> f64 {
        median(&self.images_per_second)
    }

    pub fn spread(&self) -> (f64, f64) {
        let min = self
            .images_per_second
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min);
        let max = self.images_per_second.iter().copied().fold(0.0, f64::max);
        (min, max)
    }
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Repeat-by-repeat ratios of two sides measured in turn.
fn ratios(numerator: &Figures, denominator: &Figures) -> Vec<f64> {
    numerator
        .images_per_second
        .iter()
        .zip(&denominator.images_per_second)
        .map(|(a, b)| a / b)
        .collect()
}

/// The config with the command line's input size and batch, validated.
fn bench_config(args: &BenchArgs) -> Result<Config, Error> {
    let mut config = session::load_config(&args.config)?;
    if let Some(resize) = args.resize {
        config.model.resize = resize;
    }
    if let Some(batch) = args.batch {
        config.training.batch_size = batch;
    }
    config
        .validate()
        .map_err(|(key, message)| Error::Usage(format!("{key} {message}")))?;
    Ok(config)
}

pub fn run(args: &BenchArgs) -> Result<ExitCode, Error> {
    let config = bench_config(args)?;
    let (computes, bf16_allowed) = bf16::precisions(&config, args)?;
    let modes = ours::modes(args.conv_backward, args.conv_layout, &computes);
    if modes
        .iter()
        .any(|mode| mode.backward == ours::Backward::Libtorch)
        && !ours::libtorch_backward_available()
    {
        return Err(Error::Usage(
            "--conv-backward libtorch: this build has no libtorch convolution backward (libtorch's headers were not found)".into(),
        ));
    }
    let resize = config.model.resize;
    let threads = configure_threads(config.training.threads, config.training.interop_threads);
    let (device, device_name) =
        device_for(&config.training.device).map_err(|error| Error::Usage(error.to_string()))?;
    let device = device.autodiff();
    let mode_names: Vec<String> = modes.iter().map(|&mode| mode.name()).collect();
    println!(
        "bench: AlexNet, {resize}x{resize} input, batch {}, {device_name}, {} intra-op + {} inter-op threads, convolutions (backward, layout, precision) {}, {} to {} warm-up steps (until two are within 5%) + {} repeats x {} steps",
        config.training.batch_size,
        threads.intra,
        threads.inter,
        mode_names.join(" and "),
        args.warmup,
        args.warmup_max.max(args.warmup),
        args.repeats,
        args.steps
    );
    let threads = threads.intra;

    let mut ours = OurStep::new(&config, &device);
    let model = AlexNetConfig {
        resize,
        dropout: config.model.dropout,
    }
    .init(&device);
    let _ = model.valid();

    if args.layers {
        return layers::report(
            &model,
            ours.first_images(),
            &modes,
            &config,
            threads,
            args.repeats,
            args.pytorch,
        );
    }
    let comparison = Comparison {
        modes: &modes,
        mode_names: &mode_names,
        config: &config,
        threads,
        args,
        variants: pytorch::variants(bf16_allowed),
    };
    comparison.run(&mut ours, model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Compute;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn both_and_both_measure_four_modes_backward_first() {
        let modes = ours::modes(
            ConvBackwardChoice::Both,
            ConvLayoutChoice::Both,
            &[Compute::F32],
        );
        let names: Vec<String> = modes.iter().map(|&mode| mode.name()).collect();
        assert_eq!(
            names,
            [
                "generic contiguous f32",
                "generic channels-last f32",
                "libtorch contiguous f32",
                "libtorch channels-last f32"
            ]
        );
        let both = ours::modes(
            ConvBackwardChoice::Libtorch,
            ConvLayoutChoice::ChannelsLast,
            &[Compute::F32, Compute::Bf16],
        );
        let names: Vec<String> = both.iter().map(|&mode| mode.name()).collect();
        assert_eq!(
            names,
            ["libtorch channels-last f32", "libtorch channels-last bf16"]
        );
    }
}
