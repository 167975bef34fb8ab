//! The runs under a checkpoint folder, as `runs`, `compare`, `plot` and `runs clean` see them:
//! [`list`] and [`summarize`] say what each run folder holds and how it stands, [`resolve`] finds
//! the run a person names, [`side_by_side`] lines up two or more, [`clean_plan`] plans what
//! removing their checkpoints frees, [`standing`] says how one run stands against another.
//!
//! Everything here reads the small files of a run folder: run.json (written by runs of this
//! version), and for runs of earlier versions their metrics.csv and config.toml (see
//! `unrecorded.rs`). A checkpoint is never opened (173 MB each, checksummed on read): listing a
//! hundred runs takes well under a second. A folder that cannot be read is one damaged run with
//! its problem, never a reason to hide the others.

pub mod clean_plan;
mod disk;
mod place;
pub mod side_by_side;
pub mod standing;
mod unrecorded;
mod words;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::config::{Change, Config};
use crate::train::checkpoint;
use crate::train::lock::{self, LockState, Phase};
use crate::train::metrics::{METRICS_FILE, TestPoint};
use crate::train::record::{EndReason, LiveChange, Parent, RECORD_FILE, RunRecord};

pub use place::{RunsFolder, runs_error};
pub use words::{
    is_bookkeeping, key_rank, setting_value, short_changes, short_key, short_live_change,
    started_text,
};

/// The folder inside a run that holds its checkpoints.
pub const CHECKPOINTS_DIR: &str = "checkpoints";

/// How a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// A live process trains it (it holds the run's lock).
    Running,
    /// It trained every epoch asked for, or reached its target accuracy.
    Finished,
    /// Stopped by a person; it can be resumed.
    Stopped,
    /// Training failed with an error.
    Failed,
    /// Its record says it never ended and no live process holds its lock: the process was
    /// killed or crashed. It can be resumed from its last checkpoint.
    Crashed,
    /// A live process has opened it to resume it and not started training yet (a dashboard
    /// waiting in Ready): nothing may delete its checkpoints.
    Opened,
    /// Written by a version before run.json: how it ended is not known, which is not a crash.
    Legacy,
    /// Its run.json or metrics.csv cannot be read; [`RunSummary::problem`] says why.
    Damaged,
}

impl RunState {
    /// The state in a word, for people.
    pub fn label(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Finished => "finished",
            RunState::Stopped => "stopped",
            RunState::Failed => "failed",
            RunState::Crashed => "crashed",
            RunState::Opened => "opened, not training",
            RunState::Legacy => "earlier version",
            RunState::Damaged => "damaged",
        }
    }
}

/// A [`TestPoint`] as `runs --json` has always printed it: `accuracy`, `position`,
/// `elapsed_seconds` (`null` when not known: runs of earlier versions do not say).
fn listed<S: serde::Serializer>(point: &Option<TestPoint>, to: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Shape {
        accuracy: f64,
        position: f64,
        elapsed_seconds: Option<f64>,
    }
    point
        .map(|point| Shape {
            accuracy: point.accuracy,
            position: point.position,
            elapsed_seconds: point.elapsed_seconds,
        })
        .serialize(to)
}

