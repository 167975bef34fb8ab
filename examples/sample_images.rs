//! Writes the example pictures in assets/samples/ for `alexnet-tui predict`:
//!
//! - `test-NNNNN-<class>.png`: the first Fashion-MNIST test image of six classes, saved as they
//!   are (28x28 grey, light on dark). NNNNN is the index in the test set.
//! - `sneaker-dark-on-light.jpg`: one of them (the sneaker) as a photo would show it: inverted to
//!   dark on light, scaled up 8x (bilinear) and placed off-centre on a larger white 300x260
//!   canvas, saved as JPEG at quality 90.
//!
//! Run from the project folder: `cargo run --release --example sample_images` (needs the data
//! set, as `make test` does).

use std::path::Path;

use alexnet_tui::data::fashion_mnist::{self, CLASS_NAMES, FASHION_MNIST, IMAGE_SIDE, Locations};
use alexnet_tui::files::write_bytes_atomic;
use image::codecs::jpeg::JpegEncoder;
use image::imageops::{self, FilterType};
use image::{GrayImage, ImageFormat, Luma};

const CLASSES: [usize; 6] = [9, 1, 2, 7, 8, 3]; // Ankle boot, Trouser, Pullover, Sneaker, Bag, Dress

fn slug(name: &str) -> String {
    name.to_lowercase().replace(['/', ' '], "-")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = fashion_mnist::load(
        &FASHION_MNIST,
        &Locations::standard(None, None),
        &mut |_| {},
    )?;
    let out = Path::new("assets/samples");
    let side = IMAGE_SIDE as u32;
    for class in CLASSES {
        let index = data
            .test
            .labels
            .iter()
            .position(|&label| usize::from(label) == class)
            .ok_or("a class with no test image")?;
        let picture = GrayImage::from_raw(side, side, data.test.image(index).to_vec())
            .ok_or("a test image of the wrong size")?;
        let name = format!("test-{index:05}-{}.png", slug(CLASS_NAMES[class]));
        let mut png = Vec::new();
        picture.write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png)?;
        write_bytes_atomic(&out.join(&name), &png)?;
        println!("{name}: test image {index}, {}", CLASS_NAMES[class]);
        if class == 7 {
            let mut dark_on_light = picture.clone();
            imageops::invert(&mut dark_on_light);
            let large = imageops::resize(&dark_on_light, side * 8, side * 8, FilterType::Triangle);
            let mut canvas = GrayImage::from_pixel(300, 260, Luma([255]));
            imageops::replace(&mut canvas, &large, 60, 10);
            let name = "sneaker-dark-on-light.jpg";
            let mut jpeg = Vec::new();
            JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&canvas)?;
            write_bytes_atomic(&out.join(name), &jpeg)?;
            println!("{name}: test image {index} inverted, 8x larger, on a 300x260 white canvas");
        }
    }
    Ok(())
}
