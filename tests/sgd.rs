//! The one-pass SGD (`train::sgd::FusedSgd`, what training uses) against burn's own `Sgd`: the
//! same weights after several steps, with and without momentum and Nesterov, and through its
//! tensor-operation path; and burn's saved optimizer state resumes in it.

use alexnet_tui::train::runtime::configure_threads;
use alexnet_tui::train::sgd::FusedSgd;
use burn::nn::{Linear, LinearConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Distribution, Tensor};

/// 600 x 500 weights: more than the in-place kernel's per-thread minimum on two threads.
fn layer(device: &Device) -> Linear {
    LinearConfig::new(600, 500).init(device)
}

fn burn_sgd(momentum: f64, nesterov: bool, weight_decay: f64) -> ModuleOptimizer {
    SgdConfig::new()
        .with_momentum((momentum > 0.0).then(|| {
            MomentumConfig::new()
                .with_momentum(momentum)
                .with_dampening(0.0)
                .with_nesterov(nesterov)
        }))
        .with_weight_decay(
            (weight_decay > 0.0).then(|| WeightDecayConfig::new(weight_decay as f32)),
        )
        .init()
}

/// One step on a fixed batch, with a loss whose gradient differs from step to step.
fn step(optimizer: &mut ModuleOptimizer, model: Linear, input: &Tensor<2>, lr: f64) -> Linear {
    let loss = model.forward(input.clone()).powi_scalar(2).mean();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    optimizer.step(lr, model, grads)
}

fn max_difference(a: &Linear, b: &Linear) -> f32 {
    let weight = (a.weight.val() - b.weight.val())
        .abs()
        .max()
        .into_scalar::<f32>();
    let bias = match (&a.bias, &b.bias) {
        (Some(x), Some(y)) => (x.val() - y.val()).abs().max().into_scalar::<f32>(),
        _ => 0.0,
    };
    weight.max(bias)
}

fn setup() -> (Device, Linear, Tensor<2>) {
    configure_threads(2, 0);
    let device = alexnet_tui::train::runtime::cpu().autodiff();
    device.seed(7);
    let model = layer(&device);
    let input = Tensor::<2>::random([32, 600], Distribution::Normal(0.0, 1.0), &device);
    (device, model, input)
}

#[test]
fn matches_burns_sgd_step_for_step() {
    let (_device, start, input) = setup();
    let before = start.weight.val().into_data();
    for (momentum, nesterov, decay) in [(0.9, true, 5e-4), (0.9, false, 1e-3), (0.0, false, 5e-4)] {
        let mut reference = burn_sgd(momentum, nesterov, decay);
        let mut fused = ModuleOptimizer::from(FusedSgd::new(momentum, nesterov, decay));
        let mut ops =
            ModuleOptimizer::from(FusedSgd::new(momentum, nesterov, decay).with_tensor_ops());
        let (mut a, mut b, mut c) = (start.clone(), start.clone(), start.clone());
        for lr in [0.05, 0.04, 0.03, 0.02, 0.01] {
            a = step(&mut reference, a, &input, lr);
            b = step(&mut fused, b, &input, lr);
            c = step(&mut ops, c, &input, lr);
        }
        let moved = max_difference(&a, &start);
        assert!(
            moved > 1e-4,
            "the steps changed the weights by only {moved}"
        );
        for (name, other) in [("in place", &b), ("tensor ops", &c)] {
            let difference = max_difference(&a, other);
            assert!(
                difference < moved * 1e-3,
                "{name} (momentum {momentum}, nesterov {nesterov}): {difference} from burn's Sgd, which moved {moved}"
            );
        }
        // The starting weights are untouched, though the stepped copies shared their storage.
        assert_eq!(start.weight.val().into_data(), before);
    }
}

#[test]
fn resumes_from_burns_saved_state() {
    let (_device, start, input) = setup();
    let mut reference = burn_sgd(0.9, true, 5e-4);
    let mut a = start;
    for _ in 0..2 {
        a = step(&mut reference, a, &input, 0.05);
    }
    let mut fused =
        ModuleOptimizer::from(FusedSgd::new(0.9, true, 5e-4)).load_record(reference.to_record());
    let b = step(&mut fused, a.clone(), &input, 0.05);
    let a = step(&mut reference, a, &input, 0.05);
    let difference = max_difference(&a, &b);
    assert!(
        difference < 1e-6,
        "{difference} after resuming burn's velocity"
    );
    // Without the velocity the step would differ: the check above can fail.
    let mut fresh = ModuleOptimizer::from(FusedSgd::new(0.9, true, 5e-4));
    let start = a.clone();
    let c = step(&mut fresh, start.clone(), &input, 0.05);
    let d = step(&mut reference, start, &input, 0.05);
    assert!(max_difference(&c, &d) > 1e-5);
}
