//! What the front ends and the commands share before any work starts: the options that name the
//! config and the run, loading the config, finding and checking a checkpoint (to resume from, or
//! to look at), and the model a checkpoint holds. All of it fails before any work is done, with a
//! message and an exit status.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use clap::Args;
use clap::builder::{EnumValueParser, TypedValueParser};

use crate::config::{Config, ConfigError};
use crate::data::batcher::Transform;
use crate::model::{AlexNet, AlexNetConfig};
use crate::precision::{self, Precision, Resolved};
use crate::train::checkpoint::{self, Checkpoint, CheckpointError};
use crate::train::lock::{self, LockError, LockState, Phase, RunLock};
use crate::train::run_dir;
use crate::train::runtime;

/// Which config to load: every command that reads one takes these options.
#[derive(Debug, Clone, Args, Default)]
pub struct ConfigArgs {
    /// The config file.
    #[arg(long, default_value = "config.toml")]
    pub config: PathBuf,
    /// A named profile ("seed" or "fast"); keys written in the config file still override it.
    #[arg(long)]
    pub profile: Option<String>,
}

/// `--precision` as the command line spells it: clap's mirror of the core's [`Precision`], which
/// knows nothing of clap. The doc comments are the help's descriptions of the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PrecisionFlag {
    /// Everything in f32 (the notebook).
    F32,
    /// Convolutions and matrix products in bf16, everything else f32.
    Bf16,
    /// bf16 where the hardware computes it natively, else f32.
    Auto,
}

impl From<PrecisionFlag> for Precision {
    fn from(flag: PrecisionFlag) -> Precision {
        match flag {
            PrecisionFlag::F32 => Precision::F32,
            PrecisionFlag::Bf16 => Precision::Bf16,
            PrecisionFlag::Auto => Precision::Auto,
        }
    }
}

/// The parser of a `--precision` option that gives the core's [`Precision`]: clap lists and
/// checks the values as it would for a `ValueEnum`.
pub fn precision_parser() -> impl TypedValueParser<Value = Precision> {
    EnumValueParser::<PrecisionFlag>::new().map(Precision::from)
}

/// How to train: the options of `train`, and of `alexnet-tui` with no command.
#[derive(Debug, Clone, Args, Default)]
pub struct TrainArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Continue a run from a checkpoint file, or with "latest" from the most recently written
    /// checkpoint of any run under checkpoint.dir that no other process holds.
    #[arg(long, value_name = "PATH|latest")]
    pub resume: Option<String>,
    /// Print progress lines instead of opening the dashboard.
    #[arg(long)]
    pub headless: bool,
    /// With --headless (or without a terminal): print one JSON object per event.
    #[arg(long)]
    pub json: bool,
    /// In the dashboard, start training at once instead of waiting for a key.
    #[arg(long)]
    pub start: bool,
    /// With --resume: start a new run from the checkpoint (with the current config.toml),
    /// leaving the checkpoint's run as it is; the new run records it as its parent.
    #[arg(long, requires = "resume")]
    pub branch: bool,
    /// In the dashboard, draw this earlier run's curves behind the live ones: a run id, a run
    /// folder, or "latest" (the run under checkpoint.dir started last).
    #[arg(long, value_name = "RUN")]
    pub compare: Option<String>,
}

/// A failure before or outside training. A bad config or a bad use of the options exits with 2,
/// anything else with 1.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file cannot be read or is not valid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The command line asks for something that cannot be done as asked.
    #[error("{0}")]
    Usage(String),
    /// A checkpoint cannot be read, or its weights do not fit its own model.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Training, evaluation or the data set failed.
    #[error(transparent)]
    Training(#[from] crate::train::Error),
    /// Anything else, already worded for people.
    #[error("{0}")]
    Failed(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Usage(_) => 2,
            Error::Checkpoint(_) | Error::Training(_) | Error::Failed(_) => 1,
        }
    }
}

/// A validated start: the config and, when resuming, the checkpoint.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub config: Config,
    pub config_path: PathBuf,
    pub profile_override: Option<String>,
    pub resume: Option<(PathBuf, Checkpoint)>,
    /// Start a new run from `resume` instead of continuing its run.
    pub branch: bool,
    /// The dashboard's overlay, as `--compare` names it (not checked yet).
    pub compare: Option<String>,
    /// The resumed run, held from the moment its checkpoint was opened until the front end ends.
    pub hold: Option<RunLock>,
}

