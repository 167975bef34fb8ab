//! `alexnet-tui predict`: classify pictures of clothes with a checkpoint.
//!
//! A picture of any size becomes what Fashion-MNIST's images are, a 28x28 grey image of a light
//! object on a dark background: it is turned grey, inverted when it is dark on light, scaled so
//! that its longer side is 28 pixels (keeping the aspect ratio) and centred on a 28x28 canvas
//! filled with its background brightness. From there it takes exactly the path of a test image in
//! `eval`: the checkpoint's own resize and normalization ([`Transform`]), the model in evaluation
//! mode, then a softmax. A 28x28 grey picture is used as it is, byte for byte, so a Fashion-MNIST
//! test image saved as PNG gets the probabilities the model gives that test image.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::module::Module;
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};
use clap::Args;
use image::imageops::{self, FilterType};
use image::{DynamicImage, GrayImage, ImageFormat, Luma};
use serde::Serialize;

use crate::data::batcher::Transform;
use crate::data::fashion_mnist::{CLASS_NAMES, IMAGE_PIXELS, IMAGE_SIDE};
use crate::model::{AlexNet, NUM_CLASSES};
use crate::session::{self, ConfigArgs, Error};

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Each picture is made grey, inverted if it is dark on light, fitted into 28x28 keeping its aspect ratio and padded with its background, as Fashion-MNIST's images are; then resized and normalized as the checkpoint was trained. Without --dark-on-light or --light-on-dark, a picture whose border is mostly lighter than middle grey is taken as dark on light."
)]
pub struct PredictArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// A checkpoint file, or "latest": the most recently written checkpoint of any run under
    /// checkpoint.dir that no other process holds.
    #[arg(long, value_name = "PATH|latest")]
    pub checkpoint: String,
    /// PNG or JPEG files, of any size.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,
    /// The pictures show a dark object on a light background (most photos): invert them.
    #[arg(long, conflicts_with = "light_on_dark")]
    pub dark_on_light: bool,
    /// The pictures show a light object on a dark background (as Fashion-MNIST): never invert.
    #[arg(long)]
    pub light_on_dark: bool,
    /// Print one JSON object instead of lines.
    #[arg(long)]
    pub json: bool,
    /// What the convolutions and matrix products compute in: "f32", "bf16" or "auto" (bf16 where
    /// the CPU computes it natively). Default: the checkpoint's run's training.precision.
    #[arg(long, value_parser = session::precision_parser())]
    pub precision: Option<crate::precision::Precision>,
}

/// Which way round a picture's brightness is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Polarity {
    /// A light object on a dark background, as Fashion-MNIST: used as it is.
    LightOnDark,
    /// A dark object on a light background, as most photos: inverted.
    DarkOnLight,
}

impl Polarity {
    pub fn describe(self) -> &'static str {
        match self {
            Polarity::LightOnDark => "light on dark",
            Polarity::DarkOnLight => "dark on light, inverted",
        }
    }
}

/// How to decide the polarity: given on the command line, or guessed from the picture's border.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolarityChoice {
    Auto,
    Fixed(Polarity),
}

/// A picture turned into a Fashion-MNIST image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    /// 28x28 bytes, row by row, 0 = black.
    pub pixels: Vec<u8>,
    pub polarity: Polarity,
    /// Whether the polarity was guessed (no `--dark-on-light` / `--light-on-dark`).
    pub guessed: bool,
}

/// Why a picture cannot be used. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: a {format} image; predict reads PNG and JPEG files", path.display())]
    Unsupported { path: PathBuf, format: String },
    #[error("{}: not a PNG or JPEG image (unrecognised contents)", path.display())]
    Unrecognised { path: PathBuf },
    #[error("{}: cannot decode the image: {source}", path.display())]
    Decode {
        path: PathBuf,
        source: image::ImageError,
    },
}

