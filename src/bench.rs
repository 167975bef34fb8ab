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

#![allow(deprecated)] // burn-tch's device constructor, see train::worker.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::Tensor;
use burn_tch::{ConvBackward, ConvLayout};

use crate::cli::{BenchArgs, ConvBackwardChoice, ConvLayoutChoice, PrecisionChoice};
use crate::config::Config;
use crate::data::batcher::{self, Transform};
use crate::data::fashion_mnist::{IMAGE_PIXELS, Split};
use crate::model::{Activation, AlexNet, AlexNetConfig, SEQUENCE};
use crate::precision::{self, Compute};
use crate::session::{self, Error};
use crate::train::worker::{configure_threads, device_for, new_optimizer, training_step};
use crate::tui::event::memory;

/// Figures of one side of the comparison.
#[derive(Debug, Clone)]
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

/// Synthetic but realistic images: the step's cost does not depend on pixel values.
fn synthetic_split(count: usize, seed: u64) -> Split {
    let mut state = seed | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    Split {
        images: (0..count * IMAGE_PIXELS)
            .map(|_| (next() >> 56) as u8)
            .collect(),
        labels: (0..count).map(|_| (next() % 10) as u8).collect(),
    }
}

/// How our convolutions run: which backward, in which CPU memory layout, in which precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mode {
    backward: ConvBackward,
    layout: ConvLayout,
    compute: Compute,
}

impl Mode {
    fn apply(self) {
        burn_tch::set_conv_backward(self.backward);
        burn_tch::set_conv_layout(self.layout);
    }

    fn name(self) -> String {
        let backward = match self.backward {
            ConvBackward::Generic => "generic",
            ConvBackward::Libtorch => "libtorch",
        };
        let layout = match self.layout {
            ConvLayout::Contiguous => "contiguous",
            ConvLayout::ChannelsLast => "channels-last",
        };
        format!("{backward} {layout} {}", self.compute)
    }
}

/// The ways to run the convolutions to measure, in the order of the first repeat.
fn modes(
    backward: ConvBackwardChoice,
    layout: ConvLayoutChoice,
    computes: &[Compute],
) -> Vec<Mode> {
    let backwards = match backward {
        ConvBackwardChoice::Generic => vec![ConvBackward::Generic],
        ConvBackwardChoice::Libtorch => vec![ConvBackward::Libtorch],
        ConvBackwardChoice::Both => vec![ConvBackward::Generic, ConvBackward::Libtorch],
    };
    let layouts = match layout {
        ConvLayoutChoice::Contiguous => vec![ConvLayout::Contiguous],
        ConvLayoutChoice::ChannelsLast => vec![ConvLayout::ChannelsLast],
        ConvLayoutChoice::Both => vec![ConvLayout::Contiguous, ConvLayout::ChannelsLast],
    };
    let mut modes = Vec::new();
    for &backward in &backwards {
        for &layout in &layouts {
            for &compute in computes {
                modes.push(Mode {
                    backward,
                    layout,
                    compute,
                });
            }
        }
    }
    modes
}

/// The precisions to measure ours in, and whether bf16 may run at all (PyTorch's too): only where
/// the hardware computes it natively, unless forced. Prints what is skipped and why.
fn precisions(config: &Config, args: &BenchArgs) -> Result<(Vec<Compute>, bool), Error> {
    let kind = precision::device_kind(&config.training.device);
    let hardware = precision::native_bf16(kind);
    let bf16_allowed = hardware.native || args.force_bf16;
    let wanted = match args.precision {
        None => vec![
            precision::resolve(config.training.precision, "training.precision", &hardware).compute,
        ],
        Some(PrecisionChoice::F32) => vec![Compute::F32],
        Some(PrecisionChoice::Bf16) => vec![Compute::Bf16],
        Some(PrecisionChoice::Both) => vec![Compute::F32, Compute::Bf16],
    };
    if bf16_allowed {
        if !hardware.native {
            println!(
                "bench: bf16 forced although {}: emulated, expect it to be far slower than f32",
                hardware.evidence
            );
        }
        return Ok((wanted, true));
    }
    let kept: Vec<Compute> = wanted
        .iter()
        .copied()
        .filter(|&compute| compute == Compute::F32)
        .collect();
    if kept.is_empty() {
        return Err(Error::Usage(format!(
            "--precision bf16: {}, so bf16 is emulated and hopelessly slow; add --force-bf16 to measure it anyway",
            hardware.evidence
        )));
    }
    let skipped = if kept.len() < wanted.len() {
        "ours in bf16 and PyTorch's bf16 variants"
    } else {
        "PyTorch's bf16 variants"
    };
    if args.pytorch || kept.len() < wanted.len() {
        println!(
            "bench: skipping {skipped}: {}, so bf16 is emulated and hopelessly slow (--force-bf16 runs them anyway)",
            hardware.evidence
        );
    }
    Ok((kept, false))
}

