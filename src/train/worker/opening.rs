//! The run folder's life: made (or, for a resume, taken over) and locked when training starts,
//! its `run.json` kept current, and, when the run ends, its checkpoints thinned, its end recorded
//! and its lock released.

use std::path::{Path, PathBuf};

use super::Trainer;
use crate::config::Config;
use crate::train::checkpoint::{self, CHECKPOINTS_DIR};
use crate::train::lock::{self, Phase};
use crate::train::metrics::TestPoint;
use crate::train::record::{EndReason, Parent, RecordError, RunRecord, Session, now_text};
use crate::train::{Error, Event, FinishReason, run_dir};

/// Where the run folder comes from, decided before training starts.
pub(super) struct Opening {
    /// The folder of the run a resume continues; `None`: a new folder (new run or branch).
    pub run: Option<(String, PathBuf)>,
    pub parent: Option<Parent>,
    pub checkpoint_config: Option<Config>,
    pub resumed_from: Option<PathBuf>,
}

impl Trainer {
    /// Makes or takes over the run folder, locks it, writes the config in force and the record,
    /// and says where the run is. Called once, when training starts.
    pub(super) fn open_run(&mut self) -> Result<(), Error> {
        let Some(opening) = self.opening.take() else {
            return Ok(());
        };
        let (run_id, run_dir, record) = match opening.run.clone() {
            Some((run_id, run_dir)) => {
                let lock = match self.lock.take() {
                    Some(lock) => lock,
                    None => lock::acquire(&run_dir, Phase::Training)?,
                };
                lock.set_phase(Phase::Training)?;
                self.lock = Some(lock);
                // A kill inside a write leaves its temporary file: nobody else writes here now.
                crate::files::remove_leftovers(&run_dir.join(CHECKPOINTS_DIR));
                crate::files::remove_leftovers(&run_dir);
                let record = self.continued_record(&run_id, &run_dir, &opening);
                (run_id, run_dir, record)
            }
            None => {
                let (run_id, run_dir) = run_dir::create(Path::new(&self.config.checkpoint.dir))?;
                self.lock = Some(lock::acquire(&run_dir, Phase::Training)?);
                let mut record = RunRecord::new(&run_id, &self.config, opening.parent.clone());
                record.progress.step = self.step;
                record.progress.position = self.epoch_position();
                record.progress.elapsed_seconds = self.history.elapsed_seconds;
                // A branch carries its parent's tests in its history: the best so far is the
                // parent's up to the branch point.
                for point in
                    crate::train::metrics::test_points(&self.history.epochs, &self.history.checks)
                {
                    record.note_test(from_history(point), self.config.training.target_accuracy);
                }
                (run_id, run_dir, record)
            }
        };
        let mut record = record;
        record.sessions.push(Session {
            started_at: now_text(),
            step: self.step,
            resumed_from: opening.resumed_from,
        });
        self.run_id = run_id.clone();
        self.run_dir = run_dir.clone();
        self.record = Some(record);

        let config_used = run_dir.join("config.toml");
        crate::files::write_bytes_atomic(
            &config_used,
            toml::to_string_pretty(&self.config)?.as_bytes(),
        )
        .map_err(|source| Error::Write {
            path: config_used.clone(),
            source,
        })?;
        if let Some(record) = &self.record {
            record.write(&run_dir)?;
        }
        self.record_written = std::time::Instant::now();
        self.emit(Event::Opened {
            run_id,
            run_dir,
            parent: opening.parent,
        });
        Ok(())
    }

    /// The record of a run that training continues: its own, with the live values that differ
    /// from the checkpoint's recorded as changes from this step; or, for a run of an earlier
    /// version (or a damaged record), a new one.
    fn continued_record(&mut self, run_id: &str, run_dir: &Path, opening: &Opening) -> RunRecord {
        let position = self.epoch_position();
        let mut record = match RunRecord::read(run_dir) {
            Ok(Some(record)) => record,
            Ok(None) => RunRecord::new(
                run_id,
                opening.checkpoint_config.as_ref().unwrap_or(&self.config),
                None,
            ),
            Err(error) => {
                self.emit(Event::Warning {
                    message: format!("{error}; starting a new record"),
                });
                RunRecord::new(
                    run_id,
                    opening.checkpoint_config.as_ref().unwrap_or(&self.config),
                    None,
                )
            }
        };
        if let Some(before) = &opening.checkpoint_config {
            let mut applied = before.clone();
            let changes = applied.apply_live(&self.config, None);
            record.note_changes(&changes, self.step, position);
        }
        record.ended = None;
        // Tests past the checkpoint (taken before a crash that came before the next save) are
        // not this run's any more: its history is the checkpoint's.
        let beyond = |mark: &Option<TestPoint>| mark.is_some_and(|m| m.position > position + 1e-9);
        if beyond(&record.best) || beyond(&record.last_test) || beyond(&record.target_reached) {
            record.best = None;
            record.last_test = None;
            record.target_reached = None;
            let target = self.config.training.target_accuracy;
            for point in
                crate::train::metrics::test_points(&self.history.epochs, &self.history.checks)
            {
                record.note_test(from_history(point), target);
            }
        }
        // Progress as the checkpoint left it: steps past it were never kept.
        record.progress.step = self.step;
        record.progress.position = position;
        record.progress.elapsed_seconds = self.history.elapsed_seconds;
        record
    }

