//! The training worker: one thread that owns the model, the optimizer and the data. It takes
//! [`Command`]s between batches and reports [`Event`]s; it never touches a terminal.

#![allow(deprecated)] // burn-tch's device constructors are deprecated upstream in favour of CubeCL; they still work.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Bytes, Device};
use tokio::sync::mpsc::UnboundedSender;

use super::checkpoint::{self, Checkpoint, CheckpointMeta};
use super::metrics::{
    self, BatchRecord, EpochRecord, EpochTotals, Evaluation, History, TestCheck, TestPoint,
};
use super::schedule;
use super::sgd::FusedSgd;
use super::snapshot::{self, Moment};
use super::{Command, Event, FinishReason, PauseReason, ReadyInfo, SaveReason};
use crate::config::{Config, DeviceChoice, LiveSettings, OptimizerKind, parse_device};
use crate::data::batcher::{self, Transform};
use crate::data::fashion_mnist::{self, Dataset, FASHION_MNIST, Locations, Split};
use crate::model::{AlexNet, AlexNetConfig, NUM_CLASSES, summarize};

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
}

/// The front end's side of a running worker.
pub struct WorkerHandle {
    pub commands: Sender<Command>,
    pub events: tokio::sync::mpsc::UnboundedReceiver<Event>,
    pub thread: JoinHandle<()>,
}

/// Starts the worker thread.
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
                Ok(Err(message)) => message,
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

/// The worker thread's name; the panic hook uses it to leave the terminal to the UI thread.
pub const WORKER_THREAD_NAME: &str = "alexnet-trainer";

pub fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Every physical core (hyper-threads share a core's arithmetic units, which is what
/// convolutions need), or the logical count when the topology cannot be read.
pub fn physical_cores() -> usize {
    let logical = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut cores = std::collections::HashSet::new();
    for cpu in 0..logical {
        let base = format!("/sys/devices/system/cpu/cpu{cpu}/topology");
        let core = std::fs::read_to_string(format!("{base}/core_id"));
        let package = std::fs::read_to_string(format!("{base}/physical_package_id"));
        match (core, package) {
            (Ok(core), Ok(package)) => {
                cores.insert((package.trim().to_string(), core.trim().to_string()));
            }
            _ => return logical,
        }
    }
    cores.len().max(1)
}

/// libtorch's thread counts in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threads {
    pub intra: usize,
    pub inter: usize,
}

/// Sets libtorch's thread counts (0 = every physical core) and returns those in force. The
/// inter-op count can be set only once per process, before any inter-op work; later requests
/// keep the first value.
pub fn configure_threads(intra: usize, inter: usize) -> Threads {
    static INTER_SET: std::sync::Once = std::sync::Once::new();
    let or_cores = |n: usize| if n == 0 { physical_cores() } else { n };
    tch::set_num_threads(or_cores(intra) as i32);
    INTER_SET.call_once(|| {
        // libtorch refuses (and tch panics) if inter-op work already started: keep its count.
        let _ = std::panic::catch_unwind(|| tch::set_num_interop_threads(or_cores(inter) as i32));
    });
    Threads {
        intra: tch::get_num_threads().max(1) as usize,
        inter: tch::get_num_interop_threads().max(1) as usize,
    }
}

/// The libtorch device for a config value, and its display name.
pub fn device_for(choice: &str) -> Result<(Device, String), String> {
    let choice = parse_device(choice).ok_or_else(|| format!("unknown device \"{choice}\""))?;
    let resolved = match choice {
        DeviceChoice::Auto if tch::Cuda::is_available() => DeviceChoice::Cuda(0),
        DeviceChoice::Auto => DeviceChoice::Cpu,
        other => other,
    };
    match resolved {
        DeviceChoice::Cuda(index) => {
            let count = tch::Cuda::device_count().max(0) as usize;
            if index >= count {
                return Err(format!(
                    "training.device = \"cuda:{index}\" but libtorch sees {count} CUDA device(s); use \"cpu\" or \"auto\""
                ));
            }
            Ok((Device::libtorch_cuda(index), format!("CUDA {index}")))
        }
        DeviceChoice::Mps => {
            if !tch::utils::has_mps() {
                return Err("training.device = \"mps\" but libtorch sees no Metal device; use \"cpu\" or \"auto\"".into());
            }
            Ok((Device::libtorch_mps(), "Apple MPS".to_string()))
        }
        _ => Ok((Device::libtorch(), "CPU (libtorch)".to_string())),
    }
}

