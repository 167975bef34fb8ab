//! Not part of burn-tch 0.22.1: added by alexnet-tui (see VENDORED.md).
//!
//! The memory layout 2-D convolutions run in on the CPU. libtorch's CPU convolutions (oneDNN) are
//! faster on channels-last tensors (NHWC in memory, NCHW in shape) than on the default
//! contiguous NCHW: with channels-last inputs and weights, the convolution writes a channels-last
//! output, ReLU and max-pooling keep it, and the gradients flowing back keep it too, so the
//! reorders happen once per layer boundary instead of inside every kernel call. Weight gradients
//! are handed back contiguous (NCHW), like the weights themselves. A process-wide switch selects
//! the layout, so that both can be compared in one process.

use std::sync::atomic::{AtomicBool, Ordering};

static CHANNELS_LAST: AtomicBool = AtomicBool::new(true);

/// The layout 2-D convolutions use on the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvLayout {
    /// Contiguous NCHW, as upstream burn-tch 0.22.1 (and PyTorch by default) runs them.
    Contiguous,
    /// Channels-last (NHWC in memory); the default.
    ChannelsLast,
}

/// Selects the layout of CPU convolutions for the whole process.
pub fn set_conv_layout(layout: ConvLayout) {
    CHANNELS_LAST.store(layout == ConvLayout::ChannelsLast, Ordering::Relaxed);
}

/// The layout currently selected.
pub fn conv_layout() -> ConvLayout {
    if CHANNELS_LAST.load(Ordering::Relaxed) {
        ConvLayout::ChannelsLast
    } else {
        ConvLayout::Contiguous
    }
}

/// Whether a convolution over `x` runs channels-last: selected, a 4-D tensor with more than one
/// channel (with one, both layouts are the same memory, and libtorch runs it contiguous), on the
/// CPU.
pub(crate) fn use_channels_last(x: &tch::Tensor) -> bool {
    conv_layout() == ConvLayout::ChannelsLast
        && x.dim() == 4
        && x.size()[1] > 1
        && x.device() == tch::Device::Cpu
}

pub(crate) fn is_channels_last(t: &tch::Tensor) -> bool {
    let size = t.size();
    let stride = t.stride();
    let [_, c, h, w] = size[..] else {
        return false;
    };
    stride[1] == 1 && stride[3] == c && stride[2] == c * w && stride[0] == c * h * w
}

/// `t` (4-D) with a channels-last memory layout: the same tensor if it has one already, else a
/// copy.
pub(crate) fn channels_last(t: &tch::Tensor) -> tch::Tensor {
    if is_channels_last(t) {
        t.shallow_clone()
    } else {
        t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
    }
}

/// Whether `conv2d(x, weight)` runs as a matrix product over the input's patches (see
/// [`single_channel_conv2d`]): channels-last selected, a 4-D CPU input with one channel, no groups.
pub(crate) fn use_patch_product(x: &tch::Tensor, groups: usize) -> bool {
    conv_layout() == ConvLayout::ChannelsLast
        && x.dim() == 4
        && x.size()[1] == 1
        && groups == 1
        && x.device() == tch::Device::Cpu
}

/// The patches a convolution with a `[_, 1, kh, kw]` weight sees in `x` (`[n, 1, h, w]`), one row
/// of `kh * kw` values per output position, in (n, oh, ow) order: `[n * oh * ow, kh * kw]`.
/// Returns the patches and the output's spatial size.
fn patches(
    x: &tch::Tensor,
    kernel: [i64; 2],
    stride: [i64; 2],
    padding: [i64; 2],
    dilation: [i64; 2],
) -> (tch::Tensor, [i64; 2]) {
    let x = if padding == [0, 0] {
        x.contiguous()
    } else {
        x.constant_pad_nd([padding[1], padding[1], padding[0], padding[0]])
    };
    let size = x.size();
    let (n, h, w) = (size[0], size[2], size[3]);
    let out = [0, 1].map(|d| (size[2 + d] - dilation[d] * (kernel[d] - 1) - 1) / stride[d] + 1);
    // A view of every patch (no copy), then one copy into rows.
    let view = x.as_strided(
        [n, out[0], out[1], kernel[0], kernel[1]],
        [h * w, stride[0] * w, stride[1], dilation[0] * w, dilation[1]],
        None,
    );
    (view.reshape([n * out[0] * out[1], kernel[0] * kernel[1]]), out)
}

/// `conv2d` of a one-channel input as a matrix product: the patches (`[n * oh * ow, kh * kw]`)
/// times the weight (`[kh * kw, c_out]`), which is the output in channels-last order, returned as
/// such (NCHW shape, NHWC memory). libtorch's own kernel (oneDNN) is slow for one input channel:
/// at AlexNet's first layer (11x11, stride 4) its weight gradient took about 4 times as long as
/// this product, and the contiguous output it writes makes the ReLU and max-pooling after it
/// several times slower than on channels-last memory.
pub(crate) fn single_channel_conv2d(
    x: &tch::Tensor,
    weight: &tch::Tensor,
    bias: Option<&tch::Tensor>,
    stride: [i64; 2],
    padding: [i64; 2],
    dilation: [i64; 2],
) -> tch::Tensor {
    let wsize = weight.size();
    let (c_out, kernel) = (wsize[0], [wsize[2], wsize[3]]);
    let (rows, out) = patches(x, kernel, stride, padding, dilation);
    let weight = weight.reshape([c_out, kernel[0] * kernel[1]]).tr();
    let product = match bias {
        Some(bias) => bias.addmm(&rows, &weight),
        None => rows.mm(&weight),
    };
    product
        .view([x.size()[0], out[0], out[1], c_out])
        .permute([0, 3, 1, 2])
}