    /// Writes metrics.csv and run.json with where training stands now, so that `runs`,
    /// `compare`, `plot` and other dashboards' overlays see a running run between its
    /// checkpoints. A failure is a warning (once, until a write succeeds again): both are
    /// written again at the next chance, and after every checkpoint, where a failure to write
    /// metrics.csv counts as a failed save.
    pub(super) fn write_record(&mut self) {
        self.record_written = std::time::Instant::now();
        let (step, position, elapsed) = (self.step, self.epoch_position(), self.elapsed_seconds());
        let Some(record) = &mut self.record else {
            return;
        };
        record.progress.step = step;
        record.progress.position = position;
        record.progress.elapsed_seconds = elapsed;
        let metrics = self.run_dir.join(crate::train::metrics::METRICS_FILE);
        let written = self
            .history
            .write_csv(&metrics)
            .map_err(|source| RecordError::Write {
                path: metrics,
                source,
            })
            .and_then(|()| record.write(&self.run_dir));
        match written {
            Ok(()) => self.record_failing = false,
            Err(error) if !self.record_failing => {
                self.record_failing = true;
                let message = format!("{error} (the run goes on; it is tried again later)");
                self.emit(Event::Warning { message });
            }
            Err(_) => {}
        }
    }

    /// Takes in a test result.
    pub(super) fn record_test(&mut self, point: TestPoint) {
        let (step, target) = (self.step, self.config.training.target_accuracy);
        if let Some(record) = &mut self.record {
            // The step the worker is at: the test's own, for a test just made.
            let point = TestPoint {
                step: Some(step),
                ..point
            };
            record.note_test(point, target);
            self.write_record();
        }
    }

    /// Takes in a checkpoint written as `path`.
    pub(super) fn record_checkpoint(&mut self, path: &Path, test_accuracy: Option<f64>) {
        if let (Some(record), Some(name)) = (&mut self.record, path.file_name()) {
            record.note_checkpoint(&name.to_string_lossy(), test_accuracy);
            self.write_record();
        }
    }

    /// Takes in live settings that apply from the next step.
    pub(super) fn record_changes(&mut self, changes: &[crate::config::Change]) {
        let (step, position) = (self.step, self.epoch_position());
        if let Some(record) = &mut self.record
            && !changes.is_empty()
        {
            record.note_changes(changes, step, position);
            self.write_record();
        }
    }

    /// The test accuracy a checkpoint file of this run records, for sparing the best one when
    /// pruning: the better of what run.json says of it and what its own metadata says (read
    /// from the file's header alone). Both count: a record started anew (after its run.json was
    /// lost, damaged, or written by an earlier version) knows nothing of older files.
    pub(super) fn accuracy_of(&self) -> impl Fn(&Path) -> Option<f64> + use<> {
        let best = self
            .record
            .as_ref()
            .and_then(|record| record.best_checkpoint.clone());
        move |file: &Path| {
            let recorded = best.as_ref().and_then(|best| {
                file.file_name()
                    .is_some_and(|name| name.to_string_lossy() == best.file)
                    .then_some(best.test_accuracy)
            });
            let own = checkpoint::read_meta(file).and_then(|meta| meta.test_accuracy);
            match (recorded, own) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            }
        }
    }

    /// Ends the run's record: thins its checkpoints (a run that ended keeps the newest
    /// `checkpoint.keep_at_end` and the best), records how it ended, and releases the lock.
    pub(super) fn close_run(&mut self, outcome: &Result<FinishReason, Error>) {
        if self.record.is_none() {
            return;
        }
        let (reason, message) = match outcome {
            Ok(FinishReason::Completed) => (EndReason::Completed, None),
            Ok(FinishReason::TargetReached) => (EndReason::TargetReached, None),
            Ok(FinishReason::Stopped) => (EndReason::Stopped, None),
            Err(error) => (EndReason::Failed, Some(error.to_string())),
        };
        let keep = self.config.checkpoint.keep_at_end;
        if keep > 0 && outcome.is_ok() {
            let dir = self.run_dir.join(CHECKPOINTS_DIR);
            let removed = checkpoint::prune(&dir, keep, &self.accuracy_of());
            if !removed.is_empty() {
                self.emit(Event::Pruned {
                    paths: removed,
                    why: format!("the run ended: checkpoint.keep_at_end = {keep}, and the best"),
                });
            }
        }
        if let Some(record) = &mut self.record {
            record.end(reason, message);
        }
        self.write_record();
        self.lock = None;
    }
}

/// A test of the history a run starts with, as run.json records it: the step it followed is not
/// looked up (0).
fn from_history(point: TestPoint) -> TestPoint {
    TestPoint {
        step: Some(0),
        ..point
    }
}
