//! The PyTorch side of `bench`: runs `bench/reference.py` (whole training steps) and
//! `bench/layers.py` (each layer alone) in the torch environment's Python and reads their figures.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::Config;
use crate::model::SEQUENCE;

/// Why a reference script gave no figures. Each names the script.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("cannot run {}: {source}", script.display())]
    Spawn {
        script: PathBuf,
        source: std::io::Error,
    },
    #[error("{} failed: {stderr}", script.display())]
    Failed { script: PathBuf, stderr: String },
    #[error("{} printed no images_per_second for variant {variant}", script.display())]
    NoThroughput { script: PathBuf, variant: String },
    #[error(
        "{} printed images_per_second={value} for variant {variant}, which is not a number",
        script.display()
    )]
    Unreadable {
        script: PathBuf,
        variant: String,
        value: String,
    },
    #[error("{} printed {found} layers, expected {expected}", script.display())]
    Layers {
        script: PathBuf,
        found: usize,
        expected: usize,
    },
}

/// One training run of the reference: the same step count and warm-up as ours.
#[derive(Debug, Clone, Copy)]
pub struct Steps {
    pub steps: usize,
    /// Warm-up steps, at least.
    pub warmup: usize,
    /// Then until two consecutive steps are within 5%, at most this many in all.
    pub warmup_max: usize,
}

/// bench/reference.py's variants: eager, channels_last, bf16 autocast, channels_last + bf16
/// autocast; the bf16 ones only where bf16 may run.
pub fn variants(bf16_allowed: bool) -> Vec<&'static str> {
    let mut variants = vec!["eager", "cl"];
    if bf16_allowed {
        variants.extend(["bf16", "cl_bf16"]);
    }
    variants
}

/// A variant in words.
pub fn describe(variant: &str) -> &'static str {
    match variant {
        "eager" => "eager",
        "cl" => "channels_last",
        "bf16" => "bf16 autocast",
        "cl_bf16" => "channels_last + bf16 autocast",
        _ => "(unknown variant)",
    }
}

/// One variant's figure from bench/reference.py.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantRun {
    pub images_per_second: f64,
    /// Whether its warm-up settled within 5%, and in how many steps (as the script printed it).
    pub settled: bool,
    pub warmup_steps: String,
}

/// Runs bench/reference.py in `variants` with the same input size, batch, threads and optimizer
/// settings, and returns each variant's figure, in order.
pub fn images_per_second(
    config: &Config,
    threads: usize,
    run: Steps,
    variants: &[&str],
) -> Result<Vec<VariantRun>, ReferenceError> {
    let script = script("reference.py");
    let t = &config.training;
    let mut command = Command::new(torch_python());
    command
        .arg(&script)
        .args(["--resize", &config.model.resize.to_string()])
        .args(["--batch", &t.batch_size.to_string()])
        .args(["--threads", &threads.to_string()])
        .args(["--steps", &run.steps.to_string()])
        .args(["--warmup", &run.warmup.to_string()])
        .args(["--warmup-max", &run.warmup_max.to_string()])
        .args(["--variants", &variants.join(",")])
        .args(["--optimizer", &t.optimizer.to_string()])
        .args(["--momentum", &t.momentum.to_string()])
        .args(["--weight-decay", &t.weight_decay.to_string()]);
    if t.nesterov {
        command.arg("--nesterov");
    }
    let text = output(command, &script)?;
    variants
        .iter()
        .map(|variant| parse_variant(&text, variant, &script))
        .collect()
}

