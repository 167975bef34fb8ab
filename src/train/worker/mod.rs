//! The training worker: one thread that owns the model, the optimizer and the data. It takes
//! [`Command`]s between batches and reports [`Event`]s; it never touches a terminal.
//!
//! `startup` prepares a run (data, model, run folder), `commands` answers the front end,
//! `testing` runs the test passes, `saving` writes checkpoints and metrics.csv; this file holds
//! the trainer's state and the loop over epochs and batches.

mod commands;
mod opening;
mod range_test;
mod saving;
mod startup;
mod testing;

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use tokio::sync::mpsc::UnboundedSender;

use super::checkpoint::Checkpoint;
use super::lock::RunLock;
use super::metrics::{BatchRecord, EpochRecord, EpochTotals, History};
use super::record::RunRecord;
use super::schedule;
use super::snapshot::{self, Moment};
use super::step::training_step;
use super::{Command, Error, Event, FinishReason, PauseReason, SaveReason};
use crate::config::Config;
use crate::data::batcher::{self, Transform};
use crate::data::fashion_mnist::{Dataset, Locations};
use crate::model::AlexNet;

/// How a worker is started.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub config: Config,
    /// Continue from this checkpoint (already read and checked against `config`).
    pub resume: Option<(PathBuf, Checkpoint)>,
    /// Start training as soon as the worker is ready, without waiting for [`Command::Start`].
    pub autostart: bool,
    /// Where the data is looked for; `None` derives the standard locations from the config.
    pub locations: Option<Locations>,
    /// With `resume`: train a new run (a branch) from the checkpoint instead of continuing its run.
    pub branch: bool,
}

/// The front end's side of a running worker.
pub struct WorkerHandle {
    pub commands: Sender<Command>,
    pub events: tokio::sync::mpsc::UnboundedReceiver<Event>,
    pub thread: JoinHandle<()>,
}

/// The worker thread's name; the panic hook uses it to leave the terminal to the UI thread.
pub const WORKER_THREAD_NAME: &str = "alexnet-trainer";

/// Starts the worker thread. Its failures, panics included, arrive as [`Event::Failed`].
pub fn spawn(options: WorkerOptions) -> WorkerHandle {
    let (command_tx, command_rx) = mpsc::channel();
    let (event_tx, event_rx) = tokio::sync::mpsc::unbounded_channel();
    let thread = std::thread::Builder::new()
        .name(WORKER_THREAD_NAME.to_string())
        .spawn(move || {
            let events = event_tx.clone();
            let outcome =
                std::panic::catch_unwind(AssertUnwindSafe(|| run(options, command_rx, event_tx)));
            let message = match outcome {
                Ok(Ok(())) => return,
                Ok(Err(error)) => error.to_string(),
                Err(panic) => format!("the training worker crashed: {}", panic_message(&panic)),
            };
            let _ = events.send(Event::Failed { message });
        })
        .unwrap_or_else(|error| panic!("cannot start the training thread: {error}"));
    WorkerHandle {
        commands: command_tx,
        events: event_rx,
        thread,
    }
}

pub fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// What the loop does after looking at the commands.
enum Flow {
    Continue,
    Stop,
}

