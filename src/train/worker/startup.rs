//! What the worker does before the first batch: load the data, build the model and the
//! optimizer, take over a checkpoint's weights and position, and say it is ready. The run folder
//! is not touched here: it is made (or, for a resume, locked) when training starts
//! (`opening.rs`), so a dashboard opened and quit leaves nothing behind.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use burn::module::Module;
use burn::tensor::{Bytes, Device};
use tokio::sync::mpsc::UnboundedSender;

use super::WorkerOptions;
use crate::config::Config;
use crate::data::batcher;
use crate::data::fashion_mnist::{self, Dataset, FASHION_MNIST, Locations};
use crate::model::{AlexNet, AlexNetConfig, summarize};
use crate::precision;
use crate::train::checkpoint::{self, Checkpoint, CheckpointError};
use crate::train::lock::{self, Phase, RunLock};
use crate::train::metrics::{EpochTotals, History};
use crate::train::record::Parent;
use crate::train::runtime::{configure_threads, device_for};
use crate::train::step::new_optimizer;
use crate::train::{Error, Event, ReadyInfo, run_dir};
use burn::optim::ModuleOptimizer;

/// Where a run stands when the worker is ready: a new run at zero, or a checkpoint's position.
pub(super) struct Origin {
    /// The run folder training continues in: the checkpoint's, when resuming it; `None` for a
    /// new run or a branch, whose folder is made when training starts.
    pub run: Option<(String, PathBuf)>,
    /// What a branch branches from.
    pub parent: Option<Parent>,
    /// The config the checkpoint was trained with (its live values may differ from the new one).
    pub checkpoint_config: Option<Config>,
    /// The next batch: (epoch, batch).
    pub position: (usize, usize),
    pub step: u64,
    pub history: History,
    pub totals: EpochTotals,
    /// The checkpoint resumed from.
    pub resumed_from: Option<PathBuf>,
    /// The run a resume continues, held from the moment its checkpoint is taken over.
    pub lock: Option<RunLock>,
}

/// Everything the training loop starts with.
pub(super) struct Prepared {
    pub config: Config,
    pub data: Dataset,
    pub device: Device,
    pub model: AlexNet,
    pub optimizer: ModuleOptimizer,
    pub origin: Origin,
}

pub(super) fn prepare(
    options: WorkerOptions,
    events: &UnboundedSender<Event>,
) -> Result<Prepared, Error> {
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
    })?;
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
    let model = model_config.init(&device);
    // Parameters initialize lazily; draw them now, in a fixed order, from the seeded generator.
    let _ = model.valid();
    let optimizer = new_optimizer(&config);

    let batches_per_epoch =
        batcher::batches_per_epoch(data.train.len(), config.training.batch_size);
    let (model, optimizer, mut origin) = match options.resume {
        Some((path, checkpoint)) => take_over(model, optimizer, path, checkpoint, options.branch)?,
        None => {
            let origin = Origin {
                run: None,
                parent: None,
                checkpoint_config: None,
                position: (0, 0),
                step: 0,
                history: History::default(),
                totals: EpochTotals::default(),
                resumed_from: None,
                lock: None,
            };
            (model, optimizer, origin)
        }
    };
    if let Some(parent) = &mut origin.parent {
        let (epoch, batch) = origin.position;
        parent.position = epoch as f64 + batch as f64 / batches_per_epoch.max(1) as f64;
    }
    // alexnet-tui issue 15: the run's precision (checkpoints are f32 whatever it is).
    let precision = precision::for_device(
        config.training.precision,
        "training.precision",
        &config.training.device,
    );
    let model = model.with_compute(precision.compute);

    let summary = summarize(&model.valid(), config.model.resize, &device.clone().inner());
    let _ = events.send(Event::Ready(Box::new(ReadyInfo {
        run_id: origin.run.as_ref().map(|(id, _)| id.clone()),
        run_dir: origin.run.as_ref().map(|(_, dir)| dir.clone()),
        device: device_name,
        threads,
        precision: precision.compute.name().to_string(),
        precision_reason: precision.reason,
        summary,
        train_images: data.train.len(),
        test_images: data.test.len(),
        data_source: data.source.clone(),
        batches_per_epoch,
        position: origin.position,
        history: origin.history.clone(),
        resumed_from: origin.resumed_from.clone(),
    })));
    Ok(Prepared {
        config,
        data,
        device,
        model,
        optimizer,
        origin,
    })
}

/// Loads a checkpoint's weights and optimizer state; the run continues in the checkpoint's
/// folder, or, for a branch, in a new one that names the checkpoint's run as its parent.
fn take_over(
    model: AlexNet,
    optimizer: ModuleOptimizer,
    path: PathBuf,
    checkpoint: Checkpoint,
    branch: bool,
) -> Result<(AlexNet, ModuleOptimizer, Origin), Error> {
    let model = checkpoint::model_from_bytes(model, checkpoint.model, &path)?;
    let optimizer = optimizer
        .from_bytes(Bytes::from_bytes_vec(checkpoint.optimizer))
        .map_err(|error| CheckpointError::Load {
            path: path.clone(),
            message: format!("the optimizer state cannot be read: {error}"),
        })?;
    let meta = checkpoint.meta;
    let run_dir = run_dir::of_checkpoint(&path).ok_or_else(|| CheckpointError::Load {
        path: path.clone(),
        message: "not inside a run folder".to_string(),
    })?;
    let (run, parent, lock) = if branch {
        let parent = Parent {
            run_id: meta.run_id,
            step: meta.step,
            // Set once the data says how many batches an epoch has (`prepare`).
            position: 0.0,
            checkpoint: path.clone(),
        };
        (None, Some(parent), None)
    } else {
        // Shared with the session's hold when the front end took it already.
        let lock = lock::acquire(&run_dir, Phase::Opened)?;
        (Some((meta.run_id, run_dir)), None, Some(lock))
    };
    Ok((
        model,
        optimizer,
        Origin {
            run,
            parent,
            checkpoint_config: Some(meta.config),
            position: (meta.epoch, meta.batch),
            step: meta.step,
            history: meta.history,
            totals: meta.epoch_totals,
            resumed_from: Some(path),
            lock,
        },
    ))
}