/// The `variant=<name> warmup_steps=N settled=True|False images_per_second=X` line of `variant`.
fn parse_variant(text: &str, variant: &str, script: &Path) -> Result<VariantRun, ReferenceError> {
    let line = text
        .lines()
        .find(|line| line.starts_with(&format!("variant={variant} ")));
    let field = |name: &str| {
        line.and_then(|line| {
            line.split_whitespace()
                .find_map(|field| field.strip_prefix(name))
        })
    };
    let Some(value) = field("images_per_second=") else {
        return Err(ReferenceError::NoThroughput {
            script: script.to_path_buf(),
            variant: variant.to_string(),
        });
    };
    let images_per_second = value.parse().map_err(|_| ReferenceError::Unreadable {
        script: script.to_path_buf(),
        variant: variant.to_string(),
        value: value.to_string(),
    })?;
    Ok(VariantRun {
        images_per_second,
        settled: field("settled=") != Some("False"),
        warmup_steps: field("warmup_steps=").unwrap_or("?").to_string(),
    })
}

/// bench/layers.py's median forward and backward seconds per layer of the notebook's network,
/// in the order of [`SEQUENCE`].
pub fn layer_times(
    config: &Config,
    threads: usize,
    repeats: usize,
) -> Result<Vec<(f64, f64)>, ReferenceError> {
    let script = script("layers.py");
    let mut command = Command::new(torch_python());
    command
        .arg(&script)
        .args(["--resize", &config.model.resize.to_string()])
        .args(["--batch", &config.training.batch_size.to_string()])
        .args(["--threads", &threads.to_string()])
        .args(["--repeats", &repeats.to_string()]);
    let text = output(command, &script)?;
    let times = parse_layer_times(&text);
    if times.len() != SEQUENCE.len() {
        return Err(ReferenceError::Layers {
            script,
            found: times.len(),
            expected: SEQUENCE.len(),
        });
    }
    Ok(times)
}

/// The `layer <name> <forward seconds> <backward seconds>` lines of bench/layers.py; other lines
/// (and lines that do not read as such) are skipped, and the caller checks the count.
fn parse_layer_times(text: &str) -> Vec<(f64, f64)> {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("layer ")?;
            let mut fields = rest.split_whitespace().skip(1);
            let forward = fields.next()?.parse().ok()?;
            let backward = fields.next()?.parse().ok()?;
            Some((forward, backward))
        })
        .collect()
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("bench")
        .join(name)
}

/// The Python of the torch environment: `ALEXNET_TORCH_PYTHON`, else the one the build used,
/// else `python3` on PATH.
fn torch_python() -> PathBuf {
    std::env::var_os("ALEXNET_TORCH_PYTHON")
        .map(PathBuf::from)
        .or_else(|| option_env!("ALEXNET_BUILD_TORCH_PYTHON").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// Runs one of the bench/ Python scripts and returns its standard output, or its error output in
/// the error.
fn output(mut command: Command, script: &Path) -> Result<String, ReferenceError> {
    let output = command.output().map_err(|source| ReferenceError::Spawn {
        script: script.to_path_buf(),
        source,
    })?;
    if !output.status.success() {
        return Err(ReferenceError::Failed {
            script: script.to_path_buf(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_lines_are_read_by_name() {
        let text = "variant=eager warmup_steps=3 settled=True images_per_second=812.5\n\
                    variant=cl warmup_steps=12 settled=False images_per_second=900\n";
        let script = Path::new("reference.py");
        let cl = parse_variant(text, "cl", script).expect("cl");
        assert_eq!(cl.images_per_second, 900.0);
        assert!(!cl.settled);
        assert_eq!(cl.warmup_steps, "12");
        let eager = parse_variant(text, "eager", script).expect("eager");
        assert!(eager.settled);
        assert!(matches!(
            parse_variant(text, "bf16", script),
            Err(ReferenceError::NoThroughput { .. })
        ));
    }

    #[test]
    fn layer_lines_are_read_and_other_lines_skipped() {
        let text = "torch 2.9.0\nlayer conv1 0.0012 0.0034\nlayer relu1 1e-4 2e-4\nlayer bad x y\n";
        assert_eq!(
            parse_layer_times(text),
            vec![(0.0012, 0.0034), (1e-4, 2e-4)]
        );
    }
}