/// A fresh optimizer of `kind` with the coefficients of `settings` (the learning rate is given
/// at every step). Momentum and Nesterov apply to SGD only; AdamW's weight decay is decoupled.
pub fn new_optimizer(kind: OptimizerKind, settings: &LiveSettings) -> ModuleOptimizer {
    match kind {
        OptimizerKind::Sgd => ModuleOptimizer::from(FusedSgd::new(
            settings.momentum,
            settings.nesterov,
            settings.weight_decay,
        )),
        OptimizerKind::AdamW => AdamWConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(settings.weight_decay as f32)
            .init(),
    }
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn run_id_now() -> String {
    let secs = unix_now();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Creates a fresh run folder `<root>/<run-id>` (with a suffix if that name is taken).
fn new_run_dir(root: &Path) -> Result<(String, PathBuf), String> {
    let base = run_id_now();
    for attempt in 0..1000 {
        let id = if attempt == 0 {
            base.clone()
        } else {
            format!("{base}-{attempt}")
        };
        let dir = root.join(&id);
        if !dir.exists() {
            std::fs::create_dir_all(dir.join("checkpoints"))
                .map_err(|e| format!("cannot create the run folder {}: {e}", dir.display()))?;
            return Ok((id, dir));
        }
    }
    Err(format!(
        "cannot find a free run folder name under {}",
        root.display()
    ))
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
    run_id: String,
    run_dir: PathBuf,
    events: UnboundedSender<Event>,
    commands: Receiver<Command>,
    pending: VecDeque<Command>,
    session_start: Instant,
    last_save: Instant,
    last_good_checkpoint: Option<PathBuf>,
    /// Set when a non-finite loss was seen: these weights must not overwrite a good checkpoint.
    diverged: bool,
}

fn run(
    options: WorkerOptions,
    commands: Receiver<Command>,
    events: UnboundedSender<Event>,
) -> Result<(), String> {
    let config = options.config;
    let status = |message: &str| {
        let _ = events.send(Event::Status {
            message: message.to_string(),
        });
    };

    status("loading Fashion-MNIST");
    let locations = options.locations.unwrap_or_else(|| {
        let dir = (!config.data.dir.trim().is_empty()).then(|| PathBuf::from(&config.data.dir));
        Locations::standard(dir, config.data.download.then(|| config.data.url.clone()))
    });
    let mut last_report = Instant::now() - Duration::from_secs(1);
    let data = fashion_mnist::load(&FASHION_MNIST, &locations, &mut |progress| {
        let done = progress.total.is_some_and(|total| progress.bytes >= total);
        if done || last_report.elapsed() >= Duration::from_millis(100) {
            last_report = Instant::now();
            let _ = events.send(Event::Download {
                file: progress.file.to_string(),
                bytes: progress.bytes,
                total: progress.total,
            });
        }
    })
    .map_err(|error| error.to_string())?;
    let data = Dataset {
        train: data.train.truncated(config.data.train_limit),
        test: data.test.truncated(config.data.test_limit),
        source: data.source,
    };

    status("building the model");
    let threads = configure_threads(config.training.threads, config.training.interop_threads).intra;
    let (base_device, device_name) = device_for(&config.training.device)?;
    let device = base_device.autodiff();
    device.seed(config.training.seed);
    let model_config = AlexNetConfig {
        resize: config.model.resize,
        dropout: config.model.dropout,
    };
    let mut model = model_config.init(&device);
    // Parameters initialize lazily; draw them now, in a fixed order, from the seeded generator.
    let _ = model.valid();
    let mut optimizer = new_optimizer(config.training.optimizer, &config.live());

    let (run_id, run_dir, position, step, history, totals, resumed_from) = match options.resume {
        Some((path, checkpoint)) => {
            model = checkpoint::model_from_bytes(model, checkpoint.model)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            optimizer = optimizer
                .from_bytes(Bytes::from_bytes_vec(checkpoint.optimizer))
                .map_err(|e| {
                    format!(
                        "{}: the optimizer state cannot be read: {e}",
                        path.display()
                    )
                })?;
            let meta = checkpoint.meta;
            let run_dir = path
                .parent()
                .and_then(Path::parent)
                .map(Path::to_path_buf)
                .ok_or_else(|| format!("{}: not inside a run folder", path.display()))?;
            (
                meta.run_id,
                run_dir,
                (meta.epoch, meta.batch),
                meta.step,
                meta.history,
                meta.epoch_totals,
                Some(path),
            )
        }
        None => {
            let (id, dir) = new_run_dir(Path::new(&config.checkpoint.dir))?;
            (
                id,
                dir,
                (0, 0),
                0,
                History::default(),
                EpochTotals::default(),
                None,
            )
        }
    };
    // alexnet-tui issue 15: the run's precision (checkpoints are f32 whatever it is).
    let precision = crate::precision::for_device(
        config.training.precision,
        "training.precision",
        &config.training.device,
    );
    model = model.with_compute(precision.compute);
    let used = toml::to_string_pretty(&config).map_err(|e| e.to_string())?;
    std::fs::write(run_dir.join("config.toml"), used).map_err(|e| {
        format!(
            "cannot write {}: {e}",
            run_dir.join("config.toml").display()
        )
    })?;

    let summary = summarize(&model.valid(), config.model.resize, &device.clone().inner());
    let batches_per_epoch =
        batcher::batches_per_epoch(data.train.len(), config.training.batch_size);
    let _ = events.send(Event::Ready(Box::new(ReadyInfo {
        run_id: run_id.clone(),
        run_dir: run_dir.clone(),
        device: device_name,
        threads,
        precision: precision.compute.name().to_string(),
        precision_reason: precision.reason,
        summary,
        train_images: data.train.len(),
        test_images: data.test.len(),
        data_source: data.source.clone(),
        batches_per_epoch,
        position,
        history: history.clone(),
        resumed_from: resumed_from.clone(),
    })));

    let transform = Transform {
        resize: config.model.resize,
        normalize: config.training.normalize,
    };
    let gallery = snapshot::gallery_indices(&data.test);
    let mut trainer = Trainer {
        transform,
        loss: CrossEntropyLossConfig::new()
            .with_smoothing(
                (config.training.label_smoothing > 0.0)
                    .then_some(config.training.label_smoothing as f32),
            )
            .init(&device),
        config,
        model: Some(model),
        optimizer,
        device,
        data,
        gallery,
        epoch: position.0,
        batch: position.1,
        step,
        history,
        totals,
        run_id,
        run_dir,
        events,
        commands,
        pending: VecDeque::new(),
        session_start: Instant::now(),
        last_save: Instant::now(),
        last_good_checkpoint: resumed_from,
        diverged: false,
    };

    trainer.snapshot(Moment::Start {
        epoch_position: trainer.epoch_position(),
    });
    if !options.autostart && !trainer.wait_for_start() {
        return Ok(());
    }
    trainer.session_start = Instant::now();
    trainer.last_save = Instant::now();
    trainer.train()
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

    /// Waits in the Ready state. Returns false if the front end went away or asked to stop.
    fn wait_for_start(&mut self) -> bool {
        loop {
            match self.commands.recv() {
                Ok(Command::Start | Command::Resume) => return true,
                Ok(Command::Stop) | Err(_) => {
                    self.emit(Event::Finished {
                        reason: FinishReason::Stopped,
                    });
                    return false;
                }
                Ok(Command::Reconfigure(settings)) => self.reconfigure(settings),
                Ok(Command::Pause | Command::Save) => {}
            }
        }
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
        self.history.elapsed_seconds + self.session_start.elapsed().as_secs_f64()
    }

    fn train(&mut self) -> Result<(), String> {
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
                    match self.test_inside_epoch() {
                        Some(true) => {
                            self.emit(Event::Finished {
                                reason: FinishReason::TargetReached,
                            });
                            return Ok(());
                        }
                        Some(false) => {}
                        None => return self.stop(),
                    }
                }
                let interval = self.config.checkpoint.interval_minutes;
                if interval > 0.0 && self.last_save.elapsed().as_secs_f64() >= interval * 60.0 {
                    self.save(SaveReason::Interval, None);
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
                let Some(test) = self.evaluate() else {
                    return self.stop();
                };
                Some(test)
            } else {
                None
            };
            let record = EpochRecord {
                epoch: self.epoch,
                train_loss: self.totals.mean_loss(),
                train_accuracy: self.totals.accuracy(),
                images_per_second: self.totals.images_per_second(),
                elapsed_seconds: self.elapsed_seconds(),
                test,
            };
            let accuracy = record.test.as_ref().map(|test| test.accuracy);
            let reached = accuracy.is_some_and(|accuracy| {
                self.note_test(TestPoint {
                    position: (self.epoch + 1) as f64,
                    accuracy,
                    elapsed_seconds: record.elapsed_seconds,
                })
            });
            self.history.epochs.push(record.clone());
            self.emit(Event::Epoch(Box::new(record)));
            if let Some(accuracy) = accuracy {
                self.snapshot(Moment::Evaluated {
                    epoch_position: (self.epoch + 1) as f64,
                    accuracy,
                });
            }
            self.epoch += 1;
            self.batch = 0;
            self.totals = EpochTotals::default();
            self.save(SaveReason::EpochEnd, accuracy);
            if reached {
                self.emit(Event::Finished {
                    reason: FinishReason::TargetReached,
                });
                return Ok(());
            }
        }
        if self.batch > 0 {
            // `training.epochs` was lowered live to before this epoch began.
            return self.finish_inside_epoch();
        }
        self.emit(Event::Finished {
            reason: FinishReason::Completed,
        });
        Ok(())
    }

    /// Whether the epoch that just ended is tested: always from `training.eval_from` on, and at
    /// the run's last epoch; before that, a test far below the target would only cost time (the
    /// fast profile's first epoch: about 14 s of a 10-minute run).
    fn test_at_epoch_end(&self) -> bool {
        let position = (self.epoch + 1) as f64;
        let t = &self.config.training;
        position + 1e-9 >= t.eval_from || position + 1e-9 >= t.epochs
    }

    /// Whether a test inside the epoch is due after the batch just trained: every
    /// `training.eval_every` of an epoch, from `training.eval_from` on. The epoch's last batch is
    /// left to the test at the epoch end.
    fn test_due(&self, batches_per_epoch: usize) -> bool {
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
    fn finish_inside_epoch(&mut self) -> Result<(), String> {
        let tested_here = self
            .history
            .checks
            .last()
            .is_some_and(|c| c.step == self.step);
        let reached = if tested_here {
            false
        } else {
            match self.test_inside_epoch() {
                Some(reached) => reached,
                None => return self.stop(),
            }
        };
        if reached {
            // test_inside_epoch saved the checkpoint.
            self.emit(Event::Finished {
                reason: FinishReason::TargetReached,
            });
            return Ok(());
        }
        let accuracy = self.history.checks.last().map(|c| c.test.accuracy);
        self.save(SaveReason::RunEnd, accuracy);
        self.emit(Event::Finished {
            reason: FinishReason::Completed,
        });
        Ok(())
    }

    /// Tests the whole test split in the middle of an epoch. Returns whether the target accuracy
    /// was reached (a checkpoint is then saved), or `None` if a stop arrived during the test.
    fn test_inside_epoch(&mut self) -> Option<bool> {
        let position = self.epoch_position();
        let _ = self.emit(Event::Evaluating { position });
        let test = self.evaluate()?;
        let check = TestCheck {
            position,
            step: self.step,
            elapsed_seconds: self.elapsed_seconds(),
            test,
        };
        let accuracy = check.test.accuracy;
        let reached = self.note_test(TestPoint {
            position,
            accuracy,
            elapsed_seconds: check.elapsed_seconds,
        });
        self.history.checks.push(check.clone());
        self.emit(Event::Tested(Box::new(check)));
        self.snapshot(Moment::Evaluated {
            epoch_position: position,
            accuracy,
        });
        if reached {
            self.save(SaveReason::TargetReached, Some(accuracy));
        }
        Some(reached)
    }

    /// Records a test result; returns whether it reaches the target accuracy (which ends the run).
    fn note_test(&mut self, point: TestPoint) -> bool {
        let target = self.config.training.target_accuracy;
        metrics::note_target(&mut self.history.target_reached_at, point, target)
    }

    fn train_batch(&mut self, order: &[u32], batches_per_epoch: usize) -> Result<(), String> {
        let t = &self.config.training;
        let flip = t.flip.then_some((t.seed, self.epoch));
        let started = Instant::now();
        let host = batcher::gather(&self.data.train, order, self.batch, t.batch_size, flip);
        let images = host.len();
        // Dropout masks come from libtorch's global generator: reseed it per step so that a
        // resumed run draws the same masks as an uninterrupted one.
        self.device
            .seed(t.seed ^ self.step.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (inputs, labels) = self.transform.apply(host, &self.device);
        let learning_rate = self.learning_rate();
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
        let (loss_value, correct) = (outcome.loss, outcome.correct);
        if !loss_value.is_finite() {
            self.diverged = true;
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

    /// Training paused on a NaN or infinite loss: wait for the person to resume (typically after
    /// lowering the learning rate) or stop. Resuming rolls back to the last good checkpoint.
    fn wait_after_divergence(&mut self) -> Result<(), String> {
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
                    self.emit(Event::Resumed);
                    return Ok(());
                }
                Command::Stop => {
                    self.pending.push_back(Command::Stop);
                    return Ok(());
                }
                Command::Reconfigure(settings) => self.reconfigure(settings),
                Command::Save => self.save(SaveReason::Requested, None),
                Command::Pause => {}
            }
        }
    }

    /// Loads weights, optimizer state and position from a checkpoint of this run.
    fn restore(&mut self, path: &Path) -> Result<(), String> {
        let checkpoint = Checkpoint::read(path).map_err(|e| e.to_string())?;
        self.model = Some(
            checkpoint::model_from_bytes(self.model().clone(), checkpoint.model)
                .map_err(|e| format!("{}: {e}", path.display()))?,
        );
        self.optimizer = new_optimizer(self.config.training.optimizer, &self.config.live())
            .from_bytes(Bytes::from_bytes_vec(checkpoint.optimizer))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let meta = checkpoint.meta;
        self.epoch = meta.epoch;
        self.batch = meta.batch;
        self.step = meta.step;
        self.history = meta.history;
        self.totals = meta.epoch_totals;
        self.emit(Event::Warning {
            message: format!(
                "rolled back to {} (epoch {}, batch {})",
                path.display(),
                self.epoch + 1,
                self.batch + 1
            ),
        });
        Ok(())
    }

    /// Applies queued and newly arrived commands. Blocks (without using the CPU) while paused.
    fn handle_commands(&mut self) -> Result<Flow, String> {
        let mut paused = false;
        loop {
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
                    // Time spent paused is not training time.
                    self.history.elapsed_seconds = self.elapsed_seconds();
                    self.emit(Event::Paused {
                        reason: PauseReason::Requested,
                    });
                }
                Command::Resume | Command::Start if paused => {
                    paused = false;
                    self.session_start = Instant::now();
                    self.emit(Event::Resumed);
                }
                Command::Stop => {
                    if paused {
                        self.session_start = Instant::now();
                    }
                    return Ok(Flow::Stop);
                }
                Command::Save => self.save(SaveReason::Requested, None),
                Command::Reconfigure(settings) => self.reconfigure(settings),
                Command::Pause | Command::Resume | Command::Start => {}
            }
        }
    }

    fn reconfigure(&mut self, settings: LiveSettings) {
        let optimizer_changed = {
            let old = self.config.live();
            old.momentum != settings.momentum
                || old.nesterov != settings.nesterov
                || old.weight_decay != settings.weight_decay
        };
        let t = &mut self.config.training;
        t.learning_rate = settings.learning_rate;
        t.momentum = settings.momentum;
        t.nesterov = settings.nesterov;
        t.weight_decay = settings.weight_decay;
        t.epochs = settings.epochs;
        t.target_accuracy = settings.target_accuracy;
        self.config.checkpoint.interval_minutes = settings.checkpoint_interval_minutes;
        self.config.checkpoint.keep = settings.checkpoint_keep;
        if optimizer_changed {
            // A new optimizer with the new coefficients, carrying over its state (momentum).
            let state = self.optimizer.to_record();
            self.optimizer =
                new_optimizer(self.config.training.optimizer, &settings).load_record(state);
        }
        self.emit(Event::Reconfigured { settings });
    }

    fn stop(&mut self) -> Result<(), String> {
        self.save(SaveReason::Stop, None);
        self.emit(Event::Finished {
            reason: FinishReason::Stopped,
        });
        Ok(())
    }

    /// Test accuracy over the whole test split, without dropout and without an autodiff graph.
    /// Returns `None` if a stop arrived meanwhile (other commands are queued for later).
    fn evaluate(&mut self) -> Option<Evaluation> {
        evaluate(
            self.model
                .as_ref()
                .expect("the model is only taken out during a step"),
            &self.data.test,
            self.transform,
            self.config.training.eval_batch_size,
            &self.device.clone().inner(),
            &mut || {
                while let Ok(command) = self.commands.try_recv() {
                    if command == Command::Stop {
                        return true;
                    }
                    self.pending.push_back(command);
                }
                false
            },
        )
    }

    /// Where training stands on an epoch axis (1.5: halfway through the second epoch).
    fn epoch_position(&self) -> f64 {
        self.epoch as f64 + self.batch as f64 / self.batches_per_epoch().max(1) as f64
    }

    fn snapshot(&self, moment: Moment) {
        let snapshot = snapshot::take(
            self.model(),
            &self.data.test,
            &self.gallery,
            self.transform,
            &self.device.clone().inner(),
            moment,
        );
        self.emit(Event::Snapshot(Box::new(snapshot)));
    }

    fn write_metrics(&self) {
        let path = self.run_dir.join("metrics.csv");
        if let Err(error) = self.history.write_csv(&path) {
            self.emit(Event::Warning {
                message: format!("cannot write {}: {error}", path.display()),
            });
        }
    }

    fn save(&mut self, reason: SaveReason, test_accuracy: Option<f64>) {
        self.last_save = Instant::now();
        if self.diverged {
            self.emit(Event::Warning {
                message: "not saving: the weights diverged (non-finite loss); the last good checkpoint is kept".into(),
            });
            return;
        }
        self.history.elapsed_seconds = self.elapsed_seconds();
        self.session_start = Instant::now();
        let model = match checkpoint::model_to_bytes(self.model()) {
            Ok(bytes) => bytes,
            Err(message) => {
                self.emit(Event::Warning { message });
                return;
            }
        };
        let optimizer = match self.optimizer.into_bytes() {
            Ok(bytes) => bytes.to_vec(),
            Err(error) => {
                self.emit(Event::Warning {
                    message: format!("cannot serialize the optimizer: {error}"),
                });
                return;
            }
        };
        let checkpoint = Checkpoint {
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
        };
        let dir = self.run_dir.join("checkpoints");
        let path = dir.join(checkpoint::file_name(self.step, self.epoch, self.batch));
        match checkpoint.write(&path) {
            Ok(()) => {
                // metrics.csv follows every checkpoint, so a stopped run's file is complete too.
                self.write_metrics();
                self.last_good_checkpoint = Some(path.clone());
                self.emit(Event::Checkpointed { path, reason });
                checkpoint::prune(&dir, self.config.checkpoint.keep, &|file| {
                    checkpoint::read_meta(file).and_then(|meta| meta.test_accuracy)
                });
            }
            Err(error) => {
                self.emit(Event::Warning {
                    message: error.to_string(),
                });
            }
        }
    }
}

