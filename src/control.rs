//! The one place that steers a run for either front end: it starts the worker and the config
//! watcher, keeps the running config, decides what a saved config.toml means (apply the live
//! keys, list the pending ones, reject an invalid edit with its line), what follows a non-finite
//! loss or a checkpoint that cannot be written, and draws the curves when the run ends.
//!
//! [`Steering`] holds the decisions and does no I/O, so tests can drive it directly;
//! [`Controller`] adds the worker, the watcher and the files. The dashboard and the headless
//! runner each own one and only draw or print what it says.

use std::path::PathBuf;
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::config::{Applier, Change, Config};
use crate::report::{self, Line, Reporter, Steer};
use crate::session::Prepared;
use crate::train::worker::{self, WorkerOptions};
use crate::train::{Command, Event, FinishReason, PauseReason, SaveFailure, SaveReason};
use crate::watch::{ConfigWatcher, Reload};

/// What a decision asks of the worker, and what to tell the person.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    pub commands: Vec<Command>,
    pub lines: Vec<Line>,
}

/// The running config and what the person's edits and the worker's events mean for it.
#[derive(Debug, Clone)]
pub struct Steering {
    steer: Steer,
    config: Config,
    /// Restart-only edits waiting for the next start.
    pending: Vec<Change>,
    /// Paused on a non-finite loss: a valid edit (headless) or `p` (dashboard) resumes.
    diverged: bool,
    /// The first write that failed and was not made good by a later checkpoint.
    unsaved: Option<SaveFailure>,
    /// Stop was sent; a failed save now cannot pause anything.
    stopping: bool,
}

impl Steering {
    pub fn new(config: Config, steer: Steer) -> Steering {
        Steering {
            steer,
            config,
            pending: Vec::new(),
            diverged: false,
            unsaved: None,
            stopping: false,
        }
    }

    /// The config training runs with, live edits applied.
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn pending(&self) -> &[Change] {
        &self.pending
    }

    /// A write that failed and that no later checkpoint made good: what is not kept.
    pub fn unsaved(&self) -> Option<&SaveFailure> {
        self.unsaved.as_ref()
    }

