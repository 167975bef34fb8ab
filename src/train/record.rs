//! `run.json`: what a run is, kept current while it trains, so that listing and comparing runs
//! never opens a checkpoint (173 MB, checksummed on read). The worker writes it (atomically) when
//! training starts, after every test and checkpoint, on every live change and when the run
//! ends; `runs`, `compare` and the dashboard's overlay picker read it.
//!
//! A run folder without one comes from a version before it existed: readers fall back on its
//! metrics.csv and checkpoint names.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{Change, Config, Profile};
use crate::train::metrics::TestPoint;

/// The record's file name in a run folder.
pub const RECORD_FILE: &str = "run.json";
const FORMAT: u32 = 1;

/// One run, as `run.json` holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Version of this layout.
    pub format: u32,
    pub run_id: String,
    /// When training first started (RFC 3339, UTC).
    pub started_at: String,
    /// The settings in force when training first started; `changes` lists what changed live.
    pub config: Config,
    #[serde(default)]
    pub changes: Vec<LiveChange>,
    /// The run this one branched from, for a branch.
    #[serde(default)]
    pub parent: Option<Parent>,
    /// Every time training started in this folder: the first start, then each resume.
    #[serde(default)]
    pub sessions: Vec<Session>,
    pub progress: Progress,
    /// The best test accuracy so far, and where.
    #[serde(default)]
    pub best: Option<TestPoint>,
    /// The first test at or above `training.target_accuracy`.
    #[serde(default)]
    pub target_reached: Option<TestPoint>,
    /// The newest test.
    #[serde(default)]
    pub last_test: Option<TestPoint>,
    /// The checkpoint with the best recorded test accuracy, which thinning always keeps (a file
    /// name in `checkpoints/`).
    #[serde(default)]
    pub best_checkpoint: Option<SavedCheckpoint>,
    /// The newest checkpoint written (a file name in `checkpoints/`).
    #[serde(default)]
    pub last_checkpoint: Option<String>,
    /// How the run ended; `None` while it runs, or when its process died without a word.
    #[serde(default)]
    pub ended: Option<Ending>,
}

/// A live setting that changed, and from which training step it applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveChange {
    pub step: u64,
    /// Where training stood on the epoch axis.
    pub position: f64,
    pub key: String,
    pub old: String,
    pub new: String,
}

/// Where a branch came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parent {
    pub run_id: String,
    /// The parent's step and epoch position at the checkpoint branched from.
    pub step: u64,
    pub position: f64,
    /// The checkpoint file, as it was named when the branch started.
    pub checkpoint: PathBuf,
}

/// One stretch of training in this folder, from a start or a resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub started_at: String,
    /// The step training started from.
    pub step: u64,
    /// The checkpoint resumed from (none for the first start of a new run).
    #[serde(default)]
    pub resumed_from: Option<PathBuf>,
}

/// How far the run got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Training steps taken (a branch counts its parent's too: the step axis is continuous).
    pub step: u64,
    /// Position on the epoch axis.
    pub position: f64,
    /// Wall-clock training time of the run (pauses excluded, tests included; a branch's
    /// includes its parent's up to the branch point, like its history).
    pub elapsed_seconds: f64,
    /// Images trained in this folder, and the seconds their steps took: their ratio is the
    /// run's mean throughput (tests and pauses excluded).
    pub images: u64,
    pub train_seconds: f64,
}

impl Progress {
    /// Mean training throughput, images per second.
    pub fn images_per_second(&self) -> Option<f64> {
        (self.train_seconds > 0.0).then(|| self.images as f64 / self.train_seconds)
    }
}

/// A checkpoint and its test accuracy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedCheckpoint {
    pub file: String,
    pub test_accuracy: f64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ending {
    pub at: String,
    pub reason: EndReason,
    /// What went wrong, for a failure.
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Trained every epoch asked for.
    Completed,
    /// A test reached `training.target_accuracy`.
    TargetReached,
    /// Stopped by the person (or the front end went away); it can be resumed.
    Stopped,
    /// Training failed with an error (the message says which).
    Failed,
}

impl EndReason {
    pub fn label(self) -> &'static str {
        match self {
            EndReason::Completed => "completed",
            EndReason::TargetReached => "target reached",
            EndReason::Stopped => "stopped",
            EndReason::Failed => "failed",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a valid run record: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: run record format {found}, this program reads format {FORMAT}")]
    Format { path: PathBuf, found: u32 },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Now, as the record writes times: RFC 3339 in UTC, to the second.
pub fn now_text() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(
            |_| jiff::Timestamp::now().to_string(),
            |now| now.to_string(),
        )
}

impl RunRecord {
    /// The record of a run that starts training now.
    pub fn new(run_id: &str, config: &Config, parent: Option<Parent>) -> RunRecord {
        RunRecord {
            format: FORMAT,
            run_id: run_id.to_string(),
            started_at: now_text(),
            config: config.clone(),
            changes: Vec::new(),
            parent,
            sessions: Vec::new(),
            progress: Progress::default(),
            best: None,
            target_reached: None,
            last_test: None,
            best_checkpoint: None,
            last_checkpoint: None,
            ended: None,
        }
    }

    pub fn path(run_dir: &Path) -> PathBuf {
        run_dir.join(RECORD_FILE)
    }

    /// Reads `run_dir/run.json`; `Ok(None)` when there is none (a run of an earlier version).
    pub fn read(run_dir: &Path) -> Result<Option<RunRecord>, RecordError> {
        let path = Self::path(run_dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(RecordError::Read { path, source }),
        };
        Self::parse(&text, &path).map(Some)
    }

