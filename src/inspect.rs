//! Looking at a network from outside the training: `summary` (the layer-by-layer shapes of the
//! network for an input size), `eval` (test accuracy, per-class accuracy and the confusion matrix
//! of a checkpoint) and `export` (the weights as safetensors under the notebook's `nn.Sequential`
//! names, loadable by PyTorch).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use safetensors::Dtype;
use safetensors::tensor::TensorView;

use crate::config::Config;
use crate::data::fashion_mnist::{self, CLASS_NAMES, FASHION_MNIST, Locations};
use crate::model::{AlexNetConfig, format_summary, summarize};
use crate::precision::Precision;
use crate::session::{self, ConfigArgs, Error};
use crate::train::metrics::Evaluation;
use crate::train::{self, runtime, step};

#[derive(Debug, Clone, Args)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Input side; defaults to the config's model.resize.
    #[arg(long)]
    pub resize: Option<usize>,
}

#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// A checkpoint file, or "latest": the most recently written checkpoint of any run under
    /// checkpoint.dir that no other process holds.
    #[arg(long, value_name = "PATH|latest")]
    pub checkpoint: String,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
    /// What the convolutions and matrix products compute in: "f32", "bf16" or "auto" (bf16 where
    /// the CPU computes it natively). Default: the checkpoint's run's training.precision.
    #[arg(long, value_parser = session::precision_parser())]
    pub precision: Option<Precision>,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// A checkpoint file, or "latest": the most recently written checkpoint of any run under
    /// checkpoint.dir that no other process holds.
    #[arg(long, value_name = "PATH|latest")]
    pub checkpoint: String,
    /// The safetensors file to write.
    #[arg(long)]
    pub out: PathBuf,
}

/// `alexnet-tui summary`: the notebook's layer-by-layer print, with parameters and totals.
pub fn summary(args: &SummaryArgs) -> Result<ExitCode, Error> {
    let resize = match args.resize {
        Some(resize) => {
            let mut config = Config::default();
            config.model.resize = resize;
            config
                .validate()
                .map_err(|(key, message)| Error::Usage(format!("--resize: {key} {message}")))?;
            resize
        }
        None => session::load_config(&args.config)?.model.resize,
    };
    let device = runtime::cpu();
    let model = AlexNetConfig {
        resize,
        dropout: 0.5,
    }
    .init(&device);
    println!("AlexNet for a [1, 1, {resize}, {resize}] input");
    print!("{}", format_summary(&summarize(&model, resize, &device)));
    Ok(ExitCode::SUCCESS)
}

/// `alexnet-tui eval --checkpoint <path|latest>`: all 10,000 test images.
pub fn eval(args: &EvalArgs) -> Result<ExitCode, Error> {
    let restored = session::restore(&args.config, &args.checkpoint, args.precision)?;
    let config = &restored.config;
    let dir = (!config.data.dir.trim().is_empty()).then(|| PathBuf::from(&config.data.dir));
    let locations = Locations::standard(dir, config.data.download.then(|| config.data.url.clone()));
    let data =
        fashion_mnist::load(&FASHION_MNIST, &locations, &mut |_| {}).map_err(train::Error::from)?;
    let evaluation = step::evaluate(
        &restored.model,
        &data.test,
        restored.transform,
        config.training.eval_batch_size,
        &restored.device,
        // Nothing here asks to stop: every batch is evaluated.
        &mut || false,
    )?
    .ok_or_else(|| Error::Failed("evaluation was interrupted".into()))?;
    let path = &restored.path;
    if args.json {
        let value = serde_json::json!({
            "checkpoint": path,
            "accuracy": evaluation.accuracy,
            "loss": evaluation.loss,
            "images": evaluation.images,
            "per_class": CLASS_NAMES.iter().zip(evaluation.per_class_accuracy())
                .map(|(name, accuracy)| serde_json::json!({ "class": name, "accuracy": accuracy }))
                .collect::<Vec<_>>(),
            "confusion": evaluation.confusion,
            "precision": restored.precision.compute.name(),
            "precision_reason": restored.precision.reason,
        });
        println!("{value}");
    } else {
        println!(
            "precision {} ({})",
            restored.precision.compute, restored.precision.reason
        );
        print!("{}", format_evaluation(path, &evaluation));
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

/// Why the weights could not be laid out as safetensors.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the model has no weights to export")]
    NoWeights,
    #[error(
        "the weight {name} came back from libtorch with {found} values for its shape {shape:?} ({expected} values)"
    )]
    Incomplete {
        name: String,
        shape: Vec<usize>,
        found: usize,
        expected: usize,
    },
    #[error("cannot encode the weights as safetensors: {0}")]
    Encode(#[from] safetensors::SafeTensorError),
}

/// `alexnet-tui export --checkpoint <path|latest> --out model.safetensors`.
pub fn export(args: &ExportArgs) -> Result<ExitCode, Error> {
    // The weights are f32 whatever the run computed in.
    let restored = session::restore(&args.config, &args.checkpoint, None)?;
    let trained = &restored.checkpoint.meta.config;
    let metadata = HashMap::from([
        ("resize".to_string(), trained.model.resize.to_string()),
        (
            "normalize".to_string(),
            trained.training.normalize.to_string(),
        ),
        ("source".to_string(), "alexnet-tui".to_string()),
    ]);
    let tensors = restored.model.torch_named_tensors();
    let bytes = safetensors_bytes(&tensors, metadata)
        .map_err(|error| Error::Failed(format!("{}: {error}", restored.path.display())))?;
    let out = &args.out;
    crate::files::write_bytes_atomic(out, &bytes)
        .map_err(|error| Error::Failed(format!("{}: cannot write: {error}", out.display())))?;
    if let (Some((first, _, _)), Some((last, _, _))) = (tensors.first(), tensors.last()) {
        println!(
            "wrote {} ({} tensors, names as the notebook's nn.Sequential: {first} ... {last})",
            out.display(),
            tensors.len(),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// f32 tensors (name, shape, values in row-major order) in the safetensors format, with
/// `metadata` in its header. A tensor whose values do not fill its shape is refused rather than
/// written short.
pub fn safetensors_bytes(
    tensors: &[(String, Vec<usize>, Vec<f32>)],
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>, ExportError> {
    if tensors.is_empty() {
        return Err(ExportError::NoWeights);
    }
    let mut raw = Vec::with_capacity(tensors.len());
    for (name, shape, values) in tensors {
        let expected: usize = shape.iter().product();
        if values.len() != expected {
            return Err(ExportError::Incomplete {
                name: name.clone(),
                shape: shape.clone(),
                found: values.len(),
                expected,
            });
        }
        // safetensors stores little-endian values.
        let bytes: Vec<u8> = values
            .iter()
            .flat_map(|value| value.to_le_bytes())
            .collect();
        raw.push((name.as_str(), shape.clone(), bytes));
    }
    let views = raw
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes).map(|view| (*name, view))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(safetensors::serialize(views, Some(metadata))?)
}
