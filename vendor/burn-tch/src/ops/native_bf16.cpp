// Not part of burn-tch 0.22.1: added by alexnet-tui (see VENDORED.md).
//
// Whether the current CUDA device computes bf16 natively, asked of libtorch's CUDA hooks, which
// need no CUDA headers here: a CPU-only libtorch answers false (the default hooks), a CUDA build
// answers from the device's properties (compute capability 8.0 or above in PyTorch's
// CUDAHooks.cpp). Not exercised on a GPU by alexnet-tui's authors (they had none).
#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>

extern "C" {

int burn_tch_cuda_bf16_supported() {
    try {
        if (!at::hasCUDA()) {
            return 0;
        }
        return at::detail::getCUDAHooks().supportsBFloat16ConvolutionWithCuDNNv8() ? 1 : 0;
    } catch (...) {
        return 0;
    }
}

}  // extern "C"