/// Runs `step` (which returns its own duration in seconds) at least `min` times, then until two
/// consecutive durations are within 5% of each other, at most `max` times in all. Returns the
/// durations.
fn warm_up(min: usize, max: usize, mut step: impl FnMut() -> f64) -> Vec<f64> {
    let mut times = Vec::new();
    while times.len() < min || (times.len() < max && !settled(&times)) {
        times.push(step());
    }
    times
}

/// Whether the last two durations are within 5% of each other.
pub fn settled(times: &[f64]) -> bool {
    match times {
        [.., a, b] => (a - b).abs() <= 0.05 * a.min(*b),
        _ => false,
    }
}

pub fn run(args: &BenchArgs) -> Result<ExitCode, Error> {
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
    let (computes, bf16_allowed) = precisions(&config, args)?;
    let modes = modes(args.conv_backward, args.conv_layout, &computes);
    if modes
        .iter()
        .any(|mode| mode.backward == ConvBackward::Libtorch)
        && !burn_tch::libtorch_conv_backward_available()
    {
        return Err(Error::Usage(
            "--conv-backward libtorch: this build has no libtorch convolution backward (libtorch's headers were not found)".into(),
        ));
    }
    let resize = config.model.resize;
    let batch_size = config.training.batch_size;
    let threads = configure_threads(config.training.threads, config.training.interop_threads);
    let (device, device_name) = device_for(&config.training.device).map_err(Error::Usage)?;
    let device = device.autodiff();
    let mode_names: Vec<String> = modes.iter().map(|&mode| mode.name()).collect();
    println!(
        "bench: AlexNet, {resize}x{resize} input, batch {batch_size}, {device_name}, {} intra-op + {} inter-op threads, convolutions (backward, layout, precision) {}, {} to {} warm-up steps (until two are within 5%) + {} repeats x {} steps",
        threads.intra,
        threads.inter,
        mode_names.join(" and "),
        args.warmup,
        args.warmup_max.max(args.warmup),
        args.repeats,
        args.steps
    );
    let threads = threads.intra;

    let split = synthetic_split(batch_size * 4, 7);
    let order: Vec<u32> = (0..split.len() as u32).collect();
    let transform = Transform {
        resize,
        normalize: config.training.normalize,
    };
    let loss = CrossEntropyLossConfig::new().init(&device);
    let mut optimizer = new_optimizer(config.training.optimizer, &config.live());
    let mut model = AlexNetConfig {
        resize,
        dropout: config.model.dropout,
    }
    .init(&device);
    let _ = model.valid();
    let learning_rate = 1e-4;

    if args.layers {
        let host = batcher::gather(&split, &order, 0, batch_size, Some((1, 0)));
        let (images, _) = transform.apply(host, &device);
        return layer_report(model, images, &modes, &config, threads, args);
    }

    // Our step: gather + transform + the shared training step, as the worker runs it, with the
    // given convolution mode.
    let mut ours = |steps: usize, model_in: crate::model::AlexNet, mode: Mode| {
        mode.apply();
        let mut model = model_in.with_compute(mode.compute);
        let mut prepare_seconds = 0.0;
        let faults_before = minor_page_faults();
        let started = Instant::now();
        for step in 0..steps {
            let prepare = Instant::now();
            let host = batcher::gather(&split, &order, step % 4, batch_size, Some((1, 0)));
            let (inputs, labels) = transform.apply(host, &device);
            prepare_seconds += prepare.elapsed().as_secs_f64();
            model =
                training_step(model, &mut optimizer, &loss, inputs, labels, learning_rate).model;
        }
        let seconds = started.elapsed().as_secs_f64();
        let faults = match (faults_before, minor_page_faults()) {
            (Some(before), Some(after)) => Some((after - before) as f64 / steps.max(1) as f64),
            _ => None,
        };
        (
            model,
            (steps * batch_size) as f64 / seconds,
            prepare_seconds / seconds,
            faults,
        )
    };

    let sgd_before = crate::train::sgd::update_counts();
    for (index, &mode) in modes.iter().enumerate() {
        let mut slot = Some(model);
        let times = warm_up(args.warmup, args.warmup_max, || {
            let started = Instant::now();
            slot = Some(ours(1, slot.take().expect("the model is back"), mode).0);
            started.elapsed().as_secs_f64()
        });
        model = slot.expect("the model is back");
        let last: Vec<String> = times
            .iter()
            .rev()
            .take(2)
            .rev()
            .map(|t| format!("{:.0} ms", t * 1e3))
            .collect();
        println!(
            "warm-up {}: {} steps, {} (last two {})",
            label_for(&mode_names, index),
            times.len(),
            if settled(&times) {
                "settled within 5%"
            } else {
                "NOT settled within 5%: the figures below may drift"
            },
            last.join(", ")
        );
    }
    let mut figures: Vec<Figures> = modes
        .iter()
        .map(|_| Figures {
            images_per_second: Vec::new(),
        })
        .collect();
    let variants = pytorch_variants(bf16_allowed);
    let mut pytorch: Vec<Figures> = variants
        .iter()
        .map(|_| Figures {
            images_per_second: Vec::new(),
        })
        .collect();
    let mut prepare_share = Vec::new();
    let mut faults_per_step = Vec::new();
    let label = |index: usize| label_for(&mode_names, index);
    for repeat in 0..args.repeats {
        // With two modes, alternate which goes first, so that neither always follows PyTorch.
        let mut sequence: Vec<usize> = (0..modes.len()).collect();
        if repeat % 2 == 1 {
            sequence.reverse();
        }
        for index in sequence {
            let (next, images_per_second, share, faults) = ours(args.steps, model, modes[index]);
            model = next;
            figures[index].images_per_second.push(images_per_second);
            prepare_share.push(share);
            faults_per_step.extend(faults);
        }
        let mut line = format!("repeat {}:", repeat + 1);
        for (index, side) in figures.iter().enumerate() {
            let value = side.images_per_second[repeat];
            line.push_str(&format!(" {} {value:.1} images/s,", label(index)));
        }
        if modes.len() == 2 {
            line.push_str(&format!(
                " [{}]/[{}] {:.3},",
                mode_names[1],
                mode_names[0],
                figures[1].images_per_second[repeat] / figures[0].images_per_second[repeat]
            ));
        }
        if args.pytorch {
            let theirs = run_reference(&config, threads, args, &variants)?;
            let mut fastest = 0.0f64;
            for ((variant, value), side) in variants.iter().zip(&theirs).zip(&mut pytorch) {
                side.images_per_second.push(*value);
                fastest = fastest.max(*value);
                line.push_str(&format!(" PyTorch[{variant}] {value:.1} images/s,"));
            }
            for (index, side) in figures.iter().enumerate() {
                line.push_str(&format!(
                    " {}/fastest PyTorch {:.3},",
                    label(index),
                    side.images_per_second[repeat] / fastest
                ));
            }
        }
        println!("{}", line.trim_end_matches(','));
    }
    for (index, side) in figures.iter().enumerate() {
        let (low, high) = side.spread();
        println!(
            "{}: median {:.1} images/s (min {low:.1}, max {high:.1})",
            label(index),
            side.median()
        );
    }
    println!(
        "batch preparation is {:.2}% of our step",
        100.0 * median(&prepare_share)
    );
    if !faults_per_step.is_empty() {
        // Each minor fault is a fresh page the kernel zeroes: memory the allocator did not reuse.
        println!(
            "minor page faults per step: median {:.0}",
            median(&faults_per_step)
        );
    }
    if modes.len() == 2 {
        println!(
            "ratio [{}]/[{}]: median {:.3} over {} interleaved repeats",
            mode_names[1],
            mode_names[0],
            median(&ratios(&figures[1], &figures[0])),
            args.repeats
        );
    }
    if args.pytorch {
        for (variant, side) in variants.iter().zip(&pytorch) {
            let (low, high) = side.spread();
            println!(
                "PyTorch 2.9 {}: median {:.1} images/s (min {low:.1}, max {high:.1})",
                variant_description(variant),
                side.median()
            );
        }
        // Every side against the fastest one, repeat by repeat (they ran interleaved).
        let mut sides: Vec<(String, &Figures)> = figures
            .iter()
            .enumerate()
            .map(|(index, side)| (label(index), side))
            .collect();
        sides.extend(
            variants
                .iter()
                .zip(&pytorch)
                .map(|(variant, side)| (format!("PyTorch[{variant}]"), side)),
        );
        let fastest = sides
            .iter()
            .max_by(|a, b| a.1.median().total_cmp(&b.1.median()))
            .map(|(name, side)| (name.clone(), *side));
        if let Some((fastest_name, fastest_side)) = fastest {
            for (name, side) in &sides {
                println!(
                    "ratio {name}/{fastest_name} (the fastest): median {:.3} over {} interleaved repeats",
                    median(&ratios(side, fastest_side)),
                    args.repeats
                );
            }
        }
    }
    let (in_place, tensor_ops) = crate::train::sgd::update_counts();
    let (in_place, tensor_ops) = (in_place - sgd_before.0, tensor_ops - sgd_before.1);
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
    if let Some((_, peak)) = memory() {
        println!(
            "peak resident memory of this process: {:.2} GB",
            peak as f64 / (1u64 << 30) as f64
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// "ours" alone, "ours[backward layout precision]" among several.
fn label_for(mode_names: &[String], index: usize) -> String {
    match mode_names.len() {
        1 => "ours".to_string(),
        _ => format!("ours[{}]", mode_names[index]),
    }
}

/// bench/reference.py's variants to run: bf16 autocast ones only where bf16 may run.
fn pytorch_variants(bf16_allowed: bool) -> Vec<&'static str> {
    let mut variants = vec!["eager", "cl"];
    if bf16_allowed {
        variants.extend(["bf16", "cl_bf16"]);
    }
    variants
}

fn variant_description(variant: &str) -> &'static str {
    match variant {
        "eager" => "eager",
        "cl" => "channels_last",
        "bf16" => "bf16 autocast",
        "cl_bf16" => "channels_last + bf16 autocast",
        _ => "(unknown variant)",
    }
}

/// The process's minor page faults so far (field 10 of /proc/self/stat), Linux only.
fn minor_page_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name in parentheses may hold spaces: count fields after its closing one.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(7)?.parse().ok()
}

