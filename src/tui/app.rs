//! The dashboard's state and how it changes. Keys become [`Action`]s (see `keys`);
//! [`App::update`] is the only place state changes, and it answers with [`Effect`]s (commands for
//! the worker, file work for the overlay, quitting) that the event loop carries out. What events and reloads say in words,
//! and what a reload decides, come from `report` and `control` with each message. Nothing here
//! draws or touches libtorch.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crossterm::event::KeyEvent;

use crate::config::{Change, Config};
use crate::data::batcher;
use crate::process::ProcessStats;
use crate::report::{self, Level, Line};
use crate::runs::standing::{RunCurves, RunRef};
use crate::train::metrics::{
    BatchRecord, Ema, EpochRecord, History, TestCheck, TestPoint, best_test, note_target,
    test_points,
};
use crate::train::range_test::{RangePoint, RangeSettings, RangeTest};
use crate::train::record::Parent;
use crate::train::run_dir;
use crate::train::snapshot::Snapshot;
use crate::train::{Command, Event, FinishReason, PauseReason, ReadyInfo};
use crate::tui::picker::{Listing, Picker, Row, RunChoice};

/// Where the run stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Loading data or building the model.
    Preparing(String),
    Ready,
    /// A learning-rate range test runs (from Ready, and back to it).
    RangeTest,
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
            Phase::RangeTest => "Range test",
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
    /// Throughput and configuration; in the full layout they always show, and this means the
    /// layer table.
    Overview,
    /// The layer-by-layer shape table.
    Layers,
    /// Per-class test accuracy and the confusion matrix of the last evaluation.
    Classes,
}

/// Below this terminal size the dashboard uses its compact layout: the layer table gives way to
/// throughput and configuration, and `v` brings it back.
pub const FULL_LAYOUT: (u16, u16) = (116, 36);

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
    /// Open the overlay picker, or close it.
    TogglePicker,
    /// Move the picker's selection by this many rows.
    PickerMove(isize),
    /// Draw the run selected in the picker (or none).
    PickerChoose,
    /// Draw no overlay.
    ClearOverlay,
    /// Run a learning-rate range test (in Ready).
    FindRate,
    /// End the range test that runs.
    CancelRange,
    /// Write the range test's pick into config.toml.
    WritePick,
    /// Put the range test's curve away, leaving config.toml as it is.
    DismissRange,
}

/// What the event loop must do after an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Send(Command),
    /// List the runs under `checkpoint.dir` for the picker (answered with [`Msg::Runs`]).
    ListRuns,
    /// Read a run's metrics for the overlay (answered with [`Msg::RunCurves`]).
    LoadOverlay {
        request: u64,
        run: RunRef,
    },
    /// Write this learning rate into config.toml (answered with [`Msg::Wrote`]).
    WriteRate(f64),
    Quit,
}

/// Everything that changes the dashboard's state.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// A worker event with what it says in words (from the controller's reporter).
    Worker(Box<Event>, Vec<Line>),
    /// The worker's channel closed.
    WorkerGone,
    /// config.toml was saved: what the controller made of it.
    Reloaded(Box<Reloaded>),
    /// The terminal's new size (columns, rows).
    Resize(u16, u16),
    /// Once a second: the clock and process figures.
    Tick(ProcessStats),
    /// A signal (SIGINT from outside, SIGTERM, SIGHUP) or a terminal that cannot be drawn on:
    /// save and quit as Ctrl-C does; the line says why.
    Interrupt(Line),
    /// `--compare`: draw this run (an id, a folder or "latest") behind the live one.
    Compare(String),
    /// The runs the picker lists, newest first, or why they could not be read.
    Runs(Result<Vec<RunChoice>, String>),
    /// What [`Effect::WriteRate`] did to config.toml, in words.
    Wrote(Line),
    /// The run an [`Effect::LoadOverlay`] asked for, read (or why not).
    Overlay {
        request: u64,
        run: RunRef,
        result: Result<Box<RunCurves>, String>,
    },
}

/// A learning-rate range test on screen: its curve as it arrives, then its result until the
/// pick is written (`Enter`) or put away (`Esc`).
#[derive(Debug, Clone, PartialEq)]
pub struct RangeView {
    pub settings: RangeSettings,
    pub points: Vec<RangePoint>,
    /// The finished test, with its suggestions.
    pub result: Option<RangeTest>,
}

