//! From bytes in memory to a batch on the training device: the seeded order of an epoch, the
//! gather of 28x28 images (with optional horizontal flips), and the scale to [0, 1] plus bilinear
//! resize that the notebook's `transforms.Resize` + `ToTensor` perform.

use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::Rng;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::fashion_mnist::{IMAGE_PIXELS, IMAGE_SIDE, Split};

/// Mean and standard deviation of Fashion-MNIST's training pixels, on the [0, 1] scale.
pub const PIXEL_MEAN: f32 = 0.2860;
pub const PIXEL_STD: f32 = 0.3530;

/// How a batch of bytes becomes a network input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    pub resize: usize,
    pub normalize: bool,
}

/// A batch on the host: pixels as bytes and labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostBatch {
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
}

impl HostBatch {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// Mixes the run's seed with a position so that every epoch (and every batch's flips) has its own
/// reproducible stream: a resumed run needs nothing but the seed and the position.
fn stream_seed(seed: u64, a: u64, b: u64) -> u64 {
    // SplitMix64 finalizer over the three values.
    let mut z =
        seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The order in which epoch `epoch` visits the `len` training images.
pub fn epoch_order(seed: u64, epoch: usize, len: usize) -> Vec<u32> {
    let mut order: Vec<u32> = (0..len as u32).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(stream_seed(seed, epoch as u64, 0));
    order.shuffle(&mut rng);
    order
}

/// Number of batches in an epoch (the last one may be smaller, as with PyTorch's DataLoader).
pub fn batches_per_epoch(len: usize, batch_size: usize) -> usize {
    len.div_ceil(batch_size.max(1))
}

/// Number of batches in a run of `epochs` (possibly fractional) epochs: at least one.
pub fn run_batches(batches_per_epoch: usize, epochs: f64) -> usize {
    ((batches_per_epoch as f64 * epochs).round() as usize).max(1)
}

/// Number of batches epoch `epoch` trains in a run of `run_batches`: a whole epoch, what is left
/// of the run in its last (partial) epoch, or 0 past the end.
pub fn batches_in_epoch(batches_per_epoch: usize, run_batches: usize, epoch: usize) -> usize {
    run_batches
        .saturating_sub(epoch * batches_per_epoch)
        .min(batches_per_epoch)
}

/// Gathers batch `batch` of `order`, flipping each image left-right with probability 1/2 when
/// `flip` is set (the flips are seeded by epoch and batch, so they too survive a resume).
pub fn gather(
    split: &Split,
    order: &[u32],
    batch: usize,
    batch_size: usize,
    flip: Option<(u64, usize)>,
) -> HostBatch {
    let start = (batch * batch_size).min(order.len());
    let end = (start + batch_size).min(order.len());
    let indices = &order[start..end];
    let mut pixels = Vec::with_capacity(indices.len() * IMAGE_PIXELS);
    let mut labels = Vec::with_capacity(indices.len());
    let mut rng = flip.map(|(seed, epoch)| {
        ChaCha8Rng::seed_from_u64(stream_seed(seed, epoch as u64, batch as u64 + 1))
    });
    for &index in indices {
        let image = split.image(index as usize);
        let mirrored = rng.as_mut().is_some_and(|rng| rng.random_bool(0.5));
        if mirrored {
            for row in image.chunks_exact(IMAGE_SIDE) {
                pixels.extend(row.iter().rev());
            }
        } else {
            pixels.extend_from_slice(image);
        }
        labels.push(split.labels[index as usize]);
    }
    HostBatch { pixels, labels }
}

/// The contiguous slice `[start, end)` of a split, in order (evaluation).
pub fn slice(split: &Split, start: usize, end: usize) -> HostBatch {
    HostBatch {
        pixels: split.images[start * IMAGE_PIXELS..end * IMAGE_PIXELS].to_vec(),
        labels: split.labels[start..end].to_vec(),
    }
}

impl Transform {
    /// Uploads a host batch and turns it into `[batch, 1, R, R]` floats and `[batch]` labels.
    pub fn apply(&self, batch: HostBatch, device: &Device) -> (Tensor<4>, Tensor<1, Int>) {
        let count = batch.len();
        let labels = Tensor::<1, Int>::from_data(TensorData::new(batch.labels, [count]), device);
        let images = self.images(batch.pixels, count, device);
        (images, labels)
    }

    /// `count` 28x28 byte images to `[count, 1, R, R]` floats.
    pub fn images(&self, pixels: Vec<u8>, count: usize, device: &Device) -> Tensor<4> {
        let raw = Tensor::<4>::from_data(
            TensorData::new(pixels, [count, 1, IMAGE_SIDE, IMAGE_SIDE]),
            device,
        );
        let mut images = raw.div_scalar(255.0);
        if self.resize != IMAGE_SIDE {
            // align_corners = false is the half-pixel mapping of PIL's and torchvision's Resize.
            let options = InterpolateOptions::new(InterpolateMode::Bilinear)
                .with_align_corners(false)
                .with_output_size([self.resize, self.resize]);
            images = interpolate(images, options);
        }
        if self.normalize {
            images = images.sub_scalar(PIXEL_MEAN).div_scalar(PIXEL_STD);
        }
        images
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractional_runs_end_inside_their_last_epoch() {
        // 60,000 images at batch 128: 469 batches per epoch.
        let per_epoch = batches_per_epoch(60_000, 128);
        assert_eq!(per_epoch, 469);
        assert_eq!(run_batches(per_epoch, 2.0), 938);
        let run = run_batches(per_epoch, 1.25);
        assert_eq!(run, 586);
        assert_eq!(batches_in_epoch(per_epoch, run, 0), 469);
        assert_eq!(batches_in_epoch(per_epoch, run, 1), 117);
        assert_eq!(batches_in_epoch(per_epoch, run, 2), 0);
        assert_eq!(run_batches(per_epoch, 0.0001), 1);
    }

    fn split(count: usize) -> Split {
        let mut images = Vec::new();
        for i in 0..count {
            images.extend((0..IMAGE_PIXELS).map(|p| ((i * 7 + p) % 256) as u8));
        }
        Split {
            images,
            labels: (0..count).map(|i| (i % 10) as u8).collect(),
        }
    }

    #[test]
    fn epoch_order_is_a_seeded_permutation() {
        let a = epoch_order(1, 0, 100);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<u32>>());
        assert_eq!(a, epoch_order(1, 0, 100));
        assert_ne!(a, epoch_order(1, 1, 100));
        assert_ne!(a, epoch_order(2, 0, 100));
    }

    #[test]
    fn gather_keeps_the_last_partial_batch() {
        let data = split(10);
        let order: Vec<u32> = (0..10).collect();
        assert_eq!(batches_per_epoch(10, 4), 3);
        let last = gather(&data, &order, 2, 4, None);
        assert_eq!(last.labels, vec![8, 9]);
        assert_eq!(last.pixels.len(), 2 * IMAGE_PIXELS);
    }

    #[test]
    fn flips_mirror_rows_and_are_reproducible() {
        let data = split(64);
        let order: Vec<u32> = (0..64).collect();
        let plain = gather(&data, &order, 0, 64, None);
        let flipped = gather(&data, &order, 0, 64, Some((5, 0)));
        assert_eq!(flipped, gather(&data, &order, 0, 64, Some((5, 0))));
        let mut mirrored = 0;
        for i in 0..64 {
            let a = &plain.pixels[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS];
            let b = &flipped.pixels[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS];
            if a != b {
                mirrored += 1;
                assert_eq!(a[0], b[IMAGE_SIDE - 1]);
            }
        }
        assert!((10..=54).contains(&mirrored), "{mirrored} of 64 flipped");
    }
}
