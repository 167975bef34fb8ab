//! Looking at a trained network from outside the training: `eval` (test accuracy, per-class
//! accuracy and the confusion matrix of a checkpoint) and `export` (the weights as safetensors
//! under the notebook's `nn.Sequential` names, loadable by PyTorch).

#![allow(deprecated)] // burn-tch's device constructor, see train::worker.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::tensor::Device;

use crate::data::batcher::Transform;
use crate::data::fashion_mnist::{self, CLASS_NAMES, FASHION_MNIST, Locations};
use crate::model::{AlexNet, AlexNetConfig};
use crate::precision::{self, Precision, Resolved};
use crate::session::{self, Error};
use crate::train::checkpoint::{self, Checkpoint};
use crate::train::metrics::Evaluation;
use crate::train::worker;

/// The checkpoint's model on `device`, built for the input size it was trained with.
pub fn restore_model(
    checkpoint: &Checkpoint,
    path: &Path,
    device: &Device,
) -> Result<AlexNet, Error> {
    let model = AlexNetConfig {
        resize: checkpoint.meta.config.model.resize,
        dropout: checkpoint.meta.config.model.dropout,
    }
    .init(device);
    checkpoint::model_from_bytes(model, checkpoint.model.clone())
        .map_err(|error| Error::Failed(format!("{}: {error}", path.display())))
}

/// The precision `eval` and `predict` compute in on the CPU: `--precision` if given, else the
/// one the checkpoint's run was configured with.
pub fn checkpoint_precision(checkpoint: &Checkpoint, flag: Option<Precision>) -> Resolved {
    match flag {
        Some(setting) => precision::for_device(setting, "--precision", "cpu"),
        None => precision::for_device(
            checkpoint.meta.config.training.precision,
            "the run's training.precision",
            "cpu",
        ),
    }
}

/// `alexnet-tui eval --checkpoint <path|latest>`: all 10,000 test images.
pub fn eval(
    config_args: &crate::cli::ConfigArgs,
    which: &str,
    json: bool,
    precision_flag: Option<Precision>,
) -> Result<ExitCode, Error> {
    let config = session::load_config(config_args)?;
    let (path, checkpoint) = session::read_checkpoint("--checkpoint", which, &config)?;
    let trained = &checkpoint.meta.config;
    worker::configure_threads(config.training.threads, config.training.interop_threads);
    let device = Device::libtorch();
    let precision = checkpoint_precision(&checkpoint, precision_flag);
    let model = restore_model(&checkpoint, &path, &device)?.with_compute(precision.compute);
    let dir = (!config.data.dir.trim().is_empty()).then(|| PathBuf::from(&config.data.dir));
    let locations = Locations::standard(dir, config.data.download.then(|| config.data.url.clone()));
    let data = fashion_mnist::load(&FASHION_MNIST, &locations, &mut |_| {})
        .map_err(|error| Error::Failed(error.to_string()))?;
    let transform = Transform {
        resize: trained.model.resize,
        normalize: trained.training.normalize,
    };
    let evaluation = worker::evaluate(
        &model,
        &data.test,
        transform,
        config.training.eval_batch_size,
        &device,
        &mut || false,
    )
    .ok_or_else(|| Error::Failed("evaluation was interrupted".into()))?;
    if json {
        let value = serde_json::json!({
            "checkpoint": path,
            "accuracy": evaluation.accuracy,
            "loss": evaluation.loss,
            "images": evaluation.images,
            "per_class": CLASS_NAMES.iter().zip(evaluation.per_class_accuracy())
                .map(|(name, accuracy)| serde_json::json!({ "class": name, "accuracy": accuracy }))
                .collect::<Vec<_>>(),
            "confusion": evaluation.confusion,
            "precision": precision.compute.name(),
            "precision_reason": precision.reason,
        });
        println!("{value}");
    } else {
        println!("precision {} ({})", precision.compute, precision.reason);
        print!("{}", format_evaluation(&path, &evaluation));
    }
    Ok(ExitCode::SUCCESS)
}

/// The printed report: accuracy, per-class table and confusion matrix.
pub fn format_evaluation(path: &Path, evaluation: &Evaluation) -> String {
    let mut out = format!(
        "{}\ntest accuracy {:.4} on {} images, mean loss {:.4}\n\nper class:\n",
        path.display(),
        evaluation.accuracy,
        evaluation.images,
        evaluation.loss
    );
    for (name, accuracy) in CLASS_NAMES.iter().zip(evaluation.per_class_accuracy()) {
        out.push_str(&format!("  {name:<12} {accuracy:.4}\n"));
    }
    out.push_str("\nconfusion matrix (rows: true class, columns: predicted):\n             ");
    for index in 0..10 {
        out.push_str(&format!("{index:>6}"));
    }
    out.push('\n');
    for (index, row) in evaluation.confusion.iter().enumerate() {
        out.push_str(&format!("{index} {:<11}", CLASS_NAMES[index]));
        for count in row {
            out.push_str(&format!("{count:>6}"));
        }
        out.push('\n');
    }
    out
}

/// `alexnet-tui export --checkpoint <path> --out model.safetensors`.
pub fn export(
    config_args: &crate::cli::ConfigArgs,
    which: &str,
    out: &Path,
) -> Result<ExitCode, Error> {
    let config = session::load_config(config_args)?;
    let (path, checkpoint) = session::read_checkpoint("--checkpoint", which, &config)?;
    let model = restore_model(&checkpoint, &path, &Device::libtorch())?;
    let metadata = BTreeMap::from([
        (
            "resize".to_string(),
            checkpoint.meta.config.model.resize.to_string(),
        ),
        (
            "normalize".to_string(),
            checkpoint.meta.config.training.normalize.to_string(),
        ),
        ("source".to_string(), "alexnet-tui".to_string()),
    ]);
    write_safetensors(out, &model.torch_named_tensors(), &metadata)
        .map_err(|error| Error::Failed(format!("{}: cannot write: {error}", out.display())))?;
    println!(
        "wrote {} ({} tensors, names as the notebook's nn.Sequential: 0.weight ... 20.bias)",
        out.display(),
        16
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes f32 tensors in the safetensors format (a little-endian u64 header length, a JSON header
/// of names, dtypes, shapes and byte ranges, then the raw data), via a temporary file so that a
/// failure leaves nothing behind.
pub fn write_safetensors(
    out: &Path,
    tensors: &[(String, Vec<usize>, Vec<f32>)],
    metadata: &BTreeMap<String, String>,
) -> std::io::Result<()> {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::json!(metadata));
    let mut offset = 0usize;
    for (name, shape, values) in tensors {
        let end = offset + values.len() * 4;
        header.insert(
            name.clone(),
            serde_json::json!({ "dtype": "F32", "shape": shape, "data_offsets": [offset, end] }),
        );
        offset = end;
    }
    let mut header = serde_json::Value::Object(header).to_string().into_bytes();
    // The data starts 8-byte aligned.
    while !(8 + header.len()).is_multiple_of(8) {
        header.push(b' ');
    }
    let tmp = out.with_extension("safetensors.tmp");
    let result = (|| {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        file.write_all(&(header.len() as u64).to_le_bytes())?;
        file.write_all(&header)?;
        for (_, _, values) in tensors {
            for value in values {
                file.write_all(&value.to_le_bytes())?;
            }
        }
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, out)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
