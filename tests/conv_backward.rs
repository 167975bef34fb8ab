//! The conv2d gradients from libtorch's own `convolution_backward` (the vendored burn-tch's
//! default) equal those of burn's generic fallback, through burn's autodiff, for the five
//! convolutions of AlexNet and for the padding, stride, dilation and group cases the override
//! also handles; and the switch really routes the backward (libtorch's path is counted). The same
//! holds with the CPU convolutions in the channels-last layout (the default) and contiguous.

#![allow(deprecated)] // the vendored burn-tch's switches: the crate is deprecated upstream.

use std::sync::{Mutex, MutexGuard};

use alexnet_tui::model::CONVS;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use burn_tch::{
    ConvBackward, ConvLayout, libtorch_conv_backward_calls, set_conv_backward, set_conv_layout,
};

/// The switch is process-wide: tests that flip it take turns.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Deterministic values in [-1, 1).
fn values(count: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

struct Case {
    name: String,
    x: [usize; 4],
    weight: [usize; 4],
    options: ConvOptions<2>,
}

struct Grads {
    output: Vec<f32>,
    x: Vec<f32>,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

fn tensor(dims: [usize; 4], seed: u64, device: &Device) -> Tensor<4> {
    let count = dims.iter().product();
    Tensor::from_data(TensorData::new(values(count, seed), dims), device)
}

fn to_vec<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.try_into_vec_as::<f32>().expect("f32 gradient")
}

/// The output and the gradients of `sum(conv2d(x, w, b) * r)` for a fixed, non-uniform `r`, with
/// the given backward and layout.
fn gradients(case: &Case, mode: ConvBackward, layout: ConvLayout) -> Grads {
    assert!(set_conv_backward(mode), "{mode:?} is not available");
    set_conv_layout(layout);
    let device = alexnet_tui::train::runtime::cpu().autodiff();
    let x = tensor(case.x, 1, &device).require_grad();
    let weight = tensor(case.weight, 2, &device).require_grad();
    let bias = Tensor::<1>::from_data(
        TensorData::new(values(case.weight[0], 3), [case.weight[0]]),
        &device,
    )
    .require_grad();
    let output = conv2d(
        x.clone(),
        weight.clone(),
        Some(bias.clone()),
        case.options.clone(),
    );
    let r = tensor(output.dims(), 4, &device);
    let values = to_vec(output.clone());
    let grads = (output * r).sum().backward();
    let grad = |t: Option<Tensor<4>>| to_vec(t.expect("a gradient"));
    Grads {
        output: values,
        x: grad(x.grad(&grads)),
        weight: grad(weight.grad(&grads)),
        bias: to_vec(bias.grad(&grads).expect("a bias gradient")),
    }
}

/// Largest difference relative to the largest magnitude of the reference.
fn relative_difference(ours: &[f32], reference: &[f32]) -> f32 {
    assert_eq!(ours.len(), reference.len());
    let scale = reference.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    let worst = ours
        .iter()
        .zip(reference)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    worst / scale
}

fn check(cases: &[Case]) {
    let _turn = serial();
    for case in cases {
        let before = libtorch_conv_backward_calls();
        let generic = gradients(case, ConvBackward::Generic, ConvLayout::Contiguous);
        assert_eq!(
            libtorch_conv_backward_calls(),
            before,
            "{}: the generic mode used libtorch's backward",
            case.name
        );
        for layout in [ConvLayout::Contiguous, ConvLayout::ChannelsLast] {
            let before = libtorch_conv_backward_calls();
            let libtorch = gradients(case, ConvBackward::Libtorch, layout);
            assert_eq!(
                libtorch_conv_backward_calls(),
                before + 3,
                "{} ({layout:?}): libtorch's backward did not compute the three gradients",
                case.name
            );
            for (what, ours, reference) in [
                ("output", &libtorch.output, &generic.output),
                ("x", &libtorch.x, &generic.x),
                ("weight", &libtorch.weight, &generic.weight),
                ("bias", &libtorch.bias, &generic.bias),
            ] {
                let difference = relative_difference(ours, reference);
                assert!(
                    difference < 1e-5,
                    "{} ({layout:?}): {what} differs by {difference:e} (relative to the largest)",
                    case.name
                );
                assert!(
                    reference.iter().any(|v| *v != 0.0),
                    "{}: {what} is all zeros, nothing was compared",
                    case.name
                );
            }
        }
    }
    set_conv_backward(ConvBackward::Libtorch);
    set_conv_layout(ConvLayout::ChannelsLast);
}

#[test]
fn libtorch_gradients_equal_generic_ones_for_alexnets_five_convolutions() {
    // Batch 2; 27x27 for the 11x11 stride-4 layer (its last 2 columns and rows are dropped, as at
    // 67 and 224), small maps for the others.
    let cases: Vec<Case> = CONVS
        .iter()
        .enumerate()
        .map(|(index, spec)| {
            let side = if index == 0 { 27 } else { 7 };
            Case {
                name: format!("conv {}", index + 1),
                x: [2, spec.channels_in, side, side],
                weight: [
                    spec.channels_out,
                    spec.channels_in,
                    spec.kernel,
                    spec.kernel,
                ],
                options: ConvOptions::new(
                    [spec.stride, spec.stride],
                    [spec.padding, spec.padding],
                    [1, 1],
                    1,
                ),
            }
        })
        .collect();
    check(&cases);
}

#[test]
fn libtorch_gradients_equal_generic_ones_with_asymmetric_padding_dilation_and_groups() {
    let cases = [
        Case {
            name: "asymmetric padding, stride 2".into(),
            x: [3, 4, 10, 9],
            weight: [6, 4, 3, 2],
            options: ConvOptions::new_with_padding([2, 1], [(1, 2), (0, 1)], [1, 1], 1),
        },
        Case {
            name: "dilation 2, groups 2, stride 3".into(),
            x: [2, 4, 13, 12],
            weight: [6, 2, 3, 3],
            options: ConvOptions::new([3, 3], [2, 1], [2, 2], 2),
        },
        // One input channel: in the channels-last layout a matrix product over the patches.
        Case {
            name: "one channel, asymmetric padding, dilation 2".into(),
            x: [3, 1, 15, 14],
            weight: [5, 1, 4, 3],
            options: ConvOptions::new_with_padding([2, 3], [(2, 0), (1, 2)], [2, 2], 1),
        },
        Case {
            name: "one channel, no padding, stride 1".into(),
            x: [2, 1, 6, 7],
            weight: [4, 1, 3, 3],
            options: ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
        },
    ];
    check(&cases);
}

#[test]
fn libtorch_gradients_equal_generic_ones_where_weight_gradients_are_products_per_tap() {
    // 128 or more input channels, stride 1: in the channels-last layout the weight gradient is
    // one matrix product per kernel tap over the positions outside the padding.
    let cases = [
        Case {
            name: "AlexNet's 3x3 on a 3x3 map".into(),
            x: [3, 128, 3, 3],
            weight: [5, 128, 3, 3],
            options: ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        },
        Case {
            name: "a 1x1 map: only the centre tap meets the input".into(),
            x: [2, 130, 1, 1],
            weight: [4, 130, 3, 3],
            options: ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        },
        Case {
            name: "5x4 kernel, asymmetric padding, a non-square map".into(),
            x: [2, 128, 4, 6],
            weight: [3, 128, 5, 4],
            options: ConvOptions::new_with_padding([1, 1], [(2, 1), (0, 3)], [1, 1], 1),
        },
        Case {
            name: "no padding".into(),
            x: [2, 129, 5, 4],
            weight: [6, 129, 2, 3],
            options: ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
        },
    ];
    check(&cases);
}
