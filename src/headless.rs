//! The same events as the dashboard, printed as lines: a progress line every few seconds, a line
//! per epoch and per checkpoint, or one JSON object per event with `--json`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::data::batcher;
use crate::session::{Error, Prepared};
use crate::train::metrics::{BatchRecord, Ema, TestPoint};
use crate::train::worker::{self, WorkerOptions};
use crate::train::{Command, Event, FinishReason, PauseReason};
use crate::watch::{self, ConfigWatcher};

pub fn run(prepared: Prepared, json: bool) -> Result<ExitCode, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Failed(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(run_async(prepared, json))
}

async fn run_async(prepared: Prepared, json: bool) -> Result<ExitCode, Error> {
    let mut config = prepared.config.clone();
    let mut handle = worker::spawn(WorkerOptions {
        config: prepared.config,
        resume: prepared.resume,
        autostart: true,
        locations: None,
    });
    // Kept alive for the whole run; dropping the watcher stops the reloads.
    let (_watcher, mut reloads) =
        match ConfigWatcher::new(&prepared.config_path, prepared.profile_override) {
            Ok((watcher, reloads)) => (Some(watcher), Some(reloads)),
            Err(_) => (None, None),
        };
    let mut printer = Printer::new(json, &config);
    let mut interrupts = 0;
    let mut outcome = ExitCode::SUCCESS;
    let mut run_dir: Option<std::path::PathBuf> = None;
    loop {
        tokio::select! {
            event = handle.events.recv() => {
                let Some(event) = event else { break };
                if let (Event::Finished { .. }, Some(dir)) = (&event, &run_dir) {
                    // Before the last line, which says how the run ended.
                    printer.curves(dir);
                }
                printer.print(&event);
                match event {
                    Event::Ready(info) => run_dir = Some(info.run_dir),
                    Event::Finished { .. } => break,
                    Event::Failed { .. } => { outcome = ExitCode::FAILURE; break }
                    Event::Paused { reason: PauseReason::NonFiniteLoss { .. } } => {
                        // Nobody can lower the learning rate from here but by editing the file:
                        // wait for that edit, which resumes through the reload branch below.
                    }
                    _ => {}
                }
            }
            _ = tokio::signal::ctrl_c() => {
                interrupts += 1;
                if interrupts == 1 {
                    printer.note("Ctrl-C: stopping after this batch and saving a checkpoint (Ctrl-C again to quit without saving)");
                    let _ = handle.commands.send(Command::Stop);
                } else {
                    printer.note("quitting without waiting for the checkpoint");
                    return Ok(ExitCode::from(130));
                }
            }
            Some(reload) = async {
                match reloads.as_mut() {
                    Some(reloads) => reloads.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                match reload {
                    Ok(new) => {
                        let diff = config.diff(&new);
                        for line in watch::describe(&diff) {
                            printer.note(&line);
                        }
                        if !diff.live.is_empty() {
                            config.apply_live(&new);
                            printer.interval = Duration::from_secs_f64(config.ui.headless_interval_seconds);
                            let _ = handle.commands.send(Command::Reconfigure(config.live()));
                            if printer.diverged {
                                let _ = handle.commands.send(Command::Resume);
                            }
                        }
                    }
                    Err(error) => printer.note(&format!("config.toml not applied, keeping the old values: {error}")),
                }
            }
        }
    }
    let _ = handle.thread.join();
    Ok(outcome)
}

struct Printer {
    json: bool,
    interval: Duration,
    last_line: Instant,
    epochs: f64,
    speed: Ema,
    latest: Option<BatchRecord>,
    /// The latest test: where the run stood, its accuracy, and when.
    last_test: Option<TestPoint>,
    diverged: bool,
    progress: Option<indicatif::ProgressBar>,
}

impl Printer {
    fn new(json: bool, config: &Config) -> Printer {
        Printer {
            json,
            interval: Duration::from_secs_f64(config.ui.headless_interval_seconds),
            last_line: Instant::now(),
            epochs: config.training.epochs,
            speed: Ema::new(0.9),
            latest: None,
            last_test: None,
            diverged: false,
            progress: None,
        }
    }

    fn out(&self, line: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }

    fn note(&self, line: &str) {
        if self.json {
            let value = serde_json::json!({ "event": "note", "message": line });
            self.out(&value.to_string());
        } else {
            self.out(line);
        }
    }

    /// Draws the finished run's curves next to its metrics.csv and says where.
    fn curves(&self, run_dir: &std::path::Path) {
        match crate::plot::write_run_plot(run_dir) {
            Ok(path) => self.note(&format!("curves: {}", path.display())),
            Err(error) => eprintln!("warning: no curves: {error}"),
        }
    }

    fn print(&mut self, event: &Event) {
        if let Event::Batch(batch) = event {
            self.speed.push(batch.images_per_second);
            self.latest = Some(*batch);
        }
        match event {
            Event::Epoch(record) => {
                if let Some(test) = &record.test {
                    self.last_test = Some(TestPoint {
                        position: record.epoch as f64 + 1.0,
                        accuracy: test.accuracy,
                        elapsed_seconds: record.elapsed_seconds,
                    })
                }
            }
            Event::Tested(check) => {
                self.last_test = Some(TestPoint {
                    position: check.position,
                    accuracy: check.test.accuracy,
                    elapsed_seconds: check.elapsed_seconds,
                })
            }
            Event::Paused {
                reason: PauseReason::NonFiniteLoss { .. },
            } => self.diverged = true,
            Event::Resumed => self.diverged = false,
            Event::Reconfigured { settings } => self.epochs = settings.epochs,
            _ => {}
        }
        if self.json {
            if let Ok(line) = serde_json::to_string(event) {
                self.out(&line);
            }
            return;
        }
        match event {
            Event::Status { message } => self.out(&format!("{message}...")),
            Event::Download { file, bytes, total } => self.download(file, *bytes, *total),
            Event::Ready(info) => {
                if let Some(bar) = self.progress.take() {
                    bar.finish_and_clear();
                }
                self.out(&format!(
                    "run {} in {} | {} x {} threads | {} ({}) | {} training and {} test images from {}",
                    info.run_id,
                    info.run_dir.display(),
                    info.device,
                    info.threads,
                    info.precision,
                    info.precision_reason,
                    info.train_images,
                    info.test_images,
                    info.data_source.display()
                ));
                if let Some(path) = &info.resumed_from {
                    self.out(&format!(
                        "resuming {} at epoch {}, batch {}",
                        path.display(),
                        info.position.0 + 1,
                        info.position.1 + 1
                    ));
                }
            }
            Event::Started { .. } => self.last_line = Instant::now(),
            Event::Batch(batch) => {
                if self.last_line.elapsed() >= self.interval {
                    self.last_line = Instant::now();
                    self.out(&self.progress_line(batch));
                }
            }
            Event::Evaluating { position } => self.out(&evaluating_line(*position)),
            Event::Tested(check) => self.out(&format!(
                "test at epoch {:.2}: test accuracy {:.4} ({} images, loss {:.4}, {:.1} s), {} elapsed",
                check.position,
                check.test.accuracy,
                check.test.images,
                check.test.loss,
                check.test.seconds,
                format_duration(check.elapsed_seconds)
            )),
            Event::Epoch(record) => {
                let memory = crate::tui::event::memory().map_or(String::new(), |(now, peak)| {
                    format!(
                        ", memory {:.2} GB (peak {:.2} GB)",
                        now as f64 / 1e9,
                        peak as f64 / 1e9
                    )
                });
                let test = record.test.as_ref().map_or_else(
                    || "not tested (before training.eval_from)".to_string(),
                    |test| {
                        format!(
                            "test accuracy {:.4} ({} images)",
                            test.accuracy, test.images
                        )
                    },
                );
                self.out(&format!(
                    "epoch {}/{}: train loss {:.4}, train accuracy {:.4}, {test}, {:.1} images/s, {} elapsed{memory}",
                    record.epoch + 1,
                    self.epochs,
                    record.train_loss,
                    record.train_accuracy,
                    record.images_per_second,
                    format_duration(record.elapsed_seconds)
                ))
            }
            Event::Checkpointed { path, reason } => {
                self.out(&format!("checkpoint ({reason:?}): {}", path.display()))
            }
            Event::Paused { reason } => match reason {
                PauseReason::Requested => self.out("paused"),
                PauseReason::NonFiniteLoss {
                    loss,
                    learning_rate,
                } => self.out(&format!(
                    "PAUSED: the loss became {loss} at learning rate {learning_rate:.4}. The last checkpoint is kept. Lower training.learning_rate in the config file to resume from it, or press Ctrl-C."
                )),
            },
            Event::Resumed => self.out("resumed"),
            Event::Reconfigured { settings } => self.out(&format!(
                "now: learning rate {}, momentum {}, weight decay {}, epochs {}",
                settings.learning_rate, settings.momentum, settings.weight_decay, settings.epochs
            )),
            Event::Warning { message } => eprintln!("warning: {message}"),
            Event::Finished { reason } => self.out(&match (reason, self.last_test) {
                (FinishReason::Completed, _) => "finished: all epochs done".to_string(),
                (FinishReason::Stopped, _) => "stopped".to_string(),
                (FinishReason::TargetReached, Some(test)) => format!(
                    "finished: target accuracy reached ({:.4} at epoch {}, after {})",
                    test.accuracy,
                    crate::train::metrics::epoch_label(test.position),
                    format_duration(test.elapsed_seconds)
                ),
                (FinishReason::TargetReached, None) => {
                    "finished: target accuracy reached".to_string()
                }
            }),
            Event::Failed { message } => eprintln!("alexnet-tui: training failed: {message}"),
            // Pictures are for the dashboard; --json carries the gallery's predictions.
            Event::Snapshot(_) => {}
        }
    }

    fn progress_line(&self, batch: &BatchRecord) -> String {
        let images_per_second = self.speed.get().unwrap_or(batch.images_per_second);
        // In the last epoch of a fractional run, the batches that epoch will train.
        let run = batcher::run_batches(batch.batches_per_epoch, self.epochs);
        let this_epoch = batcher::batches_in_epoch(batch.batches_per_epoch, run, batch.epoch)
            .max(batch.batch + 1);
        let remaining_batches = this_epoch - (batch.batch + 1);
        let eta = remaining_batches as f64 * batch.seconds;
        format!(
            "epoch {}/{} batch {}/{} ({:.1}%) | loss {:.4} | batch accuracy {:.3} | lr {:.5} | {:.1} images/s | epoch ETA {}",
            batch.epoch + 1,
            self.epochs,
            batch.batch + 1,
            this_epoch,
            100.0 * (batch.batch + 1) as f64 / this_epoch as f64,
            batch.loss,
            batch.accuracy,
            batch.learning_rate,
            images_per_second,
            format_duration(eta)
        )
    }

    fn download(&mut self, file: &str, bytes: u64, total: Option<u64>) {
        if !std::io::stderr().is_terminal() {
            if total.is_some_and(|t| bytes >= t) {
                eprintln!("downloaded {file} ({bytes} bytes)");
            }
            return;
        }
        let bar = self.progress.get_or_insert_with(|| {
            let bar = indicatif::ProgressBar::new(total.unwrap_or(0));
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg:28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        bar.set_message(file.to_string());
        if let Some(total) = total {
            bar.set_length(total);
        }
        bar.set_position(bytes);
        if total.is_some_and(|t| bytes >= t) {
            bar.finish();
            self.progress = None;
        }
    }
}

/// What a test pass at `position` on the epoch axis is: the end of an epoch, or a test inside one.
pub fn evaluating_line(position: f64) -> String {
    let epoch = crate::train::metrics::epoch_label(position);
    if position.fract() == 0.0 {
        format!("epoch {epoch} done: evaluating the test images...")
    } else {
        format!("epoch {epoch}: evaluating the test images...")
    }
}

/// `1h02m`, `3m12s`, `42s`.
pub fn format_duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "--".to_string();
    }
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}
