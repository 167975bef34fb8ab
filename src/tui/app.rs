//! The dashboard's state and how it changes. Keys become [`Action`]s; [`App::update`] is the only
//! place state changes, and it answers with [`Effect`]s (commands for the worker, quitting) that
//! the event loop carries out. Nothing here draws or touches libtorch.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::config::{Change, Config};
use crate::data::batcher;
use crate::train::metrics::{
    BatchRecord, Ema, EpochRecord, History, TestCheck, TestPoint, best_test, note_target,
    test_points,
};
use crate::train::snapshot::Snapshot;
use crate::train::{Command, Event, FinishReason, PauseReason, ReadyInfo};
use crate::watch::{self, Reload};

/// Where the run stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Loading data or building the model.
    Preparing(String),
    Ready,
    Training,
    Evaluating,
    Paused(PauseReason),
    /// Stop was sent; waiting for the worker to save and finish.
    Stopping,
    Finished(FinishReason),
    Failed(String),
}

impl Phase {
    pub fn label(&self) -> &'static str {
        match self {
            Phase::Preparing(_) => "Preparing",
            Phase::Ready => "Ready",
            Phase::Training => "Training",
            Phase::Evaluating => "Evaluating",
            Phase::Paused(_) => "Paused",
            Phase::Stopping => "Stopping",
            Phase::Finished(_) => "Finished",
            Phase::Failed(_) => "Failed",
        }
    }

    /// Whether the worker is in a run that a stop would end.
    pub fn is_running(&self) -> bool {
        matches!(self, Phase::Training | Phase::Evaluating | Phase::Paused(_))
    }
}

/// What the right-hand panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SideView {
    /// The layer-by-layer shape table.
    Layers,
    /// Per-class test accuracy and the confusion matrix of the last evaluation.
    Classes,
}

/// What the body of the screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyView {
    /// Charts, throughput, progress, messages and the side panel.
    Dashboard,
    /// Test images with the current predictions.
    Gallery,
    /// The 96 first-layer filters.
    Filters,
}

/// A question on screen, answered with y or n.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    Stop,
    Quit,
}

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    TogglePause,
    Stop,
    Save,
    Quit,
    /// Ctrl-C: stop, save and quit without asking.
    Interrupt,
    Yes,
    No,
    ToggleHelp,
    ToggleView,
    /// Show this body view, or go back to the dashboard if it is showing.
    Show(BodyView),
    /// Next or previous page of the gallery or the filters.
    Page(isize),
}

/// What the event loop must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Send(Command),
    Quit,
}

/// Everything the front end receives.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Worker(Event),
    /// The worker's channel closed.
    WorkerGone,
    Reload(Box<Reload>),
    Resize,
    /// Once a second: the clock and process figures.
    Tick(ProcessStats),
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ProcessStats {
    /// CPU use of the whole process, 100 = one core busy.
    pub cpu_percent: f64,
    pub resident_bytes: u64,
    pub peak_resident_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub elapsed: Duration,
    pub level: Level,
    pub text: String,
}

const MAX_MESSAGES: usize = 50;
const SPEED_WINDOW: usize = 120;

pub struct App {
    pub phase: Phase,
    pub confirm: Option<Confirm>,
    pub help: bool,
    pub side: SideView,
    pub body: BodyView,
    /// Page of the gallery or filters view; the drawing wraps it to the pages that fit.
    pub page: isize,
    /// The latest gallery predictions and first-layer filters.
    pub snapshot: Option<Snapshot>,
    /// The config training runs with (live edits applied).
    pub config: Config,
    /// Restart-only edits waiting for the next start.
    pub pending: Vec<Change>,
    pub info: Option<ReadyInfo>,
    /// (epoch position, loss) of every batch seen, and the smoothed line.
    pub batch_loss: Vec<(f64, f64)>,
    pub smoothed_loss: Vec<(f64, f64)>,
    pub batch_accuracy: Ema,
    loss_ema: Ema,
    pub epochs: Vec<EpochRecord>,
    /// Tests inside epochs.
    pub checks: Vec<TestCheck>,
    pub target_reached: Option<TestPoint>,
    pub last_batch: Option<BatchRecord>,
    /// images/s of recent batches, newest last.
    pub recent_speed: VecDeque<f64>,
    /// Images and seconds trained in this session, for the average.
    pub trained_images: u64,
    pub trained_seconds: f64,
    pub stats: ProcessStats,
    pub messages: VecDeque<Message>,
    /// Training time of earlier sessions plus this one's, excluding pauses.
    pub elapsed_before: f64,
    pub running_since: Option<Instant>,
    pub started_at: Instant,
    /// Quit as soon as the worker has finished (after a confirmed quit or Ctrl-C).
    pub quit_when_finished: bool,
    /// Something changed since the last draw.
    pub dirty: bool,
}

