//! Tests of the whole test split: when they are due (epoch ends from `training.eval_from`,
//! and every `training.eval_every` inside epochs), running one, and what reaching the target
//! accuracy means for the run.

use super::Trainer;
use crate::train::metrics::{self, Evaluation, TestCheck, TestPoint};
use crate::train::snapshot::Moment;
use crate::train::step::evaluate;
use crate::train::{Command, Error, Event, FinishReason, SaveReason};

impl Trainer {
    /// Whether the epoch that just ended is tested: always from `training.eval_from` on, and at
    /// the run's last epoch; before that, a test far below the target would only cost time (the
    /// fast profile's first epoch: about 14 s of a 10-minute run).
    pub(super) fn test_at_epoch_end(&self) -> bool {
        let position = (self.epoch + 1) as f64;
        let t = &self.config.training;
        position + 1e-9 >= t.eval_from || position + 1e-9 >= t.epochs
    }

    /// Whether a test inside the epoch is due after the batch just trained: every
    /// `training.eval_every` of an epoch, from `training.eval_from` on. The epoch's last batch is
    /// left to the test at the epoch end.
    pub(super) fn test_due(&self, batches_per_epoch: usize) -> bool {
        let t = &self.config.training;
        // The run's last batch is likewise left to the test that ends the run.
        let last = batches_per_epoch.min(self.batches_this_epoch());
        if t.eval_every >= 1.0 || self.diverged || self.batch >= last {
            return false;
        }
        let interval = ((t.eval_every * batches_per_epoch as f64).round() as usize).max(1);
        self.batch.is_multiple_of(interval) && self.epoch_position() + 1e-9 >= t.eval_from
    }

    /// Ends a run whose length is a fraction of an epoch: tests where it stands (unless that
    /// position was just tested), saves a checkpoint and finishes.
    pub(super) fn finish_inside_epoch(&mut self) -> Result<FinishReason, Error> {
        let tested_here = self
            .history
            .checks
            .last()
            .is_some_and(|c| c.step == self.step);
        let reached = if tested_here {
            false
        } else {
            match self.test_inside_epoch()? {
                Some(reached) => reached,
                None => return self.stop(),
            }
        };
        if reached {
            // test_inside_epoch saved the checkpoint.
            return Ok(FinishReason::TargetReached);
        }
        let accuracy = self.history.checks.last().map(|c| c.test.accuracy);
        self.save(SaveReason::RunEnd, accuracy);
        Ok(FinishReason::Completed)
    }

    /// Tests the whole test split in the middle of an epoch. Returns whether the target accuracy
    /// was reached (a checkpoint is then saved), or `None` if a stop arrived during the test.
    pub(super) fn test_inside_epoch(&mut self) -> Result<Option<bool>, Error> {
        let position = self.epoch_position();
        let _ = self.emit(Event::Evaluating { position });
        let Some(test) = self.evaluate()? else {
            return Ok(None);
        };
        let check = TestCheck {
            position,
            step: self.step,
            elapsed_seconds: self.elapsed_seconds(),
            test,
        };
        let accuracy = check.test.accuracy;
        // Into the history first: noting the test writes metrics.csv and run.json together.
        self.history.checks.push(check.clone());
        let reached = self.note_test(check.point());
        self.emit(Event::Tested(Box::new(check)));
        self.snapshot(Moment::Evaluated {
            epoch_position: position,
            accuracy,
        })?;
        if reached {
            self.save(SaveReason::TargetReached, Some(accuracy));
        }
        Ok(Some(reached))
    }

    /// Records a test result; returns whether it reaches the target accuracy (which ends the run).
    pub(super) fn note_test(&mut self, point: TestPoint) -> bool {
        let target = self.config.training.target_accuracy;
        self.record_test(point);
        metrics::note_target(&mut self.history.target_reached_at, point, target)
    }

    /// Test accuracy over the whole test split, without dropout and without an autodiff graph.
    /// `Ok(None)` if a stop arrived meanwhile (other commands are queued for later).
    pub(super) fn evaluate(&mut self) -> Result<Option<Evaluation>, Error> {
        let model = self
            .model
            .as_ref()
            .expect("the model is only taken out during a step");
        let device = self.device.clone().inner();
        let (commands, pending) = (&self.commands, &mut self.pending);
        evaluate(
            model,
            &self.data.test,
            self.transform,
            self.config.training.eval_batch_size,
            &device,
            &mut || {
                while let Ok(command) = commands.try_recv() {
                    if command == Command::Stop {
                        return true;
                    }
                    pending.push_back(command);
                }
                false
            },
        )
    }
}
