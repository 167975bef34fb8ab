mod activation;
mod base;
mod bool_tensor;
pub(crate) mod conv_backward; // alexnet-tui, see VENDORED.md
pub(crate) mod conv_layout; // alexnet-tui, see VENDORED.md
pub(crate) mod sgd; // alexnet-tui, see VENDORED.md
pub(crate) mod native_bf16; // alexnet-tui, see VENDORED.md
mod int_tensor;
mod module;
mod qtensor;
mod tensor;
mod transaction;

pub(crate) use base::*;
