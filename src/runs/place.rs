//! Where the runs are, as the commands that name runs take it: `--dir DIR`, or the config's
//! `checkpoint.dir` (`--config`, `--profile`). The config is read only when a run is named by id
//! or `latest`; a folder path needs none.

use std::path::{Path, PathBuf};

use clap::Args;

use super::{RunsError, resolve};
use crate::config::Config;
use crate::session::{self, ConfigArgs, Error};

/// The options that say where the runs are.
#[derive(Debug, Clone, Args, Default)]
pub struct RunsFolder {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The folder holding one folder per run (default: the config's checkpoint.dir).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The config file every command reads by default.
const DEFAULT_CONFIG: &str = "config.toml";

impl RunsFolder {
    /// The folder the runs are in. Without a config.toml where none was named, the defaults'
    /// `runs`: listing runs needs no config of its own.
    pub fn root(&self) -> Result<PathBuf, Error> {
        if let Some(dir) = &self.dir {
            return Ok(dir.clone());
        }
        let config =
            if self.config.config == Path::new(DEFAULT_CONFIG) && !self.config.config.exists() {
                Config::default()
            } else {
                session::load_config(&self.config)?
            };
        Ok(PathBuf::from(config.checkpoint.dir))
    }

    /// The run folder `name` stands for (a run id, a folder, or `latest`: [`super::newest`]).
    pub fn resolve(&self, name: &str) -> Result<PathBuf, Error> {
        let path = Path::new(name);
        if name != "latest" && path.components().count() > 1 && path.is_dir() {
            // A path to a folder needs no config.
            return resolve(Path::new("."), name).map_err(runs_error);
        }
        resolve(&self.root()?, name).map_err(runs_error)
    }
}

/// A runs error as the commands exit with it: 2 for a name that is not there, 1 for a folder
/// that cannot be read.
pub fn runs_error(error: RunsError) -> Error {
    if error.is_usage() {
        Error::Usage(error.to_string())
    } else {
        Error::Failed(error.to_string())
    }
}