pub fn load_config(args: &ConfigArgs) -> Result<Config, Error> {
    Ok(Config::load(&args.config, args.profile.as_deref())?)
}

pub fn prepare(args: &TrainArgs) -> Result<Prepared, Error> {
    let config = load_config(&args.config)?;
    let resume = match &args.resume {
        None => None,
        Some(which) => Some(load_resume(which, &config, args.branch)?),
    };
    let hold = match &resume {
        Some((path, _)) => hold_run(path, args.branch)?,
        None => None,
    };
    Ok(Prepared {
        config,
        config_path: args.config.config.clone(),
        profile_override: args.config.profile.clone(),
        resume,
        branch: args.branch,
        compare: args.compare.clone(),
        hold,
    })
}

/// Reads the checkpoint named by a path or `latest` (the most recently written checkpoint of a
/// run under the config's checkpoint folder that no other process holds:
/// [`checkpoint::newest_unheld`]). `flag` names the option in messages.
pub fn read_checkpoint(
    flag: &str,
    which: &str,
    config: &Config,
) -> Result<(PathBuf, Checkpoint), Error> {
    let path = if which == "latest" {
        checkpoint::newest_unheld(Path::new(&config.checkpoint.dir))
            .map_err(|error| Error::Usage(format!("{flag} latest: {error}; start a run first")))?
    } else {
        PathBuf::from(which)
    };
    let checkpoint = Checkpoint::read(&path)?;
    Ok((path, checkpoint))
}

/// Reads the checkpoint named by `--resume` and checks that the config can continue it: as its
/// own run (which no other process may be training), or as a new run branching from it (whose
/// parent's folder must still be there, so that the branch can name it).
pub fn load_resume(
    which: &str,
    config: &Config,
    branch: bool,
) -> Result<(PathBuf, Checkpoint), Error> {
    let (path, checkpoint) = read_checkpoint("--resume", which, config)?;
    let doing = if branch { "branch" } else { "resume" };
    if let Some(problem) = checkpoint.meta.config.resume_incompatibility(config) {
        return Err(Error::Usage(format!(
            "{}: cannot {doing}: {problem}. Set it back in the config, or start a new run",
            path.display()
        )));
    }
    let run_dir = run_dir::of_checkpoint(&path).filter(|dir| {
        dir.file_name()
            .is_some_and(|name| *name == *checkpoint.meta.run_id)
    });
    let Some(run_dir) = run_dir.filter(|dir| dir.is_dir()) else {
        return Err(Error::Usage(format!(
            "{}: cannot {doing}: this checkpoint of run {} is not inside that run's folder \
             (<checkpoint.dir>/{}/checkpoints/); was the run folder moved or deleted?",
            path.display(),
            checkpoint.meta.run_id,
            checkpoint.meta.run_id
        )));
    };
    if !branch
        && let LockState::Held(owner) = lock::state(&run_dir)
        && !owner.is_me()
    {
        return Err(Error::Usage(format!(
            "{}: cannot resume: {} run {} now; add --branch to start a new run from this checkpoint",
            path.display(),
            match owner.phase {
                Phase::Opened => format!("process {} has opened", owner.pid),
                Phase::Cleaning => format!("process {} is cleaning", owner.pid),
                Phase::Training => format!("process {} is training", owner.pid),
            },
            checkpoint.meta.run_id
        )));
    }
    if !branch && let Some(newer) = newer_checkpoint(&run_dir, checkpoint.meta.step) {
        return Err(Error::Usage(format!(
            "{}: cannot resume: run {} has a newer checkpoint, {} (step {}); resuming an older one would \
             write over what was trained since. Resume the newest, or add --branch to start a new run from this one",
            path.display(),
            checkpoint.meta.run_id,
            newer.0.display(),
            newer.1
        )));
    }
    Ok((path, checkpoint))
}

/// The newest checkpoint of the run in `run_dir` when it is past `step`: its path and step.
fn newer_checkpoint(run_dir: &Path, step: u64) -> Option<(PathBuf, u64)> {
    let newest = checkpoint::list(&run_dir.join(checkpoint::CHECKPOINTS_DIR))
        .into_iter()
        .filter_map(|path| Some((checkpoint::read_meta(&path)?.step, path)))
        .max_by_key(|(step, _)| *step)?;
    (newest.0 > step).then_some((newest.1, newest.0))
}

