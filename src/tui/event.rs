//! Everything the dashboard reacts to arrives as one [`Input`] on one channel: keys and resizes
//! from crossterm's event stream, the worker's events, config reloads, a one-second tick with
//! process figures, the signals of [`crate::interrupts`] (SIGINT from outside the terminal,
//! SIGTERM, SIGHUP), and the results of the overlay's file work ([`spawn_file_work`]).

use std::time::Duration;

use crossterm::event::{EventStream, KeyEvent};
use futures::StreamExt;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::interrupts::{Interrupt, Interrupts};
use crate::process::{ProcessSampler, ProcessStats};
use crate::rate_pick;
use crate::report::Line;
use crate::runs::standing;
use crate::train::Event;
use crate::tui::app::{Effect, Msg};
use crate::tui::picker;
use crate::watch::Reload;

/// What the sources deliver. Worker events and reloads go through the controller before they
/// reach the dashboard's state; the rest goes straight to it.
#[derive(Debug)]
pub enum Input {
    Key(KeyEvent),
    Worker(Box<Event>),
    /// The worker's channel closed.
    WorkerGone,
    Reload(Box<Reload>),
    Resize(u16, u16),
    /// Once a second: the clock and process figures.
    Tick(ProcessStats),
    /// A signal: the first saves and quits (SIGHUP without drawing), a later one quits at once.
    Interrupt(Interrupt),
    /// The answer to file work (listing runs, reading a run's metrics), as the app takes it.
    Done(Box<Msg>),
}

/// Carries out an effect that reads or writes files ([`Effect::ListRuns`],
/// [`Effect::LoadOverlay`], [`Effect::WriteRate`]) on tokio's blocking threads, so that neither
/// drawing nor the event loop waits on the disk; the answer comes back on `tx`. `config` is the
/// running one: its `checkpoint.dir` holds the runs, and the picker says what differs from it;
/// `config_path` is its file. Other effects are not file work and are ignored.
pub fn spawn_file_work(
    effect: Effect,
    config: &Config,
    config_path: &Path,
    tx: &UnboundedSender<Input>,
) {
    let root = PathBuf::from(&config.checkpoint.dir);
    let tx = tx.clone();
    match effect {
        Effect::ListRuns => {
            let live = config.clone();
            tokio::task::spawn_blocking(move || {
                let runs = picker::list_runs(&root, &live);
                let _ = tx.send(Input::Done(Box::new(Msg::Runs(runs))));
            });
        }
        Effect::LoadOverlay { request, run } => {
            tokio::task::spawn_blocking(move || {
                let result = standing::read_curves(&root, run.clone()).map(Box::new);
                let _ = tx.send(Input::Done(Box::new(Msg::Overlay {
                    request,
                    run,
                    result,
                })));
            });
        }
        Effect::WriteRate(rate) => {
            let path = config_path.to_path_buf();
            tokio::task::spawn_blocking(move || {
                let line = match rate_pick::write(&path, rate) {
                    Ok(written) => written.line(),
                    Err(error) => Line::error(error.to_string()),
                };
                let _ = tx.send(Input::Done(Box::new(Msg::Wrote(line))));
            });
        }
        Effect::Send(_) | Effect::Quit => {}
    }
}

/// Starts the tasks that feed `tx`. They end when the receiver is dropped.
pub fn spawn_sources(
    tx: UnboundedSender<Input>,
    mut worker_events: UnboundedReceiver<Event>,
    reloads: Option<UnboundedReceiver<Reload>>,
    mut interrupts: Interrupts,
) {
    let keys = tx.clone();
    tokio::spawn(async move {
        let mut stream = EventStream::new();
        while let Some(Ok(event)) = stream.next().await {
            let msg = match event {
                crossterm::event::Event::Key(key) => Input::Key(key),
                crossterm::event::Event::Resize(columns, rows) => Input::Resize(columns, rows),
                _ => continue,
            };
            if keys.send(msg).is_err() {
                break;
            }
        }
    });

    let worker = tx.clone();
    tokio::spawn(async move {
        while let Some(event) = worker_events.recv().await {
            if worker.send(Input::Worker(Box::new(event))).is_err() {
                return;
            }
        }
        let _ = worker.send(Input::WorkerGone);
    });

    if let Some(mut reloads) = reloads {
        let reload_tx = tx.clone();
        tokio::spawn(async move {
            while let Some(reload) = reloads.recv().await {
                if reload_tx.send(Input::Reload(Box::new(reload))).is_err() {
                    break;
                }
            }
        });
    }

    let ticks = tx.clone();
    tokio::spawn(async move {
        let mut sampler = ProcessSampler::new();
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        loop {
            interval.tick().await;
            if ticks.send(Input::Tick(sampler.sample())).is_err() {
                break;
            }
        }
    });

    // Signals from outside: Ctrl-C typed in the raw-mode terminal arrives as a key instead.
    tokio::spawn(async move {
        loop {
            let interrupt = interrupts.recv().await;
            if tx.send(Input::Interrupt(interrupt)).is_err() {
                break;
            }
        }
    });
}
