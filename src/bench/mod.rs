//! `alexnet-tui bench`: training throughput of the exact step the worker runs, with figures:
//! warm-up excluded, several repeats, median and spread, the cost of our batch preparation next to
//! a bare burn step, peak memory, and optionally PyTorch's `bench/reference.py` run in turn with
//! ours in the same invocation (this machine's speed drifts, so only interleaved ratios mean much).
//! `--conv-backward both` also times our step with burn's generic convolution backward in turn with
//! libtorch's own, and `--conv-layout both` the CPU convolutions in the contiguous layout in turn
//! with channels-last (the vendored burn-tch's switches, see vendor/burn-tch/VENDORED.md).
//!
//! [`ours`] times our step, [`layers`] each layer alone, [`pytorch`] runs the reference scripts;
//! this file reads the options and prints the figures.

mod layers;
mod ours;
mod pytorch;

use std::process::ExitCode;

use burn::module::Module;
use clap::Args;

use crate::config::Config;
use crate::model::{AlexNet, AlexNetConfig};
use crate::process;
use crate::session::{self, ConfigArgs, Error};
use crate::train::runtime::{configure_threads, device_for};
use ours::{Mode, OurStep};

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
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Also run bench/reference.py (PyTorch) in turn with ours and print the ratio.
    #[arg(long)]
    pub pytorch: bool,
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
    let modes = ours::modes(args.conv_backward, args.conv_layout);
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
        "bench: AlexNet, {resize}x{resize} input, batch {}, {device_name}, {} intra-op + {} inter-op threads, convolutions (backward, layout) {}, {} warm-up + {} repeats x {} steps",
        config.training.batch_size,
        threads.intra,
        threads.inter,
        mode_names.join(" and "),
        args.warmup,
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
    };
    comparison.run(&mut ours, model)
}

/// Whole steps: ours in each mode and, with `--pytorch`, the reference, in turn, repeat by repeat.
struct Comparison<'a> {
    modes: &'a [Mode],
    mode_names: &'a [String],
    config: &'a Config,
    threads: usize,
    args: &'a BenchArgs,
}

impl Comparison<'_> {
    fn label(&self, index: usize) -> String {
        match self.modes.len() {
            1 => "ours".to_string(),
            _ => format!("ours[{}]", self.mode_names[index]),
        }
    }

    fn run(&self, ours: &mut OurStep, mut model: AlexNet) -> Result<ExitCode, Error> {
        let args = self.args;
        let modes = self.modes;
        for &mode in modes {
            model = ours.time(args.warmup, model, mode).0;
        }
        let mut figures = vec![Figures::default(); modes.len()];
        let mut pytorch = Figures::default();
        let mut prepare_share = Vec::new();
        let mut faults_per_step = Vec::new();
        for repeat in 0..args.repeats {
            // With two modes, alternate which goes first, so that neither always follows PyTorch.
            let mut sequence: Vec<usize> = (0..modes.len()).collect();
            if repeat % 2 == 1 {
                sequence.reverse();
            }
            for index in sequence {
                let (next, timing) = ours.time(args.steps, model, modes[index]);
                model = next;
                figures[index]
                    .images_per_second
                    .push(timing.images_per_second);
                prepare_share.push(timing.prepare_share);
                faults_per_step.extend(timing.faults_per_step);
            }
            let theirs = if args.pytorch {
                let run = pytorch::Steps {
                    steps: args.steps,
                    warmup: args.warmup,
                };
                let theirs = pytorch::images_per_second(self.config, self.threads, run)
                    .map_err(|error| Error::Failed(error.to_string()))?;
                pytorch.images_per_second.push(theirs);
                Some(theirs)
            } else {
                None
            };
            println!("{}", self.repeat_line(repeat, &figures, theirs));
        }
        self.print_medians(&figures);
        println!(
            "batch preparation is {:.2}% of our step",
            100.0 * median(&prepare_share)
        );
        if !faults_per_step.is_empty() {
            // Each minor fault is a fresh page the kernel zeroes: memory the allocator did not
            // reuse.
            println!(
                "minor page faults per step: median {:.0}",
                median(&faults_per_step)
            );
        }
        self.print_ratios(&figures, args.pytorch.then_some(&pytorch));
        if let Some((_, peak)) = process::memory() {
            println!(
                "peak resident memory of this process: {:.2} GB",
                peak as f64 / (1u64 << 30) as f64
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    /// `repeat N: ours X images/s, ..., PyTorch Y images/s, ours/PyTorch R`.
    fn repeat_line(&self, repeat: usize, figures: &[Figures], theirs: Option<f64>) -> String {
        let mut line = format!("repeat {}:", repeat + 1);
        for (index, side) in figures.iter().enumerate() {
            let value = side.images_per_second[repeat];
            line.push_str(&format!(" {} {value:.1} images/s,", self.label(index)));
        }
        if self.modes.len() == 2 {
            line.push_str(&format!(
                " [{}]/[{}] {:.3},",
                self.mode_names[1],
                self.mode_names[0],
                figures[1].images_per_second[repeat] / figures[0].images_per_second[repeat]
            ));
        }
        if let Some(theirs) = theirs {
            line.push_str(&format!(" PyTorch {theirs:.1} images/s,"));
            for (index, side) in figures.iter().enumerate() {
                line.push_str(&format!(
                    " {}/PyTorch {:.3},",
                    self.label(index),
                    side.images_per_second[repeat] / theirs
                ));
            }
        }
        line.trim_end_matches(',').to_string()
    }

    /// Median and spread of each of our modes.
    fn print_medians(&self, figures: &[Figures]) {
        for (index, side) in figures.iter().enumerate() {
            let (low, high) = side.spread();
            println!(
                "{}: median {:.1} images/s (min {low:.1}, max {high:.1})",
                self.label(index),
                side.median()
            );
        }
    }

    /// The interleaved ratios: between our two modes, and of each against PyTorch.
    fn print_ratios(&self, figures: &[Figures], pytorch: Option<&Figures>) {
        let repeats = self.args.repeats;
        if self.modes.len() == 2 {
            println!(
                "ratio [{}]/[{}]: median {:.3} over {repeats} interleaved repeats",
                self.mode_names[1],
                self.mode_names[0],
                median(&ratios(&figures[1], &figures[0])),
            );
        }
        if let Some(pytorch) = pytorch {
            let (low, high) = pytorch.spread();
            println!(
                "PyTorch 2.9 eager: median {:.1} images/s (min {low:.1}, max {high:.1})",
                pytorch.median()
            );
            for (index, side) in figures.iter().enumerate() {
                println!(
                    "ratio {}/PyTorch: median {:.3} over {repeats} interleaved repeats",
                    self.label(index),
                    median(&ratios(side, pytorch)),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn both_and_both_measure_four_modes_backward_first() {
        let modes = ours::modes(ConvBackwardChoice::Both, ConvLayoutChoice::Both);
        let names: Vec<String> = modes.iter().map(|&mode| mode.name()).collect();
        assert_eq!(
            names,
            [
                "generic contiguous",
                "generic channels-last",
                "libtorch contiguous",
                "libtorch channels-last"
            ]
        );
    }
}
