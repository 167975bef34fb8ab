//! The notebook's AlexNet, for 1-channel input:
//!
//! ```text
//! Conv2d(1, 96, 11, stride 4, pad 1), ReLU, MaxPool2d(3, 2),
//! Conv2d(96, 256, 5, pad 2), ReLU, MaxPool2d(3, 2),
//! Conv2d(256, 384, 3, pad 1), ReLU, Conv2d(384, 384, 3, pad 1), ReLU,
//! Conv2d(384, 256, 3, pad 1), ReLU, MaxPool2d(3, 2), Flatten,
//! Linear(256*k*k, 4096), ReLU, Dropout(0.5), Linear(4096, 4096), ReLU, Dropout(0.5), Linear(4096, 10)
//! ```
//!
//! [`SEQUENCE`] lists those 21 steps in the notebook's `nn.Sequential` order. The forward pass,
//! the per-layer shape summary and the PyTorch export names (`0.weight` ... `20.bias`) all come from
//! it, so they cannot disagree.
//!
//! In bf16 ([`Compute::Bf16`], see [`crate::precision`]) the weights stay f32: each convolution and
//! linear layer casts its input, weight and bias to bf16 and runs in bf16, ReLU, max-pooling and
//! dropout act on the bf16 activations, and the logits are cast back to f32 for the loss. burn's
//! autodiff differentiates the casts, so every weight gradient reaches the optimizer as f32.

use std::fmt;

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, FloatDType, Tensor};
use serde::{Deserialize, Serialize};

/// What the convolutions and matrix products compute in, once "auto" is decided
/// (see `crate::precision`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compute {
    #[default]
    F32,
    Bf16,
}

impl Compute {
    pub fn name(self) -> &'static str {
        match self {
            Compute::F32 => "f32",
            Compute::Bf16 => "bf16",
        }
    }
}

impl fmt::Display for Compute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub const NUM_CLASSES: usize = 10;
pub const HIDDEN: usize = 4096;

/// Shape of one convolution.
#[derive(Debug, Clone, Copy)]
pub struct ConvSpec {
    pub channels_in: usize,
    pub channels_out: usize,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

pub const CONVS: [ConvSpec; 5] = [
    ConvSpec {
        channels_in: 1,
        channels_out: 96,
        kernel: 11,
        stride: 4,
        padding: 1,
    },
    ConvSpec {
        channels_in: 96,
        channels_out: 256,
        kernel: 5,
        stride: 1,
        padding: 2,
    },
    ConvSpec {
        channels_in: 256,
        channels_out: 384,
        kernel: 3,
        stride: 1,
        padding: 1,
    },
    ConvSpec {
        channels_in: 384,
        channels_out: 384,
        kernel: 3,
        stride: 1,
        padding: 1,
    },
    ConvSpec {
        channels_in: 384,
        channels_out: 256,
        kernel: 3,
        stride: 1,
        padding: 1,
    },
];
pub const POOL_KERNEL: usize = 3;
pub const POOL_STRIDE: usize = 2;

/// One step of the network, as the notebook's `nn.Sequential` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Conv(usize),
    Relu,
    MaxPool,
    Flatten,
    Linear(usize),
    Dropout,
}

impl Step {
    /// The PyTorch class name the notebook prints.
    pub fn name(self) -> &'static str {
        match self {
            Step::Conv(_) => "Conv2d",
            Step::Relu => "ReLU",
            Step::MaxPool => "MaxPool2d",
            Step::Flatten => "Flatten",
            Step::Linear(_) => "Linear",
            Step::Dropout => "Dropout",
        }
    }
}

pub const SEQUENCE: [Step; 21] = [
    Step::Conv(0),
    Step::Relu,
    Step::MaxPool,
    Step::Conv(1),
    Step::Relu,
    Step::MaxPool,
    Step::Conv(2),
    Step::Relu,
    Step::Conv(3),
    Step::Relu,
    Step::Conv(4),
    Step::Relu,
    Step::MaxPool,
    Step::Flatten,
    Step::Linear(0),
    Step::Relu,
    Step::Dropout,
    Step::Linear(1),
    Step::Relu,
    Step::Dropout,
    Step::Linear(2),
];

fn conv_out(size: usize, spec: &ConvSpec) -> Option<usize> {
    let padded = size + 2 * spec.padding;
    (padded >= spec.kernel).then(|| (padded - spec.kernel) / spec.stride + 1)
}

fn pool_out(size: usize) -> Option<usize> {
    (size >= POOL_KERNEL).then(|| (size - POOL_KERNEL) / POOL_STRIDE + 1)
}

/// Side of the last feature map for an input of `resize` x `resize`, or `None` if some layer
/// would receive a map smaller than its kernel.
pub fn final_side(resize: usize) -> Option<usize> {
    let mut side = resize;
    for step in SEQUENCE {
        side = match step {
            Step::Conv(index) => conv_out(side, &CONVS[index])?,
            Step::MaxPool => pool_out(side)?,
            Step::Flatten => return (side > 0).then_some(side),
            _ => side,
        };
    }
    None
}

