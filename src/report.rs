//! Every event of a run in words, for people: the dashboard's message pane and the headless
//! printer both show what [`Reporter::lines`] says, so their wording is the same. JSON output
//! serializes the events themselves and takes nothing from here.

pub mod range_test;

use std::path::Path;

use crate::config::{Config, ConfigDiff, ConfigError, Schedule};
use crate::interrupts::Signal;
use crate::train::metrics::{BatchRecord, TestPoint, epoch_label};
use crate::train::{Event, FinishReason, PauseReason, SaveFailure, SaveReason, SavedFile};
use crate::units;

/// How much a line matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

/// One message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub level: Level,
    pub text: String,
}

impl Line {
    pub fn info(text: impl Into<String>) -> Line {
        Line {
            level: Level::Info,
            text: text.into(),
        }
    }

    pub fn warning(text: impl Into<String>) -> Line {
        Line {
            level: Level::Warning,
            text: text.into(),
        }
    }

    pub fn error(text: impl Into<String>) -> Line {
        Line {
            level: Level::Error,
            text: text.into(),
        }
    }
}

/// How the person in front of a front end steers a paused run: with keys (the dashboard) or
/// only by saving config.toml (the headless runner). It decides what a pause asks them to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steer {
    Keys,
    FileOnly,
}

/// Turns events into lines, remembering what later lines refer to (the run's length, the
/// latest test).
#[derive(Debug, Clone)]
pub struct Reporter {
    steer: Steer,
    epochs: f64,
    /// What `training.learning_rate` means for the run (a restart-only setting).
    schedule: Schedule,
    last_test: Option<TestPoint>,
}

impl Reporter {
    pub fn new(config: &Config, steer: Steer) -> Reporter {
        Reporter {
            steer,
            epochs: config.training.epochs,
            schedule: config.training.schedule,
            last_test: None,
        }
    }

    /// The run's length in epochs, as the lines give it (it may change live).
    pub fn epochs(&self) -> f64 {
        self.epochs
    }