/// What one SGD step gives back.
pub struct StepOutcome {
    pub model: AlexNet,
    pub loss: f64,
    /// Correct predictions in the batch (from the same forward pass).
    pub correct: u64,
}

/// One training step: forward, cross-entropy, and, only if the loss is finite, backward and the
/// SGD update. A non-finite loss returns the model unchanged. The worker and the benchmark both
/// call this, so the benchmark measures exactly what training does.
pub fn training_step(
    model: AlexNet,
    optimizer: &mut ModuleOptimizer,
    loss_fn: &CrossEntropyLoss,
    inputs: burn::tensor::Tensor<4>,
    labels: burn::tensor::Tensor<1, burn::tensor::Int>,
    learning_rate: f64,
) -> StepOutcome {
    let logits = model.forward(inputs);
    let loss = loss_fn.forward(logits.clone(), labels.clone());
    let loss_value = f64::from(loss.clone().into_scalar::<f32>());
    if !loss_value.is_finite() {
        return StepOutcome {
            model,
            loss: loss_value,
            correct: 0,
        };
    }
    let correct = logits
        .argmax(1)
        .squeeze_dim::<1>(1)
        .equal(labels)
        .int()
        .sum()
        .into_scalar::<i64>()
        .max(0) as u64;
    let gradients = GradientsParams::from_grads(loss.backward(), &model);
    StepOutcome {
        model: optimizer.step(learning_rate, model, gradients),
        loss: loss_value,
        correct,
    }
}

