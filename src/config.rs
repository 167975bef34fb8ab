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

use crate::model::min_resize;
pub use crate::precision::Precision;

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
    /// where the hardware computes it natively). See `crate::precision`.
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

/// A config error a person can fix: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and validates a config file. `profile_override` (from `--profile`) wins over the
    /// file's `profile` key.
    pub fn load(path: &Path, profile_override: Option<&str>) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
            path: path.to_path_buf(),
            line: None,
            key: None,
            message: format!("cannot read the config file: {error}"),
        })?;
        Self::parse(&text, path, profile_override)
    }

    /// Parses config text; `path` is only used in messages.
    pub fn parse(
        text: &str,
        path: &Path,
        profile_override: Option<&str>,
    ) -> Result<Config, ConfigError> {
        let error_at =
            |span: Option<std::ops::Range<usize>>, key: Option<String>, message| ConfigError {
                path: path.to_path_buf(),
                line: span.map(|span| line_of_offset(text, span.start)),
                key,
                message,
            };
        // Step 1: the user's text alone. Syntax errors, unknown keys and wrong types stop here.
        let table: toml::Table = toml::from_str(text)
            .map_err(|error| error_at(error.span(), None, clean_toml_message(error.message())))?;
        let _typed: Config = toml::from_str(text).map_err(|error| {
            let key = key_at(text, error.span()).or_else(|| unknown_field(error.message()));
            error_at(error.span(), key, clean_toml_message(error.message()))
        })?;

        // Step 2: the profile's values, with what the user wrote laid over them.
        let profile_name = match profile_override {
            Some(name) => name.to_string(),
            None => match table.get("profile") {
                Some(toml::Value::String(name)) => name.clone(),
                _ => Profile::DEFAULT.name().to_string(),
            },
        };
        let profile = Profile::from_name(&profile_name).ok_or_else(|| ConfigError {
            path: path.to_path_buf(),
            line: if profile_override.is_some() {
                None
            } else {
                find_key_line(text, None, "profile")
            },
            key: Some("profile".to_string()),
            message: format!(
                "unknown profile \"{profile_name}\"; valid profiles: {}",
                Profile::ALL.map(Profile::name).join(", ")
            ),
        })?;
        let mut merged = toml::Table::try_from(profile.config()).map_err(|error| ConfigError {
            path: path.to_path_buf(),
            line: None,
            key: None,
            message: format!("internal error serializing profile {profile_name}: {error}"),
        })?;
        overlay(&mut merged, &table);
        merged.insert("profile".into(), toml::Value::String(profile_name));
        let config: Config = merged
            .try_into()
            .map_err(|error: toml::de::Error| ConfigError {
                path: path.to_path_buf(),
                line: None,
                key: None,
                message: clean_toml_message(error.message()),
            })?;

        // Step 3: ranges and rules.
        config.validate().map_err(|(key, message)| {
            let (section, name) = key
                .split_once('.')
                .map_or((None, key), |(s, n)| (Some(s), n));
            ConfigError {
                path: path.to_path_buf(),
                line: find_key_line(text, section, name),
                key: Some(key.to_string()),
                message,
            }
        })?;
        Ok(config)
    }

    /// Checks every range and rule. The error names the key as `section.key`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        fn check(
            ok: bool,
            key: &'static str,
            message: String,
        ) -> Result<(), (&'static str, String)> {
            if ok { Ok(()) } else { Err((key, message)) }
        }
        let min = min_resize();
        let m = &self.model;
        check(
            m.resize >= min && m.resize <= 1024,
            "model.resize",
            format!(
                "must be between {min} and 1024, got {}: {min} is the smallest input for which the third max-pool still has a 3x3 map",
                m.resize
            ),
        )?;
        check(
            (0.0..1.0).contains(&m.dropout),
            "model.dropout",
            format!("must be at least 0 and below 1, got {}", m.dropout),
        )?;
        let t = &self.training;
        check(
            t.epochs.is_finite() && (0.01..=1000.0).contains(&t.epochs),
            "training.epochs",
            format!(
                "must be between 0.01 and 1000 (a fraction ends the run inside an epoch), got {}",
                t.epochs
            ),
        )?;
        check(
            (1..=4096).contains(&t.batch_size),
            "training.batch_size",
            format!("must be between 1 and 4096, got {}", t.batch_size),
        )?;
        check(
            t.learning_rate.is_finite() && t.learning_rate > 0.0 && t.learning_rate <= 10.0,
            "training.learning_rate",
            format!("must be above 0 and at most 10, got {}", t.learning_rate),
        )?;
        check(
            (0.0..1.0).contains(&t.warmup_fraction),
            "training.warmup_fraction",
            format!("must be at least 0 and below 1, got {}", t.warmup_fraction),
        )?;
        check(
            (0.0..1.0).contains(&t.momentum),
            "training.momentum",
            format!("must be at least 0 and below 1, got {}", t.momentum),
        )?;
        check(
            !t.nesterov || t.momentum > 0.0,
            "training.nesterov",
            "needs training.momentum above 0".to_string(),
        )?;
        check(
            (0.0..=0.1).contains(&t.weight_decay),
            "training.weight_decay",
            format!("must be between 0 and 0.1, got {}", t.weight_decay),
        )?;
        check(
            (0.0..1.0).contains(&t.label_smoothing),
            "training.label_smoothing",
            format!("must be at least 0 and below 1, got {}", t.label_smoothing),
        )?;
        check(
            (0.0..=1.0).contains(&t.target_accuracy),
            "training.target_accuracy",
            format!("must be between 0 (off) and 1, got {}", t.target_accuracy),
        )?;
        check(
            parse_device(&t.device).is_some(),
            "training.device",
            format!(
                "must be \"auto\", \"cpu\", \"cuda:N\" or \"mps\", got \"{}\"",
                t.device
            ),
        )?;
        check(
            t.threads <= 256,
            "training.threads",
            format!(
                "must be between 0 (all physical cores) and 256, got {}",
                t.threads
            ),
        )?;
        check(
            t.interop_threads <= 256,
            "training.interop_threads",
            format!(
                "must be between 0 (all physical cores) and 256, got {}",
                t.interop_threads
            ),
        )?;
        check(
            t.log_every >= 1,
            "training.log_every",
            "must be at least 1".to_string(),
        )?;
        check(
            (1..=10_000).contains(&t.eval_batch_size),
            "training.eval_batch_size",
            format!("must be between 1 and 10000, got {}", t.eval_batch_size),
        )?;
        check(
            t.eval_every.is_finite() && t.eval_every >= 0.01 && t.eval_every <= 1.0,
            "training.eval_every",
            format!(
                "must be between 0.01 and 1 (epochs between tests), got {}",
                t.eval_every
            ),
        )?;
        check(
            t.eval_from.is_finite() && (0.0..=1000.0).contains(&t.eval_from),
            "training.eval_from",
            format!("must be between 0 and 1000 (epochs), got {}", t.eval_from),
        )?;
        let c = &self.checkpoint;
        check(
            !c.dir.trim().is_empty(),
            "checkpoint.dir",
            "must not be empty".to_string(),
        )?;
        check(
            c.interval_minutes.is_finite() && (0.0..=1440.0).contains(&c.interval_minutes),
            "checkpoint.interval_minutes",
            format!(
                "must be between 0 (off) and 1440, got {}",
                c.interval_minutes
            ),
        )?;
        check(
            (1..=1000).contains(&c.keep),
            "checkpoint.keep",
            format!("must be between 1 and 1000, got {}", c.keep),
        )?;
        let u = &self.ui;
        check(
            u.refresh_hz.is_finite() && (1.0..=60.0).contains(&u.refresh_hz),
            "ui.refresh_hz",
            format!("must be between 1 and 60, got {}", u.refresh_hz),
        )?;
        check(
            u.headless_interval_seconds.is_finite()
                && (0.1..=3600.0).contains(&u.headless_interval_seconds),
            "ui.headless_interval_seconds",
            format!(
                "must be between 0.1 and 3600, got {}",
                u.headless_interval_seconds
            ),
        )?;
        Ok(())
    }

    /// The settings that may change while training runs.
    pub fn live(&self) -> LiveSettings {
        LiveSettings {
            learning_rate: self.training.learning_rate,
            momentum: self.training.momentum,
            nesterov: self.training.nesterov,
            weight_decay: self.training.weight_decay,
            epochs: self.training.epochs,
            target_accuracy: self.training.target_accuracy,
            checkpoint_interval_minutes: self.checkpoint.interval_minutes,
            checkpoint_keep: self.checkpoint.keep,
        }
    }

    /// Compares this (running) config with a freshly loaded one: which live values change, and
    /// which restart-only values differ (they apply at the next start).
    pub fn diff(&self, new: &Config) -> ConfigDiff {
        let mut diff = ConfigDiff::default();
        let old_flat = flatten(self);
        let new_flat = flatten(new);
        for ((key, old), (_, new)) in old_flat.iter().zip(new_flat.iter()) {
            if old != new {
                let change = Change {
                    key: key.clone(),
                    old: old.clone(),
                    new: new.clone(),
                };
                if LIVE_KEYS.contains(&key.as_str()) {
                    diff.live.push(change);
                } else {
                    diff.restart.push(change);
                }
            }
        }
        diff
    }

    /// Copies the live values of `new` into `self`, leaving restart-only values alone.
    pub fn apply_live(&mut self, new: &Config) {
        self.training.learning_rate = new.training.learning_rate;
        self.training.momentum = new.training.momentum;
        self.training.nesterov = new.training.nesterov;
        self.training.weight_decay = new.training.weight_decay;
        self.training.epochs = new.training.epochs;
        self.training.target_accuracy = new.training.target_accuracy;
        self.checkpoint.interval_minutes = new.checkpoint.interval_minutes;
        self.checkpoint.keep = new.checkpoint.keep;
        self.ui.refresh_hz = new.ui.refresh_hz;
        self.ui.headless_interval_seconds = new.ui.headless_interval_seconds;
    }

    /// Whether a checkpoint written under `self` can continue under `other`: everything that
    /// shapes the weights or the order of batches must be equal.
    pub fn resume_incompatibility(&self, other: &Config) -> Option<String> {
        let checks: [(&str, String, String); 6] = [
            (
                "training.optimizer",
                self.training.optimizer.to_string(),
                other.training.optimizer.to_string(),
            ),
            (
                "model.resize",
                self.model.resize.to_string(),
                other.model.resize.to_string(),
            ),
            (
                "model.dropout",
                self.model.dropout.to_string(),
                other.model.dropout.to_string(),
            ),
            (
                "training.batch_size",
                self.training.batch_size.to_string(),
                other.training.batch_size.to_string(),
            ),
            (
                "training.seed",
                self.training.seed.to_string(),
                other.training.seed.to_string(),
            ),
            (
                "data.train_limit",
                self.data.train_limit.to_string(),
                other.data.train_limit.to_string(),
            ),
        ];
        checks
            .into_iter()
            .find(|(_, saved, now)| saved != now)
            .map(|(key, saved, now)| {
                format!("the checkpoint was trained with {key} = {saved}, the config says {now}")
            })
    }
}