/// Width of the flattened features: 256 * k * k (6400 at 224).
pub fn flatten_width(resize: usize) -> Option<usize> {
    final_side(resize).map(|side| CONVS[4].channels_out * side * side)
}

/// The smallest input side every layer accepts (65: the third max-pool needs a 3x3 map).
pub fn min_resize() -> usize {
    (1..=1024)
        .find(|&resize| final_side(resize).is_some())
        .unwrap_or(1024)
}

/// Options of the model that are not fixed by the architecture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlexNetConfig {
    pub resize: usize,
    pub dropout: f64,
}

#[derive(Module, Debug)]
pub struct AlexNet {
    convs: Vec<Conv2d>,
    linears: Vec<Linear>,
    pool: MaxPool2d,
    dropout: Dropout,
    /// What the convolutions and matrix products compute in (not saved: checkpoints are f32).
    #[module(skip)]
    compute: Compute,
}

/// PyTorch's default bias initialization, which the notebook keeps (its `init_weights` only
/// re-initializes weights): uniform in +-1/sqrt(fan_in).
fn torch_default_bias(len: usize, fan_in: usize, device: &Device) -> Param<Tensor<1>> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    Initializer::Uniform {
        min: -bound,
        max: bound,
    }
    .init([len], device)
}

impl AlexNetConfig {
    /// Builds the network with Xavier-uniform weights, as the notebook's `init_weights` does.
    /// Panics only if `resize` is below [`min_resize`], which config validation rules out.
    pub fn init(&self, device: &Device) -> AlexNet {
        let flatten = flatten_width(self.resize).unwrap_or_else(|| {
            panic!(
                "resize {} is below the minimum {}",
                self.resize,
                min_resize()
            )
        });
        let xavier = Initializer::XavierUniform { gain: 1.0 };
        let convs = CONVS
            .iter()
            .map(|spec| {
                let p = spec.padding;
                let mut conv = Conv2dConfig::new(
                    [spec.channels_in, spec.channels_out],
                    [spec.kernel, spec.kernel],
                )
                .with_stride([spec.stride, spec.stride])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .with_initializer(xavier.clone())
                .init(device);
                let fan_in = spec.channels_in * spec.kernel * spec.kernel;
                conv.bias = Some(torch_default_bias(spec.channels_out, fan_in, device));
                conv
            })
            .collect();
        let linears = [(flatten, HIDDEN), (HIDDEN, HIDDEN), (HIDDEN, NUM_CLASSES)]
            .into_iter()
            .map(|(d_in, d_out)| {
                let mut linear = LinearConfig::new(d_in, d_out)
                    .with_initializer(xavier.clone())
                    .init(device);
                linear.bias = Some(torch_default_bias(d_out, d_in, device));
                linear
            })
            .collect();
        AlexNet {
            convs,
            linears,
            pool: MaxPool2dConfig::new([POOL_KERNEL, POOL_KERNEL])
                .with_strides([POOL_STRIDE, POOL_STRIDE])
                .init(),
            dropout: DropoutConfig::new(self.dropout).init(),
            compute: Compute::F32,
        }
    }
}

/// The value flowing between steps: a feature map before `Flatten`, a matrix after.
pub enum Activation {
    Map(Tensor<4>),
    Flat(Tensor<2>),
}

impl Activation {
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Activation::Map(x) => x.dims().to_vec(),
            Activation::Flat(x) => x.dims().to_vec(),
        }
    }
}

