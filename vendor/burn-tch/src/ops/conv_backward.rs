//! Not part of burn-tch 0.22.1: added by alexnet-tui (see VENDORED.md).
//!
//! The backward pass of `conv2d` through libtorch's own `at::convolution_backward` (the kernels
//! PyTorch's autograd uses), computing only the gradient asked for, instead of burn's generic
//! fallback (a `conv_transpose2d` for the input, a dilated `conv2d` over swapped batch and channel
//! dimensions for the weight, a reshape and sum for the bias). A process-wide switch selects
//! either path, so that both can be compared in one process.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use burn_backend::ops::ConvOptions;

use crate::{LibTorch, TchTensor};

/// Which implementation computes the gradients of `conv2d` in burn's autodiff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvBackward {
    /// burn's generic fallback, as upstream burn-tch 0.22.1 uses it.
    Generic,
    /// libtorch's `convolution_backward`; the default when it was compiled in.
    Libtorch,
}

const GENERIC: u8 = 0;
const LIBTORCH: u8 = 1;

static MODE: AtomicU8 = AtomicU8::new(if cfg!(burn_tch_conv_backward) {
    LIBTORCH
} else {
    GENERIC
});
static LIBTORCH_CALLS: AtomicU64 = AtomicU64::new(0);

/// Whether libtorch's convolution backward was compiled in (it needs libtorch's C++ headers,
/// which the build finds whenever it finds libtorch).
pub fn libtorch_conv_backward_available() -> bool {
    cfg!(burn_tch_conv_backward)
}

/// Selects the implementation of the `conv2d` backward for the whole process. Returns false, and
/// changes nothing, when [`ConvBackward::Libtorch`] is asked for but was not compiled in.
pub fn set_conv_backward(mode: ConvBackward) -> bool {
    let value = match mode {
        ConvBackward::Generic => GENERIC,
        ConvBackward::Libtorch if libtorch_conv_backward_available() => LIBTORCH,
        ConvBackward::Libtorch => return false,
    };
    MODE.store(value, Ordering::Relaxed);
    true
}

/// The implementation currently selected.
pub fn conv_backward() -> ConvBackward {
    match MODE.load(Ordering::Relaxed) {
        LIBTORCH => ConvBackward::Libtorch,
        _ => ConvBackward::Generic,
    }
}

/// How many gradients the libtorch path has computed in this process (through libtorch's
/// convolution backward, or for one-channel inputs in the channels-last layout through the matrix
/// product of conv_layout.rs): lets a test check that the switch really routes the backward.
pub fn libtorch_conv_backward_calls() -> u64 {
    LIBTORCH_CALLS.load(Ordering::Relaxed)
}

pub(crate) fn conv2d_x_backward(
    x: TchTensor,
    weight: TchTensor,
    output_grad: TchTensor,
    options: ConvOptions<2>,
) -> TchTensor {
    match conv_backward() {
        ConvBackward::Libtorch => libtorch::backward(Grad::Input, x, weight, output_grad, options),
        ConvBackward::Generic => {
            generic::conv2d_x_backward::<LibTorch>(x, weight, output_grad, options)
        }
    }
}

pub(crate) fn conv2d_weight_backward(
    x: TchTensor,
    weight: TchTensor,
    output_grad: TchTensor,
    options: ConvOptions<2>,
) -> TchTensor {
    match conv_backward() {
        ConvBackward::Libtorch => libtorch::backward(Grad::Weight, x, weight, output_grad, options),
        ConvBackward::Generic => {
            generic::conv2d_weight_backward::<LibTorch>(x, weight, output_grad, options)
        }
    }
}

