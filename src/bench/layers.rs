//! `bench --layers`: each layer of [`SEQUENCE`] timed alone, forward and backward, in each
//! convolution mode (and precision) asked for, with bench/layers.py's figures for the same layers
//! alongside.

use std::process::ExitCode;
use std::time::Instant;

use burn::tensor::Tensor;

use super::ours::Mode;
use super::{median, pytorch};
use crate::config::Config;
use crate::model::{Activation, AlexNet, SEQUENCE};
use crate::session::Error;

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

/// Prints the per-layer table: our times in each mode, PyTorch's when `pytorch` is set, and the
/// totals.
pub fn report(
    model: &AlexNet,
    images: Tensor<4>,
    modes: &[Mode],
    config: &Config,
    threads: usize,
    repeats: usize,
    pytorch: bool,
) -> Result<ExitCode, Error> {
    let repeats = repeats.max(1);
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
    let theirs = if pytorch {
        Some(
            pytorch::layer_times(config, threads, repeats)
                .map_err(|error| Error::Failed(error.to_string()))?,
        )
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
