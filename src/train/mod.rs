//! The training side: a worker thread that owns the model, the optimizer and the data, driven by
//! [`Command`]s and reporting [`Event`]s. Nothing here knows about terminals; the dashboard and
//! the headless runner are two views of the same events.

pub mod checkpoint;
pub mod lock;
pub mod metrics;
pub mod range_test;
pub mod record;
pub mod run_dir;
pub mod runtime;
pub mod schedule;
pub mod sgd;
pub mod snapshot;
pub mod step;
pub mod worker;

use std::path::PathBuf;

use serde::Serialize;

use crate::config::{Change, Config};
use crate::model::LayerSummary;
use metrics::{BatchRecord, EpochRecord, History, TestCheck};

/// Why training could not go on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Data(#[from] crate::data::fashion_mnist::DataError),
    #[error(transparent)]
    Device(#[from] runtime::DeviceError),
    #[error(transparent)]
    RunDir(#[from] run_dir::RunDirError),
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error(transparent)]
    Lock(#[from] lock::LockError),
    #[error(transparent)]
    Record(#[from] record::RecordError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the config used: {0}")]
    ConfigText(#[from] toml::ser::Error),
    #[error("cannot read a result back from libtorch: {0}")]
    Readback(String),
}

/// What the front end asks of the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Start,
    Pause,
    Resume,
    /// Save a checkpoint and end the run.
    Stop,
    /// Save a checkpoint now and carry on.
    Save,
    /// A freshly loaded config: the worker takes the values of the live keys it applies
    /// ([`crate::config::Applier::Worker`]) and ignores the rest.
    Reconfigure(Box<Config>),
    /// Before training starts: a learning-rate range test ([`range_test`]) from the current
    /// weights, with the run's optimizer, batch size and inputs. The weights, the optimizer state
    /// and the position are put back afterwards, bit for bit.
    FindLearningRate,
    /// Ends a range test before its last batch; its curve so far is reported.
    CancelRangeTest,
}

/// Why training paused.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PauseReason {
    Requested,
    /// The loss became NaN or infinite; the weights of the last checkpoint are untouched.
    NonFiniteLoss {
        loss: f64,
        learning_rate: f64,
    },
    /// A checkpoint or metrics.csv could not be written (see [`Event::SaveFailed`]); training
    /// waits until there is room again.
    SaveFailed {
        message: String,
    },
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Completed,
    Stopped,
    TargetReached,
}

/// Why a checkpoint was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SaveReason {
    EpochEnd,
    Interval,
    Requested,
    Stop,
    /// A test inside an epoch reached the target accuracy.
    TargetReached,
    /// The run ended inside an epoch (a fractional `training.epochs`).
    RunEnd,
}

/// What the worker tells the front end.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Event {
    /// Something is being prepared (loading data, building the model).
    Status {
        message: String,
    },
    /// Download progress of one data file.
    Download {
        file: String,
        bytes: u64,
        total: Option<u64>,
    },
    /// The worker is ready to start (or resume) training.
    Ready(Box<ReadyInfo>),
    /// Training starts in this run folder (made now for a new run or a branch; a run folder is
    /// never made before training starts), which this process holds locked until the run ends.
    Opened {
        run_id: String,
        run_dir: PathBuf,
        /// The run this one branched from.
        parent: Option<record::Parent>,
    },
    Started {
        epoch: usize,
        batch: usize,
    },
    Batch(BatchRecord),
    /// The test set is being evaluated, at this position on the epoch axis (a whole number at
    /// an epoch end).
    Evaluating {
        position: f64,
    },
    Epoch(Box<EpochRecord>),
    /// A test inside an epoch (`training.eval_every` below 1) is done.
    Tested(Box<TestCheck>),
    /// The gallery's predictions and the first-layer filters, when ready and after each test pass.
    Snapshot(Box<snapshot::Snapshot>),
    Checkpointed {
        path: PathBuf,
        reason: SaveReason,
        /// The test accuracy of exactly these weights, when they were just tested.
        test_accuracy: Option<f64>,
    },
    /// Older checkpoints of this run were removed.
    Pruned {
        paths: Vec<PathBuf>,
        why: String,
    },
    /// A save was asked for, but the weights diverged: the last good checkpoint stays.
    NotSaved {
        reason: SaveReason,
        last_good: Option<PathBuf>,
    },
    /// A checkpoint or metrics.csv could not be written, even after freeing space.
    SaveFailed(Box<SaveFailure>),
    /// After a non-finite loss, training went back to the last good checkpoint.
    RolledBack {
        path: PathBuf,
        epoch: usize,
        batch: usize,
    },
    Paused {
        reason: PauseReason,
    },
    Resumed,
    /// Live settings the worker took from a [`Command::Reconfigure`], as config.toml writes them.
    Reconfigured {
        changes: Vec<Change>,
    },
    /// A range test begins, over these rates.
    RangeStarted(range_test::RangeSettings),
    /// One batch of the range test, and how long it took.
    RangeBatch {
        point: range_test::RangePoint,
        seconds: f64,
    },
    /// The range test is over: its curve and suggestions. The weights, the optimizer state and
    /// the position are those before it again.
    RangeTested(Box<range_test::RangeTest>),
    /// A problem that did not stop training (e.g. a checkpoint could not be written).
    Warning {
        message: String,
    },
    Finished {
        reason: FinishReason,
    },
    Failed {
        message: String,
    },
}

/// Which file could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SavedFile {
    Checkpoint,
    Metrics,
}

/// What could not be written, and what is therefore not kept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SaveFailure {
    pub file: SavedFile,
    pub path: PathBuf,
    pub reason: SaveReason,
    pub message: String,
    /// The disk (or a quota) was full: freeing space and saving again cures it.
    pub out_of_space: bool,
    /// The newest checkpoint that was written, if any.
    pub newest_saved: Option<PathBuf>,
    /// Where the newest saved checkpoint stands (epoch, batch), and how many training steps
    /// since then exist only in memory.
    pub saved_epoch: usize,
    pub saved_batch: usize,
    pub unsaved_steps: u64,
}

/// Everything the front end shows before the first batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadyInfo {
    /// The run being resumed; `None` for a new run or a branch, whose id and folder come with
    /// [`Event::Opened`] when training starts.
    pub run_id: Option<String>,
    pub run_dir: Option<PathBuf>,
    pub device: String,
    pub threads: usize,
    /// What the convolutions and matrix products compute in: "f32" or "bf16".
    pub precision: String,
    /// Why, e.g. "auto: this CPU has no native bf16 (no avx512_bf16/amx_bf16)".
    pub precision_reason: String,
    pub summary: Vec<LayerSummary>,
    pub train_images: usize,
    pub test_images: usize,
    pub data_source: PathBuf,
    pub batches_per_epoch: usize,
    /// Where training continues: (epoch, batch).
    pub position: (usize, usize),
    /// The history of a resumed run (empty for a new one).
    pub history: History,
    pub resumed_from: Option<PathBuf>,
}
