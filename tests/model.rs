//! The model is the notebook's: the layer-by-layer shapes at 224 equal the notebook's printout,
//! the flatten width follows the input size, and the smallest size is enforced.

use alexnet_tui::config::Config;
use alexnet_tui::model::{AlexNetConfig, flatten_width, format_summary, min_resize, summarize};

/// The notebook's output, `In [12]`, for a [1, 1, 224, 224] input.
const NOTEBOOK: &str = "\
Conv2d output shape: \t\t torch.Size([1, 96, 54, 54])
ReLU output shape: \t\t torch.Size([1, 96, 54, 54])
MaxPool2d output shape: \t\t torch.Size([1, 96, 26, 26])
Conv2d output shape: \t\t torch.Size([1, 256, 26, 26])
ReLU output shape: \t\t torch.Size([1, 256, 26, 26])
MaxPool2d output shape: \t\t torch.Size([1, 256, 12, 12])
Conv2d output shape: \t\t torch.Size([1, 384, 12, 12])
ReLU output shape: \t\t torch.Size([1, 384, 12, 12])
Conv2d output shape: \t\t torch.Size([1, 384, 12, 12])
ReLU output shape: \t\t torch.Size([1, 384, 12, 12])
Conv2d output shape: \t\t torch.Size([1, 256, 12, 12])
ReLU output shape: \t\t torch.Size([1, 256, 12, 12])
MaxPool2d output shape: \t\t torch.Size([1, 256, 5, 5])
Flatten output shape: \t\t torch.Size([1, 6400])
Linear output shape: \t\t torch.Size([1, 4096])
ReLU output shape: \t\t torch.Size([1, 4096])
Dropout output shape: \t\t torch.Size([1, 4096])
Linear output shape: \t\t torch.Size([1, 4096])
ReLU output shape: \t\t torch.Size([1, 4096])
Dropout output shape: \t\t torch.Size([1, 4096])
Linear output shape: \t\t torch.Size([1, 10])
";

fn summary_at(resize: usize) -> Vec<alexnet_tui::model::LayerSummary> {
    let device = alexnet_tui::train::runtime::cpu();
    let model = AlexNetConfig {
        resize,
        dropout: 0.5,
    }
    .init(&device);
    summarize(&model, resize, &device)
}

#[test]
fn the_224_shape_table_is_the_notebooks_line_by_line() {
    let ours: String = summary_at(224)
        .iter()
        .map(|row| {
            let shape: Vec<String> = row.output_shape.iter().map(ToString::to_string).collect();
            format!(
                "{} output shape: \t\t torch.Size([{}])\n",
                row.name,
                shape.join(", ")
            )
        })
        .collect();
    assert_eq!(ours, NOTEBOOK);
}

#[test]
fn parameter_counts_match_pytorch() {
    let summary = summary_at(224);
    let params: Vec<usize> = summary
        .iter()
        .map(|row| row.params)
        .filter(|p| *p > 0)
        .collect();
    // nn.Conv2d(1, 96, 11): 96*1*11*11 + 96, ... nn.Linear(6400, 4096): 6400*4096 + 4096, ...
    assert_eq!(
        params,
        [
            11_712, 614_656, 885_120, 1_327_488, 884_992, 26_218_496, 16_781_312, 40_970
        ]
    );
    let table = format_summary(&summary);
    let total = table
        .lines()
        .find(|line| line.starts_with("total parameters"))
        .expect("a total line");
    assert!(total.ends_with(" 46,764,746"), "{table}");
}

#[test]
fn flatten_width_follows_the_input_size() {
    for (resize, width) in [
        (224, 6400),
        (227, 9216),
        (160, 2304),
        (128, 1024),
        (96, 256),
        (67, 256),
        (65, 256),
    ] {
        assert_eq!(flatten_width(resize), Some(width), "at {resize}");
        let summary = summary_at(resize);
        assert_eq!(
            summary[13].output_shape,
            vec![1, width],
            "Flatten at {resize}"
        );
        assert_eq!(summary[20].output_shape, vec![1, 10]);
    }
    assert_eq!(flatten_width(64), None);
    assert_eq!(min_resize(), 65);
}