pub(crate) fn conv2d_bias_backward(
    x: TchTensor,
    bias: TchTensor,
    output_grad: TchTensor,
) -> TchTensor {
    match conv_backward() {
        // What `convolution_backward` itself computes for backends that have no bias kernel:
        // `grad_output.sum([0, 2, 3])`. Asking it for the bias alone would not be cheaper: its
        // oneDNN (mkldnn) kernel derives the bias gradient from a full weight-gradient pass.
        ConvBackward::Libtorch => {
            LIBTORCH_CALLS.fetch_add(1, Ordering::Relaxed);
            let grad = output_grad.tensor.sum_dim_intlist(
                [0i64, 2, 3].as_slice(),
                false,
                None::<tch::Kind>,
            );
            TchTensor::new(grad.reshape(bias.tensor.size()))
        }
        ConvBackward::Generic => generic::conv2d_bias_backward::<LibTorch>(x, bias, output_grad),
    }
}

/// The gradient to compute; the discriminant is the index in libtorch's `output_mask`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(burn_tch_conv_backward), allow(dead_code))]
pub(crate) enum Grad {
    Input = 0,
    Weight = 1,
}

#[cfg(burn_tch_conv_backward)]
mod libtorch {
    use super::{Grad, LIBTORCH_CALLS};
    use crate::{LibTorch, TchTensor};
    use burn_backend::ops::ConvOptions;
    use burn_backend::ops::conv::pad_asymmetric_conv_input;
    use burn_backend::{Slice, TensorMetadata};
    use std::ffi::{CStr, c_char, c_int};
    use std::sync::atomic::Ordering;
    use torch_sys::C_tensor;

    unsafe extern "C" {
        fn burn_tch_convolution_backward(
            out: *mut *mut C_tensor,
            grad_output: *const C_tensor,
            input: *const C_tensor,
            weight: *const C_tensor,
            stride: *const i64,
            padding: *const i64,
            dilation: *const i64,
            spatial_dims: usize,
            groups: i64,
            which: c_int,
        ) -> *mut c_char;
    }