/// The weight gradient of [`single_channel_conv2d`]: the output gradient (`[n * oh * ow, c_out]`
/// when channels-last) transposed, times the patches. Contiguous, in the weight's shape.
#[cfg_attr(not(burn_tch_conv_backward), allow(dead_code))]
pub(crate) fn single_channel_weight_grad(
    x: &tch::Tensor,
    weight_size: &[i64],
    output_grad: &tch::Tensor,
    stride: [i64; 2],
    padding: [i64; 2],
    dilation: [i64; 2],
) -> tch::Tensor {
    let (c_out, kernel) = (weight_size[0], [weight_size[2], weight_size[3]]);
    let (rows, out) = patches(x, kernel, stride, padding, dilation);
    let grad = channels_last(output_grad)
        .permute([0, 2, 3, 1])
        .reshape([x.size()[0] * out[0] * out[1], c_out]);
    grad.tr().mm(&rows).reshape(weight_size)
}

/// Whether the weight gradient of `conv2d(x, weight)` runs as one matrix product per kernel tap
/// (see [`tap_weight_grad`]): channels-last selected, a 4-D CPU input with at least 128 channels,
/// stride 1, no dilation, no groups. These are AlexNet's third to fifth convolutions (3x3, on 3x3
/// maps at 67x67 and 13x13 at 224), where oneDNN's weight gradient runs at about 45 GFLOP/s
/// against about 90 for the products. With fewer channels the products are too thin: at the
/// second convolution (96 channels, 5x5) they were no faster at 67x67 and twice as slow at 224.
pub(crate) fn use_tap_products(
    x: &tch::Tensor,
    stride: [i64; 2],
    dilation: [i64; 2],
    groups: usize,
) -> bool {
    conv_layout() == ConvLayout::ChannelsLast
        && x.dim() == 4
        && x.size()[1] >= 128
        && stride == [1, 1]
        && dilation == [1, 1]
        && groups == 1
        && x.device() == tch::Device::Cpu
}

/// The weight gradient of a stride-1 convolution with symmetric `padding`, one matrix product per
/// kernel tap: tap (i, j) of the weight meets the input shifted by (i, j) wherever the output
/// position's shifted input lies inside the unpadded input, so its gradient is that window of the
/// input (`[positions, c_in]`, channels-last rows) transposed, times the same window of the output
/// gradient (`[positions, c_out]`). Positions in the padding, which contribute nothing, are never
/// multiplied (on a 3x3 map with a 3x3 kernel, 49 of the 81 tap-position pairs remain).
/// Contiguous, in the weight's shape.
#[cfg_attr(not(burn_tch_conv_backward), allow(dead_code))]
pub(crate) fn tap_weight_grad(
    x: &tch::Tensor,
    weight_size: &[i64],
    output_grad: &tch::Tensor,
    padding: [i64; 2],
) -> tch::Tensor {
    let [c_out, c_in, kh, kw] = weight_size[..] else {
        panic!("a 2-D convolution's weight has 4 dimensions, got {weight_size:?}");
    };
    // NHWC views (no copy when the tensors already are channels-last).
    let x = channels_last(x).permute([0, 2, 3, 1]);
    let output_grad = channels_last(output_grad).permute([0, 2, 3, 1]);
    let (input, output) = (x.size(), output_grad.size());
    // The output rows (or columns) whose input, shifted by tap k, is inside the input.
    let valid = |k: i64, d: usize| {
        let begin = (padding[d] - k).max(0);
        let end = output[1 + d].min(input[1 + d] + padding[d] - k);
        (begin, (end - begin).max(0))
    };
    let grad = tch::Tensor::empty([kh, kw, c_in, c_out], (x.kind(), x.device()));
    for i in 0..kh {
        let (row, rows) = valid(i, 0);
        for j in 0..kw {
            let (column, columns) = valid(j, 1);
            let mut tap = grad.get(i).get(j);
            if rows == 0 || columns == 0 {
                let _ = tap.zero_();
                continue;
            }
            let window = |t: &tch::Tensor, first_row: i64, first_column: i64, channels: i64| {
                t.narrow(1, first_row, rows)
                    .narrow(2, first_column, columns)
                    .reshape([-1, channels])
            };
            let inputs = window(&x, row + i - padding[0], column + j - padding[1], c_in);
            let grads = window(&output_grad, row, column, c_out);
            let _ = inputs.tr().mm_out(&tap, &grads);
        }
    }
    grad.permute([3, 2, 0, 1]).contiguous()
}