/// What one run folder holds. Serialized as `runs --json` prints it (snake_case, stable).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// The folder's name.
    pub id: String,
    pub dir: PathBuf,
    pub state: RunState,
    /// The run's record, when it has a readable one.
    #[serde(skip)]
    pub record: Option<RunRecord>,
    /// The settings the run started with: from its record, or from the config.toml of a run of
    /// an earlier version.
    #[serde(skip)]
    pub config: Option<Config>,
    /// When training first started, RFC 3339 in UTC: from the record, else from the folder's
    /// name (a run id is the UTC time the run was created), else the folder's modification time.
    pub started: Option<String>,
    /// When a file of the run was last written.
    #[serde(skip)]
    pub modified: Option<SystemTime>,
    pub profile: Option<String>,
    /// The settings at the start that differ from the profile's.
    pub differs: Vec<Change>,
    /// Settings changed while it trained.
    pub live_changes: Vec<LiveChange>,
    /// How far it trained, in epochs.
    pub epochs_done: Option<f64>,
    /// The best test accuracy, and where.
    #[serde(serialize_with = "listed")]
    pub best: Option<TestPoint>,
    /// The newest test.
    #[serde(serialize_with = "listed")]
    pub final_test: Option<TestPoint>,
    /// `training.target_accuracy` at the start (0: none).
    pub target_accuracy: Option<f64>,
    /// The first test at or above the target.
    #[serde(serialize_with = "listed")]
    pub target_reached: Option<TestPoint>,
    /// Mean training throughput (tests and pauses excluded).
    pub images_per_second: Option<f64>,
    /// How the run ended, when its record says.
    pub end_reason: Option<EndReason>,
    /// What went wrong, for a failed run.
    pub end_message: Option<String>,
    pub checkpoints: usize,
    pub checkpoint_bytes: u64,
    /// Every file of the folder.
    pub disk_bytes: u64,
    /// The run it branched from, for a branch.
    pub parent: Option<Parent>,
    /// The process training it, for a running run.
    pub pid: Option<u32>,
    /// Why the run could not be read, for a damaged one.
    pub problem: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunsError {
    #[error("{path}: cannot list the runs: {source}")]
    ReadRoot {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "no run \"{name}\" in {root}{nearest}; `alexnet-tui runs` lists them",
        root = root.display(),
        nearest = words::nearest_text(nearest)
    )]
    Unknown {
        name: String,
        root: PathBuf,
        nearest: Vec<String>,
    },
    #[error("{0}: not a run folder (no run.json, metrics.csv or checkpoints/ in it)")]
    NotARun(PathBuf),
    #[error("latest: no runs in {0} yet")]
    NoRuns(PathBuf),
}

impl RunsError {
    /// Whether the person named something that is not there (as opposed to a folder that
    /// exists but cannot be read): the commands exit with 2 for these.
    pub fn is_usage(&self) -> bool {
        !matches!(self, RunsError::ReadRoot { .. })
    }
}

/// Whether `dir` is a run folder of this program: it has a run record, a lock, a checkpoint in
/// this program's format, or a metrics.csv with this program's header. Other folders next to the
/// runs are none: another tool's runs with their own `checkpoints/` and `metrics.csv` (PyTorch
/// Lightning's `version_0/`), an editor's, a copy of the data.
pub fn is_run(dir: &Path) -> bool {
    dir.join(RECORD_FILE).is_file()
        || dir.join(lock::LOCK_FILE).is_file()
        || !checkpoint_files(dir).is_empty()
        || metrics_is_ours(&dir.join(METRICS_FILE))
}

/// Whether a metrics.csv starts with the header this program writes (every version's begins
/// with these columns).
fn metrics_is_ours(path: &Path) -> bool {
    use std::io::Read;
    let mut start = [0u8; 17];
    std::fs::File::open(path)
        .and_then(|mut file| file.read_exact(&mut start))
        .is_ok_and(|()| &start == b"kind,epoch,batch,")
}

/// Every run under `root`, newest first. Fails only when `root` itself cannot be read; a run that
/// cannot be read is in the list as [`RunState::Damaged`].
pub fn list(root: &Path) -> Result<Vec<RunSummary>, RunsError> {
    let entries = std::fs::read_dir(root).map_err(|source| RunsError::ReadRoot {
        path: root.to_path_buf(),
        source,
    })?;
    let mut runs: Vec<RunSummary> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir() && is_run_or_unreadable(path))
        .map(|path| summarize(&path))
        .collect();
    sort_newest_first(&mut runs);
    Ok(runs)
}

fn sort_newest_first(runs: &mut [RunSummary]) {
    runs.sort_by(|a, b| {
        let key = |run: &RunSummary| run.started.as_deref().and_then(words::parse_timestamp);
        key(b).cmp(&key(a)).then_with(|| b.id.cmp(&a.id))
    });
}

/// A folder the runs commands take: a run ([`is_run`]), or a folder this user may not look into,
/// which may be one: it is listed as damaged with the reason instead of vanishing from the list.
fn is_run_or_unreadable(dir: &Path) -> bool {
    is_run(dir)
        || std::fs::read_dir(dir)
            .is_err_and(|error| error.kind() == std::io::ErrorKind::PermissionDenied)
}