struct Trainer {
    config: Config,
    /// Taken out only for the length of a training step (so that the optimizer may update the
    /// weights in place); see [`Trainer::model`].
    model: Option<AlexNet>,
    optimizer: ModuleOptimizer,
    loss: CrossEntropyLoss,
    device: Device,
    transform: Transform,
    data: Dataset,
    /// Test-split indices of the gallery images.
    gallery: Vec<usize>,
    epoch: usize,
    batch: usize,
    step: u64,
    history: History,
    totals: EpochTotals,
    /// The run's id and folder: empty until training starts (`open_run`).
    run_id: String,
    run_dir: PathBuf,
    /// Where the run folder comes from, until `open_run` takes it.
    opening: Option<opening::Opening>,
    /// run.json's contents, from when training starts.
    record: Option<RunRecord>,
    /// This process's lock on the run folder: a resumed run's from when its checkpoint is taken
    /// over, a new run's from when training starts; until the run ends.
    lock: Option<RunLock>,
    record_written: Instant,
    /// The last write of run.json failed (said once).
    record_failing: bool,
    events: UnboundedSender<Event>,
    commands: Receiver<Command>,
    pending: VecDeque<Command>,
    /// When this stretch of training began; `None` while paused or not yet started, so that
    /// waiting is never counted as training time.
    running_since: Option<Instant>,
    last_save: Instant,
    last_good_checkpoint: Option<PathBuf>,
    /// Set when a non-finite loss was seen: these weights must not overwrite a good checkpoint.
    diverged: bool,
    /// Pause before the next batch, for this reason (a checkpoint that could not be written).
    pause_for: Option<PauseReason>,
    /// (epoch, batch, step) of the newest checkpoint written.
    saved_position: (usize, usize, u64),
    /// When the gallery and the filters were last refreshed, and how long that took.
    last_snapshot: Instant,
    snapshot_seconds: f64,
}

/// The gallery and the filters are refreshed during training at most this often, and never
/// more than 1/SNAPSHOT_COST_SHARE of the training time (20 images forward and the filters
/// read back: about 30 ms at 67x67, 0.3 s at 224x224 on two cores).
const SNAPSHOT_EVERY: Duration = Duration::from_secs(10);
const SNAPSHOT_COST_SHARE: f64 = 200.0;
/// run.json is also written after every test, checkpoint and live change; between them, this
/// often (a small file, written atomically: about a millisecond).
const RECORD_EVERY: Duration = Duration::from_secs(30);

fn run(
    options: WorkerOptions,
    commands: Receiver<Command>,
    events: UnboundedSender<Event>,
) -> Result<(), Error> {
    let autostart = options.autostart;
    let prepared = startup::prepare(options, &events)?;
    let config = prepared.config;
    let origin = prepared.origin;
    let transform = Transform {
        resize: config.model.resize,
        normalize: config.training.normalize,
    };
    let gallery = snapshot::gallery_indices(&prepared.data.test);
    let mut trainer = Trainer {
        transform,
        loss: CrossEntropyLossConfig::new()
            .with_smoothing(
                (config.training.label_smoothing > 0.0)
                    .then_some(config.training.label_smoothing as f32),
            )
            .init(&prepared.device),
        config,
        model: Some(prepared.model),
        optimizer: prepared.optimizer,
        device: prepared.device,
        data: prepared.data,
        gallery,
        epoch: origin.position.0,
        batch: origin.position.1,
        step: origin.step,
        history: origin.history,
        totals: origin.totals,
        run_id: String::new(),
        run_dir: PathBuf::new(),
        opening: Some(opening::Opening {
            run: origin.run,
            parent: origin.parent,
            checkpoint_config: origin.checkpoint_config,
            resumed_from: origin.resumed_from.clone(),
        }),
        record: None,
        lock: origin.lock,
        record_written: Instant::now(),
        record_failing: false,
        events,
        commands,
        pending: VecDeque::new(),
        running_since: None,
        last_save: Instant::now(),
        saved_position: (origin.position.0, origin.position.1, origin.step),
        last_good_checkpoint: origin.resumed_from,
        diverged: false,
        pause_for: None,
        last_snapshot: Instant::now(),
        snapshot_seconds: 0.0,
    };

    trainer.snapshot(Moment::Start {
        epoch_position: trainer.epoch_position(),
    })?;
    if !autostart && !trainer.wait_for_start()? {
        return Ok(());
    }
    trainer.open_run()?;
    trainer.running_since = Some(Instant::now());
    trainer.last_save = Instant::now();
    let outcome = trainer.train();
    trainer.close_run(&outcome);
    let reason = outcome?;
    trainer.emit(Event::Finished { reason });
    Ok(())
}

impl Trainer {
    fn model(&self) -> &AlexNet {
        self.model
            .as_ref()
            .expect("the model is only taken out during a training step")
    }