    /// What an event says to a person; batches, downloads and pictures say nothing here (the
    /// front ends show them as progress).
    pub fn lines(&mut self, event: &Event) -> Vec<Line> {
        match event {
            Event::Status { message } => vec![Line::info(format!("{message}..."))],
            Event::Download { .. }
            | Event::Batch(_)
            | Event::Snapshot(_)
            | Event::RangeBatch { .. } => Vec::new(),
            Event::RangeStarted(settings) => vec![range_test::started(settings)],
            Event::RangeTested(test) => range_test::tested(test, self.schedule),
            Event::Ready(info) => {
                // The run's folder is named when training starts (`Opened`).
                let mut lines = vec![Line::info(format!(
                    "ready: {} x {} threads | {} ({}) | {} training and {} test images from {}",
                    info.device,
                    info.threads,
                    info.precision,
                    info.precision_reason,
                    info.train_images,
                    info.test_images,
                    info.data_source.display()
                ))];
                if let Some(path) = &info.resumed_from {
                    lines.push(Line::info(format!(
                        "resuming {} at {}",
                        path.display(),
                        position(info.position.0, info.position.1)
                    )));
                }
                lines
            }
            Event::Opened {
                run_id,
                run_dir,
                parent,
            } => vec![Line::info(match parent {
                Some(parent) => format!(
                    "run {run_id} in {}: a branch of run {} at epoch {} (step {})",
                    run_dir.display(),
                    parent.run_id,
                    crate::train::metrics::epoch_label(parent.position),
                    parent.step
                ),
                None => format!("run {run_id} in {}", run_dir.display()),
            })],
            Event::Started { epoch, batch } => vec![Line::info(format!(
                "training from {}",
                position(*epoch, *batch)
            ))],
            Event::Evaluating { position } => vec![Line::info(evaluating_line(*position))],
            Event::Tested(check) => {
                self.last_test = Some(check.point());
                vec![Line::info(format!(
                    "test at epoch {}: test accuracy {:.4} ({} images, loss {:.4}, {:.1} s), trained {}",
                    epoch_label(check.position),
                    check.test.accuracy,
                    check.test.images,
                    check.test.loss,
                    check.test.seconds,
                    units::duration(check.elapsed_seconds)
                ))]
            }
            Event::Epoch(record) => {
                let test = match &record.test {
                    Some(test) => {
                        self.last_test = record.test_point();
                        format!(
                            "test accuracy {:.4} ({} images)",
                            test.accuracy, test.images
                        )
                    }
                    None => "not tested (before training.eval_from)".to_string(),
                };
                let memory = record.memory.map_or(String::new(), |(now, peak)| {
                    format!(
                        ", memory {} (peak {})",
                        units::gigabytes(now),
                        units::gigabytes(peak)
                    )
                });
                vec![Line::info(format!(
                    "epoch {}/{}: train loss {:.4}, train accuracy {:.4}, {test}, {}, trained {}{memory}",
                    record.epoch + 1,
                    self.epochs,
                    record.train_loss,
                    record.train_accuracy,
                    units::images_per_second(record.images_per_second),
                    units::duration(record.elapsed_seconds)
                ))]
            }
            Event::Checkpointed {
                path,
                reason,
                test_accuracy,
            } => {
                let accuracy = test_accuracy.map_or(String::new(), |accuracy| {
                    format!(", test accuracy {accuracy:.4}")
                });
                vec![Line::info(format!(
                    "checkpoint saved ({}{accuracy}): {}",
                    save_reason(*reason),
                    path.display()
                ))]
            }
            Event::Pruned { paths, why } => vec![Line::info(format!(
                "removed {} older checkpoint{} ({why})",
                paths.len(),
                if paths.len() == 1 { "" } else { "s" }
            ))],
            Event::NotSaved { reason, last_good } => vec![Line::warning(format!(
                "not saved ({}): the weights diverged (non-finite loss); the last good checkpoint is kept{}",
                save_reason(*reason),
                last_good
                    .as_ref()
                    .map_or(String::new(), |path| format!(": {}", path.display()))
            ))],
            Event::SaveFailed(failure) => vec![Line::error(save_failure(failure))],
            Event::RolledBack { path, epoch, batch } => vec![Line::warning(format!(
                "went back to {} ({})",
                path.display(),
                position(*epoch, *batch)
            ))],
            Event::Paused { reason } => vec![self.paused(reason)],
            Event::Resumed => vec![Line::info("resumed")],
            Event::Reconfigured { changes } => {
                if let Some(epochs) = changes
                    .iter()
                    .find(|change| change.key == "training.epochs")
                    .and_then(|change| change.new.parse().ok())
                {
                    self.epochs = epochs;
                }
                changes
                    .iter()
                    .map(|change| Line::info(format!("now in effect: {change}")))
                    .collect()
            }
            Event::Warning { message } => vec![Line::warning(message.clone())],
            Event::Finished { reason } => vec![Line::info(self.finished(*reason))],
            Event::Failed { message } => {
                vec![Line::error(format!("training failed: {message}"))]
            }
        }
    }

    fn paused(&self, reason: &PauseReason) -> Line {
        match reason {
            PauseReason::Requested => Line::info("paused"),
            PauseReason::NonFiniteLoss {
                loss,
                learning_rate,
            } => Line::error(format!(
                "paused: the loss became {loss} at learning rate {learning_rate:.5}. The last checkpoint is kept. Lower training.learning_rate in config.toml, then {}",
                match self.steer {
                    Steer::Keys => "resume (p) to continue from that checkpoint",
                    Steer::FileOnly =>
                        "save the file: training continues from that checkpoint (or press Ctrl-C)",
                }
            )),
            PauseReason::SaveFailed { .. } => Line::error(match self.steer {
                Steer::Keys => {
                    "paused: nothing more is trained until it can be saved. Free space, then press c to save (training stays paused) and p to resume"
                }
                Steer::FileOnly => "paused: nothing more is trained until it can be saved",
            }),
        }
    }

