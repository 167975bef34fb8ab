// Not part of burn-tch 0.22.1: added by alexnet-tui (see VENDORED.md).
//
// libtorch's own convolution backward, `at::convolution_backward`, which tch 0.22 does not bind
// (it has no binding for ops taking a `bool[3]`), so that burn's autodiff can use the same kernels
// as PyTorch's autograd instead of burn's generic conv_transpose / dilated-conv fallback.
#include <ATen/core/Tensor.h>
#include <ATen/ops/convolution_backward.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

extern "C" {

// One gradient of a non-transposed convolution: `which` is 0 for the input, 1 for the weight.
// Only that gradient is computed (output_mask). On success stores a new heap tensor in `*out`
// (freed by tch's `at_free`) and returns null; on failure returns an error message allocated with
// malloc. (The bias gradient is a plain sum over the output gradient, done on the Rust side.)
char *burn_tch_convolution_backward(at::Tensor **out, const at::Tensor *grad_output,
                                    const at::Tensor *input, const at::Tensor *weight,
                                    const int64_t *stride, const int64_t *padding,
                                    const int64_t *dilation, size_t spatial_dims, int64_t groups,
                                    int which) {
    try {
        if (which != 0 && which != 1) {
            return strdup("burn_tch_convolution_backward: `which` must be 0 or 1");
        }
        const std::array<bool, 3> mask = {which == 0, which == 1, false};
        const std::vector<int64_t> output_padding(spatial_dims, 0);
        auto grads = at::convolution_backward(
            *grad_output, *input, *weight, /*bias_sizes=*/std::nullopt,
            at::IntArrayRef(stride, spatial_dims),
            at::IntArrayRef(padding, spatial_dims), at::IntArrayRef(dilation, spatial_dims),
            /*transposed=*/false, output_padding, groups, mask);
        at::Tensor grad = which == 0 ? std::move(std::get<0>(grads)) : std::move(std::get<1>(grads));
        *out = new at::Tensor(std::move(grad));
        return nullptr;
    } catch (const std::exception &e) {
        return strdup(e.what());
    } catch (...) {
        return strdup("burn_tch_convolution_backward: unknown C++ exception");
    }
}

}  // extern "C"