/// Holds the run a resume continues from the moment its checkpoint is opened (a dashboard may
/// wait in Ready a long time): no other process resumes it, and `runs clean` leaves it alone.
/// A branch holds nothing: its parent's folder is only read.
pub fn hold_run(path: &Path, branch: bool) -> Result<Option<RunLock>, Error> {
    if branch {
        return Ok(None);
    }
    let Some(run_dir) = run_dir::of_checkpoint(path) else {
        return Ok(None);
    };
    match lock::acquire(&run_dir, Phase::Opened) {
        Ok(lock) => Ok(Some(lock)),
        Err(error @ LockError::Held { .. }) => Err(Error::Usage(format!(
            "{}: cannot resume: {error}",
            path.display()
        ))),
        Err(error) => Err(Error::Failed(error.to_string())),
    }
}

/// The checkpoint's model on `device`, built from the checkpoint's own config (its input size
/// and dropout), not the config file's, with the checkpoint's weights. `path` names the
/// checkpoint in messages.
pub fn restore_model(
    checkpoint: &Checkpoint,
    path: &Path,
    device: &Device,
) -> Result<AlexNet, Error> {
    let trained = &checkpoint.meta.config.model;
    let model = AlexNetConfig {
        resize: trained.resize,
        dropout: trained.dropout,
    }
    .init(device);
    Ok(checkpoint::model_from_bytes(
        model,
        checkpoint.model.clone(),
        path,
    )?)
}

/// How the checkpoint's model was fed: its own resize and normalization, which any picture or
/// test image given to it must go through.
pub fn trained_transform(checkpoint: &Checkpoint) -> Transform {
    let trained = &checkpoint.meta.config;
    Transform {
        resize: trained.model.resize,
        normalize: trained.training.normalize,
    }
}

/// A checkpoint opened for inference on the CPU, as `eval`, `export` and `predict` use it.
pub struct Restored {
    /// The config file's settings (threads, data folder, batch sizes), not the checkpoint's.
    pub config: Config,
    pub path: PathBuf,
    pub checkpoint: Checkpoint,
    pub model: AlexNet,
    pub transform: Transform,
    pub device: Device,
    /// What the model computes in, and why.
    pub precision: Resolved,
}

/// The precision a checkpoint's model computes in on the CPU: `--precision` if given, else the
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

/// Loads the config, reads the checkpoint named by `--checkpoint` (a path or `latest`), sets
/// libtorch's threads from the config and restores the model on the CPU, computing in the
/// precision `--precision` gives (`None`: the checkpoint's run's).
pub fn restore(
    config_args: &ConfigArgs,
    which: &str,
    precision_flag: Option<Precision>,
) -> Result<Restored, Error> {
    let config = load_config(config_args)?;
    let (path, checkpoint) = read_checkpoint("--checkpoint", which, &config)?;
    runtime::configure_threads(config.training.threads, config.training.interop_threads);
    let device = runtime::cpu();
    let precision = checkpoint_precision(&checkpoint, precision_flag);
    let model = restore_model(&checkpoint, &path, &device)?.with_compute(precision.compute);
    let transform = trained_transform(&checkpoint);
    Ok(Restored {
        config,
        path,
        checkpoint,
        model,
        transform,
        device,
        precision,
    })
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn each_precision_flag_is_spelled_as_config_toml_spells_its_precision() {
        for flag in PrecisionFlag::value_variants() {
            let name = flag
                .to_possible_value()
                .map(|value| value.get_name().to_string());
            assert_eq!(name, Some(Precision::from(*flag).to_string()));
        }
        // No wildcard: a precision added to config does not compile here until it has a flag.
        let flag_of = |precision: Precision| match precision {
            Precision::F32 => PrecisionFlag::F32,
            Precision::Bf16 => PrecisionFlag::Bf16,
            Precision::Auto => PrecisionFlag::Auto,
        };
        for precision in [Precision::F32, Precision::Bf16, Precision::Auto] {
            assert_eq!(Precision::from(flag_of(precision)), precision);
        }
    }
}
