//! The training side: a worker thread that owns the model, the optimizer and the data, driven by
//! [`Command`]s and reporting [`Event`]s. Nothing here knows about terminals; the dashboard and
//! the headless runner are two views of the same events.

pub mod checkpoint;
pub mod metrics;
pub mod schedule;
pub mod sgd;
pub mod snapshot;
pub mod worker;

use std::path::PathBuf;

use serde::Serialize;

use crate::config::LiveSettings;
use crate::model::LayerSummary;
use metrics::{BatchRecord, EpochRecord, History, TestCheck};

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
    /// New values for the settings that may change while training.
    Reconfigure(LiveSettings),
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
    },
    Paused {
        reason: PauseReason,
    },
    Resumed,
    Reconfigured {
        settings: LiveSettings,
    },
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

/// Everything the front end shows before the first batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadyInfo {
    pub run_id: String,
    pub run_dir: PathBuf,
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