/// Evaluates `model` on `split` in order. `should_stop` is asked between batches.
pub fn evaluate(
    model: &AlexNet,
    split: &Split,
    transform: Transform,
    batch_size: usize,
    device: &Device,
    should_stop: &mut dyn FnMut() -> bool,
) -> Option<Evaluation> {
    let started = Instant::now();
    let model = model.valid();
    let loss_fn = CrossEntropyLoss::new(None, device);
    let mut confusion = [[0u32; NUM_CLASSES]; NUM_CLASSES];
    let mut loss_sum = 0.0;
    let mut start = 0;
    while start < split.len() {
        if should_stop() {
            return None;
        }
        let end = (start + batch_size).min(split.len());
        let host = batcher::slice(split, start, end);
        let truth = host.labels.clone();
        let (inputs, labels) = transform.apply(host, device);
        let logits = model.forward(inputs);
        loss_sum += f64::from(loss_fn.forward(logits.clone(), labels).into_scalar::<f32>())
            * (end - start) as f64;
        let predicted: Vec<i64> = logits
            .argmax(1)
            .squeeze_dim::<1>(1)
            .try_into_vec_as::<i64>()
            .unwrap_or_default();
        for (t, p) in truth.iter().zip(&predicted) {
            confusion[*t as usize][(*p).clamp(0, 9) as usize] += 1;
        }
        start = end;
    }
    let images = split.len();
    let correct: u32 = (0..NUM_CLASSES).map(|c| confusion[c][c]).sum();
    Some(Evaluation {
        accuracy: f64::from(correct) / images.max(1) as f64,
        loss: loss_sum / images.max(1) as f64,
        images,
        confusion,
        seconds: started.elapsed().as_secs_f64(),
    })
}
