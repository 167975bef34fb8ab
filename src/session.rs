//! What every front end does before training: load the config, find and check the checkpoint to
//! resume from. All of it fails before any work is done, with a message and an exit status.

#![allow(deprecated)] // burn-tch's device constructor, see train::worker.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::{ConfigArgs, SummaryArgs, TrainArgs};
use crate::config::{Config, ConfigError};
use crate::model::{AlexNetConfig, format_summary, summarize};
use crate::train::checkpoint::{self, Checkpoint};

/// A failure before or outside training. Config and usage errors exit with 2.
#[derive(Debug)]
pub enum Error {
    Config(ConfigError),
    Usage(String),
    Failed(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Usage(_) => 2,
            Error::Failed(_) => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(error) => write!(f, "{error}"),
            Error::Usage(message) | Error::Failed(message) => write!(f, "{message}"),
        }
    }
}

impl From<ConfigError> for Error {
    fn from(error: ConfigError) -> Self {
        Error::Config(error)
    }
}

/// A validated start: the config and, when resuming, the checkpoint.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub config: Config,
    pub config_path: PathBuf,
    pub profile_override: Option<String>,
    pub resume: Option<(PathBuf, Checkpoint)>,
}

pub fn load_config(args: &ConfigArgs) -> Result<Config, Error> {
    Ok(Config::load(&args.config, args.profile.as_deref())?)
}

pub fn prepare(args: &TrainArgs) -> Result<Prepared, Error> {
    let config = load_config(&args.config)?;
    let resume = match &args.resume {
        None => None,
        Some(which) => Some(load_resume(which, &config)?),
    };
    Ok(Prepared {
        config,
        config_path: args.config.config.clone(),
        profile_override: args.config.profile.clone(),
        resume,
    })
}

/// Reads the checkpoint named by a path or `latest` (the newest under the config's checkpoint
/// folder). `flag` names the option in messages.
pub fn read_checkpoint(
    flag: &str,
    which: &str,
    config: &Config,
) -> Result<(PathBuf, Checkpoint), Error> {
    let path = if which == "latest" {
        checkpoint::latest(Path::new(&config.checkpoint.dir))
            .map_err(|error| Error::Usage(format!("{flag} latest: {error}; start a run first")))?
    } else {
        PathBuf::from(which)
    };
    let checkpoint = Checkpoint::read(&path).map_err(|error| Error::Failed(error.to_string()))?;
    Ok((path, checkpoint))
}

/// Reads the checkpoint named by `--resume` and checks that the config can continue it.
pub fn load_resume(which: &str, config: &Config) -> Result<(PathBuf, Checkpoint), Error> {
    let (path, checkpoint) = read_checkpoint("--resume", which, config)?;
    if let Some(problem) = checkpoint.meta.config.resume_incompatibility(config) {
        return Err(Error::Usage(format!(
            "{}: cannot resume: {problem}. Set it back in the config, or start a new run",
            path.display()
        )));
    }
    Ok((path, checkpoint))
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
        None => load_config(&args.config)?.model.resize,
    };
    let device = burn::tensor::Device::libtorch();
    let model = AlexNetConfig {
        resize,
        dropout: 0.5,
    }
    .init(&device);
    println!("AlexNet for a [1, 1, {resize}, {resize}] input");
    print!("{}", format_summary(&summarize(&model, resize, &device)));
    Ok(ExitCode::SUCCESS)
}