impl App {
    pub fn new(config: Config) -> App {
        App {
            phase: Phase::Preparing("starting".into()),
            confirm: None,
            help: false,
            side: SideView::Layers,
            body: BodyView::Dashboard,
            page: 0,
            snapshot: None,
            config,
            pending: Vec::new(),
            info: None,
            batch_loss: Vec::new(),
            smoothed_loss: Vec::new(),
            batch_accuracy: Ema::new(0.9),
            loss_ema: Ema::new(0.95),
            epochs: Vec::new(),
            checks: Vec::new(),
            target_reached: None,
            last_batch: None,
            recent_speed: VecDeque::new(),
            trained_images: 0,
            trained_seconds: 0.0,
            stats: ProcessStats::default(),
            messages: VecDeque::new(),
            elapsed_before: 0.0,
            running_since: None,
            started_at: Instant::now(),
            quit_when_finished: false,
            dirty: true,
        }
    }

    /// Training seconds so far, pauses excluded.
    pub fn elapsed_seconds(&self) -> f64 {
        self.elapsed_before
            + self
                .running_since
                .map_or(0.0, |since| since.elapsed().as_secs_f64())
    }

    pub fn images_per_second_now(&self) -> Option<f64> {
        let n = self.recent_speed.len().min(10);
        (n > 0).then(|| self.recent_speed.iter().rev().take(n).sum::<f64>() / n as f64)
    }

    pub fn images_per_second_average(&self) -> Option<f64> {
        (self.trained_seconds > 0.0).then(|| self.trained_images as f64 / self.trained_seconds)
    }

    /// Every test accuracy so far on the epoch axis (epoch ends and tests inside epochs).
    pub fn test_points(&self) -> Vec<TestPoint> {
        test_points(&self.epochs, &self.checks)
    }

    pub fn best_test_accuracy(&self) -> Option<TestPoint> {
        best_test(&self.test_points())
    }

    /// Remembers the first test at or above the target (the worker ends the run there).
    fn note_test(&mut self, point: TestPoint) {
        let target = self.config.training.target_accuracy;
        note_target(&mut self.target_reached, point, target);
    }

    pub fn batches_per_epoch(&self) -> usize {
        self.info
            .as_ref()
            .map_or(1, |info| info.batches_per_epoch.max(1))
    }

    /// The run's length in batches (`training.epochs` may be fractional).
    pub fn run_batches(&self) -> usize {
        batcher::run_batches(self.batches_per_epoch(), self.config.training.epochs)
    }

    /// (epoch, batch) of the next batch.
    pub fn position(&self) -> (usize, usize) {
        match (&self.last_batch, &self.info) {
            (Some(batch), _) => {
                if batch.batch + 1 >= batch.batches_per_epoch {
                    (batch.epoch + 1, 0)
                } else {
                    (batch.epoch, batch.batch + 1)
                }
            }
            (None, Some(info)) => info.position,
            (None, None) => (0, 0),
        }
    }

    pub fn note(&mut self, level: Level, text: impl Into<String>) {
        self.messages.push_back(Message {
            elapsed: self.started_at.elapsed(),
            level,
            text: text.into(),
        });
        while self.messages.len() > MAX_MESSAGES {
            self.messages.pop_front();
        }
    }

