//! Fashion-MNIST: the IDX format, finding and verifying the files, and turning bytes into batches.

pub mod batcher;
pub mod fashion_mnist;
pub mod idx;
