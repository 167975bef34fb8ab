//! Not part of burn-tch 0.22.1: added by alexnet-tui (see VENDORED.md).
//!
//! Whether the current CUDA device computes bf16 natively (compute capability 8.0 or above),
//! through libtorch's CUDA hooks (`native_bf16.cpp`); tch 0.22 exposes no device properties.

#[cfg(burn_tch_conv_backward)]
unsafe extern "C" {
    fn burn_tch_cuda_bf16_supported() -> std::ffi::c_int;
}

/// True when libtorch has CUDA and its current device has compute capability 8.0 or above. False
/// without CUDA, and in builds that found no libtorch headers (nothing C++ is compiled there).
pub fn cuda_bf16_supported() -> bool {
    #[cfg(burn_tch_conv_backward)]
    {
        // SAFETY: takes no arguments, catches every C++ exception and returns 0 or 1.
        unsafe { burn_tch_cuda_bf16_supported() != 0 }
    }
    #[cfg(not(burn_tch_conv_backward))]
    {
        false
    }
}