/// Median forward and backward seconds of each step of [`SEQUENCE`] alone, fed the activations of
/// a real batch: the layer's input is detached (and requires a gradient from the second layer on,
/// as in training), and the backward starts from the layer's output with a gradient of ones.
fn layer_times(model: &AlexNet, images: Tensor<4>, repeats: usize) -> Vec<(f64, f64)> {
    fn detached(x: &Activation, require_grad: bool) -> Activation {
        match x {
            Activation::Map(t) if require_grad => {
                Activation::Map(t.clone().detach().require_grad())
            }
            Activation::Map(t) => Activation::Map(t.clone().detach()),
            Activation::Flat(t) if require_grad => {
                Activation::Flat(t.clone().detach().require_grad())
            }
            Activation::Flat(t) => Activation::Flat(t.clone().detach()),
        }
    }
    let mut x = Activation::Map(images);
    let mut times = Vec::new();
    for (index, &step) in SEQUENCE.iter().enumerate() {
        let mut forward = Vec::new();
        let mut backward = Vec::new();
        // One untimed run first: libtorch sets up its kernels for new shapes on first use.
        for run in 0..=repeats {
            let input = detached(&x, index > 0);
            let started = Instant::now();
            let output = model.step(step, input);
            let forward_seconds = started.elapsed().as_secs_f64();
            let started = Instant::now();
            let grads = match &output {
                Activation::Map(t) => t.backward(),
                Activation::Flat(t) => t.backward(),
            };
            let backward_seconds = started.elapsed().as_secs_f64();
            drop(grads);
            if run > 0 {
                forward.push(forward_seconds);
                backward.push(backward_seconds);
            }
        }
        times.push((median(&forward), median(&backward)));
        x = model.step(step, detached(&x, false));
    }
    times
}