    /// One gradient of `conv2d(x, weight, bias, options)` given the gradient of its output.
    pub(super) fn backward(
        which: Grad,
        x: TchTensor,
        weight: TchTensor,
        output_grad: TchTensor,
        options: ConvOptions<2>,
    ) -> TchTensor {
        // Asymmetric padding: the forward pads the input explicitly (burn-tch's conv2d does the
        // same), so differentiate with respect to the padded input and crop its gradient.
        let input_shape = x.shape();
        let padding = options.padding;
        let asymmetric = options.is_asymmetric();
        let (x, options) = pad_asymmetric_conv_input::<LibTorch, 2>(x, options);
        let to_i64 = |values: [usize; 2]| values.map(|v| v as i64);
        let stride = to_i64(options.stride);
        let pad = to_i64(options.padding_begin());
        let dilation = to_i64(options.dilation);
        if which == Grad::Weight
            && crate::ops::conv_layout::use_patch_product(&x.tensor, options.groups)
        {
            // The forward was a product over the input's patches (conv_layout.rs).
            LIBTORCH_CALLS.fetch_add(1, Ordering::Relaxed);
            return TchTensor::new(crate::ops::conv_layout::single_channel_weight_grad(
                &x.tensor,
                &weight.tensor.size(),
                &output_grad.tensor,
                stride,
                pad,
                dilation,
            ));
        }
        if which == Grad::Weight
            && crate::ops::conv_layout::use_tap_products(
                &x.tensor,
                stride,
                dilation,
                options.groups,
            )
        {
            // Faster than oneDNN's weight gradient for AlexNet's 3x3 convolutions (conv_layout.rs).
            LIBTORCH_CALLS.fetch_add(1, Ordering::Relaxed);
            return TchTensor::new(crate::ops::conv_layout::tap_weight_grad(
                &x.tensor,
                &weight.tensor.size(),
                &output_grad.tensor,
                pad,
            ));
        }
        // The layout the forward ran in (conv_layout.rs): the same for the backward.
        let channels_last = crate::ops::conv_layout::use_channels_last(&x.tensor);
        let layout = |t: &tch::Tensor| {
            if channels_last {
                crate::ops::conv_layout::channels_last(t)
            } else {
                t.shallow_clone()
            }
        };
        let (output_grad, x_in, weight_in) = (
            layout(&output_grad.tensor),
            layout(&x.tensor),
            layout(&weight.tensor),
        );
        let mut out: *mut C_tensor = std::ptr::null_mut();
        // SAFETY: the tensor pointers come from live tch tensors that outlive the call; the shim
        // only reads them, catches every C++ exception, and on success hands over a new tensor
        // allocated with `new`, which `tch::Tensor`'s drop frees with `delete`.
        let error = unsafe {
            burn_tch_convolution_backward(
                &mut out,
                output_grad.as_ptr(),
                x_in.as_ptr(),
                weight_in.as_ptr(),
                stride.as_ptr(),
                pad.as_ptr(),
                dilation.as_ptr(),
                2,
                options.groups as i64,
                which as c_int,
            )
        };
        if !error.is_null() {
            // SAFETY: a NUL-terminated string from strdup, freed here once copied.
            let message = unsafe { CStr::from_ptr(error) }
                .to_string_lossy()
                .into_owned();
            unsafe { libc::free(error.cast()) };
            panic!("libtorch convolution_backward failed: {message}");
        }
        LIBTORCH_CALLS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `out` is the tensor the shim allocated for us.
        let grad = unsafe { tch::Tensor::from_ptr(out) };
        // Weight gradients in the weights' own (contiguous) layout, for the optimizer.
        // Input gradients in the input's layout: the layers before a convolution whose input
        // was contiguous (max-pooling, ReLU) then differentiate in one layout.
        let back_to_contiguous = match which {
            Grad::Weight => true,
            Grad::Input => !crate::ops::conv_layout::is_channels_last(&x.tensor),
        };
        let grad = TchTensor::new(if channels_last && back_to_contiguous {
            grad.contiguous()
        } else {
            grad
        });
        if which == Grad::Input && asymmetric {
            let ranges: Vec<Slice> = input_shape
                .iter()
                .enumerate()
                .map(|(dim, &size)| match dim {
                    0 | 1 => Slice::from(0..size),
                    _ => {
                        let begin = padding[dim - 2].0;
                        Slice::from(begin..begin + size)
                    }
                })
                .collect();
            return <LibTorch as burn_backend::ops::FloatTensorOps<LibTorch>>::float_slice(
                grad, &ranges,
            );
        }
        grad
    }
}

#[cfg(not(burn_tch_conv_backward))]
mod libtorch {
    use super::Grad;
    use crate::TchTensor;
    use burn_backend::ops::ConvOptions;

    pub(super) fn backward(
        _which: Grad,
        _x: TchTensor,
        _weight: TchTensor,
        _output_grad: TchTensor,
        _options: ConvOptions<2>,
    ) -> TchTensor {
        unreachable!("set_conv_backward refuses Libtorch when it was not compiled in")
    }
}

/// burn's generic fallback for the `conv2d` backward, copied unchanged from burn-backend 0.22.1
/// (`src/backend/ops/modules/conv.rs`, where these functions are `pub(crate)`, so an override
/// cannot call them), for [`ConvBackward::Generic`].
mod generic {
    use burn_backend::ops::conv::calculate_padding_out;
    use burn_backend::ops::{ConvOptions, ConvTransposeOptions};
    use burn_backend::tensor::FloatTensor;
    use burn_backend::{Backend, Shape, Slice, TensorMetadata};

    fn pad_asymmetric_conv_input<B: Backend, const N: usize>(
        x: FloatTensor<B>,
        options: ConvOptions<N>,
    ) -> (FloatTensor<B>, ConvOptions<N>) {
        burn_backend::ops::conv::pad_asymmetric_conv_input::<B, N>(x, options)
    }