    /// The key map. Keys that mean nothing in the current state give `None`.
    pub fn action_for(&self, key: KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Some(Action::Interrupt);
        }
        if self.confirm.is_some() {
            return match key.code {
                KeyCode::Char('y' | 'Y') | KeyCode::Enter => Some(Action::Yes),
                KeyCode::Char('n' | 'N') | KeyCode::Esc => Some(Action::No),
                _ => None,
            };
        }
        if self.help {
            return match key.code {
                KeyCode::Char('?') | KeyCode::Esc | KeyCode::Char('h') => Some(Action::ToggleHelp),
                KeyCode::Char('q') => Some(Action::Quit),
                _ => None,
            };
        }
        match key.code {
            KeyCode::Char('s') | KeyCode::Enter => Some(Action::Start),
            KeyCode::Char('p') | KeyCode::Char(' ') => Some(Action::TogglePause),
            KeyCode::Char('x') => Some(Action::Stop),
            KeyCode::Char('c') => Some(Action::Save),
            KeyCode::Char('q') | KeyCode::Esc => Some(Action::Quit),
            KeyCode::Char('?') | KeyCode::Char('h') => Some(Action::ToggleHelp),
            KeyCode::Char('v') | KeyCode::Tab => Some(Action::ToggleView),
            KeyCode::Char('g') => Some(Action::Show(BodyView::Gallery)),
            KeyCode::Char('f') => Some(Action::Show(BodyView::Filters)),
            KeyCode::Char('d') => Some(Action::Show(BodyView::Dashboard)),
            KeyCode::Right | KeyCode::Char(']') | KeyCode::PageDown
                if self.body != BodyView::Dashboard =>
            {
                Some(Action::Page(1))
            }
            KeyCode::Left | KeyCode::Char('[') | KeyCode::PageUp
                if self.body != BodyView::Dashboard =>
            {
                Some(Action::Page(-1))
            }
            _ => None,
        }
    }

    /// The one place state changes.
    pub fn update(&mut self, msg: Msg) -> Vec<Effect> {
        self.dirty = true;
        match msg {
            Msg::Key(key) => match self.action_for(key) {
                Some(action) => self.act(action),
                None => {
                    self.dirty = false;
                    Vec::new()
                }
            },
            Msg::Worker(event) => self.on_worker(event),
            Msg::WorkerGone => {
                if !matches!(self.phase, Phase::Finished(_) | Phase::Failed(_)) {
                    self.phase = Phase::Failed("the training worker ended unexpectedly".into());
                }
                if self.quit_when_finished {
                    return vec![Effect::Quit];
                }
                Vec::new()
            }
            Msg::Reload(reload) => self.on_reload(*reload),
            Msg::Resize => Vec::new(),
            Msg::Tick(stats) => {
                self.stats = stats;
                Vec::new()
            }
        }
    }

    fn act(&mut self, action: Action) -> Vec<Effect> {
        match action {
            Action::ToggleHelp => {
                self.help = !self.help;
                Vec::new()
            }
            Action::ToggleView => {
                self.side = match self.side {
                    SideView::Layers => SideView::Classes,
                    SideView::Classes => SideView::Layers,
                };
                Vec::new()
            }
            Action::Show(view) => {
                self.body = if self.body == view {
                    BodyView::Dashboard
                } else {
                    view
                };
                self.page = 0;
                Vec::new()
            }
            Action::Page(delta) => {
                self.page += delta;
                Vec::new()
            }
            Action::Start => match self.phase {
                Phase::Ready => vec![Effect::Send(Command::Start)],
                Phase::Paused(_) => vec![Effect::Send(Command::Resume)],
                _ => Vec::new(),
            },
            Action::TogglePause => match self.phase {
                Phase::Training | Phase::Evaluating => vec![Effect::Send(Command::Pause)],
                Phase::Paused(_) => vec![Effect::Send(Command::Resume)],
                Phase::Ready => vec![Effect::Send(Command::Start)],
                _ => Vec::new(),
            },
            Action::Save => {
                if self.phase.is_running() {
                    self.note(Level::Info, "saving a checkpoint...");
                    vec![Effect::Send(Command::Save)]
                } else {
                    self.note(Level::Warning, "nothing to save: training has not started");
                    Vec::new()
                }
            }
            Action::Stop => {
                if self.phase.is_running() {
                    self.confirm = Some(Confirm::Stop);
                }
                Vec::new()
            }
            Action::Quit => {
                if self.phase.is_running() {
                    self.confirm = Some(Confirm::Quit);
                    Vec::new()
                } else if self.phase == Phase::Stopping {
                    self.quit_when_finished = true;
                    Vec::new()
                } else {
                    self.quit_idle()
                }
            }
            Action::Interrupt => {
                self.confirm = None;
                if self.phase.is_running() {
                    self.quit_when_finished = true;
                    self.phase = Phase::Stopping;
                    self.note(Level::Info, "Ctrl-C: saving a checkpoint, then quitting");
                    vec![Effect::Send(Command::Stop)]
                } else if self.phase == Phase::Stopping {
                    self.quit_when_finished = true;
                    Vec::new()
                } else {
                    self.quit_idle()
                }
            }
            Action::Yes => match self.confirm.take() {
                Some(confirm) if self.phase.is_running() => {
                    self.quit_when_finished = confirm == Confirm::Quit;
                    self.phase = Phase::Stopping;
                    self.note(
                        Level::Info,
                        "stopping: finishing the current batch and saving a checkpoint",
                    );
                    vec![Effect::Send(Command::Stop)]
                }
                Some(Confirm::Quit) => self.quit_idle(),
                _ => Vec::new(),
            },
            Action::No => {
                self.confirm = None;
                Vec::new()
            }
        }
    }

    /// Quitting when no training runs: a worker still waiting in Ready is told to stop.
    fn quit_idle(&mut self) -> Vec<Effect> {
        match self.phase {
            Phase::Ready | Phase::Preparing(_) => {
                vec![Effect::Send(Command::Stop), Effect::Quit]
            }
            _ => vec![Effect::Quit],
        }
    }

    fn on_worker(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Status { message } => self.phase = Phase::Preparing(message),
            Event::Download { file, bytes, total } => {
                let progress = match total {
                    Some(total) if total > 0 => {
                        format!("{:.0}%", 100.0 * bytes as f64 / total as f64)
                    }
                    _ => format!("{} kB", bytes / 1000),
                };
                self.phase = Phase::Preparing(format!("downloading {file}: {progress}"));
            }
            Event::Ready(info) => self.on_ready(*info),
            Event::Started { epoch, batch } => {
                self.phase = Phase::Training;
                self.running_since = Some(Instant::now());
                self.note(
                    Level::Info,
                    format!("training from epoch {}, batch {}", epoch + 1, batch + 1),
                );
            }
            Event::Batch(batch) => self.on_batch(batch),
            Event::Evaluating { position } => {
                self.phase = Phase::Evaluating;
                self.note(Level::Info, crate::headless::evaluating_line(position));
            }
            Event::Tested(check) => {
                if self.phase == Phase::Evaluating {
                    self.phase = Phase::Training;
                }
                self.note_test(TestPoint {
                    position: check.position,
                    accuracy: check.test.accuracy,
                    elapsed_seconds: check.elapsed_seconds,
                });
                self.note(
                    Level::Info,
                    format!(
                        "epoch {:.2}: test accuracy {:.4}",
                        check.position, check.test.accuracy
                    ),
                );
                self.checks.push(*check);
            }
            Event::Epoch(record) => {
                if self.phase == Phase::Evaluating {
                    self.phase = Phase::Training;
                }
                let message = match &record.test {
                    Some(test) => {
                        self.note_test(TestPoint {
                            position: record.epoch as f64 + 1.0,
                            accuracy: test.accuracy,
                            elapsed_seconds: record.elapsed_seconds,
                        });
                        format!(
                            "epoch {}: test accuracy {:.4}, train loss {:.4}",
                            record.epoch + 1,
                            test.accuracy,
                            record.train_loss
                        )
                    }
                    None => format!(
                        "epoch {}: train loss {:.4}, not tested (before eval_from)",
                        record.epoch + 1,
                        record.train_loss
                    ),
                };
                self.note(Level::Info, message);
                self.epochs.push(*record);
            }
            Event::Snapshot(snapshot) => self.snapshot = Some(*snapshot),
            Event::Checkpointed { path, reason } => {
                self.note(
                    Level::Info,
                    format!("checkpoint saved ({reason:?}): {}", path.display()),
                );
            }
            Event::Paused { reason } => {
                self.pause_clock();
                if let PauseReason::NonFiniteLoss {
                    loss,
                    learning_rate,
                } = &reason
                {
                    self.note(
                        Level::Error,
                        format!(
                            "loss became {loss} at learning rate {learning_rate:.5}: paused. Lower training.learning_rate in config.toml, then resume (p) to continue from the last checkpoint"
                        ),
                    );
                }
                if self.phase != Phase::Stopping {
                    self.phase = Phase::Paused(reason);
                }
            }
            Event::Resumed => {
                if self.phase != Phase::Stopping {
                    self.phase = Phase::Training;
                }
                self.running_since = Some(Instant::now());
            }
            Event::Reconfigured { settings } => {
                self.note(
                    Level::Info,
                    format!(
                        "training now uses learning rate {}, momentum {}, weight decay {}, {} epochs",
                        settings.learning_rate,
                        settings.momentum,
                        settings.weight_decay,
                        settings.epochs
                    ),
                );
            }
            Event::Warning { message } => self.note(Level::Warning, message),
            Event::Finished { reason } => {
                self.pause_clock();
                self.phase = Phase::Finished(reason);
                self.note(
                    Level::Info,
                    match reason {
                        FinishReason::Completed => "finished: all epochs done",
                        FinishReason::Stopped => "stopped",
                        FinishReason::TargetReached => "finished: target accuracy reached",
                    },
                );
                if self.quit_when_finished {
                    return vec![Effect::Quit];
                }
            }
            Event::Failed { message } => {
                self.pause_clock();
                self.note(Level::Error, message.clone());
                self.phase = Phase::Failed(message);
                if self.quit_when_finished {
                    return vec![Effect::Quit];
                }
            }
        }
        Vec::new()
    }

    fn pause_clock(&mut self) {
        if let Some(since) = self.running_since.take() {
            self.elapsed_before += since.elapsed().as_secs_f64();
        }
    }

    fn on_ready(&mut self, info: ReadyInfo) {
        self.load_history(&info.history);
        self.phase = Phase::Ready;
        if let Some(path) = &info.resumed_from {
            self.note(
                Level::Info,
                format!(
                    "resumed {} at epoch {}, batch {}",
                    path.display(),
                    info.position.0 + 1,
                    info.position.1 + 1
                ),
            );
        }
        self.note(
            Level::Info,
            format!(
                "ready: {} training and {} test images from {}",
                info.train_images,
                info.test_images,
                info.data_source.display()
            ),
        );
        self.info = Some(info);
    }

    /// Draws a resumed run's past.
    fn load_history(&mut self, history: &History) {
        self.elapsed_before = history.elapsed_seconds;
        for batch in &history.batches {
            self.push_loss(batch);
        }
        self.epochs = history.epochs.clone();
        self.checks = history.checks.clone();
        self.target_reached = history.target_reached_at;
    }

    fn push_loss(&mut self, batch: &BatchRecord) {
        let x = batch.epoch_position();
        self.batch_loss.push((x, batch.loss));
        let smooth = self.loss_ema.push(batch.loss);
        self.smoothed_loss.push((x, smooth));
    }

    fn on_batch(&mut self, batch: BatchRecord) {
        if self.phase == Phase::Ready {
            self.phase = Phase::Training;
        }
        self.push_loss(&batch);
        self.batch_accuracy.push(batch.accuracy);
        self.recent_speed.push_back(batch.images_per_second);
        while self.recent_speed.len() > SPEED_WINDOW {
            self.recent_speed.pop_front();
        }
        self.trained_images += batch.images as u64;
        self.trained_seconds += batch.seconds;
        self.last_batch = Some(batch);
    }

    fn on_reload(&mut self, reload: Reload) -> Vec<Effect> {
        match reload {
            Err(error) => {
                self.note(
                    Level::Error,
                    format!("config.toml not applied, keeping the old values: {error}"),
                );
                Vec::new()
            }
            Ok(new) => {
                let diff = self.config.diff(&new);
                for line in watch::describe(&diff) {
                    self.note(Level::Info, line);
                }
                self.pending = diff.restart.clone();
                if diff.live.is_empty() {
                    return Vec::new();
                }
                self.config.apply_live(&new);
                vec![Effect::Send(Command::Reconfigure(self.config.live()))]
            }
        }
    }

    /// How often the screen may be redrawn.
    pub fn frame_interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.config.ui.refresh_hz.max(1.0))
    }
}
