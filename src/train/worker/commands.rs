//! The worker's side of the commands: waiting to start, pausing without using the CPU,
//! applying live settings, stopping, and waiting after a non-finite loss.

use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use super::{Flow, Trainer};
use crate::config::{Applier, Config};
use crate::train::step::new_optimizer;
use crate::train::{Command, Error, Event, FinishReason, PauseReason, SaveReason};

impl Trainer {
    /// Waits in the Ready state, where a range test may run. Returns false if the front end went
    /// away or asked to stop.
    pub(super) fn wait_for_start(&mut self) -> Result<bool, Error> {
        loop {
            // Commands that came in during a range test wait in `pending`.
            let command = match self.pending.pop_front() {
                Some(command) => Ok(command),
                None => self.commands.recv(),
            };
            match command {
                Ok(Command::Start | Command::Resume) => return Ok(true),
                Ok(Command::Stop) | Err(_) => {
                    self.emit(Event::Finished {
                        reason: FinishReason::Stopped,
                    });
                    return Ok(false);
                }
                Ok(Command::Reconfigure(new)) => self.reconfigure(&new),
                Ok(Command::FindLearningRate) => {
                    if let Flow::Stop = self.range_test()? {
                        self.emit(Event::Finished {
                            reason: FinishReason::Stopped,
                        });
                        return Ok(false);
                    }
                }
                Ok(Command::Pause | Command::Save | Command::CancelRangeTest) => {}
            }
        }
    }

    /// Training paused on a NaN or infinite loss: wait for the person to resume (typically after
    /// lowering the learning rate) or stop. Resuming rolls back to the last good checkpoint.
    pub(super) fn wait_after_divergence(&mut self) -> Result<(), Error> {
        loop {
            let command = match self.pending.pop_front() {
                Some(command) => command,
                None => match self.commands.recv() {
                    Ok(command) => command,
                    Err(_) => Command::Stop,
                },
            };
            match command {
                Command::Resume | Command::Start => {
                    if let Some(path) = self.last_good_checkpoint.clone() {
                        self.restore(&path)?;
                    }
                    self.diverged = false;
                    self.running_since = Some(Instant::now());
                    self.emit(Event::Resumed);
                    return Ok(());
                }
                Command::Stop => {
                    self.pending.push_back(Command::Stop);
                    return Ok(());
                }
                Command::Reconfigure(new) => self.reconfigure(&new),
                Command::Save => {
                    self.save(SaveReason::Requested, None);
                }
                Command::Pause | Command::CancelRangeTest => {}
                Command::FindLearningRate => self.no_range_test_now(),
            }
        }
    }

    /// Applies queued and newly arrived commands. Blocks (without using the CPU) while paused.
    pub(super) fn handle_commands(&mut self) -> Result<Flow, Error> {
        let mut paused = false;
        loop {
            if let Some(reason) = self.pause_for.take()
                && !paused
            {
                paused = true;
                self.pause(reason)?;
            }
            let command = match self.pending.pop_front() {
                Some(command) => Some(command),
                None if paused => match self.commands.recv_timeout(Duration::from_secs(3600)) {
                    Ok(command) => Some(command),
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => Some(Command::Stop),
                },
                None => match self.commands.try_recv() {
                    Ok(command) => Some(command),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Disconnected) => Some(Command::Stop),
                },
            };
            let Some(command) = command else {
                return Ok(Flow::Continue);
            };
            match command {
                Command::Pause if !paused => {
                    paused = true;
                    self.pause(PauseReason::Requested)?;
                }
                Command::Resume | Command::Start if paused => {
                    paused = false;
                    self.running_since = Some(Instant::now());
                    self.emit(Event::Resumed);
                }
                Command::Stop => return Ok(Flow::Stop),
                Command::Save => {
                    self.save(SaveReason::Requested, None);
                    // A save that failed while paused asks for a pause: it already is.
                    self.pause_for = None;
                }
                Command::Reconfigure(new) => self.reconfigure(&new),
                Command::FindLearningRate => self.no_range_test_now(),
                Command::Pause | Command::Resume | Command::Start | Command::CancelRangeTest => {}
            }
        }
    }

    /// A range test asked for once training has started: it would test other weights than the
    /// ones the run starts from, and nothing it found could change the run's past.
    fn no_range_test_now(&self) {
        self.emit(Event::Warning {
            message:
                "the learning-rate range test runs before training starts (Ready), not during a run"
                    .to_string(),
        });
    }

    /// Stops the training clock and shows the current weights' predictions.
    pub(super) fn pause(&mut self, reason: PauseReason) -> Result<(), Error> {
        // Time spent paused is not training time.
        self.history.elapsed_seconds = self.elapsed_seconds();
        self.running_since = None;
        self.emit(Event::Paused { reason });
        self.write_record();
        self.current_snapshot()
    }

    /// Takes the live values this worker applies from a freshly loaded config (the table in
    /// `config::live` says which) and reports what changed.
    pub(super) fn reconfigure(&mut self, new: &Config) {
        let changes = self.config.apply_live(new, Some(Applier::Worker));
        let optimizer_keys = [
            "training.momentum",
            "training.nesterov",
            "training.weight_decay",
        ];
        if changes
            .iter()
            .any(|c| optimizer_keys.contains(&c.key.as_str()))
        {
            // A new optimizer with the new coefficients, carrying over its state (momentum).
            let state = self.optimizer.to_record();
            self.optimizer = new_optimizer(&self.config).load_record(state);
        }
        self.record_changes(&changes);
        self.emit(Event::Reconfigured { changes });
    }

    /// Saves and ends the run (the caller reports the end).
    pub(super) fn stop(&mut self) -> Result<FinishReason, Error> {
        self.save(SaveReason::Stop, None);
        if !self.diverged {
            self.current_snapshot()?;
        }
        Ok(FinishReason::Stopped)
    }
}