/// `bench --layers`: per-layer times with each conv backward asked for, and PyTorch's alongside.
fn layer_report(
    model: AlexNet,
    images: Tensor<4>,
    modes: &[Mode],
    config: &Config,
    threads: usize,
    args: &BenchArgs,
) -> Result<ExitCode, Error> {
    let repeats = args.repeats.max(1);
    let ours: Vec<Vec<(f64, f64)>> = modes
        .iter()
        .map(|&mode| {
            mode.apply();
            layer_times(
                &model.clone().with_compute(mode.compute),
                images.clone(),
                repeats,
            )
        })
        .collect();
    let theirs = if args.pytorch {
        Some(run_layers_reference(config, threads, repeats)?)
    } else {
        None
    };
    let mut header = format!("{:<4} {:<10}", "#", "layer");
    for &mode in modes {
        header.push_str(&format!(
            " {:>22}",
            format!("ours[{}] fwd+bwd ms", mode.name())
        ));
    }
    if theirs.is_some() {
        header.push_str(&format!(" {:>22}", "PyTorch fwd+bwd ms"));
    }
    println!("median of {repeats} runs per layer, in milliseconds (forward + backward)");
    println!("{header}");
    let cell = |(forward, backward): (f64, f64)| {
        format!(
            "{:>22}",
            format!("{:.1} + {:.1}", forward * 1e3, backward * 1e3)
        )
    };
    let mut totals = vec![(0.0, 0.0); ours.len() + 1];
    for (index, step) in SEQUENCE.iter().enumerate() {
        let mut line = format!("{:<4} {:<10}", index, step.name());
        for (side, times) in ours.iter().enumerate() {
            line.push_str(&format!(" {}", cell(times[index])));
            totals[side].0 += times[index].0;
            totals[side].1 += times[index].1;
        }
        if let Some(theirs) = &theirs {
            line.push_str(&format!(" {}", cell(theirs[index])));
            totals[ours.len()].0 += theirs[index].0;
            totals[ours.len()].1 += theirs[index].1;
        }
        println!("{line}");
    }
    let mut line = format!("{:<15}", "total");
    let sides = ours.len() + usize::from(theirs.is_some());
    for total in &totals[..sides] {
        line.push_str(&format!(" {}", cell(*total)));
    }
    println!("{line}");
    Ok(ExitCode::SUCCESS)
}

