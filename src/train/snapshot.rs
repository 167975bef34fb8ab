//! Pictures of what the network sees and has learned: a fixed gallery of test images with the
//! current predictions, and the first convolution's 96 filters. The worker takes one when it is
//! ready, after every test pass, every few seconds while training, and on a pause or a stop, so
//! the dashboard always shows what the current weights make of the images.

use burn::prelude::*;
use burn::tensor::activation::softmax;
use serde::Serialize;

use crate::data::batcher::Transform;
use crate::data::fashion_mnist::{IMAGE_PIXELS, Split};
use crate::model::{AlexNet, NUM_CLASSES};

/// Test images per class in the gallery.
pub const GALLERY_PER_CLASS: usize = 2;

/// One gallery image and what the network makes of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GalleryItem {
    /// Index in the test split.
    pub index: usize,
    pub label: u8,
    pub predicted: u8,
    /// Probability of the predicted class.
    pub confidence: f32,
    /// 28x28 grey levels, row by row, as in the dataset (light object on black).
    #[serde(skip)]
    pub pixels: Vec<u8>,
}

impl GalleryItem {
    pub fn is_correct(&self) -> bool {
        self.label == self.predicted
    }
}

/// First-layer filters, each scaled to 0..=255 on its own (the classic AlexNet picture).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Filters {
    pub count: usize,
    pub height: usize,
    pub width: usize,
    /// `count * height * width` grey levels, filter by filter, row by row.
    #[serde(skip)]
    pub pixels: Vec<u8>,
}

impl Filters {
    pub fn filter(&self, index: usize) -> &[u8] {
        let size = self.height * self.width;
        &self.pixels[index * size..(index + 1) * size]
    }
}

/// When a snapshot was taken.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Moment {
    /// Before any training (or at the resumed position).
    Start { epoch_position: f64 },
    /// After a test pass.
    Evaluated { epoch_position: f64, accuracy: f64 },
    /// During training (every few seconds), on a pause and on a stop: the current weights.
    Current { epoch_position: f64 },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub moment: Moment,
    pub gallery: Vec<GalleryItem>,
    pub filters: Filters,
}

/// The gallery: the first [`GALLERY_PER_CLASS`] test images of each class, class by class.
pub fn gallery_indices(split: &Split) -> Vec<usize> {
    let mut indices = Vec::with_capacity(NUM_CLASSES * GALLERY_PER_CLASS);
    for class in 0..NUM_CLASSES as u8 {
        indices.extend(
            split
                .labels
                .iter()
                .enumerate()
                .filter(|(_, label)| **label == class)
                .map(|(index, _)| index)
                .take(GALLERY_PER_CLASS),
        );
    }
    indices
}

/// Classifies the gallery images with `model` (no dropout) and reads its first-layer filters.
pub fn take(
    model: &AlexNet,
    split: &Split,
    indices: &[usize],
    transform: Transform,
    device: &Device,
    moment: Moment,
) -> Result<Snapshot, crate::train::Error> {
    let model = model.valid();
    let mut pixels = Vec::with_capacity(indices.len() * IMAGE_PIXELS);
    for &index in indices {
        pixels.extend_from_slice(split.image(index));
    }
    let gallery = if indices.is_empty() {
        Vec::new()
    } else {
        let inputs = transform.images(pixels.clone(), indices.len(), device);
        let probabilities = softmax(model.forward(inputs), 1);
        let probabilities: Vec<f32> = probabilities
            .try_into_vec_as::<f32>()
            .map_err(|error| readback("the gallery's probabilities", error))?;
        if probabilities.len() != indices.len() * NUM_CLASSES {
            return Err(crate::train::Error::Readback(format!(
                "{} gallery probabilities for {} images",
                probabilities.len(),
                indices.len()
            )));
        }
        indices
            .iter()
            .enumerate()
            .map(|(row, &index)| {
                let scores = &probabilities[row * NUM_CLASSES..(row + 1) * NUM_CLASSES];
                let (predicted, confidence) =
                    scores
                        .iter()
                        .enumerate()
                        .fold((0, f32::NEG_INFINITY), |best, (class, &p)| {
                            if p > best.1 { (class, p) } else { best }
                        });
                GalleryItem {
                    index,
                    label: split.labels[index],
                    predicted: predicted as u8,
                    confidence,
                    pixels: pixels[row * IMAGE_PIXELS..(row + 1) * IMAGE_PIXELS].to_vec(),
                }
            })
            .collect()
    };
    Ok(Snapshot {
        moment,
        gallery,
        filters: filters(model.first_layer_filters())?,
    })
}

fn readback(what: &str, error: impl std::fmt::Debug) -> crate::train::Error {
    crate::train::Error::Readback(format!("{what}: {error:?}"))
}

/// `[count, 1, h, w]` weights to per-filter 0..=255 grey levels.
fn filters(weights: Tensor<4>) -> Result<Filters, crate::train::Error> {
    let [count, _, height, width] = weights.dims();
    let values: Vec<f32> = weights
        .try_into_vec_as::<f32>()
        .map_err(|error| readback("the first-layer filters", error))?;
    let size = height * width;
    let mut pixels = Vec::with_capacity(values.len());
    for filter in values.chunks(size.max(1)) {
        pixels.extend(scale_to_grey(filter));
    }
    Ok(Filters {
        count,
        height,
        width,
        pixels,
    })
}

/// Min-max scaling to 0..=255; a constant (or non-finite) filter becomes mid-grey.
pub fn scale_to_grey(values: &[f32]) -> Vec<u8> {
    let (low, high) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let range = high - low;
    values
        .iter()
        .map(|&v| {
            if range.is_nan() || range <= 0.0 || !v.is_finite() {
                128
            } else {
                ((v - low) / range * 255.0).round().clamp(0.0, 255.0) as u8
            }
        })
        .collect()
}