/// Keys whose new value takes effect at the next batch.
pub const LIVE_KEYS: &[&str] = &[
    "training.learning_rate",
    "training.momentum",
    "training.nesterov",
    "training.weight_decay",
    "training.epochs",
    "training.target_accuracy",
    "checkpoint.interval_minutes",
    "checkpoint.keep",
    "ui.refresh_hz",
    "ui.headless_interval_seconds",
];

/// The values the worker reads at every batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveSettings {
    pub learning_rate: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
    pub epochs: f64,
    pub target_accuracy: f64,
    pub checkpoint_interval_minutes: f64,
    pub checkpoint_keep: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: String,
    pub old: String,
    pub new: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} -> {}", self.key, self.old, self.new)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigDiff {
    pub live: Vec<Change>,
    pub restart: Vec<Change>,
}

impl ConfigDiff {
    pub fn is_empty(&self) -> bool {
        self.live.is_empty() && self.restart.is_empty()
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

/// `section.key = value` for every setting, in a fixed order.
fn flatten(config: &Config) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(table) = toml::Table::try_from(config) else {
        return out;
    };
    for (section, value) in &table {
        match value {
            toml::Value::Table(inner) => {
                for (key, value) in inner {
                    out.push((format!("{section}.{key}"), value.to_string()));
                }
            }
            other => out.push((section.clone(), other.to_string())),
        }
    }
    out
}

fn overlay(base: &mut toml::Table, top: &toml::Table) {
    for (key, value) in top {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(base_inner)), toml::Value::Table(top_inner)) => {
                overlay(base_inner, top_inner)
            }
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

fn line_of_offset(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line on which `key` is set inside `[section]` (or at the top level for `None`).
pub fn find_key_line(text: &str, section: Option<&str>, key: &str) -> Option<usize> {
    let mut current: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[') {
            current = header.split(']').next().map(|name| name.trim().to_string());
            continue;
        }
        let Some((name, _)) = trimmed.split_once('=') else {
            continue;
        };
        let name = name.trim().trim_matches('"');
        if current.as_deref() == section && name == key {
            return Some(index + 1);
        }
        // Dotted keys at the top level: `training.learning_rate = 0.1`.
        if current.is_none() && section.is_some_and(|s| name == format!("{s}.{key}")) {
            return Some(index + 1);
        }
    }
    None
}

/// The `section.key` written at the error's span, if the span points into a key/value line.
fn key_at(text: &str, span: Option<std::ops::Range<usize>>) -> Option<String> {
    let span = span?;
    let line_number = line_of_offset(text, span.start);
    let mut section: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(header) = trimmed.strip_prefix('[') {
            section = header.split(']').next().map(|s| s.trim().to_string());
        }
        if index + 1 == line_number {
            let (name, _) = trimmed.split_once('=')?;
            let name = name.trim().trim_matches('"');
            return Some(match &section {
                Some(section) => format!("{section}.{name}"),
                None => name.to_string(),
            });
        }
    }
    None
}

fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let name = rest.split('`').next()?;
    Some(name.to_string())
}

fn clean_toml_message(message: &str) -> String {
    message.trim().trim_end_matches('.').replace('\n', " ")
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
