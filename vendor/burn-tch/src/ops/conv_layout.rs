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
