//! Checkpoints, metrics.csv, rollbacks and pictures: what the worker writes and reads back.
//!
//! A checkpoint that cannot be written is never passed over: the worker first frees what the
//! keep rule would delete anyway and tries again, and if that fails too it reports a
//! [`SaveFailure`] and pauses, so that nothing more is trained that could not be kept.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::tensor::Bytes;

use super::Trainer;
use crate::train::checkpoint::{self, Checkpoint, CheckpointError, CheckpointMeta};
use crate::train::run_dir::unix_now;
use crate::train::snapshot::{self, Moment};
use crate::train::step::new_optimizer;
use crate::train::{Error, Event, PauseReason, SaveFailure, SaveReason, SavedFile};

impl Trainer {
    /// Loads weights, optimizer state and position from a checkpoint of this run.
    pub(super) fn restore(&mut self, path: &Path) -> Result<(), Error> {
        let checkpoint = Checkpoint::read(path)?;
        self.model = Some(checkpoint::model_from_bytes(
            self.model().clone(),
            checkpoint.model,
            path,
        )?);
        self.optimizer = new_optimizer(&self.config)
            .from_bytes(Bytes::from_bytes_vec(checkpoint.optimizer))
            .map_err(|error| CheckpointError::Load {
                path: path.to_path_buf(),
                message: format!("the optimizer state cannot be read: {error}"),
            })?;
        let meta = checkpoint.meta;
        self.epoch = meta.epoch;
        self.batch = meta.batch;
        self.step = meta.step;
        self.history = meta.history;
        self.totals = meta.epoch_totals;
        self.emit(Event::RolledBack {
            path: path.to_path_buf(),
            epoch: self.epoch,
            batch: self.batch,
        });
        Ok(())
    }

    /// The gallery's predictions and the first-layer filters with the current weights.
    pub(super) fn snapshot(&mut self, moment: Moment) -> Result<(), Error> {
        let snapshot = snapshot::take(
            self.model(),
            &self.data.test,
            &self.gallery,
            self.transform,
            &self.device.clone().inner(),
            moment,
        )?;
        self.last_snapshot = Instant::now();
        self.emit(Event::Snapshot(Box::new(snapshot)));
        Ok(())
    }

    /// Writes metrics.csv; a failure is reported like a checkpoint's.
    fn write_metrics(&mut self, reason: SaveReason) -> bool {
        let path = self.run_dir.join(crate::train::metrics::METRICS_FILE);
        match self.history.write_csv(&path) {
            Ok(()) => true,
            Err(error) => {
                let out_of_space = matches!(
                    error.kind(),
                    std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
                );
                self.report_failure(
                    SavedFile::Metrics,
                    path,
                    reason,
                    format!(
                        "cannot write {}: {error}",
                        crate::train::metrics::METRICS_FILE
                    ),
                    out_of_space,
                );
                false
            }
        }
    }

    /// Writes a checkpoint of the current weights and position, then metrics.csv. Returns
    /// whether both were written. A diverged model is never saved.
    pub(super) fn save(&mut self, reason: SaveReason, test_accuracy: Option<f64>) -> bool {
        self.last_save = Instant::now();
        if self.diverged {
            self.emit(Event::NotSaved {
                reason,
                last_good: self.last_good_checkpoint.clone(),
            });
            return false;
        }
        self.history.elapsed_seconds = self.elapsed_seconds();
        if self.running_since.is_some() {
            self.running_since = Some(Instant::now());
        }
        let dir = self.run_dir.join(checkpoint::CHECKPOINTS_DIR);
        let path = dir.join(checkpoint::file_name(self.step, self.epoch, self.batch));
        let mut result = self
            .checkpoint(test_accuracy)
            .and_then(|checkpoint| checkpoint.write(&path));
        if result.as_ref().is_err_and(CheckpointError::is_out_of_space) {
            // Room the keep rule would make after this save anyway: older checkpoints of this
            // run, never the best one nor the newest that was written.
            let keep = self.config.checkpoint.keep.saturating_sub(1).max(1);
            let freed = checkpoint::prune(&dir, keep, &self.accuracy_of());
            if !freed.is_empty() {
                self.emit(Event::Pruned {
                    paths: freed,
                    why: "to make room for a checkpoint on a full disk".to_string(),
                });
                result = self
                    .checkpoint(test_accuracy)
                    .and_then(|checkpoint| checkpoint.write(&path));
            }
        }
        match result {
            Ok(()) => {
                self.last_good_checkpoint = Some(path.clone());
                self.saved_position = (self.epoch, self.batch, self.step);
                self.record_checkpoint(&path, test_accuracy);
                self.emit(Event::Checkpointed {
                    path,
                    reason,
                    test_accuracy,
                });
                let pruned =
                    checkpoint::prune(&dir, self.config.checkpoint.keep, &self.accuracy_of());
                if !pruned.is_empty() {
                    self.emit(Event::Pruned {
                        paths: pruned,
                        why: format!("checkpoint.keep = {}", self.config.checkpoint.keep),
                    });
                }
                // metrics.csv follows every checkpoint, so a stopped run's file is complete too.
                self.write_metrics(reason)
            }
            Err(error) => {
                let out_of_space = error.is_out_of_space();
                self.report_failure(
                    SavedFile::Checkpoint,
                    path,
                    reason,
                    error.to_string(),
                    out_of_space,
                );
                false
            }
        }
    }

    /// Tells the front end what could not be written and what is not kept, and pauses the run
    /// (unless it is ending anyway), so that no more training goes unsaved.
    fn report_failure(
        &mut self,
        file: SavedFile,
        path: PathBuf,
        reason: SaveReason,
        message: String,
        out_of_space: bool,
    ) {
        let (epoch, batch, step) = self.saved_position;
        let failure = SaveFailure {
            file,
            path,
            reason,
            message,
            out_of_space,
            newest_saved: self.last_good_checkpoint.clone(),
            saved_epoch: epoch,
            saved_batch: batch,
            unsaved_steps: self.step.saturating_sub(step),
        };
        self.emit(Event::SaveFailed(Box::new(failure.clone())));
        if reason != SaveReason::Stop {
            self.pause_for = Some(PauseReason::SaveFailed {
                message: failure.message,
            });
        }
    }

    /// The checkpoint of the current state, in memory.
    fn checkpoint(&self, test_accuracy: Option<f64>) -> Result<Checkpoint, CheckpointError> {
        let model = checkpoint::model_to_bytes(self.model())?;
        let optimizer = self
            .optimizer
            .into_bytes()
            .map_err(|error| CheckpointError::Serialize {
                what: "optimizer state",
                message: error.to_string(),
            })?
            .to_vec();
        Ok(Checkpoint {
            meta: CheckpointMeta {
                run_id: self.run_id.clone(),
                config: self.config.clone(),
                epoch: self.epoch,
                batch: self.batch,
                step: self.step,
                history: self.history.clone(),
                epoch_totals: self.totals,
                test_accuracy,
                saved_at_unix: unix_now(),
            },
            model,
            optimizer,
        })
    }
}