/// What the run folder `dir` holds and how it stands.
pub fn summarize(dir: &Path) -> RunSummary {
    let id = dir
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    let usage = disk::usage(dir);
    let lock = lock::state(dir);
    let mut summary = RunSummary {
        id: id.clone(),
        dir: dir.to_path_buf(),
        state: RunState::Legacy,
        record: None,
        config: None,
        started: None,
        modified: usage.modified,
        profile: None,
        differs: Vec::new(),
        live_changes: Vec::new(),
        epochs_done: None,
        best: None,
        final_test: None,
        target_accuracy: None,
        target_reached: None,
        images_per_second: None,
        end_reason: None,
        end_message: None,
        checkpoints: usage.checkpoints,
        checkpoint_bytes: usage.checkpoint_bytes,
        disk_bytes: usage.bytes,
        parent: None,
        pid: match lock {
            LockState::Held(owner) => Some(owner.pid),
            _ => None,
        },
        problem: usage.problem,
    };
    match RunRecord::read(dir) {
        Ok(Some(record)) => from_record(&mut summary, record, lock),
        Ok(None) => unrecorded::fill(&mut summary, lock),
        Err(error) => {
            summary.state = RunState::Damaged;
            summary.problem = Some(error.to_string());
        }
    }
    if summary.problem.is_some() {
        summary.state = RunState::Damaged;
    }
    if summary.started.is_none() {
        summary.started = words::started_from_id(&id).or_else(|| {
            std::fs::metadata(dir)
                .and_then(|meta| meta.modified())
                .ok()
                .and_then(words::system_time_text)
        });
    }
    summary
}

fn from_record(summary: &mut RunSummary, record: RunRecord, lock: LockState) {
    summary.state = match (lock, record.ended.as_ref().map(|ended| ended.reason)) {
        (LockState::Held(owner), _) if owner.phase == Phase::Opened => RunState::Opened,
        (LockState::Held(owner), None) if owner.phase == Phase::Training => RunState::Running,
        (_, Some(EndReason::Completed | EndReason::TargetReached)) => RunState::Finished,
        (_, Some(EndReason::Stopped)) => RunState::Stopped,
        (_, Some(EndReason::Failed)) => RunState::Failed,
        (LockState::Held(_), None) => RunState::Running,
        (_, None) => RunState::Crashed,
    };
    summary.started = Some(record.started_at.clone());
    summary.profile = Some(record.config.profile.clone());
    summary.differs = record.differs_from_profile();
    summary.live_changes = record.changes.clone();
    summary.epochs_done = Some(record.progress.position);
    summary.best = record.best;
    summary.final_test = record.last_test;
    summary.target_accuracy = Some(record.config.training.target_accuracy);
    summary.target_reached = record.target_reached;
    summary.images_per_second = record.progress.images_per_second();
    summary.end_reason = record.ended.as_ref().map(|ended| ended.reason);
    summary.end_message = record.ended.as_ref().and_then(|e| e.message.clone());
    summary.parent = record.parent.clone();
    summary.config = Some(record.config.clone());
    summary.record = Some(record);
}

/// The run folder `name` stands for: a run id under `root`, a folder path, or `latest`
/// ([`newest`]).
pub fn resolve(root: &Path, name: &str) -> Result<PathBuf, RunsError> {
    if name == "latest" {
        return newest(root);
    }
    let as_path = Path::new(name);
    // A bare id is looked up under root first: `runs/x` and a folder `x` in the current folder
    // are told apart by what the person most likely meant, the run.
    let is_bare = as_path.components().count() == 1;
    let candidates: Vec<PathBuf> = if is_bare {
        vec![root.join(name), as_path.to_path_buf()]
    } else {
        vec![as_path.to_path_buf()]
    };
    for candidate in &candidates {
        if candidate.is_dir() {
            return if is_run_or_unreadable(candidate) {
                Ok(candidate.clone())
            } else {
                Err(RunsError::NotARun(candidate.clone()))
            };
        }
    }
    let ids: Vec<String> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| entry.path().is_dir() && is_run_or_unreadable(&entry.path()))
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    Err(RunsError::Unknown {
        name: name.to_string(),
        root: root.to_path_buf(),
        nearest: words::nearest(name, &ids, 3),
    })
}

/// The newest run under `root`: the one started last (the first [`list`] gives). This is what
/// `latest` names where a run is asked for (`compare`, `plot`, `runs clean`, `--compare`). Where
/// a checkpoint is asked for, `latest` is [`checkpoint::newest_unheld`] instead: the most
/// recently written checkpoint of a run no other process holds, which may be another run's.
pub fn newest(root: &Path) -> Result<PathBuf, RunsError> {
    list(root)?
        .into_iter()
        .next()
        .map(|run| run.dir)
        .ok_or_else(|| RunsError::NoRuns(root.to_path_buf()))
}

/// The checkpoint files of a run, oldest step first (names only: none is opened).
pub fn checkpoint_files(dir: &Path) -> Vec<PathBuf> {
    checkpoint::list(&dir.join(CHECKPOINTS_DIR))
}