    fn crop_asymmetric_input_grad<B: Backend, const N: usize>(
        grad: FloatTensor<B>,
        input_shape: &Shape,
        padding: &[(usize, usize); N],
    ) -> FloatTensor<B> {
        let mut ranges = input_shape
            .iter()
            .map(|&size| Slice::from(0..size))
            .collect::<Vec<_>>();
        for (dim, (begin, _)) in padding.iter().enumerate() {
            ranges[dim + 2] = Slice::from(*begin..*begin + input_shape[dim + 2]);
        }
        B::float_slice(grad, &ranges)
    }

    pub(super) fn conv2d_x_backward<B: Backend>(
        x: FloatTensor<B>,
        weight: FloatTensor<B>,
        output_grad: FloatTensor<B>,
        options: ConvOptions<2>,
    ) -> FloatTensor<B> {
        if options.is_asymmetric() {
            let input_shape = x.shape();
            let padding = options.padding;
            let (x, options) = pad_asymmetric_conv_input::<B, 2>(x, options);
            let grad = conv2d_x_backward_symmetric::<B>(x, weight, output_grad, options);
            return crop_asymmetric_input_grad::<B, 2>(grad, &input_shape, &padding);
        }

        conv2d_x_backward_symmetric::<B>(x, weight, output_grad, options)
    }

    fn conv2d_x_backward_symmetric<B: Backend>(
        x: FloatTensor<B>,
        weight: FloatTensor<B>,
        output_grad: FloatTensor<B>,
        options: ConvOptions<2>,
    ) -> FloatTensor<B> {
        let weight_shape = weight.shape();

        let [_batch_size, _channels_in, height_in, width_in] = x.shape().dims();
        let [_, _, height_out, width_out] = output_grad.shape().dims();
        let [_channels_out, _, kernel_size_1, kernel_size_2] = weight_shape.dims();

        let padding_1_out = calculate_padding_out(
            kernel_size_1,
            options.stride[0],
            options.padding_begin()[0],
            options.dilation[0],
            height_in,
            height_out,
        );
        let padding_2_out = calculate_padding_out(
            kernel_size_2,
            options.stride[1],
            options.padding_begin()[1],
            options.dilation[1],
            width_in,
            width_out,
        );

        B::conv_transpose2d(
            output_grad,
            weight,
            None,
            ConvTransposeOptions::new(
                options.stride,
                options.padding_begin(),
                [padding_1_out, padding_2_out],
                options.dilation,
                options.groups,
            ),
        )
    }

    pub(super) fn conv2d_weight_backward<B: Backend>(
        x: FloatTensor<B>,
        weight: FloatTensor<B>,
        output_grad: FloatTensor<B>,
        options: ConvOptions<2>,
    ) -> FloatTensor<B> {
        if options.is_asymmetric() {
            let (x, options) = pad_asymmetric_conv_input::<B, 2>(x, options);
            return conv2d_weight_backward_symmetric::<B>(x, weight, output_grad, options);
        }

        conv2d_weight_backward_symmetric::<B>(x, weight, output_grad, options)
    }

    fn conv2d_weight_backward_symmetric<B: Backend>(
        x: FloatTensor<B>,
        weight: FloatTensor<B>,
        output_grad: FloatTensor<B>,
        options: ConvOptions<2>,
    ) -> FloatTensor<B> {
        let weight_dtype = weight.dtype();
        let weight_shape = weight.shape();
        let weight_device = weight.device();

        match options.groups == 1 {
            true => conv2d_weight_grad_no_groups::<B>(x, output_grad, weight_shape, options),
            false => conv2d_weight_grad_groups::<B>(
                x,
                B::float_zeros(weight_shape, &weight_device, weight_dtype.into()),
                output_grad,
                options,
            ),
        }
    }

