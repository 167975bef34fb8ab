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
    #[error("{} printed no images_per_second", script.display())]
    NoThroughput { script: PathBuf },
    #[error("{} printed images_per_second={value}, which is not a number", script.display())]
    Unreadable { script: PathBuf, value: String },
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
    pub warmup: usize,
}

/// Runs bench/reference.py with the same input size, batch, threads and optimizer settings, and
/// returns its images per second.
pub fn images_per_second(
    config: &Config,
    threads: usize,
    run: Steps,
) -> Result<f64, ReferenceError> {
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
        .args(["--optimizer", &t.optimizer.to_string()])
        .args(["--momentum", &t.momentum.to_string()])
        .args(["--weight-decay", &t.weight_decay.to_string()]);
    if t.nesterov {
        command.arg("--nesterov");
    }
    let text = output(command, &script)?;
    let Some(value) = text
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("images_per_second="))
    else {
        return Err(ReferenceError::NoThroughput { script });
    };
    value
        .trim()
        .parse()
        .map_err(|_| ReferenceError::Unreadable {
            script,
            value: value.to_string(),
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
    fn layer_lines_are_read_and_other_lines_skipped() {
        let text = "torch 2.9.0\nlayer conv1 0.0012 0.0034\nlayer relu1 1e-4 2e-4\nlayer bad x y\n";
        assert_eq!(
            parse_layer_times(text),
            vec![(0.0012, 0.0034), (1e-4, 2e-4)]
        );
    }
}
