//! The model is the notebook's: the layer-by-layer shapes at 224 equal the notebook's printout,
//! the flatten width follows the input size, and the smallest size is enforced.

#![allow(deprecated)] // burn-tch's device constructor.

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
    let device = burn::tensor::Device::libtorch();
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