    pub(super) fn conv2d_bias_backward<B: Backend>(
        x: FloatTensor<B>,
        bias: FloatTensor<B>,
        output_grad: FloatTensor<B>,
    ) -> FloatTensor<B> {
        let [batch_size, _, _, _] = x.shape().dims();
        let [_, channels_out, height_out, width_out] = output_grad.shape().dims();

        let grad = B::float_swap_dims(output_grad, 0, 1);
        let grad = B::float_reshape(
            grad,
            Shape::new([channels_out, batch_size * height_out * width_out]),
        );
        let grad = B::float_sum_dim(grad, 1);

        B::float_reshape(grad, bias.shape())
    }

    fn conv2d_weight_grad_no_groups<B: Backend>(
        x: FloatTensor<B>,
        output_grad: FloatTensor<B>,
        weight_shape: Shape,
        options: ConvOptions<2>,
    ) -> FloatTensor<B> {
        let x_swapped = B::float_swap_dims(x, 0, 1);
        let output_grad_swapped = B::float_swap_dims(output_grad, 0, 1);
        let weight_grad_swapped = B::conv2d(
            x_swapped,
            output_grad_swapped,
            None,
            ConvOptions::new(options.dilation, options.padding_begin(), options.stride, 1),
        );
        let mut weight_grad = B::float_swap_dims(weight_grad_swapped, 0, 1);

        if weight_grad.shape() != weight_shape {
            let slices = vec![
                Slice::from(0..weight_shape[0]),
                Slice::from(0..weight_shape[1]),
                Slice::from(0..weight_shape[2]),
                Slice::from(0..weight_shape[3]),
            ];
            weight_grad = B::float_slice(weight_grad, &slices);
        }
        weight_grad
    }

    fn conv2d_weight_grad_groups<B: Backend>(
        x: FloatTensor<B>,
        mut weight_grad: FloatTensor<B>,
        output_grad: FloatTensor<B>,
        options: ConvOptions<2>,
    ) -> FloatTensor<B> {
        let [channels_out, increment_ci, kernel_size_1, kernel_size_2] = weight_grad.shape().dims();
        let increment_co = channels_out / options.groups;

        let x_swapped = B::float_swap_dims(x, 0, 1);
        let output_grad_swapped = B::float_swap_dims(output_grad, 0, 1);

        for g in 0..options.groups {
            let start_idx_ci = g * increment_ci;
            let end_idx_ci = (g + 1) * increment_ci;
            let start_idx_co = g * increment_co;
            let end_idx_co = (g + 1) * increment_co;

            let x_slice = vec![Slice::new(
                start_idx_ci as isize,
                Some(end_idx_ci as isize),
                1,
            )];
            let x = B::float_slice(x_swapped.clone(), &x_slice);
            let grad_slice = vec![Slice::new(
                start_idx_co as isize,
                Some(end_idx_co as isize),
                1,
            )];
            let grad = B::float_slice(output_grad_swapped.clone(), &grad_slice);
            let mut weight_grad_tmp = B::conv2d(
                x,
                grad,
                None,
                ConvOptions::new(options.dilation, options.padding_begin(), options.stride, 1),
            );
            weight_grad_tmp = B::float_swap_dims(weight_grad_tmp, 0, 1);
            let [_, _, kernel_size_1_tmp, kernel_size_2_tmp] = weight_grad_tmp.shape().dims();

            if kernel_size_1_tmp != kernel_size_1 || kernel_size_2_tmp != kernel_size_2 {
                let slices = vec![
                    Slice::from(0..increment_co),
                    Slice::from(0..increment_ci),
                    Slice::from(0..kernel_size_1),
                    Slice::from(0..kernel_size_2),
                ];
                weight_grad_tmp = B::float_slice(weight_grad_tmp, &slices);
            }

            weight_grad = B::float_slice_assign(
                weight_grad,
                &[
                    Slice::from(start_idx_co..end_idx_co),
                    Slice::from(0..increment_ci),
                    Slice::from(0..kernel_size_1),
                    Slice::from(0..kernel_size_2),
                ],
                weight_grad_tmp,
            );
        }

        weight_grad
    }
}
