//! Whole steps: ours in each mode and, with `--pytorch`, bench/reference.py's variants, in turn,
//! repeat by repeat, with the medians and the interleaved ratios.

use std::process::ExitCode;

use super::ours::{self, Mode, OurStep};
use super::{BenchArgs, Figures, median, pytorch, ratios};
use crate::config::Config;
use crate::model::AlexNet;
use crate::process;
use crate::session::Error;
use crate::units;

/// Whole steps: ours in each mode and, with `--pytorch`, the reference, in turn, repeat by repeat.
pub(super) struct Comparison<'a> {
    pub modes: &'a [Mode],
    pub mode_names: &'a [String],
    pub config: &'a Config,
    pub threads: usize,
    pub args: &'a BenchArgs,
    /// bench/reference.py's variants to run with `--pytorch`.
    pub variants: Vec<&'static str>,
}

impl Comparison<'_> {
    fn label(&self, index: usize) -> String {
        match self.modes.len() {
            1 => "ours".to_string(),
            _ => format!("ours[{}]", self.mode_names[index]),
        }
    }

    pub fn run(&self, ours: &mut OurStep, mut model: AlexNet) -> Result<ExitCode, Error> {
        let args = self.args;
        let modes = self.modes;
        let sgd_before = crate::train::sgd::update_counts();
        for (index, &mode) in modes.iter().enumerate() {
            model = self.warm_up(ours, model, index, mode);
        }
        let mut figures = vec![Figures::default(); modes.len()];
        let mut pytorch = vec![Figures::default(); self.variants.len()];
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
                    warmup_max: args.warmup_max,
                };
                let runs =
                    pytorch::images_per_second(self.config, self.threads, run, &self.variants)
                        .map_err(|error| Error::Failed(error.to_string()))?;
                for ((variant, run), side) in self.variants.iter().zip(&runs).zip(&mut pytorch) {
                    if !run.settled {
                        println!(
                            "PyTorch[{variant}]: warm-up did not settle within 5% in {} steps",
                            run.warmup_steps
                        );
                    }
                    side.images_per_second.push(run.images_per_second);
                }
                Some(
                    runs.iter()
                        .map(|run| run.images_per_second)
                        .collect::<Vec<f64>>(),
                )
            } else {
                None
            };
            println!("{}", self.repeat_line(repeat, &figures, theirs.as_deref()));
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
        self.print_ratios(&figures, args.pytorch.then_some(pytorch.as_slice()));
        print_sgd_paths(sgd_before);
        if let Some((_, peak)) = process::memory() {
            println!(
                "peak resident memory of this process: {}",
                units::gigabytes(peak)
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    /// Warms our step up in `mode` until it settles (see [`ours::warm_up`]) and says how it went.
    fn warm_up(&self, ours: &mut OurStep, model: AlexNet, index: usize, mode: Mode) -> AlexNet {
        let mut slot = Some(model);
        let times = ours::warm_up(self.args.warmup, self.args.warmup_max, || {
            let started = std::time::Instant::now();
            slot = Some(
                ours.time(1, slot.take().expect("the model is back"), mode)
                    .0,
            );
            started.elapsed().as_secs_f64()
        });
        let last: Vec<String> = times
            .iter()
            .skip(times.len().saturating_sub(2))
            .map(|t| format!("{:.0} ms", t * 1e3))
            .collect();
        println!(
            "warm-up {}: {} steps, {} (last two {})",
            self.label(index),
            times.len(),
            if ours::settled(&times) {
                "settled within 5%"
            } else {
                "NOT settled within 5%: the figures below may drift"
            },
            last.join(", ")
        );
        slot.expect("the model is back")
    }

    /// `repeat N: ours X images/s, ..., PyTorch[v] Y images/s, ours/fastest PyTorch R`.
    fn repeat_line(&self, repeat: usize, figures: &[Figures], theirs: Option<&[f64]>) -> String {
        let mut line = format!("repeat {}:", repeat + 1);
        for (index, side) in figures.iter().enumerate() {
            let value = side.images_per_second[repeat];
            line.push_str(&format!(
                " {} {},",
                self.label(index),
                units::images_per_second(value)
            ));
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
            let mut fastest = 0.0f64;
            for (variant, value) in self.variants.iter().zip(theirs) {
                fastest = fastest.max(*value);
                line.push_str(&format!(
                    " PyTorch[{variant}] {},",
                    units::images_per_second(*value)
                ));
            }
            for (index, side) in figures.iter().enumerate() {
                line.push_str(&format!(
                    " {}/fastest PyTorch {:.3},",
                    self.label(index),
                    side.images_per_second[repeat] / fastest
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
                "{}: median {} (min {low:.1}, max {high:.1})",
                self.label(index),
                units::images_per_second(side.median())
            );
        }
    }

    /// The interleaved ratios: between our two modes, and of every side against the fastest.
    fn print_ratios(&self, figures: &[Figures], pytorch: Option<&[Figures]>) {
        let repeats = self.args.repeats;
        if self.modes.len() == 2 {
            println!(
                "ratio [{}]/[{}]: median {:.3} over {repeats} interleaved repeats",
                self.mode_names[1],
                self.mode_names[0],
                median(&ratios(&figures[1], &figures[0])),
            );
        }
        let Some(pytorch) = pytorch else {
            return;
        };
        for (variant, side) in self.variants.iter().zip(pytorch) {
            let (low, high) = side.spread();
            println!(
                "PyTorch 2.9 {}: median {} (min {low:.1}, max {high:.1})",
                pytorch::describe(variant),
                units::images_per_second(side.median())
            );
        }
        // Every side against the fastest one, repeat by repeat (they ran interleaved).
        let mut sides: Vec<(String, &Figures)> = figures
            .iter()
            .enumerate()
            .map(|(index, side)| (self.label(index), side))
            .collect();
        sides.extend(
            self.variants
                .iter()
                .zip(pytorch)
                .map(|(variant, side)| (format!("PyTorch[{variant}]"), side)),
        );
        let Some((fastest_name, fastest)) = sides
            .iter()
            .max_by(|a, b| a.1.median().total_cmp(&b.1.median()))
            .map(|(name, side)| (name.clone(), *side))
        else {
            return;
        };
        for (name, side) in &sides {
            println!(
                "ratio {name}/{fastest_name} (the fastest): median {:.3} over {repeats} interleaved repeats",
                median(&ratios(side, fastest)),
            );
        }
    }
}

/// Which path the one-pass SGD's updates took since `before` (see `train::sgd::update_counts`).
fn print_sgd_paths(before: (u64, u64)) {
    let (in_place, tensor_ops) = crate::train::sgd::update_counts();
    let (in_place, tensor_ops) = (in_place - before.0, tensor_ops - before.1);
    if in_place + tensor_ops > 0 {
        println!(
            "SGD: {in_place} parameter updates in one in-place pass, {tensor_ops} with tensor operations{}",
            if tensor_ops > 0 {
                " (the slower fallback: a parameter, gradient or velocity was not a contiguous f32 CPU tensor)"
            } else {
                " (the fast path only)"
            }
        );
    }
}
