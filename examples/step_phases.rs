//! Where one training step's time goes: forward (with the loss), backward, optimizer update.
//! The PyTorch side of the same measurement is `bench/phases.py`.
//!
//!     eval "$(bash scripts/setup.sh)"
//!     cargo run --release --example step_phases -- [BATCH] [RESIZE] [fused|burn|adamw] [contiguous]
//!
//! `fused` is the SGD training uses (Nesterov momentum 0.9, weight decay 5e-4, updated in one
//! pass), `burn` is burn's own `Sgd` with the same coefficients, `adamw` is burn's AdamW.
//! `contiguous` runs the CPU convolutions in the contiguous layout instead of channels-last. Prints
//! the median of 10 steps after 2 warm-up steps, in milliseconds.

use std::time::Instant;

use alexnet_tui::config::{Config, OptimizerKind};
use alexnet_tui::model::AlexNetConfig;
use alexnet_tui::train::runtime::{configure_threads, device_for};
use alexnet_tui::train::step::new_optimizer;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Distribution, Int, Tensor, TensorData};

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The vendored burn-tch's switch to upstream's layout (burn-tch's items are deprecated upstream
/// in favour of CubeCL's backends; see vendor/burn-tch/VENDORED.md).
#[allow(deprecated)]
fn contiguous_convolutions() {
    burn_tch::set_conv_layout(burn_tch::ConvLayout::Contiguous);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |at: usize, default: usize| -> Result<usize, String> {
        args.get(at).map_or(Ok(default), |a| {
            a.parse().map_err(|_| format!("not a number: {a}"))
        })
    };
    let batch = number(0, 128)?;
    let resize = number(1, 67)?;
    let which = args.get(2).map_or("fused", String::as_str);
    if args.get(3).map(String::as_str) == Some("contiguous") {
        contiguous_convolutions();
    }
    // The coefficients `burn` below is given, so that only the implementation differs.
    let mut config = Config::default();
    config.training.momentum = 0.9;
    config.training.nesterov = true;
    config.training.weight_decay = 5e-4;
    let with_optimizer = |optimizer| {
        let mut config = config.clone();
        config.training.optimizer = optimizer;
        config
    };
    let mut optimizer: ModuleOptimizer = match which {
        "fused" => new_optimizer(&with_optimizer(OptimizerKind::Sgd)),
        "adamw" => new_optimizer(&with_optimizer(OptimizerKind::AdamW)),
        "burn" => SgdConfig::new()
            .with_momentum(Some(
                MomentumConfig::new()
                    .with_momentum(0.9)
                    .with_dampening(0.0)
                    .with_nesterov(true),
            ))
            .with_weight_decay(Some(WeightDecayConfig::new(5e-4)))
            .init(),
        other => return Err(format!("unknown optimizer {other}: fused, burn or adamw").into()),
    };
    let threads = configure_threads(0, 0);
    let (device, _) = device_for("cpu")?;
    let device = device.autodiff();
    let mut model = AlexNetConfig {
        resize,
        dropout: 0.5,
    }
    .init(&device);
    let _ = model.valid();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let labels: Vec<i64> = (0..batch as i64).map(|i| i % 10).collect();
    let mut phases: [Vec<f64>; 3] = Default::default();
    for step in 0..12 {
        let x = Tensor::<4>::random([batch, 1, resize, resize], Distribution::Default, &device);
        let y = Tensor::<1, Int>::from_data(TensorData::new(labels.clone(), [batch]), &device);
        let started = Instant::now();
        let loss = loss_fn.forward(model.forward(x), y);
        let _ = loss.clone().into_scalar::<f32>();
        let forward = Instant::now();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let backward = Instant::now();
        model = optimizer.step(1e-4, model, grads);
        let updated = Instant::now();
        if step >= 2 {
            phases[0].push((forward - started).as_secs_f64() * 1e3);
            phases[1].push((backward - forward).as_secs_f64() * 1e3);
            phases[2].push((updated - backward).as_secs_f64() * 1e3);
        }
    }
    let [forward, backward, update] = phases.map(median);
    println!(
        "ours, {resize}x{resize}, batch {batch}, {} threads, {which}: forward {forward:.0} ms, backward {backward:.0} ms, optimizer {update:.0} ms, step {:.0} ms",
        threads.intra,
        forward + backward + update
    );
    Ok(())
}
