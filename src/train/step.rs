//! One training step, one pass over the test split, and the optimizer they use. The worker and
//! the benchmark both call these, so the benchmark measures exactly what training does.

use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLoss;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor};

use super::Error;
use super::metrics::Evaluation;
use super::sgd::FusedSgd;
use crate::config::{Config, OptimizerKind};
use crate::data::batcher::{self, Transform};
use crate::data::fashion_mnist::Split;
use crate::model::{AlexNet, NUM_CLASSES};

/// A fresh optimizer of the config's kind with its coefficients (the learning rate is given at
/// every step). Momentum and Nesterov apply to SGD only; AdamW's weight decay is decoupled.
pub fn new_optimizer(config: &Config) -> ModuleOptimizer {
    let t = &config.training;
    match t.optimizer {
        OptimizerKind::Sgd => {
            ModuleOptimizer::from(FusedSgd::new(t.momentum, t.nesterov, t.weight_decay))
        }
        OptimizerKind::AdamW => AdamWConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(t.weight_decay as f32)
            .init(),
    }
}

/// What one SGD step gives back.
pub struct StepOutcome {
    pub model: AlexNet,
    pub loss: f64,
    /// Correct predictions in the batch (from the same forward pass).
    pub correct: u64,
}

/// One training step: forward, cross-entropy, and, only if the loss is finite, backward and the
/// optimizer's update. A non-finite loss returns the model unchanged.
pub fn training_step(
    model: AlexNet,
    optimizer: &mut ModuleOptimizer,
    loss_fn: &CrossEntropyLoss,
    inputs: Tensor<4>,
    labels: Tensor<1, Int>,
    learning_rate: f64,
) -> StepOutcome {
    let logits = model.forward(inputs);
    let loss = loss_fn.forward(logits.clone(), labels.clone());
    let loss_value = f64::from(loss.clone().into_scalar::<f32>());
    if !loss_value.is_finite() {
        return StepOutcome {
            model,
            loss: loss_value,
            correct: 0,
        };
    }
    let correct = logits
        .argmax(1)
        .squeeze_dim::<1>(1)
        .equal(labels)
        .int()
        .sum()
        .into_scalar::<i64>()
        .max(0) as u64;
    let gradients = GradientsParams::from_grads(loss.backward(), &model);
    StepOutcome {
        model: optimizer.step(learning_rate, model, gradients),
        loss: loss_value,
        correct,
    }
}

/// Evaluates `model` on `split` in order, without dropout and without an autodiff graph.
/// `should_stop` is asked between batches; `Ok(None)` means it said stop.
pub fn evaluate(
    model: &AlexNet,
    split: &Split,
    transform: Transform,
    batch_size: usize,
    device: &Device,
    should_stop: &mut dyn FnMut() -> bool,
) -> Result<Option<Evaluation>, Error> {
    let started = Instant::now();
    let model = model.valid();
    let loss_fn = CrossEntropyLoss::new(None, device);
    let mut confusion = [[0u32; NUM_CLASSES]; NUM_CLASSES];
    let mut loss_sum = 0.0;
    let mut start = 0;
    while start < split.len() {
        if should_stop() {
            return Ok(None);
        }
        let end = (start + batch_size).min(split.len());
        let host = batcher::slice(split, start, end);
        let truth = host.labels.clone();
        let (inputs, labels) = transform.apply(host, device);
        let logits = model.forward(inputs);
        loss_sum += f64::from(loss_fn.forward(logits.clone(), labels).into_scalar::<f32>())
            * (end - start) as f64;
        let predicted: Vec<i64> = logits
            .argmax(1)
            .squeeze_dim::<1>(1)
            .try_into_vec_as::<i64>()
            .map_err(|error| Error::Readback(format!("the test predictions: {error:?}")))?;
        if predicted.len() != truth.len() {
            return Err(Error::Readback(format!(
                "{} test predictions for {} images",
                predicted.len(),
                truth.len()
            )));
        }
        for (t, p) in truth.iter().zip(&predicted) {
            confusion[*t as usize][(*p).clamp(0, 9) as usize] += 1;
        }
        start = end;
    }
    let images = split.len();
    let correct: u32 = (0..NUM_CLASSES).map(|c| confusion[c][c]).sum();
    Ok(Some(Evaluation {
        accuracy: f64::from(correct) / images.max(1) as f64,
        loss: loss_sum / images.max(1) as f64,
        images,
        confusion,
        seconds: started.elapsed().as_secs_f64(),
    }))
}