/// The outcome of a config reload, decided by the controller.
#[derive(Debug, Clone, PartialEq)]
pub struct Reloaded {
    pub lines: Vec<Line>,
    /// The running config, live edits applied.
    pub config: Config,
    /// Restart-only edits waiting for the next start.
    pub pending: Vec<Change>,
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
    /// The terminal's size, which decides the layout and what `v` cycles through.
    pub size: (u16, u16),
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
    /// (epoch position, smoothed training accuracy) of every batch seen: the accuracy chart
    /// has a line from the first batches on, long before the first test.
    pub smoothed_accuracy: Vec<(f64, f64)>,
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
    /// A checkpoint or metrics.csv that could not be written and was not made good since: shown
    /// prominently until a save succeeds.
    pub save_failure: Option<String>,
    /// Training time of earlier sessions plus this one's, excluding pauses.
    pub elapsed_before: f64,
    pub running_since: Option<Instant>,
    pub started_at: Instant,
    /// Quit as soon as the worker has finished (after a confirmed quit or Ctrl-C).
    pub quit_when_finished: bool,
    /// The overlay picker, while it is open.
    pub picker: Option<Picker>,
    /// The earlier run drawn behind the live one.
    pub overlay: Option<RunCurves>,
    /// The latest overlay asked for: answers to earlier requests are stale.
    pub overlay_request: u64,
    /// The run the live one branched from, as [`Event::Opened`] says.
    pub parent: Option<String>,
    /// Where the live run left that run, as [`Event::Opened`] says.
    pub branched_at: Option<f64>,
    /// Where the history a resumed run started with ends.
    pub resumed_at: Option<f64>,
    /// The range test on screen, if any: it takes the loss panel's place.
    pub range: Option<RangeView>,
    /// Something changed since the last draw.
    pub dirty: bool,
}

impl App {
    pub fn new(config: Config) -> App {
        App {
            phase: Phase::Preparing("starting".into()),
            confirm: None,
            help: false,
            side: SideView::Overview,
            size: (FULL_LAYOUT.0, FULL_LAYOUT.1),
            smoothed_accuracy: Vec::new(),
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
            save_failure: None,
            elapsed_before: 0.0,
            running_since: None,
            started_at: Instant::now(),
            quit_when_finished: false,
            picker: None,
            overlay: None,
            overlay_request: 0,
            parent: None,
            branched_at: None,
            resumed_at: None,
            range: None,
            dirty: true,
        }
    }

    /// A finished range test waiting for `Enter` (write its pick) or `Esc` (put it away).
    pub fn range_result(&self) -> Option<&RangeTest> {
        self.range.as_ref().and_then(|range| range.result.as_ref())
    }