    fn finished(&self, reason: FinishReason) -> String {
        match (reason, self.last_test) {
            (FinishReason::Completed, _) => "finished: all epochs done".to_string(),
            (FinishReason::Stopped, _) => "stopped".to_string(),
            (FinishReason::TargetReached, Some(test)) => format!(
                "finished: target accuracy reached ({:.4} at epoch {}, after {})",
                test.accuracy,
                epoch_label(test.position),
                units::duration(test.elapsed_seconds.unwrap_or(f64::NAN))
            ),
            (FinishReason::TargetReached, None) => "finished: target accuracy reached".to_string(),
        }
    }
}

/// What a saved config.toml changes, line by line (live edits apply at the next batch,
/// restart-only ones wait).
pub fn reload_lines(diff: &ConfigDiff) -> Vec<Line> {
    let mut lines = Vec::new();
    if diff.is_empty() {
        lines.push(Line::info("config.toml saved: nothing changed"));
    }
    for change in &diff.live {
        lines.push(Line::info(format!("applied at the next batch: {change}")));
    }
    for change in &diff.restart {
        lines.push(Line::info(format!(
            "pending until the next start: {change}"
        )));
    }
    lines
}

/// An edit of config.toml that does not parse or validate.
/// The name a person knows a signal by: headless, SIGINT is the Ctrl-C they typed; the
/// dashboard reads Ctrl-C as a key, so a SIGINT there came from outside (`kill -INT`).
fn signal_name(signal: Signal, steer: Steer) -> &'static str {
    match (signal, steer) {
        (Signal::Interrupt, Steer::FileOnly) => "Ctrl-C",
        _ => signal.name(),
    }
}

/// The first signal (Ctrl-C, SIGTERM, SIGHUP): the run stops after the batch in flight and
/// saves a checkpoint, and the program then exits; a second signal would not wait.
pub fn stopping_on(signal: Signal, steer: Steer) -> Line {
    let name = signal_name(signal, steer);
    let again = if name == "Ctrl-C" {
        "Ctrl-C again"
    } else {
        "again"
    };
    Line::info(format!(
        "{name}: stopping after this batch and saving a checkpoint ({again} to quit without saving)"
    ))
}

/// A second signal: the program exits at once with 128 + the signal's number.
pub fn quitting_on(signal: Signal, steer: Steer) -> Line {
    Line::warning(format!(
        "{} again: quitting without waiting for the checkpoint (exit status {})",
        signal_name(signal, steer),
        signal.exit_code()
    ))
}

/// The dashboard could not draw (its terminal is gone): it saves and quits as on SIGHUP.
pub fn terminal_lost(error: &str) -> Line {
    Line::warning(format!(
        "cannot draw ({error}): stopping after this batch, saving a checkpoint and quitting"
    ))
}

pub fn rejected_reload(error: &ConfigError) -> Line {
    Line::error(format!(
        "config.toml not applied, keeping the old values: {error}"
    ))
}

/// A checkpoint or metrics.csv that could not be written, and what that leaves unsaved.
pub fn save_failure(failure: &SaveFailure) -> String {
    let what = match failure.file {
        SavedFile::Checkpoint => "checkpoint",
        SavedFile::Metrics => "metrics.csv",
    };
    let newest = match &failure.newest_saved {
        Some(path) => format!(
            "the newest saved checkpoint is {} ({})",
            path.display(),
            position(failure.saved_epoch, failure.saved_batch)
        ),
        None => "no checkpoint of this run was saved".to_string(),
    };
    format!(
        "{what} NOT saved ({}): {}. {newest}; {} training step{} since then exist only in memory{}",
        save_reason(failure.reason),
        failure.message,
        failure.unsaved_steps,
        if failure.unsaved_steps == 1 { "" } else { "s" },
        if failure.out_of_space {
            " (the disk is full)"
        } else {
            ""
        }
    )
}

