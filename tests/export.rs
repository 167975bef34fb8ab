//! `export` writes weights PyTorch loads into the notebook's own `nn.Sequential`, and both give
//! the same outputs on real test images; `eval` reports a checkpoint's accuracy per class.
//! Needs the torch environment's Python (`ALEXNET_TORCH_PYTHON`, set by the README's commands).

use std::path::{Path, PathBuf};
use std::process::Command;

use alexnet_tui::config::{Config, Precision};
use alexnet_tui::data::batcher::{self, Transform};
use alexnet_tui::data::fashion_mnist::{self, FASHION_MNIST, Locations};
use alexnet_tui::model::AlexNetConfig;
use alexnet_tui::train::checkpoint::{self, Checkpoint, CheckpointMeta};

/// Loads the export into the notebook's `nn.Sequential` (as bench/reference.py defines it) and
/// prints its logits for the given images.
const NOTEBOOK_MODEL: &str = r#"
import sys, torch
from torch import nn
from safetensors.torch import load_file
bench, path, resize, flatten, images_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
sys.path.insert(0, bench)
from reference import notebook_alexnet
net = notebook_alexnet(flatten)
net.load_state_dict(load_file(path))
net.eval()
raw = open(images_path, "rb").read()
x = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(-1, 1, 28, 28).float().div(255.0)
x = nn.functional.interpolate(x, size=(resize, resize), mode="bilinear", align_corners=False)
with torch.no_grad():
    logits = net(x)
for row in logits.tolist():
    print(" ".join(f"{v:.6f}" for v in row))
"#;

fn torch_python() -> PathBuf {
    std::env::var_os("ALEXNET_TORCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// A checkpoint of a freshly initialised model whose run computed in f32, as the PyTorch side
/// does (the fast profile's "auto" would be bf16 on a CPU with native bf16).
fn write_checkpoint(dir: &Path, resize: usize) -> (PathBuf, Config) {
    let mut config = Config::default();
    config.model.resize = resize;
    config.training.normalize = false;
    config.training.precision = Precision::F32;
    let device = alexnet_tui::train::runtime::cpu().autodiff();
    device.seed(3);
    let model = AlexNetConfig {
        resize,
        dropout: 0.5,
    }
    .init(&device);
    let checkpoint = Checkpoint {
        meta: CheckpointMeta::at_start("export-test", config.clone()),
        model: checkpoint::model_to_bytes(&model).expect("serialize"),
        optimizer: Vec::new(),
    };
    let path = dir.join("model.ckpt");
    checkpoint.write(&path).expect("write checkpoint");
    (path, config)
}

#[test]
fn exported_weights_give_pytorch_the_same_outputs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let resize = 67;
    let (checkpoint_path, _) = write_checkpoint(dir.path(), resize);
    let out = dir.path().join("model.safetensors");
    let status = Command::new(env!("CARGO_BIN_EXE_alexnet-tui"))
        .args(["export", "--checkpoint"])
        .arg(&checkpoint_path)
        .arg("--out")
        .arg(&out)
        .status()
        .expect("run export");
    assert!(status.success());

    // Sixteen real test images, through our model and through the notebook's.
    let data = fashion_mnist::load(
        &FASHION_MNIST,
        &Locations::standard(None, None),
        &mut |_| {},
    )
    .expect("Fashion-MNIST (the README's test command installs it)");
    let batch = batcher::slice(&data.test, 0, 16);
    let images_path = dir.path().join("images.bin");
    std::fs::write(&images_path, &batch.pixels).expect("write images");
    let device = alexnet_tui::train::runtime::cpu();
    let checkpoint = Checkpoint::read(&checkpoint_path).expect("read checkpoint");
    let model = alexnet_tui::session::restore_model(&checkpoint, &checkpoint_path, &device)
        .expect("restore");
    let transform = Transform {
        resize,
        normalize: false,
    };
    let (inputs, _) = transform.apply(batch, &device);
    let ours: Vec<f32> = model
        .forward(inputs)
        .try_into_vec_as::<f32>()
        .expect("logits");

    let output = Command::new(torch_python())
        .args(["-c", NOTEBOOK_MODEL])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("bench"))
        .arg(&out)
        .arg(resize.to_string())
        .arg(
            alexnet_tui::model::flatten_width(resize)
                .expect("valid")
                .to_string(),
        )
        .arg(&images_path)
        .output()
        .expect("run the torch environment's python");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: Vec<f32> = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .map(|v| v.parse().expect("a float"))
        .collect();
    assert_eq!(theirs.len(), 16 * 10);
    for (a, b) in ours.iter().zip(&theirs) {
        assert!((a - b).abs() < 1e-4, "ours {a} vs PyTorch {b}");
    }
    let argmax = |row: &[f32]| {
        row.iter()
            .enumerate()
            .max_by(|x, y| x.1.total_cmp(y.1))
            .map(|(i, _)| i)
    };
    for i in 0..16 {
        assert_eq!(
            argmax(&ours[i * 10..i * 10 + 10]),
            argmax(&theirs[i * 10..i * 10 + 10])
        );
    }
}

#[test]
fn eval_prints_accuracy_per_class_and_the_confusion_matrix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (checkpoint_path, _) = write_checkpoint(dir.path(), 65);
    let output = Command::new(env!("CARGO_BIN_EXE_alexnet-tui"))
        .args(["eval", "--json", "--checkpoint"])
        .arg(&checkpoint_path)
        .output()
        .expect("run eval");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(report["images"], 10_000);
    let confusion = report["confusion"].as_array().expect("rows");
    let total: u64 = confusion
        .iter()
        .flat_map(|row| row.as_array().expect("row").iter())
        .map(|v| v.as_u64().expect("count"))
        .sum();
    assert_eq!(total, 10_000);
    let per_class = report["per_class"].as_array().expect("classes");
    assert_eq!(per_class.len(), 10);
    assert_eq!(per_class[9]["class"], "Ankle boot");
}

#[test]
fn bad_checkpoints_and_unwritable_outputs_are_clear_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let garbage = dir.path().join("garbage.ckpt");
    std::fs::write(&garbage, b"not a checkpoint").expect("write");
    let out = dir.path().join("x.safetensors");
    let output = Command::new(env!("CARGO_BIN_EXE_alexnet-tui"))
        .args(["export", "--checkpoint"])
        .arg(&garbage)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run export");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not an alexnet-tui checkpoint"));
    assert!(!out.exists());

    // Under a file, where no folder can be made (a missing folder would be created, and root
    // writes through permission bits, so neither makes a reliable failure).
    let (checkpoint_path, _) = write_checkpoint(dir.path(), 65);
    let unwritable = garbage.join("model.safetensors");
    let output = Command::new(env!("CARGO_BIN_EXE_alexnet-tui"))
        .args(["export", "--checkpoint"])
        .arg(&checkpoint_path)
        .arg("--out")
        .arg(&unwritable)
        .output()
        .expect("run export");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}: cannot write", unwritable.display())),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("test folder")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert_eq!(left.len(), 2, "only the two checkpoints: {left:?}");
}
