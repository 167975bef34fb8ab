//! Our side of `bench`: the exact step the training worker runs (gather, transform, the shared
//! training step), timed over synthetic batches, in each convolution mode and precision asked
//! for, after a warm-up that lasts until the step time settles.

use std::time::Instant;

use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Tensor};

use super::{ConvBackwardChoice, ConvLayoutChoice};
use crate::config::Config;
use crate::data::batcher::{self, Transform};
use crate::data::fashion_mnist::{IMAGE_PIXELS, Split};
use crate::model::{AlexNet, Compute};
use crate::process;
use crate::train::step::{new_optimizer, training_step};

/// Which gradient code our convolutions use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backward {
    /// burn's generic convolution backward, built from other tensor operations.
    Generic,
    /// libtorch's own `convolution_backward` (what training uses).
    Libtorch,
}

/// The memory layout of the CPU convolutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Contiguous,
    /// What training uses.
    ChannelsLast,
}

/// How our convolutions run: which backward, in which CPU memory layout, in which precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    pub backward: Backward,
    pub layout: Layout,
    pub compute: Compute,
}

impl Mode {
    /// Switches the vendored burn-tch to this mode, for every convolution from now on.
    // burn-tch's items are deprecated upstream in favour of CubeCL's backends; these switches
    // are the vendored crate's own (see vendor/burn-tch/VENDORED.md), and this is the one place
    // that calls them.
    #[allow(deprecated)]
    pub fn apply(self) {
        burn_tch::set_conv_backward(match self.backward {
            Backward::Generic => burn_tch::ConvBackward::Generic,
            Backward::Libtorch => burn_tch::ConvBackward::Libtorch,
        });
        burn_tch::set_conv_layout(match self.layout {
            Layout::Contiguous => burn_tch::ConvLayout::Contiguous,
            Layout::ChannelsLast => burn_tch::ConvLayout::ChannelsLast,
        });
    }

    pub fn name(self) -> String {
        let backward = match self.backward {
            Backward::Generic => "generic",
            Backward::Libtorch => "libtorch",
        };
        let layout = match self.layout {
            Layout::Contiguous => "contiguous",
            Layout::ChannelsLast => "channels-last",
        };
        format!("{backward} {layout} {}", self.compute)
    }
}

/// Whether this build has libtorch's convolution backward (it needs libtorch's C++ headers).
#[allow(deprecated)] // see Mode::apply
pub fn libtorch_backward_available() -> bool {
    burn_tch::libtorch_conv_backward_available()
}

/// The ways to run the convolutions to measure, in the order of the first repeat.
pub fn modes(
    backward: ConvBackwardChoice,
    layout: ConvLayoutChoice,
    computes: &[Compute],
) -> Vec<Mode> {
    let backwards = match backward {
        ConvBackwardChoice::Generic => vec![Backward::Generic],
        ConvBackwardChoice::Libtorch => vec![Backward::Libtorch],
        ConvBackwardChoice::Both => vec![Backward::Generic, Backward::Libtorch],
    };
    let layouts = match layout {
        ConvLayoutChoice::Contiguous => vec![Layout::Contiguous],
        ConvLayoutChoice::ChannelsLast => vec![Layout::ChannelsLast],
        ConvLayoutChoice::Both => vec![Layout::Contiguous, Layout::ChannelsLast],
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

/// Runs `step` (which returns its own duration in seconds) at least `min` times, then until two
/// consecutive durations are within 5% of each other, at most `max` times in all. Returns the
/// durations.
pub fn warm_up(min: usize, max: usize, mut step: impl FnMut() -> f64) -> Vec<f64> {
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

/// What one timed run of our steps measured.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub images_per_second: f64,
    /// The share of the time spent preparing batches (gather and transform), 0 to 1.
    pub prepare_share: f64,
    /// Minor page faults per step, where the system counts them.
    pub faults_per_step: Option<f64>,
}

/// Everything our step needs besides the model, made once: four batches of synthetic images
/// cycled through, the loss and the optimizer of the config.
pub struct OurStep {
    split: Split,
    order: Vec<u32>,
    transform: Transform,
    batch_size: usize,
    device: Device,
    loss: CrossEntropyLoss,
    optimizer: ModuleOptimizer,
}

/// The step size of the timed steps: small, so that many steps leave the weights sane; the time
/// of an update does not depend on it.
const LEARNING_RATE: f64 = 1e-4;

impl OurStep {
    /// `device` is the autodiff device training would use.
    pub fn new(config: &Config, device: &Device) -> Self {
        let batch_size = config.training.batch_size;
        let split = synthetic_split(batch_size * 4, 7);
        let order: Vec<u32> = (0..split.len() as u32).collect();
        Self {
            split,
            order,
            transform: Transform {
                resize: config.model.resize,
                normalize: config.training.normalize,
            },
            batch_size,
            device: device.clone(),
            loss: CrossEntropyLossConfig::new().init(device),
            optimizer: new_optimizer(config),
        }
    }

    /// The first synthetic batch's images, on the device, as the model receives them.
    pub fn first_images(&self) -> Tensor<4> {
        let host = batcher::gather(&self.split, &self.order, 0, self.batch_size, Some((1, 0)));
        self.transform.apply(host, &self.device).0
    }

    /// Runs `steps` of our step in `mode` (gather + transform + the shared training step, as the
    /// worker runs it) and returns the trained model with the figures.
    pub fn time(&mut self, steps: usize, model: AlexNet, mode: Mode) -> (AlexNet, Timing) {
        mode.apply();
        let mut model = model.with_compute(mode.compute);
        let mut prepare_seconds = 0.0;
        let faults_before = process::minor_page_faults();
        let started = Instant::now();
        for step in 0..steps {
            let prepare = Instant::now();
            let host = batcher::gather(
                &self.split,
                &self.order,
                step % 4,
                self.batch_size,
                Some((1, 0)),
            );
            let (inputs, labels) = self.transform.apply(host, &self.device);
            prepare_seconds += prepare.elapsed().as_secs_f64();
            model = training_step(
                model,
                &mut self.optimizer,
                &self.loss,
                inputs,
                labels,
                LEARNING_RATE,
            )
            .model;
        }
        let seconds = started.elapsed().as_secs_f64();
        let faults_per_step = match (faults_before, process::minor_page_faults()) {
            (Some(before), Some(after)) => {
                Some(after.saturating_sub(before) as f64 / steps.max(1) as f64)
            }
            _ => None,
        };
        let timing = Timing {
            images_per_second: (steps * self.batch_size) as f64 / seconds,
            prepare_share: prepare_seconds / seconds,
            faults_per_step,
        };
        (model, timing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_stops_once_two_steps_agree_or_at_the_cap() {
        let mut times = [1.0, 0.5, 0.3, 0.29, 0.2].into_iter();
        assert_eq!(
            warm_up(2, 12, || times.next().expect("enough")),
            [1.0, 0.5, 0.3, 0.29]
        );
        let mut slow = [1.0, 0.5, 0.3, 0.2].into_iter().cycle();
        assert_eq!(warm_up(2, 5, || slow.next().expect("cycles")).len(), 5);
        assert!(!settled(&[0.3]));
    }
}