/// Reads a PNG or JPEG file, recognised by its contents whatever its name.
pub fn load_image(path: &Path) -> Result<DynamicImage, ImageError> {
    let bytes = std::fs::read(path).map_err(|source| ImageError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let format = match image::guess_format(&bytes) {
        Ok(format @ (ImageFormat::Png | ImageFormat::Jpeg)) => format,
        Ok(other) => {
            let format = other
                .extensions_str()
                .first()
                .map_or_else(|| format!("{other:?}"), |ext| ext.to_uppercase());
            return Err(ImageError::Unsupported {
                path: path.to_path_buf(),
                format,
            });
        }
        Err(_) => {
            return Err(ImageError::Unrecognised {
                path: path.to_path_buf(),
            });
        }
    };
    image::load_from_memory_with_format(&bytes, format).map_err(|source| ImageError::Decode {
        path: path.to_path_buf(),
        source,
    })
}

/// The grey picture: transparent pixels are laid over `matte` (0 black, 255 white).
fn grey(image: &DynamicImage, matte: u8) -> GrayImage {
    if !image.color().has_alpha() {
        return image.to_luma8();
    }
    let with_alpha = image.to_luma_alpha8();
    let mut out = GrayImage::new(image.width(), image.height());
    for (x, y, pixel) in with_alpha.enumerate_pixels() {
        let [value, alpha] = pixel.0;
        let (value, alpha) = (u32::from(value), u32::from(alpha));
        let blended = (value * alpha + u32::from(matte) * (255 - alpha) + 127) / 255;
        out.put_pixel(x, y, Luma([blended as u8]));
    }
    out
}

/// The median brightness of the outermost ring of pixels: a picture's background.
pub fn border_median(image: &GrayImage) -> u8 {
    let (width, height) = image.dimensions();
    let mut ring = Vec::new();
    for y in 0..height {
        for x in 0..width {
            if x == 0 || y == 0 || x + 1 == width || y + 1 == height {
                ring.push(image.get_pixel(x, y).0[0]);
            }
        }
    }
    if ring.is_empty() {
        return 0;
    }
    ring.sort_unstable();
    ring[ring.len() / 2]
}

/// The polarity `auto` picks: dark on light when the border's median brightness is above middle
/// grey (128 or more on the 0-255 scale).
pub fn guess_polarity(image: &GrayImage) -> Polarity {
    if border_median(image) >= 128 {
        Polarity::DarkOnLight
    } else {
        Polarity::LightOnDark
    }
}

/// Turns any picture into a 28x28 light-on-dark grey image, as Fashion-MNIST's.
///
/// Transparent pixels count as background: they are laid over black, or over white for a picture
/// read (or, with `auto`, guessed after laying it over white) as dark on light.
pub fn to_fashion_mnist(image: &DynamicImage, choice: PolarityChoice) -> Converted {
    let (polarity, guessed) = match choice {
        PolarityChoice::Fixed(polarity) => (polarity, false),
        PolarityChoice::Auto => {
            // A transparent border is background whatever its colour: decide on the opaque parts.
            let guess = if image.color().has_alpha() {
                let on_black = guess_polarity(&grey(image, 0));
                let on_white = guess_polarity(&grey(image, 255));
                if on_black == on_white {
                    on_black
                } else {
                    // The border is (mostly) transparent: the object's own brightness decides.
                    Polarity::LightOnDark
                }
            } else {
                guess_polarity(&image.to_luma8())
            };
            (guess, true)
        }
    };
    let matte = match polarity {
        Polarity::LightOnDark => 0,
        Polarity::DarkOnLight => 255,
    };
    let mut picture = grey(image, matte);
    if polarity == Polarity::DarkOnLight {
        imageops::invert(&mut picture);
    }
    let (width, height) = picture.dimensions();
    let side = IMAGE_SIDE as u32;
    let longer = width.max(height);
    let fitted = if longer == side {
        picture
    } else {
        let scale = f64::from(side) / f64::from(longer);
        let new_width = ((f64::from(width) * scale).round() as u32).clamp(1, side);
        let new_height = ((f64::from(height) * scale).round() as u32).clamp(1, side);
        imageops::resize(&picture, new_width, new_height, FilterType::Triangle)
    };
    let (width, height) = fitted.dimensions();
    let pixels = if width == side && height == side {
        fitted.into_raw()
    } else {
        let background = border_median(&fitted);
        let mut canvas = GrayImage::from_pixel(side, side, Luma([background]));
        imageops::replace(
            &mut canvas,
            &fitted,
            i64::from((side - width) / 2),
            i64::from((side - height) / 2),
        );
        canvas.into_raw()
    };
    debug_assert_eq!(pixels.len(), IMAGE_PIXELS);
    Converted {
        pixels,
        polarity,
        guessed,
    }
}

/// Class probabilities for `count` 28x28 images, through the checkpoint's transform and the model
/// in evaluation mode, as `eval` sees test images: one row per image.
pub fn probabilities(
    model: &AlexNet,
    transform: Transform,
    pixels: Vec<u8>,
    count: usize,
    device: &Device,
) -> Result<Vec<[f32; NUM_CLASSES]>, Error> {
    let model = model.valid();
    let inputs = transform.images(pixels, count, device);
    let logits: Tensor<2> = model.forward(inputs);
    let values: Vec<f32> = softmax(logits, 1)
        .try_into_vec_as::<f32>()
        .map_err(|error| {
            Error::Failed(format!(
                "cannot read the class probabilities back from libtorch: {error:?}"
            ))
        })?;
    if values.len() != count * NUM_CLASSES {
        return Err(Error::Failed(format!(
            "the model gave {} probabilities for {count} pictures of {NUM_CLASSES} classes",
            values.len()
        )));
    }
    Ok(values
        .chunks_exact(NUM_CLASSES)
        .map(|row| {
            let mut out = [0.0; NUM_CLASSES];
            out.copy_from_slice(row);
            out
        })
        .collect())
}

/// The `k` most probable classes, most probable first (ties in class order).
pub fn top(probabilities: &[f32; NUM_CLASSES], k: usize) -> Vec<(usize, f32)> {
    let mut ranked: Vec<(usize, f32)> = probabilities.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(k);
    ranked
}

/// `alexnet-tui predict --checkpoint <path|latest> <image>...`.
pub fn run(args: &PredictArgs) -> Result<ExitCode, Error> {
    let choice = if args.dark_on_light {
        PolarityChoice::Fixed(Polarity::DarkOnLight)
    } else if args.light_on_dark {
        PolarityChoice::Fixed(Polarity::LightOnDark)
    } else {
        PolarityChoice::Auto
    };
    // Every picture is read before any work, and all bad ones are named at once.
    let mut problems = Vec::new();
    let mut pictures: Vec<(PathBuf, (u32, u32), Converted)> = Vec::new();
    for path in &args.images {
        match load_image(path) {
            Ok(image) => pictures.push((
                path.clone(),
                (image.width(), image.height()),
                to_fashion_mnist(&image, choice),
            )),
            Err(problem) => problems.push(problem.to_string()),
        }
    }
    if !problems.is_empty() {
        // main prefixes the first line; the others get the same prefix so each reads alone.
        return Err(Error::Failed(problems.join("\nalexnet-tui: ")));
    }
    let session::Restored {
        path: checkpoint_path,
        model,
        transform,
        device,
        precision,
        ..
    } = session::restore(&args.config, &args.checkpoint, args.precision)?;
    let pixels: Vec<u8> = pictures
        .iter()
        .flat_map(|(_, _, converted)| converted.pixels.iter().copied())
        .collect();
    let results = probabilities(&model, transform, pixels, pictures.len(), &device)
        .map_err(|error| Error::Failed(format!("{}: {error}", checkpoint_path.display())))?;
    if args.json {
        let files: Vec<serde_json::Value> = pictures
            .iter()
            .zip(&results)
            .map(|((path, (width, height), converted), probabilities)| {
                serde_json::json!({
                    "file": path,
                    "width": width,
                    "height": height,
                    "polarity": converted.polarity,
                    "polarity_guessed": converted.guessed,
                    "top": top(probabilities, 3).iter().map(|(class, probability)| serde_json::json!({
                        "class": CLASS_NAMES[*class],
                        "label": class,
                        "probability": probability,
                    })).collect::<Vec<_>>(),
                    "probabilities": probabilities,
                })
            })
            .collect();
        let value = serde_json::json!({
            "checkpoint": checkpoint_path,
            "resize": transform.resize,
            "normalize": transform.normalize,
            "predictions": files,
            "precision": precision.compute.name(),
            "precision_reason": precision.reason,
        });
        println!("{value}");
    } else {
        for ((path, (width, height), converted), probabilities) in pictures.iter().zip(&results) {
            println!(
                "{} ({width}x{height}, {}{})",
                path.display(),
                converted.polarity.describe(),
                if converted.guessed { ", guessed" } else { "" }
            );
            for (rank, (class, probability)) in top(probabilities, 3).iter().enumerate() {
                println!(
                    "  {}. {:<12} {:>6.2}%",
                    rank + 1,
                    CLASS_NAMES[*class],
                    100.0 * probability
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: u32, height: u32, f: impl Fn(u32, u32) -> u8) -> DynamicImage {
        DynamicImage::ImageLuma8(GrayImage::from_fn(width, height, |x, y| Luma([f(x, y)])))
    }

    #[test]
    fn a_28x28_grey_picture_is_kept_byte_for_byte() {
        let picture = image(28, 28, |x, y| ((x * 9 + y * 5) % 200) as u8);
        let converted = to_fashion_mnist(&picture, PolarityChoice::Fixed(Polarity::LightOnDark));
        assert_eq!(converted.pixels, picture.to_luma8().into_raw());
    }

    #[test]
    fn wide_pictures_keep_their_aspect_and_are_padded_with_the_background() {
        // A white bar across a black 56x28 picture: 28x14 after fitting, centred vertically.
        let picture = image(56, 28, |_, y| if (10..18).contains(&y) { 255 } else { 0 });
        let converted = to_fashion_mnist(&picture, PolarityChoice::Auto);
        assert_eq!(converted.polarity, Polarity::LightOnDark);
        let row = |y: usize| &converted.pixels[y * 28..(y + 1) * 28];
        assert!(row(0).iter().all(|&v| v == 0), "padding is the background");
        assert!(row(14).iter().all(|&v| v > 200), "the bar is in the middle");
        assert!(row(27).iter().all(|&v| v == 0));
    }

    #[test]
    fn auto_inverts_a_light_background_and_padding_follows() {
        // A dark square on a white 40x80 picture.
        let picture = image(40, 80, |x, y| {
            if (10..30).contains(&x) && (30..50).contains(&y) {
                20
            } else {
                255
            }
        });
        let converted = to_fashion_mnist(&picture, PolarityChoice::Auto);
        assert_eq!(converted.polarity, Polarity::DarkOnLight);
        assert!(converted.guessed);
        // 14x28 after fitting, between columns 7 and 21; the rest is the (inverted) background.
        assert_eq!(converted.pixels[14 * 28], 0);
        assert!(converted.pixels[14 * 28 + 14] > 200);
    }

    #[test]
    fn top_orders_by_probability() {
        let mut p = [0.0f32; NUM_CLASSES];
        p[3] = 0.5;
        p[7] = 0.3;
        p[1] = 0.15;
        p[0] = 0.05;
        assert_eq!(top(&p, 3), vec![(3, 0.5), (7, 0.3), (1, 0.15)]);
    }
}