    fn emit(&self, event: Event) -> bool {
        self.events.send(event).is_ok()
    }

    fn batches_per_epoch(&self) -> usize {
        batcher::batches_per_epoch(self.data.train.len(), self.config.training.batch_size)
    }

    /// The run's length in batches (`training.epochs` may be fractional, and edited live).
    fn run_batches(&self) -> usize {
        batcher::run_batches(self.batches_per_epoch(), self.config.training.epochs)
    }

    /// How many batches the current epoch trains: all of them, or fewer in a run's last epoch.
    fn batches_this_epoch(&self) -> usize {
        batcher::batches_in_epoch(self.batches_per_epoch(), self.run_batches(), self.epoch)
    }

    fn total_steps(&self) -> u64 {
        self.run_batches() as u64
    }

    fn learning_rate(&self) -> f64 {
        let t = &self.config.training;
        schedule::learning_rate(
            t.schedule,
            t.learning_rate,
            t.warmup_fraction,
            self.step,
            self.total_steps(),
        )
    }

    fn elapsed_seconds(&self) -> f64 {
        self.history.elapsed_seconds
            + self
                .running_since
                .map_or(0.0, |since| since.elapsed().as_secs_f64())
    }

    /// Trains until the run ends; returns how it ended (the caller reports it).
    fn train(&mut self) -> Result<FinishReason, Error> {
        self.emit(Event::Started {
            epoch: self.epoch,
            batch: self.batch,
        });
        let train_len = self.data.train.len();
        let batches_per_epoch = self.batches_per_epoch();
        // The limits are read again at every batch: `training.epochs` may be edited live.
        while self.batches_this_epoch() > 0 {
            let order = batcher::epoch_order(self.config.training.seed, self.epoch, train_len);
            while self.batch < self.batches_this_epoch() {
                if let Flow::Stop = self.handle_commands()? {
                    return self.stop();
                }
                self.train_batch(&order, batches_per_epoch)?;
                if self.test_due(batches_per_epoch) {
                    match self.test_inside_epoch()? {
                        Some(true) => {
                            return Ok(FinishReason::TargetReached);
                        }
                        Some(false) => {}
                        None => return self.stop(),
                    }
                }
                let interval = self.config.checkpoint.interval_minutes;
                if interval > 0.0 && self.last_save.elapsed().as_secs_f64() >= interval * 60.0 {
                    self.save(SaveReason::Interval, None);
                }
                if self.snapshot_due() {
                    self.current_snapshot()?;
                }
                if self.record_written.elapsed() >= RECORD_EVERY {
                    self.write_record();
                }
            }
            if self.batch < batches_per_epoch {
                // A fractional `training.epochs`: the run ends inside this epoch, with a test.
                return self.finish_inside_epoch();
            }
            let test = if self.test_at_epoch_end() {
                let _ = self.emit(Event::Evaluating {
                    position: (self.epoch + 1) as f64,
                });
                let Some(test) = self.evaluate()? else {
                    return self.stop();
                };
                Some(test)
            } else {
                None
            };
            let record = EpochRecord {
                memory: crate::process::memory(),
                epoch: self.epoch,
                train_loss: self.totals.mean_loss(),
                train_accuracy: self.totals.accuracy(),
                images_per_second: self.totals.images_per_second(),
                elapsed_seconds: self.elapsed_seconds(),
                test,
            };
            let accuracy = record.test.as_ref().map(|test| test.accuracy);
            // Into the history first: noting the test writes metrics.csv and run.json together.
            self.history.epochs.push(record.clone());
            let reached = record
                .test_point()
                .is_some_and(|point| self.note_test(point));
            self.emit(Event::Epoch(Box::new(record)));
            if let Some(accuracy) = accuracy {
                self.snapshot(Moment::Evaluated {
                    epoch_position: (self.epoch + 1) as f64,
                    accuracy,
                })?;
            }
            self.epoch += 1;
            self.batch = 0;
            self.totals = EpochTotals::default();
            self.save(SaveReason::EpochEnd, accuracy);
            if reached {
                return Ok(FinishReason::TargetReached);
            }
        }
        if self.batch > 0 {
            // `training.epochs` was lowered live to before this epoch began.
            return self.finish_inside_epoch();
        }
        Ok(FinishReason::Completed)
    }

