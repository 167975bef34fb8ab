//! What the worker does before the first batch: load the data, build the model and the
//! optimizer, create the run folder or take over a checkpoint's, and say it is ready.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use burn::module::Module;
use burn::tensor::{Bytes, Device};
use tokio::sync::mpsc::UnboundedSender;

use super::WorkerOptions;
use crate::config::Config;
use crate::data::batcher;
use crate::data::fashion_mnist::{self, Dataset, FASHION_MNIST, Locations};
use crate::files;
use crate::model::{AlexNet, AlexNetConfig, summarize};
use crate::precision;
use crate::train::checkpoint::{self, Checkpoint, CheckpointError};
use crate::train::metrics::{EpochTotals, History};
use crate::train::runtime::{configure_threads, device_for};
use crate::train::step::new_optimizer;
use crate::train::{Error, Event, ReadyInfo, run_dir};
use burn::optim::ModuleOptimizer;

/// Where a run stands when the worker is ready: a new run at zero, or a checkpoint's position.
pub(super) struct Origin {
    pub run_id: String,
    pub run_dir: PathBuf,
    /// The next batch: (epoch, batch).
    pub position: (usize, usize),
    pub step: u64,
    pub history: History,
    pub totals: EpochTotals,
    /// The checkpoint resumed from.
    pub resumed_from: Option<PathBuf>,
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

    let (model, optimizer, origin) = match options.resume {
        Some((path, checkpoint)) => take_over(model, optimizer, path, checkpoint)?,
        None => {
            let (run_id, run_dir) = run_dir::create(std::path::Path::new(&config.checkpoint.dir))?;
            let origin = Origin {
                run_id,
                run_dir,
                position: (0, 0),
                step: 0,
                history: History::default(),
                totals: EpochTotals::default(),
                resumed_from: None,
            };
            (model, optimizer, origin)
        }
    };
    // alexnet-tui issue 15: the run's precision (checkpoints are f32 whatever it is).
    let precision = precision::for_device(
        config.training.precision,
        "training.precision",
        &config.training.device,
    );
    let model = model.with_compute(precision.compute);
    let config_used = origin.run_dir.join("config.toml");
    files::write_bytes_atomic(&config_used, toml::to_string_pretty(&config)?.as_bytes()).map_err(
        |source| Error::Write {
            path: config_used.clone(),
            source,
        },
    )?;

    let summary = summarize(&model.valid(), config.model.resize, &device.clone().inner());
    let _ = events.send(Event::Ready(Box::new(ReadyInfo {
        run_id: origin.run_id.clone(),
        run_dir: origin.run_dir.clone(),
        device: device_name,
        threads,
        precision: precision.compute.name().to_string(),
        precision_reason: precision.reason,
        summary,
        train_images: data.train.len(),
        test_images: data.test.len(),
        data_source: data.source.clone(),
        batches_per_epoch: batcher::batches_per_epoch(data.train.len(), config.training.batch_size),
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

/// Loads a checkpoint's weights and optimizer state; the run continues in the checkpoint's folder.
fn take_over(
    model: AlexNet,
    optimizer: ModuleOptimizer,
    path: PathBuf,
    checkpoint: Checkpoint,
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
    Ok((
        model,
        optimizer,
        Origin {
            run_id: meta.run_id,
            run_dir,
            position: (meta.epoch, meta.batch),
            step: meta.step,
            history: meta.history,
            totals: meta.epoch_totals,
            resumed_from: Some(path),
        },
    ))
}
