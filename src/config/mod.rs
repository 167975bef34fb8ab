//! `config.toml`: sections with defaults, named profiles, validation with errors that name the key
//! and the line, and the split between settings that may change while training runs and settings
//! that need a restart.
//!
//! Loading happens in three steps so that every error keeps its line number:
//! 1. the user's text is deserialized on its own (unknown keys and wrong types are caught here,
//!    with the span `toml` reports);
//! 2. the keys the user actually wrote are laid over the chosen profile's values;
//! 3. ranges and cross-field rules are checked, and a failing key is looked up in the text for its
//!    line.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod live;
mod load;
mod validate;

pub use live::{Applier, Change, ConfigDiff, LIVE, LiveKey};
pub use load::ConfigError;

/// The URL the Fashion-MNIST files are published under (Zalando's release bucket).
pub const UPSTREAM_URL: &str = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";

/// Every setting of a run. Serialized into each run folder and checkpoint as "the config used".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Which named profile supplies the values of keys the file does not set.
    pub profile: String,
    pub data: DataConfig,
    pub model: ModelConfig,
    pub training: TrainingConfig,
    pub checkpoint: CheckpointConfig,
    pub ui: UiConfig,
    /// Left out of what is written (run.json, a checkpoint's config, a run's config.toml) while
    /// it has its defaults: the range test never shapes a run, and files written before the
    /// section existed stay byte for byte what a run writes again.
    #[serde(skip_serializing_if = "LrFindConfig::is_default")]
    pub lr_find: LrFindConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// A folder holding the four IDX files (gzipped or not); empty means "look in the usual places".
    pub dir: String,
    /// Whether the files may be downloaded into the cache when no folder has them.
    pub download: bool,
    /// Base URL the four `.gz` files are downloaded from.
    pub url: String,
    /// Train on only the first N training images (0 = all 60,000). For quick experiments.
    pub train_limit: usize,
    /// Evaluate on only the first N test images (0 = all 10,000). Honest accuracy needs 0.
    pub test_limit: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Images are resized to `resize` x `resize` before the first convolution (224 in the notebook).
    pub resize: usize,
    /// Dropout probability of the two hidden fully connected layers (0.5 in the notebook).
    pub dropout: f64,
}

/// How the gradients move the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Stochastic gradient descent (the notebook), with optional momentum, Nesterov and L2 decay.
    Sgd,
    /// Adam with decoupled weight decay (betas 0.9 and 0.999, epsilon 1e-8, as in PyTorch).
    AdamW,
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::AdamW => "adamw",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// The learning rate stays at `learning_rate` (the notebook).
    Constant,
    /// Linear warm-up to `learning_rate` for `warmup_fraction` of the run, then cosine down to ~0.
    OneCycle,
    /// Cosine decay from `learning_rate` to ~0 over the run, after an optional warm-up.
    Cosine,
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Schedule::Constant => "constant",
            Schedule::OneCycle => "one-cycle",
            Schedule::Cosine => "cosine",
        })
    }
}

/// What `training.precision` (and `eval`'s and `predict`'s `--precision`) asks for; see
/// `crate::precision`, which decides "auto".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32 (the notebook).
    F32,
    /// Convolutions and matrix products in bf16, everything else f32.
    Bf16,
    /// bf16 where the hardware computes it natively, else f32.
    Auto,
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::Auto => "auto",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    /// Length of the run in epochs; a fraction ends the run inside its last epoch (the learning
    /// rate schedule spans exactly this length).
    pub epochs: f64,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub optimizer: OptimizerKind,
    pub schedule: Schedule,
    pub warmup_fraction: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
    pub label_smoothing: f64,
    /// Random horizontal flips of training images.
    pub flip: bool,
    /// Subtract the data set's mean and divide by its standard deviation.
    pub normalize: bool,
    pub seed: u64,
    /// Stop the run once test accuracy reaches this value (0 = never stop early).
    pub target_accuracy: f64,
    /// "auto", "cpu", "cuda:N" or "mps".
    pub device: String,
    /// "f32", "bf16" (convolutions and matrix products in bf16, the rest f32) or "auto" (bf16
    /// where the hardware computes it natively). See `crate::precision`. Restart-only; not part
    /// of the resume check (checkpoints are f32 whatever it is).
    pub precision: Precision,
    /// Intra-op threads for libtorch (0 = every physical core).
    pub threads: usize,
    /// Inter-op threads for libtorch (0 = every physical core). Set once per process.
    pub interop_threads: usize,
    /// Write one row to metrics.csv every N batches.
    pub log_every: usize,
    /// Images per forward pass during evaluation.
    pub eval_batch_size: usize,
    /// Besides every epoch end, test every this many epochs (1 = at epoch ends only).
    pub eval_every: f64,
    /// Tests start at this epoch position, those at epoch ends too; the run's last epoch end is
    /// always tested.
    pub eval_from: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Folder that holds one sub-folder per run.
    pub dir: String,
    /// Save a checkpoint after this many minutes of training (0 = only at epoch ends and on stop).
    pub interval_minutes: f64,
    /// How many checkpoints to keep per run; the best by test accuracy is always kept too.
    pub keep: usize,
    /// When a run ends, keep only this many newest checkpoints plus the best (0: as `keep` left
    /// them).
    pub keep_at_end: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UiConfig {
    /// Start training as soon as the dashboard is ready, without waiting for the `s` key.
    pub start: bool,
    /// At most this many redraws per second (the dashboard redraws only when something changed).
    pub refresh_hz: f64,
    /// Seconds between progress lines in headless mode.
    pub headless_interval_seconds: f64,
}