    /// One SGD step on batch `batch` of `epoch` (whose shuffled order is `order`) at
    /// `learning_rate`, as training step `step`: the pipeline every step goes through, training
    /// and range test alike. Returns the loss, the correct predictions and the batch's images.
    fn step_on(
        &mut self,
        (order, epoch, batch): (&[u32], usize, usize),
        step: u64,
        learning_rate: f64,
    ) -> (f64, u64, usize) {
        let t = &self.config.training;
        let flip = t.flip.then_some((t.seed, epoch));
        let host = batcher::gather(&self.data.train, order, batch, t.batch_size, flip);
        let images = host.len();
        // Dropout masks come from libtorch's global generator: reseed it per step so that a
        // resumed run draws the same masks as an uninterrupted one.
        self.device
            .seed(t.seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (inputs, labels) = self.transform.apply(host, &self.device);
        let outcome = training_step(
            self.model
                .take()
                .expect("the model is back after every step"),
            &mut self.optimizer,
            &self.loss,
            inputs,
            labels,
            learning_rate,
        );
        self.model = Some(outcome.model);
        (outcome.loss, outcome.correct, images)
    }

    fn train_batch(&mut self, order: &[u32], batches_per_epoch: usize) -> Result<(), Error> {
        let started = Instant::now();
        let learning_rate = self.learning_rate();
        let (loss_value, correct, images) =
            self.step_on((order, self.epoch, self.batch), self.step, learning_rate);
        if !loss_value.is_finite() {
            self.diverged = true;
            self.history.elapsed_seconds = self.elapsed_seconds();
            self.running_since = None;
            self.emit(Event::Paused {
                reason: PauseReason::NonFiniteLoss {
                    loss: loss_value,
                    learning_rate,
                },
            });
            return self.wait_after_divergence();
        }
        let seconds = started.elapsed().as_secs_f64();

        self.totals.add(loss_value, correct, images as u64, seconds);
        if let Some(record) = &mut self.record {
            record.progress.images += images as u64;
            record.progress.train_seconds += seconds;
        }
        let record = BatchRecord {
            epoch: self.epoch,
            batch: self.batch,
            batches_per_epoch,
            step: self.step,
            images,
            loss: loss_value,
            accuracy: correct as f64 / images.max(1) as f64,
            learning_rate,
            images_per_second: images as f64 / seconds.max(1e-9),
            seconds,
            elapsed_seconds: self.elapsed_seconds(),
        };
        self.step += 1;
        self.batch += 1;
        if self
            .step
            .is_multiple_of(self.config.training.log_every as u64)
        {
            self.history.batches.push(record);
        }
        if !self.emit(Event::Batch(record)) {
            // The front end is gone: keep what was learned and end.
            self.pending.push_back(Command::Stop);
        }
        Ok(())
    }

    /// Whether the gallery and the filters should be refreshed with the current weights.
    fn snapshot_due(&self) -> bool {
        let wait = SNAPSHOT_EVERY
            .as_secs_f64()
            .max(self.snapshot_seconds * SNAPSHOT_COST_SHARE);
        self.last_snapshot.elapsed().as_secs_f64() >= wait
    }

    /// The gallery's predictions and the filters of the weights as they are now.
    fn current_snapshot(&mut self) -> Result<(), Error> {
        let started = Instant::now();
        self.snapshot(Moment::Current {
            epoch_position: self.epoch_position(),
        })?;
        self.snapshot_seconds = started.elapsed().as_secs_f64();
        Ok(())
    }

    /// Where training stands on an epoch axis (1.5: halfway through the second epoch).
    fn epoch_position(&self) -> f64 {
        self.epoch as f64 + self.batch as f64 / self.batches_per_epoch().max(1) as f64
    }
}