/// bench/layers.py's median forward and backward seconds per layer of the notebook's network.
fn run_layers_reference(
    config: &Config,
    threads: usize,
    repeats: usize,
) -> Result<Vec<(f64, f64)>, Error> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/layers.py");
    let mut command = std::process::Command::new(torch_python());
    command
        .arg(&script)
        .args(["--resize", &config.model.resize.to_string()])
        .args(["--batch", &config.training.batch_size.to_string()])
        .args(["--threads", &threads.to_string()])
        .args(["--repeats", &repeats.to_string()]);
    let text = python_output(command, &script)?;
    let times: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("layer ")?;
            let mut fields = rest.split_whitespace().skip(1);
            let forward = fields.next()?.parse().ok()?;
            let backward = fields.next()?.parse().ok()?;
            Some((forward, backward))
        })
        .collect();
    if times.len() != SEQUENCE.len() {
        return Err(Error::Failed(format!(
            "{} printed {} layers, expected {}",
            script.display(),
            times.len(),
            SEQUENCE.len()
        )));
    }
    Ok(times)
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

/// The Python of the torch environment: `ALEXNET_TORCH_PYTHON`, else the one the build used,
/// else `python3` on PATH.
fn torch_python() -> PathBuf {
    std::env::var_os("ALEXNET_TORCH_PYTHON")
        .map(PathBuf::from)
        .or_else(|| option_env!("ALEXNET_BUILD_TORCH_PYTHON").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// Runs the PyTorch reference with the same input size, batch, threads and optimizer settings.
fn run_reference(
    config: &Config,
    threads: usize,
    args: &BenchArgs,
    variants: &[&str],
) -> Result<Vec<f64>, Error> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/reference.py");
    let t = &config.training;
    let mut command = std::process::Command::new(torch_python());
    command
        .arg(&script)
        .args(["--resize", &config.model.resize.to_string()])
        .args(["--batch", &t.batch_size.to_string()])
        .args(["--threads", &threads.to_string()])
        .args(["--steps", &args.steps.to_string()])
        .args(["--warmup", &args.warmup.to_string()])
        .args(["--warmup-max", &args.warmup_max.to_string()])
        .args(["--variants", &variants.join(",")])
        .args(["--optimizer", &t.optimizer.to_string()])
        .args(["--momentum", &t.momentum.to_string()])
        .args(["--weight-decay", &t.weight_decay.to_string()]);
    if t.nesterov {
        command.arg("--nesterov");
    }
    let text = python_output(command, &script)?;
    variants
        .iter()
        .map(|variant| {
            let line = text
                .lines()
                .find(|line| line.starts_with(&format!("variant={variant} ")));
            let field = |name: &str| {
                line.and_then(|line| {
                    line.split_whitespace()
                        .find_map(|field| field.strip_prefix(name))
                })
            };
            if field("settled=") == Some("False") {
                println!(
                    "PyTorch[{variant}]: warm-up did not settle within 5% in {} steps",
                    field("warmup_steps=").unwrap_or("?")
                );
            }
            field("images_per_second=")
                .and_then(|value| value.parse().ok())
                .ok_or_else(|| {
                    Error::Failed(format!(
                        "{} printed no images_per_second for variant {variant}",
                        script.display()
                    ))
                })
        })
        .collect()
}

/// Runs one of the bench/ Python scripts and returns its standard output, or its error output in
/// the error.
fn python_output(
    mut command: std::process::Command,
    script: &std::path::Path,
) -> Result<String, Error> {
    let output = command
        .output()
        .map_err(|e| Error::Failed(format!("cannot run {}: {e}", script.display())))?;
    if !output.status.success() {
        return Err(Error::Failed(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