    pub fn parse(text: &str, path: &Path) -> Result<RunRecord, RecordError> {
        let format = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|value| value.get("format")?.as_u64());
        if let Some(found) = format.filter(|&found| found != u64::from(FORMAT)) {
            return Err(RecordError::Format {
                path: path.to_path_buf(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
            });
        }
        serde_json::from_str(text).map_err(|error| RecordError::Parse {
            path: path.to_path_buf(),
            message: error.to_string(),
        })
    }

    /// Writes `run_dir/run.json` in one piece.
    pub fn write(&self, run_dir: &Path) -> Result<(), RecordError> {
        let path = Self::path(run_dir);
        crate::files::write_atomic(&path, |file| {
            serde_json::to_writer_pretty(&mut *file, self).map_err(std::io::Error::other)?;
            std::io::Write::write_all(file, b"\n")
        })
        .map_err(|source| RecordError::Write { path, source })
    }

    /// The settings in force at the start that differ from the run's profile.
    pub fn differs_from_profile(&self) -> Vec<Change> {
        let profile = Profile::from_name(&self.config.profile).unwrap_or(Profile::DEFAULT);
        differences_from_profile(&self.config, profile)
    }

    /// Takes in a test result; returns whether it is the best so far.
    pub fn note_test(&mut self, mark: TestPoint, target: f64) -> bool {
        self.last_test = Some(mark);
        if target > 0.0 && mark.accuracy >= target && self.target_reached.is_none() {
            self.target_reached = Some(mark);
        }
        let best = self.best.is_none_or(|best| mark.accuracy > best.accuracy);
        if best {
            self.best = Some(mark);
        }
        best
    }

    /// Takes in a checkpoint written as `file` (a name in `checkpoints/`), with the test accuracy
    /// of exactly its weights when they were tested.
    pub fn note_checkpoint(&mut self, file: &str, test_accuracy: Option<f64>) {
        self.last_checkpoint = Some(file.to_string());
        if let Some(accuracy) = test_accuracy
            && self
                .best_checkpoint
                .as_ref()
                .is_none_or(|best| accuracy > best.test_accuracy)
        {
            self.best_checkpoint = Some(SavedCheckpoint {
                file: file.to_string(),
                test_accuracy: accuracy,
            });
        }
    }

    /// Records live changes that apply from `step` on.
    pub fn note_changes(&mut self, changes: &[Change], step: u64, position: f64) {
        self.changes.extend(changes.iter().map(|change| LiveChange {
            step,
            position,
            key: change.key.clone(),
            old: change.old.clone(),
            new: change.new.clone(),
        }));
    }

    pub fn end(&mut self, reason: EndReason, message: Option<String>) {
        self.ended = Some(Ending {
            at: now_text(),
            reason,
            message,
        });
    }
}

/// The settings of `config` that differ from `profile`'s (the `profile` key itself aside).
pub fn differences_from_profile(config: &Config, profile: Profile) -> Vec<Change> {
    let mut base = profile.config();
    base.profile = config.profile.clone();
    let diff = base.diff(config);
    diff.live.into_iter().chain(diff.restart).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_through_its_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config::default();
        config.training.learning_rate = 0.1;
        let mut record = RunRecord::new("20261202-100000", &config, None);
        record.note_changes(
            &[Change {
                key: "training.learning_rate".into(),
                old: "0.1".into(),
                new: "0.02".into(),
            }],
            40,
            0.85,
        );
        record.write(dir.path()).expect("write");
        let back = RunRecord::read(dir.path()).expect("read").expect("present");
        assert_eq!(back, record);
        assert_eq!(back.changes[0].step, 40);
        assert_eq!(
            back.differs_from_profile()
                .iter()
                .map(|c| c.key.as_str())
                .collect::<Vec<_>>(),
            ["training.learning_rate"]
        );
    }

    #[test]
    fn a_missing_record_is_none_and_a_damaged_one_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(RunRecord::read(dir.path()).expect("no error").is_none());
        std::fs::write(dir.path().join(RECORD_FILE), "{\"format\": 1, \"run_id\": ").expect("w");
        let message = RunRecord::read(dir.path())
            .expect_err("damaged")
            .to_string();
        assert!(message.contains("not a valid run record"), "{message}");
        std::fs::write(dir.path().join(RECORD_FILE), "{\"format\": 7}").expect("w");
        let message = RunRecord::read(dir.path()).expect_err("newer").to_string();
        assert!(message.contains("format 7"), "{message}");
    }

    #[test]
    fn tests_keep_the_best_the_first_at_target_and_the_last() {
        let mut record = RunRecord::new("r", &Config::default(), None);
        let mark = |accuracy, position| TestPoint {
            step: Some(0),
            elapsed_seconds: Some(0.0),
            ..TestPoint::at(position, accuracy)
        };
        assert!(record.note_test(mark(0.80, 1.0), 0.85));
        assert!(record.note_test(mark(0.86, 1.5), 0.85));
        assert!(!record.note_test(mark(0.84, 1.6), 0.85));
        assert!(record.note_test(mark(0.87, 2.0), 0.85));
        assert_eq!(record.best.map(|b| b.position), Some(2.0));
        assert_eq!(record.target_reached.map(|b| b.position), Some(1.5));
        assert_eq!(record.last_test.map(|b| b.position), Some(2.0));
        record.note_checkpoint("a.ckpt", Some(0.8));
        record.note_checkpoint("b.ckpt", None);
        record.note_checkpoint("c.ckpt", Some(0.7));
        assert_eq!(
            record.best_checkpoint.as_ref().map(|b| b.file.as_str()),
            Some("a.ckpt")
        );
        assert_eq!(record.last_checkpoint.as_deref(), Some("c.ckpt"));
    }
}