/// Why a checkpoint was written, for people.
pub fn save_reason(reason: SaveReason) -> &'static str {
    match reason {
        SaveReason::EpochEnd => "end of epoch",
        SaveReason::Interval => "timed",
        SaveReason::Requested => "on request",
        SaveReason::Stop => "on stop",
        SaveReason::TargetReached => "target accuracy reached",
        SaveReason::RunEnd => "end of run",
    }
}

/// `epoch 2, batch 31` for the next batch to train (both counted from 1).
pub fn position(epoch: usize, batch: usize) -> String {
    format!("epoch {}, batch {}", epoch + 1, batch + 1)
}

/// What a test pass at `position` on the epoch axis is: the end of an epoch, or a test inside one.
pub fn evaluating_line(position: f64) -> String {
    let epoch = epoch_label(position);
    if position.fract() == 0.0 {
        format!("epoch {epoch} done: evaluating the test images...")
    } else {
        format!("epoch {epoch}: evaluating the test images...")
    }
}

/// The headless progress line for a batch: where, how well, how fast, how long to go.
pub fn progress_line(batch: &BatchRecord, epochs: f64, images_per_second: f64) -> String {
    // In the last epoch of a fractional run, the batches that epoch will train.
    let run = crate::data::batcher::run_batches(batch.batches_per_epoch, epochs);
    let this_epoch =
        crate::data::batcher::batches_in_epoch(batch.batches_per_epoch, run, batch.epoch)
            .max(batch.batch + 1);
    let remaining_batches = this_epoch - (batch.batch + 1);
    let eta = remaining_batches as f64 * batch.seconds;
    format!(
        "epoch {}/{} batch {}/{} ({:.1}%) | loss {:.4} | batch accuracy {:.3} | lr {:.5} | {} | epoch ETA {}",
        batch.epoch + 1,
        epochs,
        batch.batch + 1,
        this_epoch,
        100.0 * (batch.batch + 1) as f64 / this_epoch as f64,
        batch.loss,
        batch.accuracy,
        batch.learning_rate,
        units::images_per_second(images_per_second),
        units::duration(eta)
    )
}

/// Download progress of a data file: `45%`, or the bytes so far when the size is unknown.
pub fn download_progress(file: &str, bytes: u64, total: Option<u64>) -> String {
    let progress = match total {
        Some(total) if total > 0 => format!("{:.0}%", 100.0 * bytes as f64 / total as f64),
        _ => units::bytes(bytes),
    };
    format!("downloading {file}: {progress}")
}

/// Where a finished run's curves were drawn.
pub fn curves_line(path: &Path) -> Line {
    Line::info(format!("curves: {}", path.display()))
}

/// `+00:01:16`: time since the front end opened, for message timestamps (training time is
/// shown as `trained 1m 10s`, so the two are never confused).
pub fn format_clock(seconds: u64) -> String {
    format!(
        "+{:02}:{:02}:{:02}",
        seconds / 3600,
        (seconds / 60) % 60,
        seconds % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Change;

    #[test]
    fn save_reasons_are_words_not_rust_names() {
        let mut reporter = Reporter::new(&Config::default(), Steer::Keys);
        let lines = reporter.lines(&Event::Checkpointed {
            path: "runs/x/checkpoints/a.ckpt".into(),
            reason: SaveReason::Requested,
            test_accuracy: None,
        });
        assert_eq!(
            lines[0].text,
            "checkpoint saved (on request): runs/x/checkpoints/a.ckpt"
        );
        assert!(!lines[0].text.contains("Requested"));
    }

    #[test]
    fn a_live_epochs_change_is_used_by_later_lines() {
        let mut reporter = Reporter::new(&Config::default(), Steer::FileOnly);
        let lines = reporter.lines(&Event::Reconfigured {
            changes: vec![Change {
                key: "training.epochs".into(),
                old: "10.0".into(),
                new: "3.0".into(),
            }],
        });
        assert_eq!(lines[0].text, "now in effect: training.epochs: 10.0 -> 3.0");
        assert_eq!(reporter.epochs(), 3.0);
    }

    #[test]
    fn the_clock() {
        assert_eq!(format_clock(76), "+00:01:16");
    }
}
