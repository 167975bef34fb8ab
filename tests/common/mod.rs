//! What the tests that run a real worker share: a small config on a slice of the real data, and
//! waiting for events with a deadline.

#![allow(dead_code)] // each test binary uses a different part

pub mod runs;
pub mod skip;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alexnet_tui::config::{Config, Precision};
use alexnet_tui::train::Event;
use alexnet_tui::train::checkpoint::Checkpoint;
use alexnet_tui::train::worker::{self, WorkerHandle, WorkerOptions};

/// The fast profile's recipe, small, in f32: these tests compare numbers (a resumed run's losses
/// with an uninterrupted one's, thresholds measured in f32), and the profile's "auto" would
/// compute in bf16 on a CPU with native bf16. A test of the bf16 path sets bf16.
pub fn small_config(runs: &Path) -> Config {
    let mut config = Config::default();
    config.training.precision = Precision::F32;
    config.model.resize = 65;
    config.data.train_limit = 640;
    config.data.test_limit = 200;
    config.training.batch_size = 64;
    config.training.epochs = 1.0;
    config.training.threads = 1;
    config.training.device = "cpu".into();
    config.training.target_accuracy = 0.0;
    // Tests at epoch ends only, unless a test asks for more.
    config.training.eval_every = 1.0;
    config.training.eval_from = 0.0;
    config.training.log_every = 1;
    config.checkpoint.dir = runs.display().to_string();
    config.checkpoint.interval_minutes = 0.0;
    config.checkpoint.keep = 10;
    config
}

pub fn start(
    config: Config,
    autostart: bool,
    resume: Option<(PathBuf, Checkpoint)>,
) -> WorkerHandle {
    worker::spawn(WorkerOptions {
        config,
        resume,
        autostart,
        locations: None,
        branch: false,
    })
}

/// The next event, failing the test on a worker failure or after `timeout`.
pub fn next(handle: &mut WorkerHandle, timeout: Duration) -> Event {
    let deadline = Instant::now() + timeout;
    loop {
        match handle.events.try_recv() {
            Ok(Event::Failed { message }) => panic!("worker failed: {message}"),
            Ok(event) => return event,
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => {
                panic!("worker ended without finishing")
            }
            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                assert!(Instant::now() < deadline, "no event within {timeout:?}");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Events until one matches, returning it.
pub fn until(
    handle: &mut WorkerHandle,
    timeout: Duration,
    wanted: impl Fn(&Event) -> bool,
) -> Event {
    let deadline = Instant::now() + timeout;
    loop {
        let event = next(handle, deadline.saturating_duration_since(Instant::now()));
        if wanted(&event) {
            return event;
        }
    }
}

pub const MINUTE: Duration = Duration::from_secs(60);

/// These tests train on both cores and one of them measures the process's CPU use while paused:
/// they run one at a time.
pub static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