impl AlexNet {
    /// `[batch, 1, R, R]` images to `[batch, 10]` logits (f32 in either precision).
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = Activation::Map(images);
        for step in SEQUENCE {
            x = self.step(step, x);
        }
        match x {
            Activation::Flat(logits) => logits.cast(FloatDType::F32),
            Activation::Map(_) => unreachable!("SEQUENCE ends with a Linear layer"),
        }
    }

    /// The same network computing in `compute` (the weights are untouched and stay f32).
    pub fn with_compute(mut self, compute: Compute) -> Self {
        self.compute = compute;
        self
    }

    /// What the convolutions and matrix products compute in.
    pub fn compute(&self) -> Compute {
        self.compute
    }

    /// Applies one step of [`SEQUENCE`]. In bf16 a convolution or linear layer returns bf16.
    pub fn step(&self, step: Step, x: Activation) -> Activation {
        match (step, x) {
            (Step::Conv(index), Activation::Map(x)) => Activation::Map(self.conv(index, x)),
            (Step::MaxPool, Activation::Map(x)) => Activation::Map(self.pool.forward(x)),
            (Step::Flatten, Activation::Map(x)) => Activation::Flat(x.flatten(1, 3)),
            (Step::Linear(index), Activation::Flat(x)) => Activation::Flat(self.linear(index, x)),
            (Step::Relu, Activation::Map(x)) => Activation::Map(relu(x)),
            (Step::Relu, Activation::Flat(x)) => Activation::Flat(relu(x)),
            (Step::Dropout, Activation::Map(x)) => Activation::Map(self.dropout.forward(x)),
            (Step::Dropout, Activation::Flat(x)) => Activation::Flat(self.dropout.forward(x)),
            (step, _) => unreachable!("{step:?} received the wrong rank; SEQUENCE is fixed"),
        }
    }

    fn conv(&self, index: usize, x: Tensor<4>) -> Tensor<4> {
        let conv = &self.convs[index];
        match self.compute {
            Compute::F32 => conv.forward(x),
            Compute::Bf16 => {
                let spec = &CONVS[index];
                let bf16 = FloatDType::BF16;
                burn::tensor::module::conv2d(
                    x.cast(bf16),
                    conv.weight.val().cast(bf16),
                    conv.bias.as_ref().map(|bias| bias.val().cast(bf16)),
                    ConvOptions::new(
                        [spec.stride, spec.stride],
                        [spec.padding, spec.padding],
                        [1, 1],
                        1,
                    ),
                )
            }
        }
    }

    fn linear(&self, index: usize, x: Tensor<2>) -> Tensor<2> {
        let linear = &self.linears[index];
        match self.compute {
            Compute::F32 => linear.forward(x),
            Compute::Bf16 => {
                let bf16 = FloatDType::BF16;
                burn::tensor::module::linear(
                    x.cast(bf16),
                    linear.weight.val().cast(bf16),
                    linear.bias.as_ref().map(|bias| bias.val().cast(bf16)),
                )
            }
        }
    }

    /// Parameters of one step (0 for steps without weights).
    pub fn step_params(&self, step: Step) -> usize {
        match step {
            Step::Conv(index) => self.convs[index].num_params(),
            Step::Linear(index) => self.linears[index].num_params(),
            _ => 0,
        }
    }

    /// The first convolution's weights, `[96, 1, 11, 11]`, for drawing the learned filters.
    pub fn first_layer_filters(&self) -> Tensor<4> {
        self.convs[0].weight.val()
    }

    /// Weights and biases under the notebook's `nn.Sequential` names (`0.weight`, ... `20.bias`),
    /// with Linear weights transposed to PyTorch's `[out, in]` layout.
    pub fn torch_named_tensors(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        let mut out = Vec::new();
        for (index, step) in SEQUENCE.iter().enumerate() {
            let (weight, bias): (Tensor<4>, Option<Tensor<1>>) = match *step {
                Step::Conv(i) => (
                    self.convs[i].weight.val(),
                    self.convs[i].bias.as_ref().map(Param::val),
                ),
                Step::Linear(i) => (
                    self.linears[i].weight.val().transpose().unsqueeze::<4>(),
                    self.linears[i].bias.as_ref().map(Param::val),
                ),
                _ => continue,
            };
            let dims = match *step {
                Step::Linear(_) => weight.dims()[2..].to_vec(),
                _ => weight.dims().to_vec(),
            };
            out.push((format!("{index}.weight"), dims, to_vec(weight)));
            if let Some(bias) = bias {
                out.push((format!("{index}.bias"), bias.dims().to_vec(), to_vec(bias)));
            }
        }
        out
    }
}

fn to_vec<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.try_into_vec_as::<f32>().unwrap_or_default()
}

/// One row of the layer-by-layer table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerSummary {
    pub name: String,
    pub output_shape: Vec<usize>,
    pub params: usize,
}

/// Pushes a `[1, 1, R, R]` tensor through the real layers, one at a time, like the notebook's
/// `for layer in net: X = layer(X); print(...)` loop.
pub fn summarize(model: &AlexNet, resize: usize, device: &Device) -> Vec<LayerSummary> {
    let input = Tensor::<4>::zeros([1, 1, resize, resize], device);
    let mut x = Activation::Map(input);
    SEQUENCE
        .iter()
        .map(|&step| {
            x = model.step(
                step,
                std::mem::replace(&mut x, Activation::Flat(Tensor::zeros([1, 1], device))),
            );
            LayerSummary {
                name: step.name().to_string(),
                output_shape: x.dims(),
                params: model.step_params(step),
            }
        })
        .collect()
}

/// The table as the notebook prints it, plus parameter counts and totals.
pub fn format_summary(summary: &[LayerSummary]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<4} {:<10} {:<22} {:>12}\n",
        "#", "layer", "output shape", "params"
    ));
    for (index, row) in summary.iter().enumerate() {
        out.push_str(&format!(
            "{:<4} {:<10} {:<22} {:>12}\n",
            index,
            row.name,
            format_shape(&row.output_shape),
            group_thousands(row.params)
        ));
    }
    let total: usize = summary.iter().map(|row| row.params).sum();
    out.push_str(&format!(
        "{:<38}{:>12}\n",
        "total parameters",
        group_thousands(total)
    ));
    out.push_str(&format!(
        "{:<38}{:>12}\n",
        "size of the weights (f32)",
        crate::units::megabytes(total as u64 * 4)
    ));
    out
}

pub fn format_shape(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("[{}]", parts.join(", "))
}

pub fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