    /// Notes what the worker said and answers what needs answering.
    pub fn observe(&mut self, event: &Event) -> Vec<Command> {
        match event {
            Event::Paused {
                reason: PauseReason::NonFiniteLoss { .. },
            } => self.diverged = true,
            Event::Resumed => self.diverged = false,
            Event::Checkpointed { .. } => self.unsaved = None,
            Event::SaveFailed(failure) => {
                if self.unsaved.is_none() {
                    self.unsaved = Some((**failure).clone());
                }
                // Nobody can free space and press a key here: end the run, keeping what was
                // saved, and say what was not.
                if self.steer == Steer::FileOnly
                    && !self.stopping
                    && failure.reason != SaveReason::Stop
                {
                    self.stopping = true;
                    return vec![Command::Stop];
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// Notes that Stop was sent to the worker (a key, a signal): a failed save from now on
    /// cannot pause anything.
    pub fn note_stop_requested(&mut self) {
        self.stopping = true;
    }

    /// What a save of config.toml means: live keys go to the worker at once (or to the front
    /// end), restart-only keys wait, an invalid file changes nothing. Headless, a valid edit
    /// after a non-finite loss is how training resumes, since there is no key to press.
    pub fn reload(&mut self, reload: Reload) -> Decision {
        let new = match reload {
            Ok(new) => new,
            Err(error) => {
                return Decision {
                    commands: Vec::new(),
                    lines: vec![report::rejected_reload(&error)],
                };
            }
        };
        let diff = self.config.diff(&new);
        let lines = report::reload_lines(&diff);
        self.pending = diff.restart;
        let mut commands = Vec::new();
        if !diff.live.is_empty() {
            let changed = self.config.apply_live(&new, None);
            if changed.iter().any(|change| {
                crate::config::LiveKey::named(&change.key)
                    .is_some_and(|live| live.applier == Applier::Worker)
            }) {
                commands.push(Command::Reconfigure(Box::new(self.config.clone())));
            }
            if self.diverged && self.steer == Steer::FileOnly {
                commands.push(Command::Resume);
            }
        }
        Decision { commands, lines }
    }
}

/// Where events and config reloads arrive; the front end selects over them.
pub struct Inputs {
    pub events: UnboundedReceiver<Event>,
    pub reloads: Option<UnboundedReceiver<Reload>>,
}

/// A running worker, its config watcher and the steering decisions.
pub struct Controller {
    steering: Steering,
    reporter: Reporter,
    commands: Sender<Command>,
    thread: Option<JoinHandle<()>>,
    /// Kept alive for the whole run; dropping it stops the reloads.
    _watcher: Option<ConfigWatcher>,
    /// The resumed run, held since its checkpoint was opened (the worker shares this lock).
    _hold: Option<crate::train::lock::RunLock>,
    run_dir: Option<PathBuf>,
    /// Curves that could not be drawn at the end of the run.
    curves_failed: bool,
}

impl Controller {
    /// Starts the worker (training at once with `autostart`) and the config watcher. The lines
    /// say what could not be set up (a config file that cannot be watched).
    pub fn launch(
        prepared: Prepared,
        autostart: bool,
        steer: Steer,
    ) -> (Controller, Inputs, Vec<Line>) {
        let handle = worker::spawn(WorkerOptions {
            config: prepared.config.clone(),
            resume: prepared.resume,
            autostart,
            locations: None,
            branch: prepared.branch,
        });
        let mut lines = Vec::new();
        let (watcher, reloads) =
            match ConfigWatcher::new(&prepared.config_path, prepared.profile_override) {
                Ok((watcher, reloads)) => (Some(watcher), Some(reloads)),
                Err(error) => {
                    lines.push(Line::warning(format!(
                        "cannot watch {}: live edits are off ({error})",
                        prepared.config_path.display()
                    )));
                    (None, None)
                }
            };
        let controller = Controller {
            reporter: Reporter::new(&prepared.config, steer),
            steering: Steering::new(prepared.config, steer),
            commands: handle.commands,
            thread: Some(handle.thread),
            _watcher: watcher,
            _hold: prepared.hold,
            run_dir: None,
            curves_failed: false,
        };
        let inputs = Inputs {
            events: handle.events,
            reloads,
        };
        (controller, inputs, lines)
    }

    /// Sends a command to the worker (ignored once it has ended).
    pub fn send(&mut self, command: Command) {
        if command == Command::Stop {
            self.steering.note_stop_requested();
        }
        let _ = self.commands.send(command);
    }

    /// Takes in a worker event: what it says to the person, and what follows from it. A run
    /// that ends draws its curves (the line says where, or why not).
    pub fn on_event(&mut self, event: &Event) -> Vec<Line> {
        match event {
            Event::Ready(info) => self.run_dir = info.run_dir.clone(),
            Event::Opened { run_dir, .. } => self.run_dir = Some(run_dir.clone()),
            _ => {}
        }
        for command in self.steering.observe(event) {
            self.send(command);
        }
        let mut lines = self.reporter.lines(event);
        if let (Event::Finished { reason }, Some(run_dir)) = (event, &self.run_dir) {
            // A run stopped before its first batch has nothing to draw.
            let metrics = run_dir.join(crate::train::metrics::METRICS_FILE);
            if *reason != FinishReason::Stopped || metrics.is_file() {
                match crate::curves::write_run_plot(run_dir) {
                    Ok(path) => lines.insert(0, report::curves_line(&path)),
                    Err(error) => {
                        self.curves_failed = true;
                        lines.insert(0, Line::error(format!("curves NOT drawn: {error}")));
                    }
                }
            }
        }
        lines
    }

    /// Takes in a saved config.toml: applies what it decides and says what changed.
    pub fn on_reload(&mut self, reload: Reload) -> Vec<Line> {
        let decision = self.steering.reload(reload);
        for command in decision.commands {
            self.send(command);
        }
        decision.lines
    }

    pub fn config(&self) -> &Config {
        self.steering.config()
    }

    pub fn pending(&self) -> &[Change] {
        self.steering.pending()
    }

    /// What the run could not write (a checkpoint, metrics.csv, its curves), as one last line
    /// for the person; `None` when everything was kept.
    pub fn unsaved_summary(&self) -> Option<String> {
        if let Some(failure) = self.steering.unsaved() {
            return Some(format!(
                "the run ended with training that is not saved: {}",
                report::save_failure(failure)
            ));
        }
        self.curves_failed
            .then(|| "the run's curves.png could not be written (see above)".to_string())
    }

    /// Waits for the worker thread to end.
    pub fn join(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Waits up to `limit` for the worker thread to end (it has been told to stop). The process
    /// must not exit while the worker still frees libtorch tensors: libtorch's own teardown at
    /// exit would race with it. A worker still loading data after `limit` is left behind.
    pub fn join_within(&mut self, limit: std::time::Duration) {
        let deadline = std::time::Instant::now() + limit;
        while self
            .thread
            .as_ref()
            .is_some_and(|thread| !thread.is_finished())
        {
            if std::time::Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        self.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reload(text: &str) -> Reload {
        Config::parse(text, std::path::Path::new("config.toml"), None)
    }

    #[test]
    fn headless_resumes_a_diverged_run_on_a_valid_live_edit_and_the_dashboard_does_not() {
        for (steer, resumes) in [(Steer::FileOnly, true), (Steer::Keys, false)] {
            let mut steering = Steering::new(Config::default(), steer);
            steering.observe(&Event::Paused {
                reason: PauseReason::NonFiniteLoss {
                    loss: f64::NAN,
                    learning_rate: 1.0,
                },
            });
            let decision = steering.reload(reload("[training]\nlearning_rate = 0.001\n"));
            assert!(matches!(decision.commands[0], Command::Reconfigure(_)));
            assert_eq!(
                decision.commands.contains(&Command::Resume),
                resumes,
                "{steer:?}"
            );
        }
    }

    #[test]
    fn a_front_end_key_is_applied_without_bothering_the_worker() {
        let mut steering = Steering::new(Config::default(), Steer::Keys);
        let decision = steering.reload(reload("[ui]\nrefresh_hz = 4\n"));
        assert!(decision.commands.is_empty());
        assert_eq!(steering.config().ui.refresh_hz, 4.0);
    }
}