    /// Whether the terminal is below [`FULL_LAYOUT`].
    pub fn is_compact(&self) -> bool {
        self.size.0 < FULL_LAYOUT.0 || self.size.1 < FULL_LAYOUT.1
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
            Msg::Worker(event, lines) => {
                for line in lines {
                    self.note(line.level, line.text);
                }
                self.on_worker(*event)
            }
            Msg::Interrupt(line) => self.interrupt(line),
            Msg::WorkerGone => {
                if !matches!(self.phase, Phase::Finished(_) | Phase::Failed(_)) {
                    self.phase = Phase::Failed("the training worker ended unexpectedly".into());
                }
                if self.quit_when_finished {
                    return vec![Effect::Quit];
                }
                Vec::new()
            }
            Msg::Reloaded(reloaded) => {
                let Reloaded {
                    lines,
                    config,
                    pending,
                } = *reloaded;
                for line in lines {
                    self.note(line.level, line.text);
                }
                self.config = config;
                self.pending = pending;
                Vec::new()
            }
            Msg::Resize(columns, rows) => {
                self.size = (columns, rows);
                Vec::new()
            }
            Msg::Tick(stats) => {
                self.stats = stats;
                Vec::new()
            }
            Msg::Compare(name) => self.load_overlay(RunRef::Named(name)),
            Msg::Runs(listed) => {
                self.on_runs(listed);
                Vec::new()
            }
            Msg::Overlay {
                request,
                run,
                result,
            } => {
                self.on_overlay(request, run, result);
                Vec::new()
            }
            Msg::Wrote(line) => {
                self.note(line.level, line.text);
                Vec::new()
            }
        }
    }

    /// The live run's id: known for a resumed run from Ready on, for a new one once it opens.
    pub fn live_run_id(&self) -> Option<&str> {
        self.info.as_ref().and_then(|info| info.run_id.as_deref())
    }

    /// The run the live one came from: the branch's parent, else the run of the checkpoint it
    /// started from when that is another run, else the parent the live run's own record names.
    pub fn parent_run(&self) -> Option<String> {
        self.parent
            .clone()
            .or_else(|| self.checkpoint_run())
            .or_else(|| Some(self.recorded_parent()?.run_id.clone()))
    }

    /// The parent the live run's own record names, as the picker listed it.
    fn recorded_parent(&self) -> Option<&Parent> {
        let live = self.live_run_id()?;
        match &self.picker.as_ref()?.listing {
            Listing::Runs(runs) => runs
                .iter()
                .find(|run| run.summary.id == live)?
                .summary
                .parent
                .as_ref(),
            _ => None,
        }
    }

    /// The run of the checkpoint the live run started from, when that is another run.
    fn checkpoint_run(&self) -> Option<String> {
        let live = self.live_run_id();
        self.info
            .as_ref()
            .and_then(|info| info.resumed_from.as_deref())
            .and_then(run_dir::of_checkpoint)
            .and_then(|dir| Some(dir.file_name()?.to_string_lossy().into_owned()))
            .filter(|id| Some(id.as_str()) != live)
    }

    /// Where the live run left [`App::parent_run`]: before it, its curves are that run's
    /// history. For a branch, where it branched; for a run started from another run's
    /// checkpoint, where the history it started with ends; for a branch resumed later, where its
    /// record says it branched.
    pub fn branch_point(&self) -> Option<f64> {
        if self.parent.is_some() {
            self.branched_at
        } else if self.checkpoint_run().is_some() {
            self.resumed_at
        } else {
            self.recorded_parent().map(|parent| parent.position)
        }
    }

    /// The picker's rows as it lists them now.
    pub fn picker_rows<'a>(&self, picker: &'a Picker) -> Vec<Row<'a>> {
        picker.rows(self.live_run_id(), self.parent_run().as_deref())
    }

    /// Asks for `run`'s metrics; whatever was asked for before no longer counts.
    pub(super) fn load_overlay(&mut self, run: RunRef) -> Vec<Effect> {
        self.overlay_request += 1;
        vec![Effect::LoadOverlay {
            request: self.overlay_request,
            run,
        }]
    }

    fn on_runs(&mut self, listed: Result<Vec<RunChoice>, String>) {
        let Some(picker) = &mut self.picker else {
            self.dirty = false;
            return;
        };
        picker.listing = match listed {
            Ok(runs) => Listing::Runs(runs),
            Err(error) => Listing::Failed(error),
        };
        // Start on the run shown, if any, else on the first row (the parent, when there is one).
        let picker = picker.clone();
        let shown = self.overlay.as_ref().map(|overlay| overlay.id.as_str());
        let selected = self
            .picker_rows(&picker)
            .iter()
            .position(|row| match row {
                Row::Run { run, .. } => Some(run.summary.id.as_str()) == shown,
                Row::None => false,
            })
            .unwrap_or(0);
        if let Some(picker) = &mut self.picker {
            picker.selected = selected;
        }
    }

    fn on_overlay(&mut self, request: u64, run: RunRef, result: Result<Box<RunCurves>, String>) {
        if request != self.overlay_request {
            self.dirty = false;
            return;
        }
        match (result, run) {
            (Ok(overlay), _) => {
                self.note(
                    Level::Info,
                    format!("overlay: run {} drawn in grey behind this one", overlay.id),
                );
                self.overlay = Some(*overlay);
            }
            (Err(error), RunRef::Named(name)) => self.note(
                Level::Warning,
                format!("--compare {name}: {error}; the dashboard goes on without an overlay"),
            ),
            (Err(error), RunRef::Folder { id, .. }) => {
                self.note(Level::Warning, format!("cannot draw run {id}: {error}"));
            }
        }
    }

    /// The state an event leaves the dashboard in (its words arrived with it).
    fn on_worker(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::Status { message } => self.phase = Phase::Preparing(message),
            Event::Download { file, bytes, total } => {
                self.phase = Phase::Preparing(report::download_progress(&file, bytes, total));
            }
            Event::Ready(info) => self.on_ready(*info),
            Event::Started { .. } => {
                self.phase = Phase::Training;
                self.running_since = Some(Instant::now());
                // The loss panel shows training's loss from now on.
                self.range = None;
            }
            Event::Opened {
                run_id,
                run_dir,
                parent,
            } => {
                self.branched_at = parent.as_ref().map(|parent| parent.position);
                self.parent = parent.map(|parent| parent.run_id);
                if let Some(info) = &mut self.info {
                    info.run_id = Some(run_id);
                    info.run_dir = Some(run_dir);
                }
            }
            Event::Batch(batch) => self.on_batch(batch),
            Event::Evaluating { .. } => self.phase = Phase::Evaluating,
            Event::Tested(check) => {
                if self.phase == Phase::Evaluating {
                    self.phase = Phase::Training;
                }
                self.note_test(check.point());
                self.checks.push(*check);
            }
            Event::Epoch(record) => {
                if self.phase == Phase::Evaluating {
                    self.phase = Phase::Training;
                }
                if let Some(point) = record.test_point() {
                    self.note_test(point);
                }
                self.epochs.push(*record);
            }
            Event::Snapshot(snapshot) => self.snapshot = Some(*snapshot),
            Event::Checkpointed { .. } => self.save_failure = None,
            Event::SaveFailed(failure) => {
                self.save_failure = Some(report::save_failure(&failure));
            }
            Event::Paused { reason } => {
                self.pause_clock();
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
            Event::RangeStarted(settings) => {
                self.phase = Phase::RangeTest;
                self.range = Some(RangeView {
                    settings,
                    points: Vec::new(),
                    result: None,
                });
            }
            Event::RangeBatch { point, .. } => {
                if let Some(range) = &mut self.range {
                    range.points.push(point);
                }
            }
            Event::RangeTested(test) => {
                if self.phase == Phase::RangeTest {
                    self.phase = Phase::Ready;
                }
                if let Some(range) = &mut self.range {
                    range.result = Some(*test);
                }
            }
            Event::Reconfigured { .. }
            | Event::Pruned { .. }
            | Event::NotSaved { .. }
            | Event::RolledBack { .. }
            | Event::Warning { .. } => {}
            Event::Finished { reason } => {
                self.pause_clock();
                self.phase = Phase::Finished(reason);
                if self.quit_when_finished {
                    return vec![Effect::Quit];
                }
            }
            Event::Failed { message } => {
                self.pause_clock();
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
        self.resumed_at = info.history.batches.last().map(BatchRecord::epoch_position);
        self.phase = Phase::Ready;
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

    /// The loss and the running training accuracy of a batch, on the epoch axis.
    fn push_loss(&mut self, batch: &BatchRecord) {
        let x = batch.epoch_position();
        let accuracy = self.batch_accuracy.push(batch.accuracy);
        self.smoothed_accuracy.push((x, accuracy));
        self.batch_loss.push((x, batch.loss));
        let smooth = self.loss_ema.push(batch.loss);
        self.smoothed_loss.push((x, smooth));
    }

    fn on_batch(&mut self, batch: BatchRecord) {
        if self.phase == Phase::Ready {
            self.phase = Phase::Training;
        }

        self.push_loss(&batch);
        self.recent_speed.push_back(batch.images_per_second);
        while self.recent_speed.len() > SPEED_WINDOW {
            self.recent_speed.pop_front();
        }
        self.trained_images += batch.images as u64;
        self.trained_seconds += batch.seconds;
        self.last_batch = Some(batch);
    }

    /// How often the screen may be redrawn.
    pub fn frame_interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.config.ui.refresh_hz.max(1.0))
    }
}