#[test]
fn a_resize_below_the_minimum_is_a_config_error_naming_the_minimum() {
    let mut config = Config::default();
    config.model.resize = 64;
    let (key, message) = config.validate().expect_err("too small");
    assert_eq!(key, "model.resize");
    assert!(
        message.starts_with("must be between 65 and 1024, got 64"),
        "{message}"
    );
    config.model.resize = 65;
    assert!(config.validate().is_ok());
}

#[test]
fn the_summary_command_prints_the_table() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_alexnet-tui"))
        .args(["summary", "--resize", "224"])
        .output()
        .expect("run the binary");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("MaxPool2d  [1, 256, 5, 5]"), "{stdout}");
    assert!(stdout.contains("Flatten    [1, 6400]"), "{stdout}");
    assert_eq!(stdout.lines().count(), 1 + 1 + 21 + 2);
}

/// The dashboard's pictures: the gallery takes the first two test images of each class, its
/// predictions are the model's, and every filter spans the full grey range.
#[test]
fn snapshot_classifies_the_gallery_and_scales_each_filter() {
    use alexnet_tui::data::batcher::Transform;
    use alexnet_tui::data::fashion_mnist::Split;
    use alexnet_tui::train::snapshot::{self, Moment};
    use burn::prelude::*;

    // 40 images, labels 0..9 repeating, pixels from a simple hash so the images differ.
    let labels: Vec<u8> = (0..40).map(|i| (i % 10) as u8).collect();
    let images: Vec<u8> = (0..40 * 784u32)
        .map(|p| (p.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let split = Split { images, labels };
    let indices = snapshot::gallery_indices(&split);
    let expected: Vec<usize> = (0..10).flat_map(|class| [class, class + 10]).collect();
    assert_eq!(indices, expected);

    let device = alexnet_tui::train::runtime::cpu();
    let model = AlexNetConfig {
        resize: 67,
        dropout: 0.5,
    }
    .init(&device);
    let transform = Transform {
        resize: 67,
        normalize: true,
    };
    let moment = Moment::Start {
        epoch_position: 0.0,
    };
    let taken =
        snapshot::take(&model, &split, &indices, transform, &device, moment).expect("snapshot");

    let mut pixels = Vec::new();
    for &index in &indices {
        pixels.extend_from_slice(split.image(index));
    }
    let logits = model
        .valid()
        .forward(transform.images(pixels, indices.len(), &device));
    let probabilities: Vec<f32> = burn::tensor::activation::softmax(logits, 1)
        .try_into_vec_as::<f32>()
        .expect("probabilities");
    assert_eq!(taken.gallery.len(), 20);
    for (row, item) in taken.gallery.iter().enumerate() {
        let scores = &probabilities[row * 10..(row + 1) * 10];
        let best = scores.iter().cloned().fold(f32::MIN, f32::max);
        assert_eq!(item.index, indices[row]);
        assert_eq!(item.label, split.labels[item.index]);
        assert_eq!(scores[usize::from(item.predicted)], best);
        assert!((item.confidence - best).abs() < 1e-6);
        assert_eq!(item.pixels, split.image(item.index));
    }

    let filters = &taken.filters;
    assert_eq!((filters.count, filters.height, filters.width), (96, 11, 11));
    let weights: Vec<f32> = model
        .first_layer_filters()
        .try_into_vec_as::<f32>()
        .expect("weights");
    for index in 0..96 {
        let tile = filters.filter(index);
        assert_eq!(tile.iter().min(), Some(&0));
        assert_eq!(tile.iter().max(), Some(&255));
        // The largest weight is white and the smallest black.
        let raw = &weights[index * 121..(index + 1) * 121];
        let position = |pick: fn(f32, f32) -> bool| {
            (0..121).fold(0, |best, i| if pick(raw[i], raw[best]) { i } else { best })
        };
        assert_eq!(tile[position(|a, b| a > b)], 255);
        assert_eq!(tile[position(|a, b| a < b)], 0);
    }
    assert_eq!(snapshot::scale_to_grey(&[2.0, 2.0]), vec![128, 128]);
    assert_eq!(
        snapshot::scale_to_grey(&[-1.0, 0.0, 1.0]),
        vec![0, 128, 255]
    );
}