/// The learning-rate range test (`l` in the dashboard, `alexnet-tui lr-find`): the rate rises
/// exponentially from `start` to `end` over `steps` batches. Read when a test starts, so an edit
/// applies to the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LrFindConfig {
    /// The learning rate of the first batch.
    pub start: f64,
    /// The learning rate of the last batch.
    pub end: f64,
    /// Batches from `start` to `end` (fewer when the loss blows up first).
    pub steps: usize,
}

impl LrFindConfig {
    fn is_default(&self) -> bool {
        *self == LrFindConfig::default()
    }
}

impl Default for Config {
    fn default() -> Self {
        Profile::DEFAULT.config()
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            dir: String::new(),
            download: true,
            url: UPSTREAM_URL.to_string(),
            train_limit: 0,
            test_limit: 0,
        }
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            resize: 224,
            dropout: 0.5,
        }
    }
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 10.0,
            batch_size: 256,
            learning_rate: 0.05,
            optimizer: OptimizerKind::Sgd,
            schedule: Schedule::Constant,
            warmup_fraction: 0.0,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            label_smoothing: 0.0,
            flip: false,
            normalize: false,
            seed: 42,
            target_accuracy: 0.0,
            device: "auto".to_string(),
            // The notebook's f32; the fast profile says "auto".
            precision: Precision::F32,
            threads: 0,
            interop_threads: 0,
            log_every: 10,
            eval_batch_size: 500,
            eval_every: 1.0,
            eval_from: 0.0,
        }
    }
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            dir: "runs".to_string(),
            interval_minutes: 5.0,
            keep: 3,
            keep_at_end: 1,
        }
    }
}

impl Default for LrFindConfig {
    fn default() -> Self {
        Self {
            start: 1e-5,
            end: 1.0,
            steps: 100,
        }
    }
}

impl Default for UiConfig {
    fn default() -> Self {
        Self {
            start: false,
            refresh_hz: 10.0,
            headless_interval_seconds: 5.0,
        }
    }
}

/// Named sets of values. Keys written in config.toml override the profile's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// The notebook exactly: 224x224, batch 256, plain SGD at lr 0.05, 10 epochs.
    Seed,
    /// The fastest honest route to 0.88 test accuracy on a CPU: same architecture, 67x67 input
    /// and a modern SGD recipe.
    Fast,
}

impl Profile {
    pub const ALL: [Profile; 2] = [Profile::Seed, Profile::Fast];
    pub const DEFAULT: Profile = Profile::Fast;

    pub fn name(self) -> &'static str {
        match self {
            Profile::Seed => "seed",
            Profile::Fast => "fast",
        }
    }

    pub fn from_name(name: &str) -> Option<Profile> {
        Self::ALL.into_iter().find(|profile| profile.name() == name)
    }

    pub fn config(self) -> Config {
        let mut config = Config {
            profile: self.name().to_string(),
            data: DataConfig::default(),
            model: ModelConfig::default(),
            training: TrainingConfig::default(),
            checkpoint: CheckpointConfig::default(),
            ui: UiConfig::default(),
            lr_find: LrFindConfig::default(),
        };
        match self {
            Profile::Seed => {}
            Profile::Fast => {
                config.model.resize = 67;
                let training = &mut config.training;
                training.epochs = 2.0;
                training.batch_size = 128;
                training.learning_rate = 0.05;
                training.schedule = Schedule::OneCycle;
                training.warmup_fraction = 0.25;
                training.momentum = 0.9;
                training.nesterov = true;
                training.weight_decay = 5e-4;
                training.label_smoothing = 0.1;
                training.flip = true;
                training.normalize = true;
                training.target_accuracy = 0.88;
                training.precision = Precision::Auto;
                // Tests late in the second epoch, where the one-cycle schedule nears the target.
                training.eval_every = 0.1;
                training.eval_from = 1.5;
            }
        }
        config
    }
}

/// A device as the config names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChoice {
    Auto,
    Cpu,
    Cuda(usize),
    Mps,
}

pub fn parse_device(text: &str) -> Option<DeviceChoice> {
    match text {
        "auto" => Some(DeviceChoice::Auto),
        "cpu" => Some(DeviceChoice::Cpu),
        "mps" => Some(DeviceChoice::Mps),
        "cuda" => Some(DeviceChoice::Cuda(0)),
        other => other
            .strip_prefix("cuda:")
            .and_then(|index| index.parse().ok())
            .map(DeviceChoice::Cuda),
    }
}

/// Where a relative path from the config is resolved: next to the config file.
pub fn resolve_relative(config_path: &Path, value: &str) -> PathBuf {
    let path = PathBuf::from(value);
    if path.is_absolute() {
        return path;
    }
    match config_path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.join(path),
        _ => path,
    }
}
