//! The dashboard without a terminal: keys to actions to state, config reloads, and named
//! snapshots of every state rendered on ratatui's TestBackend (times masked).

use std::path::{Path, PathBuf};

use alexnet_tui::config::Config;
use alexnet_tui::control::Steering;
use alexnet_tui::model::{AlexNetConfig, summarize};
use alexnet_tui::process::ProcessStats;
use alexnet_tui::report::range_test::format_rate;
use alexnet_tui::report::{Reporter, Steer};
use alexnet_tui::runs::standing;
use alexnet_tui::train::metrics::{
    BatchRecord, EpochRecord, Evaluation, History, MetricsRow, TestCheck, TestPoint,
};
use alexnet_tui::train::range_test::{RangeEnd, RangePoint, RangeSettings, RangeTest};
use alexnet_tui::train::record::{EndReason, Parent, RunRecord};
use alexnet_tui::train::snapshot::{Filters, GalleryItem, Moment, Snapshot};
use alexnet_tui::train::{
    Command, Event, FinishReason, PauseReason, ReadyInfo, SaveFailure, SaveReason, SavedFile,
};
use alexnet_tui::tui::app::{Action, App, BodyView, Confirm, Effect, Msg, Phase, Reloaded};
use alexnet_tui::tui::picker;
use alexnet_tui::tui::ui;
use alexnet_tui::tui::ui::grey;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn config() -> Config {
    let mut config = Config::default();
    config.model.resize = 67;
    config.training.epochs = 3.0;
    config
}

fn ready_info(config: &Config, history: History) -> ReadyInfo {
    let device = alexnet_tui::train::runtime::cpu();
    let model = AlexNetConfig {
        resize: config.model.resize,
        dropout: 0.5,
    }
    .init(&device);
    ReadyInfo {
        run_id: Some("20261129-101500".into()),
        run_dir: Some(PathBuf::from("runs/20261129-101500")),
        device: "CPU (libtorch)".into(),
        threads: 2,
        precision: "f32".into(),
        precision_reason: "auto: this CPU has no native bf16 (no avx512_bf16/amx_bf16)".into(),
        summary: summarize(&model, config.model.resize, &device),
        train_images: 60_000,
        test_images: 10_000,
        data_source: PathBuf::from("/usr/share/datasets/fashion-mnist"),
        batches_per_epoch: 469,
        position: (0, 0),
        history,
        resumed_from: None,
    }
}

fn key(code: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl_c() -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL))
}

fn batch(epoch: usize, index: usize, loss: f64) -> BatchRecord {
    BatchRecord {
        epoch,
        batch: index,
        batches_per_epoch: 469,
        step: (epoch * 469 + index) as u64,
        images: 128,
        loss,
        accuracy: 1.0 - loss / 3.0,
        learning_rate: 0.05,
        images_per_second: 180.0 + (index % 7) as f64,
        seconds: 0.7,
        elapsed_seconds: 0.7 * (epoch * 469 + index + 1) as f64,
    }
}

fn epoch(index: usize, test_accuracy: f64) -> EpochRecord {
    let mut confusion = [[0u32; 10]; 10];
    for (class, row) in confusion.iter_mut().enumerate() {
        row[class] = (test_accuracy * 1000.0) as u32;
        row[(class + 1) % 10] = 1000 - row[class];
    }
    EpochRecord {
        epoch: index,
        train_loss: 1.0 / (index as f64 + 1.5),
        train_accuracy: test_accuracy - 0.02,
        test: Some(Evaluation {
            accuracy: test_accuracy,
            loss: 0.4,
            images: 10_000,
            confusion,
            seconds: 20.0,
        }),
        images_per_second: 182.0,
        elapsed_seconds: 330.0 * (index as f64 + 1.0),
        memory: Some((630_000_000, 790_000_000)),
    }
}

/// A worker event as the dashboard's event loop hands it over: with its words from the reporter.
fn worker(event: Event) -> Msg {
    let lines = Reporter::new(&config(), Steer::Keys).lines(&event);
    Msg::Worker(Box::new(event), lines)
}

fn ready_app() -> App {
    let config = config();
    let mut app = App::new(config.clone());
    app.update(worker(Event::Status {
        message: "loading Fashion-MNIST".into(),
    }));
    app.update(worker(Event::Ready(Box::new(ready_info(
        &config,
        History::default(),
    )))));
    app.update(Msg::Tick(ProcessStats {
        cpu_percent: 198.0,
        resident_bytes: 1_900_000_000,
        peak_resident_bytes: 2_100_000_000,
    }));
    app
}

fn training_app() -> App {
    let mut app = ready_app();
    assert_eq!(
        app.update(key(KeyCode::Char('s'))),
        vec![Effect::Send(Command::Start)]
    );
    app.update(worker(Event::Started { epoch: 0, batch: 0 }));
    for e in 0..2 {
        for i in 0..469 {
            let loss =
                2.3 * (-((e * 469 + i) as f64) / 300.0).exp() + 0.3 + 0.1 * ((i % 5) as f64 / 5.0);
            app.update(worker(Event::Batch(batch(e, i, loss))));
        }
        app.update(worker(Event::Evaluating {
            position: e as f64 + 1.0,
        }));
        app.update(worker(Event::Epoch(Box::new(epoch(
            e,
            0.84 + 0.03 * e as f64,
        )))));
    }
    for i in 0..100 {
        app.update(worker(Event::Batch(batch(2, i, 0.35))));
    }
    app.update(worker(Event::Checkpointed {
        path: PathBuf::from(
            "runs/20261129-101500/checkpoints/step-000000938-epoch-003-batch-00000.ckpt",
        ),
        reason: SaveReason::EpochEnd,
        test_accuracy: Some(0.87),
    }));
    // Freeze the clock so that the header is the same on every run.
    app.elapsed_before = 745.0;
    app.running_since = None;
    app
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|frame| ui::draw(app, frame)).expect("draw");
    let buffer = terminal.backend().buffer().clone();
    let mut text = String::new();
    for y in 0..buffer.area.height {
        let line: String = (0..buffer.area.width)
            .map(|x| buffer[(x, y)].symbol().to_string())
            .collect();
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

macro_rules! snapshot {
    ($name:expr, $text:expr) => {
        insta::with_settings!({
            filters => vec![
                (r"\d\d:\d\d:\d\d ", "[clock] "),
                (r"trained \d+(h \d+m|m \d+s|s)", "trained [time]"),
            ],
        }, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

#[test]
fn renders_ready() {
    let app = ready_app();
    let screen = render(&app, 120, 36);
    assert!(screen.contains("Ready"));
    assert!(screen.contains("Press s to start"));
    snapshot!("ready", screen);
}

#[test]
fn renders_training_with_history() {
    let app = training_app();
    let screen = render(&app, 120, 36);
    assert!(screen.contains("Training"));
    assert!(screen.contains("best test 0.8700 (epoch 2)"));
    assert!(screen.contains("epoch 3/3 batch 100/469"));
    snapshot!("training", screen);
}

#[test]
fn renders_paused_on_a_non_finite_loss() {
    let mut app = training_app();
    app.update(worker(Event::Paused {
        reason: PauseReason::NonFiniteLoss {
            loss: f64::NAN,
            learning_rate: 3.0,
        },
    }));
    let screen = render(&app, 120, 36);
    assert!(screen.contains("Paused"));
    assert!(screen.contains("lower the learning rate"));
    snapshot!("paused_nan", screen);
}

#[test]
fn renders_finished() {
    let mut app = training_app();
    app.update(worker(Event::Finished {
        reason: FinishReason::TargetReached,
    }));
    let screen = render(&app, 120, 36);
    assert!(screen.contains("Finished"));
    assert!(screen.contains("target accuracy reached"));
    snapshot!("finished", screen);
}

#[test]
fn a_test_inside_an_epoch_is_charted_and_marks_when_the_target_was_reached() {
    let mut app = training_app();
    app.update(worker(Event::Evaluating { position: 2.2 }));
    let mut check = TestCheck {
        position: 2.2,
        step: 1032,
        test: epoch(2, 0.881).test.expect("epoch() is tested"),
        elapsed_seconds: 700.0,
    };
    check.test.accuracy = 0.881;
    app.update(worker(Event::Tested(Box::new(check))));
    app.update(worker(Event::Finished {
        reason: FinishReason::TargetReached,
    }));
    let points: Vec<(f64, f64)> = app
        .test_points()
        .iter()
        .map(|p| (p.position, p.accuracy))
        .collect();
    assert_eq!(points, [(1.0, 0.84), (2.0, 0.87), (2.2, 0.881)]);
    let screen = render(&app, 160, 40);
    assert!(screen.contains("best test 0.8810 (epoch 2.20)"), "{screen}");
    assert!(
        screen.contains("target 0.88 reached: epoch 2.20, 11m 40s"),
        "{screen}"
    );
}

#[test]
fn renders_failed() {
    let mut app = ready_app();
    app.update(worker(Event::Failed {
        message: "data/train-images-idx3-ubyte: checksum mismatch".into(),
    }));
    let screen = render(&app, 120, 36);
    assert!(screen.contains("Failed"));
    assert!(screen.contains("checksum mismatch"));
    snapshot!("failed", screen);
}

#[test]
fn renders_a_notice_when_the_terminal_is_too_small() {
    let app = training_app();
    let screen = render(&app, 60, 20);
    assert!(screen.contains("too small"));
    assert!(screen.contains("60x20"));
    snapshot!("too_small", screen);
    // Exactly the minimum lays out the dashboard.
    let screen = render(&app, ui::MIN_WIDTH, ui::MIN_HEIGHT);
    assert!(!screen.contains("too small"));
    assert!(screen.contains("Training loss"));
}

#[test]
fn renders_help_and_confirmation_overlays() {
    let mut app = training_app();
    app.update(key(KeyCode::Char('?')));
    assert!(render(&app, 120, 36).contains("this help"));
    app.update(key(KeyCode::Esc));
    assert!(!app.help);
    app.update(key(KeyCode::Char('x')));
    assert!(render(&app, 120, 36).contains("Stop training? A checkpoint is saved first."));
}

#[test]
fn renders_per_class_results_on_v() {
    let mut app = training_app();
    assert!(app.update(key(KeyCode::Char('v'))).is_empty());
    let screen = render(&app, 120, 36);
    assert!(screen.contains("Per class, epoch 2: 87.00% of 10000"));
    assert!(screen.contains("9 Ankle boot"));
    snapshot!("per_class", screen);
    app.update(key(KeyCode::Char('v')));
    assert!(render(&app, 120, 36).contains("Layers for a 67x67 input"));
}

#[test]
fn an_untested_epoch_end_is_listed_and_the_per_class_view_shows_the_latest_test() {
    let mut app = ready_app();
    app.update(key(KeyCode::Char('s')));
    app.update(worker(Event::Started { epoch: 0, batch: 0 }));
    for i in 0..469 {
        app.update(worker(Event::Batch(batch(0, i, 0.5))));
    }
    // The fast profile's first epoch ends before eval_from: no test, no test point.
    app.update(worker(Event::Epoch(Box::new(EpochRecord {
        test: None,
        ..epoch(0, 0.0)
    }))));
    assert!(app.test_points().is_empty());
    let said = &app.messages.back().expect("a message").text;
    assert!(
        said.starts_with("epoch 1/3: train loss 0.6667, train accuracy -0.0200, not tested (before training.eval_from)"),
        "{said}"
    );
    app.update(key(KeyCode::Char('v')));
    let screen = render(&app, 120, 36);
    assert!(screen.contains("Per class ─") && screen.contains("per-class results appear after"));
    app.update(worker(Event::Tested(Box::new(TestCheck {
        position: 1.5,
        step: 704,
        test: epoch(1, 0.876).test.expect("epoch() is tested"),
        elapsed_seconds: 500.0,
    }))));
    let points: Vec<(f64, f64)> = app
        .test_points()
        .iter()
        .map(|p| (p.position, p.accuracy))
        .collect();
    assert_eq!(points, [(1.5, 0.876)]);
    assert!(render(&app, 120, 36).contains("Per class, epoch 1.50: 87.60% of 10000"));
}

#[test]
fn keys_map_to_actions_per_state() {
    let app = ready_app();
    let k = |code| KeyEvent::new(code, KeyModifiers::NONE);
    assert_eq!(app.action_for(k(KeyCode::Char('s'))), Some(Action::Start));
    assert_eq!(
        app.action_for(k(KeyCode::Char('p'))),
        Some(Action::TogglePause)
    );
    assert_eq!(
        app.action_for(k(KeyCode::Char(' '))),
        Some(Action::TogglePause)
    );
    assert_eq!(app.action_for(k(KeyCode::Char('c'))), Some(Action::Save));
    assert_eq!(app.action_for(k(KeyCode::Char('x'))), Some(Action::Stop));
    assert_eq!(app.action_for(k(KeyCode::Char('q'))), Some(Action::Quit));
    assert_eq!(
        app.action_for(k(KeyCode::Char('?'))),
        Some(Action::ToggleHelp)
    );
    assert_eq!(app.action_for(k(KeyCode::Char('z'))), None);
    assert_eq!(
        app.action_for(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Some(Action::Interrupt)
    );
}

#[test]
fn pause_and_resume_follow_the_worker() {
    let mut app = training_app();
    assert_eq!(
        app.update(key(KeyCode::Char('p'))),
        vec![Effect::Send(Command::Pause)]
    );
    // The state changes when the worker confirms, not before.
    assert_eq!(app.phase, Phase::Training);
    app.update(worker(Event::Paused {
        reason: PauseReason::Requested,
    }));
    assert_eq!(app.phase, Phase::Paused(PauseReason::Requested));
    assert_eq!(
        app.update(key(KeyCode::Char(' '))),
        vec![Effect::Send(Command::Resume)]
    );
    app.update(worker(Event::Resumed));
    assert_eq!(app.phase, Phase::Training);
}

#[test]
fn save_sends_save_only_while_running() {
    let mut app = ready_app();
    assert!(app.update(key(KeyCode::Char('c'))).is_empty());
    let mut app = training_app();
    assert_eq!(
        app.update(key(KeyCode::Char('c'))),
        vec![Effect::Send(Command::Save)]
    );
}

#[test]
fn stop_asks_first_and_no_cancels() {
    let mut app = training_app();
    assert!(app.update(key(KeyCode::Char('x'))).is_empty());
    assert_eq!(app.confirm, Some(Confirm::Stop));
    // While asking, other keys do nothing.
    assert!(app.update(key(KeyCode::Char('p'))).is_empty());
    assert!(app.update(key(KeyCode::Char('n'))).is_empty());
    assert_eq!(app.confirm, None);
    assert_eq!(app.phase, Phase::Training);
    app.update(key(KeyCode::Char('x')));
    assert_eq!(
        app.update(key(KeyCode::Char('y'))),
        vec![Effect::Send(Command::Stop)]
    );
    assert_eq!(app.phase, Phase::Stopping);
    assert!(!app.quit_when_finished);
    // Stopped: the dashboard stays open with the results.
    assert!(
        app.update(worker(Event::Finished {
            reason: FinishReason::Stopped
        }))
        .is_empty()
    );
    assert_eq!(app.phase, Phase::Finished(FinishReason::Stopped));
}

#[test]
fn quit_while_training_asks_saves_and_quits_after_the_worker_finishes() {
    let mut app = training_app();
    assert!(app.update(key(KeyCode::Char('q'))).is_empty());
    assert_eq!(app.confirm, Some(Confirm::Quit));
    assert_eq!(
        app.update(key(KeyCode::Char('y'))),
        vec![Effect::Send(Command::Stop)]
    );
    assert!(app.quit_when_finished);
    assert!(
        app.update(worker(Event::Checkpointed {
            path: PathBuf::from("x.ckpt"),
            reason: SaveReason::Stop,
            test_accuracy: None,
        }))
        .is_empty()
    );
    assert_eq!(
        app.update(worker(Event::Finished {
            reason: FinishReason::Stopped
        })),
        vec![Effect::Quit]
    );
}

#[test]
fn quit_when_idle_does_not_ask() {
    let mut app = ready_app();
    assert_eq!(
        app.update(key(KeyCode::Char('q'))),
        vec![Effect::Send(Command::Stop), Effect::Quit]
    );
    let mut app = training_app();
    app.update(worker(Event::Finished {
        reason: FinishReason::Completed,
    }));
    assert_eq!(app.update(key(KeyCode::Char('q'))), vec![Effect::Quit]);
}

#[test]
fn ctrl_c_stops_saves_and_quits_without_asking() {
    let mut app = training_app();
    assert_eq!(app.update(ctrl_c()), vec![Effect::Send(Command::Stop)]);
    assert_eq!(app.phase, Phase::Stopping);
    assert_eq!(
        app.update(worker(Event::Finished {
            reason: FinishReason::Stopped
        })),
        vec![Effect::Quit]
    );
    // Even with a question open.
    let mut app = training_app();
    app.update(key(KeyCode::Char('x')));
    assert_eq!(app.update(ctrl_c()), vec![Effect::Send(Command::Stop)]);
    assert_eq!(app.confirm, None);
}

/// SIGTERM (or SIGHUP) while training: stop, save and quit as Ctrl-C does, the message pane
/// saying which signal; when idle, quit at once.
#[test]
fn a_signal_stops_saves_and_quits_like_ctrl_c() {
    use alexnet_tui::interrupts::Signal;
    let mut app = training_app();
    let line = alexnet_tui::report::stopping_on(Signal::Terminate, Steer::Keys);
    assert_eq!(
        app.update(Msg::Interrupt(line)),
        vec![Effect::Send(Command::Stop)]
    );
    assert_eq!(app.phase, Phase::Stopping);
    assert!(
        app.messages.iter().any(|message| message
            .text
            .starts_with("SIGTERM: stopping after this batch")),
        "{:?}",
        app.messages
    );
    assert_eq!(
        app.update(worker(Event::Finished {
            reason: FinishReason::Stopped
        })),
        vec![Effect::Quit]
    );
    let mut app = ready_app();
    let line = alexnet_tui::report::stopping_on(Signal::Hangup, Steer::Keys);
    assert!(app.update(Msg::Interrupt(line)).contains(&Effect::Quit));
}

#[test]
fn a_worker_failure_is_shown_and_a_vanished_worker_too() {
    let mut app = training_app();
    app.update(Msg::WorkerGone);
    assert!(matches!(app.phase, Phase::Failed(_)));
}

#[test]
fn resumed_history_is_drawn_at_once() {
    let config = config();
    let mut history = History::default();
    for i in (0..469).step_by(10) {
        history.batches.push(batch(0, i, 1.0));
    }
    history.epochs.push(epoch(0, 0.8));
    history.elapsed_seconds = 400.0;
    let mut info = ready_info(&config, history);
    info.position = (1, 0);
    info.resumed_from = Some(PathBuf::from("runs/x/checkpoints/a.ckpt"));
    let mut app = App::new(config);
    app.update(worker(Event::Ready(Box::new(info))));
    assert_eq!(app.batch_loss.len(), 47);
    assert_eq!(app.epochs.len(), 1);
    assert_eq!(app.position(), (1, 0));
    assert!(app.elapsed_seconds() >= 400.0);
    let screen = render(&app, 120, 36);
    assert!(screen.contains("best test 0.8000 (epoch 1)"));
}

/// A save of config.toml as the dashboard's event loop handles it: the controller's steering
/// decides, the app shows. Returns the commands sent to the worker.
fn reload(app: &mut App, text: &str) -> Vec<Command> {
    let mut steering = Steering::new(app.config.clone(), Steer::Keys);
    let decision = steering.reload(Config::parse(text, Path::new("config.toml"), None));
    let effects = app.update(Msg::Reloaded(Box::new(Reloaded {
        lines: decision.lines,
        config: steering.config().clone(),
        pending: steering.pending().to_vec(),
    })));
    assert!(
        effects.is_empty(),
        "a reload asks nothing of the event loop"
    );
    decision.commands
}

#[test]
fn a_live_edit_is_sent_to_the_worker_and_listed() {
    let mut app = training_app();
    let mut expected = app.config.clone();
    expected.training.learning_rate = 0.02;
    let commands = reload(
        &mut app,
        "[model]\nresize = 67\n[training]\nepochs = 3\nlearning_rate = 0.02\n",
    );
    assert_eq!(commands, vec![Command::Reconfigure(Box::new(expected))]);
    assert_eq!(app.config.training.learning_rate, 0.02);
    let last = &app.messages.back().expect("a message").text;
    assert_eq!(
        last,
        "applied at the next batch: training.learning_rate: 0.05 -> 0.02"
    );
    assert!(render(&app, 120, 36).contains("learning rate 0.02"));
}

#[test]
fn a_restart_only_edit_is_shown_as_pending() {
    let mut app = training_app();
    let commands = reload(&mut app, "[model]\nresize = 96\n[training]\nepochs = 3\n");
    assert!(commands.is_empty());
    assert_eq!(app.config.model.resize, 67);
    assert_eq!(app.pending.len(), 1);
    assert_eq!(app.pending[0].key, "model.resize");
    assert!(render(&app, 120, 36).contains("resize 67 (next start: 96)"));
}

#[test]
fn an_invalid_edit_is_rejected_with_its_line_and_the_old_values_stay() {
    let mut app = training_app();
    let commands = reload(
        &mut app,
        "[model]\nresize = 67\n[training]\nlearning_rate = -1\n",
    );
    assert!(commands.is_empty());
    assert_eq!(app.config.training.learning_rate, 0.05);
    let last = &app.messages.back().expect("a message").text;
    assert_eq!(
        last,
        "config.toml not applied, keeping the old values: config.toml:4: training.learning_rate: must be above 0 and at most 10, got -1"
    );
}

/// A gallery of two images per class (the first Coat and the second Shirt predicted wrong) and
/// 96 filters that are horizontal ramps.
fn snapshot_event() -> Event {
    let gallery = (0..20)
        .map(|i| {
            let label = (i / 2) as u8;
            let predicted = match i {
                13 => 0,
                8 => 2,
                _ => label,
            };
            GalleryItem {
                index: 100 + i,
                label,
                predicted,
                confidence: if predicted == label { 0.9 } else { 0.55 },
                // A light vertical bar on black, its brightness growing with the index.
                pixels: (0..784)
                    .map(|p| {
                        if (10..18).contains(&(p % 28)) {
                            100 + 7 * i as u8
                        } else {
                            0
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    let filters = Filters {
        count: 96,
        height: 11,
        width: 11,
        pixels: (0..96 * 121).map(|p| ((p % 11) * 25) as u8).collect(),
    };
    Event::Snapshot(Box::new(Snapshot {
        moment: Moment::Evaluated {
            epoch_position: 2.0,
            accuracy: 0.87,
        },
        gallery,
        filters,
    }))
}

fn render_buffer(app: &App, width: u16, height: u16) -> ratatui::buffer::Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|frame| ui::draw(app, frame)).expect("draw");
    terminal.backend().buffer().clone()
}

#[test]
fn gallery_and_filters_switch_with_keys_and_page() {
    let mut app = training_app();
    // Arrows mean nothing on the dashboard.
    let k = |code| KeyEvent::new(code, KeyModifiers::NONE);
    assert_eq!(app.action_for(k(KeyCode::Right)), None);
    app.update(key(KeyCode::Char('g')));
    assert_eq!(app.body, BodyView::Gallery);
    assert_eq!(app.action_for(k(KeyCode::Right)), Some(Action::Page(1)));
    app.update(key(KeyCode::Right));
    app.update(key(KeyCode::Right));
    assert_eq!(app.page, 2);
    // Another view starts at its first page; its own key again goes back to the dashboard.
    app.update(key(KeyCode::Char('f')));
    assert_eq!((app.body, app.page), (BodyView::Filters, 0));
    app.update(key(KeyCode::Char('f')));
    assert_eq!(app.body, BodyView::Dashboard);
    app.update(key(KeyCode::Char('g')));
    app.update(key(KeyCode::Char('d')));
    assert_eq!(app.body, BodyView::Dashboard);
    // Training keys still work from a picture view.
    app.update(key(KeyCode::Char('g')));
    assert_eq!(
        app.update(key(KeyCode::Char('p'))),
        vec![Effect::Send(Command::Pause)]
    );
}

#[test]
fn renders_the_gallery_at_the_minimum_size() {
    let mut app = training_app();
    app.update(key(KeyCode::Char('g')));
    assert!(render(&app, 100, 30).contains("Appears as soon as the model is built"));
    app.update(worker(snapshot_event()));
    let screen = render(&app, ui::MIN_WIDTH, ui::MIN_HEIGHT);
    assert!(screen.contains("predictions after epoch 2 (test accuracy 0.8700): 18 of 20 right"));
    // Three 28-column tiles fit in 100 columns, one row of them in 30 lines: 7 pages.
    assert!(screen.contains("page 1 of 7"));
    assert!(screen.contains("true T-shirt/top"));
    // Every image's verdict is listed below the tiles, the wrong ones with both classes.
    assert!(screen.contains("#108 Coat -> Pullover 55%"));
    assert!(screen.contains("#113 Shirt -> T-shirt/top 55%"));
    assert!(screen.contains("#119 Ankle boot 90%"));
    snapshot!("gallery", screen);

    // Pixels are half blocks in palette greys: the first tile's bar at column 10.
    let buffer = render_buffer(&app, 100, 30);
    let cell = &buffer[(1 + 10, 2)];
    assert_eq!(cell.symbol(), "▀");
    assert_eq!(cell.fg, grey(100));
    assert_eq!(cell.bg, grey(100));
    assert_eq!(buffer[(1 + 9, 2)].fg, grey(0));

    // Page 5 holds images 12 to 14: the wrong Shirt is marked on its tile.
    for _ in 0..4 {
        app.update(key(KeyCode::Right));
    }
    let screen = render(&app, 100, 30);
    assert!(screen.contains("page 5 of 7"));
    assert!(screen.contains("✗ T-shirt/top 55%"));
    // Left from the first page wraps to the last.
    app.page = 0;
    app.update(key(KeyCode::Left));
    assert!(render(&app, 100, 30).contains("page 7 of 7"));
}

#[test]
fn renders_the_first_layer_filters() {
    let mut app = training_app();
    app.update(worker(snapshot_event()));
    app.update(key(KeyCode::Char('f')));
    let screen = render(&app, ui::MIN_WIDTH, ui::MIN_HEIGHT);
    // 12-column tiles (11 + a gap), 6 lines each: 8 x 4 per page at 100x30.
    assert!(screen.contains("First-layer filters 1-32 of 96 (11x11), after epoch 2"));
    assert!(screen.contains("page 1 of 3"));
    snapshot!("filters", screen);
    let buffer = render_buffer(&app, 100, 30);
    // Each filter is a left-to-right ramp: black at its first column, white at its last.
    assert_eq!(buffer[(1, 2)].fg, grey(0));
    assert_eq!(buffer[(1 + 10, 2)].fg, grey(250));
    assert_eq!(buffer[(1 + 12 + 10, 2)].fg, grey(250));
    // The last line of a tile has only the 11th pixel row on top.
    assert_eq!(buffer[(1, 2 + 5)].bg, ratatui::style::Color::Reset);
    // A large terminal shows all 96 at once.
    assert!(render(&app, 200, 60).contains("First-layer filters 1-96 of 96"));
}

#[test]
fn grey_levels_span_the_palette_ramp() {
    use ratatui::style::Color;
    // Black, the 24 ramp greys (232..=255) and white, in order of brightness.
    let rank = |level: u8| match grey(level) {
        Color::Indexed(16) => 0,
        Color::Indexed(231) => 25,
        Color::Indexed(index @ 232..=255) => index - 231,
        other => panic!("{level} maps to {other:?}, not black, a ramp grey or white"),
    };
    let ranks: Vec<u8> = (0..=255).map(rank).collect();
    assert!(ranks.windows(2).all(|pair| pair[0] <= pair[1]));
    assert_eq!((ranks[0], ranks[255]), (0, 25));
    let mut distinct = ranks.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 26);
    assert_eq!(grey(128), Color::Indexed(244));
}

#[test]
fn a_fractional_run_counts_the_batches_of_its_partial_last_epoch() {
    // 1.25 epochs of 469 batches: 586 batches, 117 of them in the second epoch.
    let mut config = config();
    config.training.epochs = 1.25;
    let mut app = App::new(config.clone());
    app.update(worker(Event::Ready(Box::new(ready_info(
        &config,
        History::default(),
    )))));
    app.update(key(KeyCode::Char('s')));
    app.update(worker(Event::Started { epoch: 0, batch: 0 }));
    for i in 0..469 {
        app.update(worker(Event::Batch(batch(0, i, 1.0))));
    }
    app.update(worker(Event::Epoch(Box::new(epoch(0, 0.86)))));
    for i in 0..50 {
        app.update(worker(Event::Batch(batch(1, i, 0.5))));
    }
    let text = render(&app, 120, 36);
    assert!(
        text.contains("epoch 2/1.25 batch 50/117"),
        "the progress line counts the last epoch's 117 batches:\n{text}"
    );
    for i in 50..117 {
        app.update(worker(Event::Batch(batch(1, i, 0.5))));
    }
    app.update(worker(Event::Finished {
        reason: FinishReason::Completed,
    }));
    let text = render(&app, 120, 36);
    assert!(
        text.contains("epoch 2/1.25 batch 117/117"),
        "a finished fractional run shows its last epoch full:\n{text}"
    );
}

#[test]
fn the_full_and_the_compact_layout_are_snapshotted() {
    let mut app = training_app();
    let full = render(&app, 140, 45);
    assert!(full.contains("Layers for a 67x67 input"));
    assert!(full.contains("Configuration"));
    snapshot!("training_140x45", full);
    app.update(Msg::Resize(100, 30));
    let compact = render(&app, 100, 30);
    assert!(
        !compact.contains("Layers for a"),
        "the layer table gives way"
    );
    snapshot!("training_100x30", compact);
}

#[test]
fn every_panel_at_the_minimum_size_keeps_its_full_labels() {
    let mut app = training_app();
    app.update(Msg::Resize(100, 30));
    let screen = render(&app, 100, 30);
    for label in [
        "images/s now",
        "images/s average",
        "per batch of 128",
        "ETA epoch",
        "peak RSS",
        "Configuration",
        "learning rate 0.05",
        "weight decay 0.0005  epochs 3",
        "Messages",
        "Training loss",
        "Accuracy: best test 0.8700 (epoch 2)",
    ] {
        assert!(
            screen.contains(label),
            "{label:?} missing at 100x30:\n{screen}"
        );
    }
    // v brings the layer table back, then the per-class view, then the overview.
    app.update(key(KeyCode::Char('v')));
    assert!(render(&app, 100, 30).contains("Layers for a 67x67 input"));
    app.update(key(KeyCode::Char('v')));
    assert!(render(&app, 100, 30).contains("Per class"));
    app.update(key(KeyCode::Char('v')));
    assert!(render(&app, 100, 30).contains("images/s average"));
}

#[test]
fn the_accuracy_chart_draws_the_running_training_accuracy_before_any_test() {
    let mut app = ready_app();
    app.update(key(KeyCode::Char('s')));
    app.update(worker(Event::Started { epoch: 0, batch: 0 }));
    let before = render(&app, 120, 36);
    assert!(
        before.contains("training accuracy appears with the"),
        "{before}"
    );
    for i in 0..60 {
        app.update(worker(Event::Batch(batch(0, i, 2.0 - i as f64 / 40.0))));
    }
    assert_eq!(app.smoothed_accuracy.len(), 60);
    let after = render(&app, 120, 36);
    assert!(!after.contains("training accuracy appears"), "{after}");
    // The chart plots a line: braille dots inside the accuracy panel.
    let panel = after
        .lines()
        .skip_while(|line| !line.contains("┌ Accuracy"))
        .take(8)
        .collect::<String>();
    assert!(
        panel
            .chars()
            .any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
        "{panel}"
    );
}

#[test]
fn the_gallery_shows_the_current_weights_during_training() {
    let mut app = training_app();
    let Event::Snapshot(mut snapshot) = snapshot_event() else {
        unreachable!()
    };
    snapshot.moment = Moment::Current {
        epoch_position: 2.21,
    };
    app.update(worker(Event::Snapshot(snapshot)));
    app.update(key(KeyCode::Char('g')));
    let screen = render(&app, 120, 36);
    assert!(
        screen.contains("with the current weights (epoch 2.21)"),
        "{screen}"
    );
}

#[test]
fn a_checkpoint_that_could_not_be_written_is_shown_above_everything_until_a_save_works() {
    let mut app = training_app();
    let failure = SaveFailure {
        file: SavedFile::Checkpoint,
        path: PathBuf::from("runs/x/checkpoints/step-000001000.ckpt"),
        reason: SaveReason::EpochEnd,
        message: "cannot write runs/x/checkpoints/step-000001000.ckpt: No space left on device"
            .into(),
        out_of_space: true,
        newest_saved: Some(PathBuf::from("runs/x/checkpoints/step-000000469.ckpt")),
        saved_epoch: 1,
        saved_batch: 0,
        unsaved_steps: 531,
    };
    app.update(worker(Event::SaveFailed(Box::new(failure))));
    app.update(worker(Event::Paused {
        reason: PauseReason::SaveFailed {
            message: "No space left on device".into(),
        },
    }));
    let screen = render(&app, 120, 36);
    assert!(screen.contains("NOT SAVED"), "{screen}");
    assert!(screen.contains("press c to save"), "{screen}");
    assert!(matches!(app.phase, Phase::Paused(_)));
    // c saves and stays paused; once a checkpoint is written the banner goes.
    assert_eq!(
        app.update(key(KeyCode::Char('c'))),
        vec![Effect::Send(Command::Save)]
    );
    app.update(worker(Event::Checkpointed {
        path: PathBuf::from("runs/x/checkpoints/step-000001000.ckpt"),
        reason: SaveReason::Requested,
        test_accuracy: None,
    }));
    assert!(!render(&app, 120, 36).contains("NOT SAVED"));
    assert!(matches!(app.phase, Phase::Paused(_)));
}

// The overlay: an earlier run's curves behind the live ones (`o`).

const EARLIER: &str = "20261202-103551";
const PARENT: &str = "20261201-093000";

/// metrics.csv of an earlier run as the worker writes it: three epochs of 469 batches, every
/// tenth logged, its loss falling more slowly than the live run's, tests at the epoch ends
/// (0.82, 0.855, 0.872).
fn earlier_metrics_csv() -> String {
    let mut text = MetricsRow::COLUMNS.join(",") + "\n";
    for (e, test) in [0.82, 0.855, 0.872].into_iter().enumerate() {
        for b in (10..=469).step_by(10) {
            let step = e * 469 + b;
            let loss = 2.3 * (-(step as f64) / 450.0).exp() + 0.35 + 0.1 * ((b / 10 % 3) as f64);
            text.push_str(&format!(
                "batch,{},{b},469,{},{step},{loss},{},,,0.02,180.0,0.7,{}\n",
                e + 1,
                e as f64 + b as f64 / 469.0,
                1.0 - loss / 3.0,
                0.7 * step as f64
            ));
        }
        text.push_str(&format!(
            "epoch,{},,,{},,{},{},0.42,{test},,182.0,,{}\n",
            e + 1,
            e + 1,
            1.0 / (e as f64 + 1.3),
            test - 0.03,
            330.0 * (e as f64 + 1.0)
        ));
    }
    text
}

/// Earlier runs under a temporary checkpoint folder, which `app` is pointed at: one with a
/// run.json that trained with another learning rate, the live run's parent (an earlier
/// version's folder: metrics.csv alone), and the live run's own folder.
fn earlier_runs(app: &mut App) -> tempfile::TempDir {
    let temp = tempfile::tempdir().expect("tempdir");
    let root = temp.path().join("runs");
    for id in [EARLIER, PARENT, "20261129-101500"] {
        let dir = root.join(id);
        std::fs::create_dir_all(&dir).expect("run folder");
        std::fs::write(
            dir.join(alexnet_tui::train::metrics::METRICS_FILE),
            earlier_metrics_csv(),
        )
        .expect("metrics.csv");
    }
    let mut earlier = app.config.clone();
    earlier.training.learning_rate = 0.02;
    let mut record = RunRecord::new(EARLIER, &earlier, None);
    let mark = |accuracy, position: f64| TestPoint {
        step: Some((position * 469.0) as u64),
        elapsed_seconds: Some(330.0 * position),
        ..TestPoint::at(position, accuracy)
    };
    for (accuracy, position) in [(0.82, 1.0), (0.855, 2.0), (0.872, 3.0)] {
        record.note_test(mark(accuracy, position), 0.0);
    }
    record.end(EndReason::Completed, None);
    record.write(&root.join(EARLIER)).expect("run.json");
    app.config.checkpoint.dir = root.display().to_string();
    // The live run was branched from the parent.
    app.update(worker(Event::Opened {
        run_id: "20261129-101500".into(),
        run_dir: root.join("20261129-101500"),
        parent: Some(Parent {
            run_id: PARENT.into(),
            step: 469,
            position: 1.0,
            checkpoint: PathBuf::from("step-000000469-epoch-002-batch-00000.ckpt"),
        }),
    }));
    temp
}

/// Does what the event loop does with the effects that read files, and hands the answers back.
fn carry_out(app: &mut App, effects: Vec<Effect>) {
    for effect in effects {
        let root = PathBuf::from(&app.config.checkpoint.dir);
        match effect {
            Effect::ListRuns => {
                let listed = picker::list_runs(&root, &app.config);
                let more = app.update(Msg::Runs(listed));
                carry_out(app, more);
            }
            Effect::LoadOverlay { request, run } => {
                let result = standing::read_curves(&root, run.clone()).map(Box::new);
                let more = app.update(Msg::Overlay {
                    request,
                    run,
                    result,
                });
                carry_out(app, more);
            }
            other => panic!("not file work: {other:?}"),
        }
    }
}

/// Opens the picker and lists the runs.
fn open_picker(app: &mut App) {
    let effects = app.update(key(KeyCode::Char('o')));
    assert_eq!(effects, vec![Effect::ListRuns]);
    carry_out(app, effects);
}

/// Chooses `id` in the picker and reads it.
fn choose(app: &mut App, id: &str) {
    open_picker(app);
    let picker = app.picker.clone().expect("open");
    let at = app
        .picker_rows(&picker)
        .iter()
        .position(|row| matches!(row, picker::Row::Run { run, .. } if run.summary.id == id))
        .expect("listed");
    for _ in 0..at {
        app.update(key(KeyCode::Down));
    }
    let effects = app.update(key(KeyCode::Enter));
    assert!(app.picker.is_none());
    carry_out(app, effects);
}

macro_rules! overlay_snapshot {
    ($name:expr, $text:expr, $temp:expr) => {
        let temp = regex_escape(&$temp.path().display().to_string());
        insta::with_settings!({
            filters => vec![
                (temp.as_str(), "[tmp]"),
                (r"\d\d:\d\d:\d\d ", "[clock] "),
                (r"trained \d+(h \d+m|m \d+s|s)", "trained [time]"),
            ],
        }, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}

#[test]
fn the_overlay_picker_lists_earlier_runs_the_parent_first_and_not_the_live_run() {
    let mut app = training_app();
    let temp = earlier_runs(&mut app);
    let effects = app.update(key(KeyCode::Char('o')));
    assert_eq!(effects, vec![Effect::ListRuns]);
    // Until the listing arrives, the picker says it is reading.
    assert!(render(&app, 120, 36).contains("reading the runs under"));
    carry_out(&mut app, effects);
    let screen = render(&app, 120, 36);
    let parent = screen.find(PARENT).expect("the parent listed");
    let earlier = screen.find(EARLIER).expect("the earlier run listed");
    assert!(parent < earlier, "{screen}");
    // The live run's own folder is not offered.
    let picker = app.picker.clone().expect("open");
    assert_eq!(app.picker_rows(&picker).len(), 3, "{screen}");
    assert!(screen.contains("parent"), "{screen}");
    assert!(screen.contains("best 0.8720 at epoch 3"), "{screen}");
    assert!(screen.contains("lr=0.02"), "{screen}");
    overlay_snapshot!("overlay_picker", screen, temp);

    // Up and Down (and k and j) move between the rows, stopping at either end.
    let picker = |app: &App| app.picker.as_ref().expect("open").selected;
    assert_eq!(picker(&app), 0);
    app.update(key(KeyCode::Up));
    assert_eq!(picker(&app), 0);
    app.update(key(KeyCode::Char('j')));
    app.update(key(KeyCode::Down));
    app.update(key(KeyCode::Down));
    assert_eq!(picker(&app), 2, "parent, earlier run, none");
    app.update(key(KeyCode::Char('k')));
    assert_eq!(picker(&app), 1);
    // Keys of the dashboard mean nothing while it is open; Esc and o close it.
    assert_eq!(app.update(key(KeyCode::Char('x'))), vec![]);
    assert!(app.confirm.is_none());
    app.update(key(KeyCode::Esc));
    assert!(app.picker.is_none());
    open_picker(&mut app);
    app.update(key(KeyCode::Char('o')));
    assert!(app.picker.is_none());
    assert!(app.overlay.is_none());
}

#[test]
fn an_overlay_is_drawn_behind_the_live_run_and_compared_with_it() {
    let mut app = training_app();
    let temp = earlier_runs(&mut app);
    choose(&mut app, EARLIER);
    let overlay = app.overlay.as_ref().expect("drawn");
    assert_eq!(overlay.id, EARLIER);
    let screen = render(&app, 120, 36);
    // The live run's latest test (0.87 at epoch 2) against the earlier run's there (0.855).
    assert!(
        screen.contains(&format!("+0.015 vs {EARLIER} at epoch 2")),
        "{screen}"
    );
    assert!(screen.contains(&format!("grey: {EARLIER}")), "{screen}");
    assert!(screen.contains(&format!("overlay: run {EARLIER} drawn in grey")));
    overlay_snapshot!("overlay_training", screen, temp);
    let compact = render(&app, 100, 30);
    assert!(
        compact.contains(&format!("+0.015 vs {EARLIER} at epoch 2")),
        "{compact}"
    );
    overlay_snapshot!("overlay_100x30", compact, temp);

    // The picker marks the run shown and starts on it.
    open_picker(&mut app);
    let picker = app.picker.clone().expect("open");
    assert!(matches!(
        app.picker_rows(&picker)[picker.selected],
        picker::Row::Run { run, .. } if run.summary.id == EARLIER
    ));
    assert!(render(&app, 120, 36).contains("shown"));
    // "none" clears it.
    app.update(key(KeyCode::Down));
    let effects = app.update(key(KeyCode::Enter));
    carry_out(&mut app, effects);
    assert!(app.overlay.is_none());
    assert!(!render(&app, 120, 36).contains(&format!("vs {EARLIER}")));
}

#[test]
fn the_overlay_axes_cover_both_runs() {
    // A live run planned for one epoch against an earlier run of three.
    let mut app = training_app();
    app.config.training.epochs = 1.0;
    let _temp = earlier_runs(&mut app);
    choose(&mut app, PARENT);
    let screen = render(&app, 120, 36);
    let axis = screen
        .lines()
        .find(|line| line.trim_start().starts_with("│    0"))
        .and_then(|line| line.split("││").next())
        .expect("the loss chart's epoch axis");
    assert!(axis.trim_end().ends_with('3'), "{axis}");
}

/// How many cells of the drawn dashboard have each of `colors` as their foreground.
fn cells_colored(app: &App, colors: &[ratatui::style::Color]) -> Vec<usize> {
    let mut terminal = Terminal::new(TestBackend::new(120, 36)).expect("test terminal");
    terminal.draw(|frame| ui::draw(app, frame)).expect("draw");
    let buffer = terminal.backend().buffer().clone();
    colors
        .iter()
        .map(|&color| {
            buffer
                .content()
                .iter()
                .filter(|cell| cell.fg == color && !cell.symbol().trim().is_empty())
                .count()
        })
        .collect()
}

#[test]
fn a_branch_leaves_its_parents_line_visible_up_to_the_branch_point() {
    use ratatui::style::Color;
    // The live run branched from PARENT at epoch 1; EARLIER has the same curves but is no
    // parent of it. Drawn over EARLIER, the live run is drawn whole; over its parent, what it
    // carries from the parent (epochs 0 to 1) is left to the parent's grey line.
    let drawn = |overlay: &str| {
        let mut app = training_app();
        let temp = earlier_runs(&mut app);
        choose(&mut app, overlay);
        let cells = cells_colored(
            &app,
            &[Color::Yellow, Color::Cyan, Color::Gray, Color::Blue],
        );
        (cells, render(&app, 120, 36), temp)
    };
    let (over_other, _, _temp) = drawn(EARLIER);
    let (over_parent, screen, _temp) = drawn(PARENT);
    assert!(
        over_parent[0] < over_other[0],
        "smoothed loss before the branch point: {over_parent:?} vs {over_other:?}"
    );
    assert!(
        over_parent[1] < over_other[1],
        "running accuracy before the branch point: {over_parent:?} vs {over_other:?}"
    );
    assert!(
        over_parent[2] > over_other[2],
        "the parent's grey line: {over_parent:?} vs {over_other:?}"
    );
    // The branch point is marked (a line in both charts), and said.
    assert_eq!(over_other[3], 0, "{over_other:?}");
    assert!(over_parent[3] > 4, "no branch point line: {over_parent:?}");
    assert!(
        screen.contains(&format!("grey: {PARENT}, branched at epoch 1")),
        "{screen}"
    );
}

#[test]
fn before_the_first_test_the_training_loss_is_compared() {
    let mut app = ready_app();
    let temp = earlier_runs(&mut app);
    choose(&mut app, EARLIER);
    // In Ready, the overlay is drawn and the comparison waits for the first batch.
    let ready = render(&app, 120, 36);
    assert!(
        ready.contains(&format!("vs {EARLIER} once training starts")),
        "{ready}"
    );
    app.update(worker(Event::Started { epoch: 0, batch: 0 }));
    for i in 0..150 {
        app.update(worker(Event::Batch(batch(0, i, 0.9))));
    }
    // Wide enough for the comparison on one line.
    let screen = render(&app, 140, 45);
    // 150 batches: the live run's loss (0.9) under the earlier run's there.
    let line = screen
        .lines()
        .find(|line| line.contains(&format!("vs {EARLIER} at epoch 0.32")))
        .unwrap_or_else(|| panic!("no comparison: {screen}"));
    assert!(line.contains("loss -"), "{line}");
    drop(temp);
}

#[test]
fn an_earlier_run_without_a_test_there_is_said_so() {
    let mut app = training_app();
    let temp = earlier_runs(&mut app);
    // The earlier run stopped after its first epoch.
    let short: String = earlier_metrics_csv()
        .lines()
        .filter(|line| !line.starts_with("batch,2") && !line.starts_with("batch,3"))
        .filter(|line| !line.starts_with("epoch,2") && !line.starts_with("epoch,3"))
        .map(|line| format!("{line}\n"))
        .collect();
    let dir = temp.path().join("runs").join(PARENT);
    std::fs::write(dir.join(alexnet_tui::train::metrics::METRICS_FILE), short).expect("write");
    choose(&mut app, PARENT);
    let screen = render(&app, 120, 36);
    assert!(
        screen.contains(&format!("{PARENT} has no test at epoch 2")),
        "{screen}"
    );
}

#[test]
fn a_late_answer_for_an_earlier_choice_is_dropped_and_capital_o_clears() {
    let mut app = training_app();
    let _temp = earlier_runs(&mut app);
    open_picker(&mut app);
    let first = app.update(key(KeyCode::Enter));
    open_picker(&mut app);
    app.update(key(KeyCode::Down));
    let second = app.update(key(KeyCode::Enter));
    // The second choice's answer arrives first, the first's after it.
    carry_out(&mut app, second);
    carry_out(&mut app, first);
    assert_eq!(app.overlay.as_ref().map(|o| o.id.as_str()), Some(EARLIER));
    app.update(Msg::Key(KeyEvent::new(
        KeyCode::Char('O'),
        KeyModifiers::SHIFT,
    )));
    assert!(app.overlay.is_none());
    assert_eq!(
        app.messages.back().map(|m| m.text.as_str()),
        Some(format!("overlay: run {EARLIER} no longer drawn").as_str())
    );
}

#[test]
fn compare_preselects_a_run_and_an_unknown_one_is_a_warning() {
    let mut app = training_app();
    let _temp = earlier_runs(&mut app);
    let effects = app.update(Msg::Compare("nope".into()));
    carry_out(&mut app, effects);
    assert!(app.overlay.is_none());
    let warning = app.messages.back().expect("a message");
    assert_eq!(warning.level, alexnet_tui::report::Level::Warning);
    assert!(
        warning
            .text
            .starts_with("--compare nope: no run \"nope\" in"),
        "{}",
        warning.text
    );
    assert!(
        warning
            .text
            .ends_with("the dashboard goes on without an overlay")
    );
    let effects = app.update(Msg::Compare(EARLIER.into()));
    carry_out(&mut app, effects);
    assert_eq!(app.overlay.as_ref().map(|o| o.id.as_str()), Some(EARLIER));
}

#[test]
fn o_opens_the_picker_in_every_state() {
    let mut app = ready_app();
    assert_eq!(
        app.action_for(KeyEvent::new(KeyCode::Char('o'), KeyModifiers::NONE)),
        Some(Action::TogglePicker)
    );
    for phase in [
        Phase::Training,
        Phase::Paused(PauseReason::Requested),
        Phase::Finished(FinishReason::Completed),
        Phase::Failed("boom".into()),
    ] {
        app.phase = phase;
        assert_eq!(
            app.action_for(KeyEvent::new(KeyCode::Char('o'), KeyModifiers::NONE)),
            Some(Action::TogglePicker)
        );
    }
    assert!(render(&app, 120, 36).contains("o overlay"));
    app.update(key(KeyCode::Char('?')));
    assert!(render(&app, 120, 36).contains("overlay: draw an earlier run"));
}

#[test]
fn before_any_run_the_picker_offers_none_and_backspace_clears() {
    let mut app = ready_app();
    let temp = tempfile::tempdir().expect("tempdir");
    // No checkpoint folder yet: nothing trained here so far.
    app.config.checkpoint.dir = temp.path().join("runs").display().to_string();
    open_picker(&mut app);
    let screen = render(&app, 100, 30);
    assert!(screen.contains("no earlier runs under"), "{screen}");
    assert!(screen.contains("none"), "{screen}");
    let _earlier = earlier_runs(&mut app);
    app.update(key(KeyCode::Esc));
    choose(&mut app, EARLIER);
    assert!(app.overlay.is_some());
    open_picker(&mut app);
    app.update(key(KeyCode::Backspace));
    assert!(app.picker.is_none());
    assert!(app.overlay.is_none());
    // q still quits from the picker (asking first while training runs).
    open_picker(&mut app);
    assert_eq!(
        app.action_for(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)),
        Some(Action::Quit)
    );
}

#[test]
fn a_branch_in_ready_offers_the_run_of_its_checkpoint_as_parent() {
    // Before training starts, a branch has no run of its own yet; its checkpoint's run is the
    // parent.
    let config = config();
    let mut app = App::new(config.clone());
    let mut info = ready_info(&config, History::default());
    info.run_id = None;
    info.run_dir = None;
    info.resumed_from = Some(
        PathBuf::from("runs")
            .join(EARLIER)
            .join("checkpoints/step-000000469-epoch-002-batch-00000.ckpt"),
    );
    app.update(worker(Event::Ready(Box::new(info))));
    assert_eq!(app.parent_run().as_deref(), Some(EARLIER));
    // A plain resume continues the checkpoint's own run: no parent.
    let mut app = App::new(config.clone());
    let mut info = ready_info(&config, History::default());
    info.resumed_from = Some(PathBuf::from(
        "runs/20261129-101500/checkpoints/step-000000469-epoch-002-batch-00000.ckpt",
    ));
    app.update(worker(Event::Ready(Box::new(info))));
    assert_eq!(app.parent_run(), None);
}

fn range_settings() -> RangeSettings {
    RangeSettings {
        start: 1e-5,
        end: 1.0,
        steps: 100,
    }
}

/// A range test's curve: flat, a descent between lr 1e-3 and 1e-1, then a blow-up; the batch
/// losses wobble around the smoothed line.
fn range_points() -> Vec<RangePoint> {
    let settings = range_settings();
    (0..100)
        .map(|step| {
            let decade = settings.rate(step).log10();
            let smoothed = if decade < -3.0 {
                2.3
            } else if decade < -1.0 {
                2.3 - 1.5 * ((decade + 3.0) / 2.0).sqrt()
            } else {
                0.8 + 2.0 * (decade + 1.0)
            };
            RangePoint {
                step,
                learning_rate: settings.rate(step),
                loss: smoothed + 0.05 * ((step % 3) as f64 - 1.0),
                smoothed_loss: smoothed,
            }
        })
        .collect()
}

#[test]
fn a_range_test_is_drawn_as_it_arrives_and_enter_writes_its_pick() {
    let mut app = ready_app();
    assert_eq!(
        app.update(key(KeyCode::Char('l'))),
        vec![Effect::Send(Command::FindLearningRate)]
    );
    app.update(worker(Event::RangeStarted(range_settings())));
    assert_eq!(app.phase, Phase::RangeTest);
    let points = range_points();
    for point in &points[..60] {
        app.update(worker(Event::RangeBatch {
            point: *point,
            seconds: 0.3,
        }));
    }
    let screen = render(&app, 120, 36);
    assert!(
        screen.contains("Range test: batch 60/100, learning rate 0.0095 (Esc ends it)"),
        "{screen}"
    );
    assert!(screen.contains("log lr"), "{screen}");
    assert!(screen.contains(" Esc end the range test"), "{screen}");
    snapshot!("range_test_running", screen);
    // Esc during the test asks the worker to end it (the dashboard stays).
    assert_eq!(
        app.action_for(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
        Some(Action::CancelRange)
    );

    for point in &points[60..] {
        app.update(worker(Event::RangeBatch {
            point: *point,
            seconds: 0.3,
        }));
    }
    let test = RangeTest::new(range_settings(), points, RangeEnd::Completed);
    let pick = test.suggestions.pick().expect("a pick");
    let steep = test.suggestions.steep.expect("a steepest point");
    app.update(worker(Event::RangeTested(Box::new(test))));
    assert_eq!(app.phase, Phase::Ready);
    let screen = render(&app, 120, 36);
    let valley = format_rate(pick.learning_rate);
    assert!(
        screen.contains(&format!(
            "Range test: Enter writes valley {valley} into config.toml, Esc not"
        )),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("valley {valley} (pick)")),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("steep {}", format_rate(steep.learning_rate))),
        "{screen}"
    );
    // The message pane says why (the reporter's words), the pick last.
    assert!(
        screen.contains(&format!(
            "the pick, valley {valley}, is what goes into config.toml"
        )),
        "{screen}"
    );
    snapshot!("range_test_done", screen);

    assert_eq!(
        app.update(key(KeyCode::Enter)),
        vec![Effect::WriteRate(pick.learning_rate)]
    );
    assert_eq!(app.range, None);
    // The curve is put away: Enter starts training again.
    assert_eq!(
        app.update(key(KeyCode::Enter)),
        vec![Effect::Send(Command::Start)]
    );
}

#[test]
fn esc_leaves_config_toml_alone_and_l_runs_only_in_ready() {
    let mut app = ready_app();
    app.update(key(KeyCode::Char('l')));
    app.update(worker(Event::RangeStarted(range_settings())));
    app.update(worker(Event::RangeTested(Box::new(RangeTest::new(
        range_settings(),
        range_points(),
        RangeEnd::Completed,
    )))));
    // Esc puts the result away instead of quitting, and asks nothing of anyone.
    assert_eq!(app.update(key(KeyCode::Esc)), Vec::new());
    assert_eq!(app.range, None);
    assert_eq!(app.phase, Phase::Ready);
    assert_eq!(
        app.messages.back().map(|m| m.text.as_str()),
        Some("range test put away: config.toml is as it was")
    );

    // A test with no usable points: Enter writes nothing.
    app.update(key(KeyCode::Char('l')));
    app.update(worker(Event::RangeStarted(range_settings())));
    app.update(worker(Event::RangeTested(Box::new(RangeTest::new(
        range_settings(),
        Vec::new(),
        RangeEnd::NonFinite {
            learning_rate: 1e-5,
        },
    )))));
    let screen = render(&app, 120, 36);
    assert!(screen.contains("no usable points"), "{screen}");
    assert_eq!(app.update(key(KeyCode::Enter)), Vec::new());

    // Once training runs, l only says when it works.
    let mut training = training_app();
    assert_eq!(training.update(key(KeyCode::Char('l'))), Vec::new());
    assert!(training.messages.back().is_some_and(|m| {
        m.text
            .starts_with("the range test runs before training starts")
    }),);
}

/// How the help and the README name a key.
fn key_names(key: alexnet_tui::tui::keys::Key) -> Vec<String> {
    use alexnet_tui::tui::keys::Key;
    match key {
        Key::Control(c) => vec![format!("Ctrl-{}", c.to_ascii_uppercase())],
        Key::Plain(KeyCode::Char(' ')) => vec!["Space".into()],
        Key::Plain(KeyCode::Char(c)) => vec![c.to_string()],
        Key::Plain(KeyCode::Enter) => vec!["Enter".into()],
        Key::Plain(KeyCode::Esc) => vec!["Esc".into()],
        Key::Plain(KeyCode::Tab) => vec!["Tab".into()],
        Key::Plain(KeyCode::Left) => vec!["<-".into(), "Left".into()],
        Key::Plain(KeyCode::Right) => vec!["->".into(), "Right".into()],
        Key::Plain(KeyCode::Up) => vec!["Up".into()],
        Key::Plain(KeyCode::Down) => vec!["Down".into()],
        Key::Plain(KeyCode::PageUp) => vec!["PgUp".into()],
        Key::Plain(KeyCode::PageDown) => vec!["PgDn".into()],
        Key::Plain(KeyCode::Backspace) => vec!["Bksp".into()],
        other => panic!("no name for {other:?}: name it here and in the help"),
    }
}

#[test]
fn every_key_the_dashboard_answers_is_in_its_help_and_every_live_setting_is_named() {
    use alexnet_tui::tui::keys::{BINDINGS, Context};
    let help = alexnet_tui::tui::ui::help_lines();
    let words: Vec<String> = help
        .iter()
        .flat_map(|(label, line)| {
            format!("{label} {line}")
                .split([' ', ',', '(', ')', '/'])
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    for binding in BINDINGS
        .iter()
        .filter(|b| matches!(b.context, Context::Dashboard | Context::Picker))
    {
        for &key in binding.keys {
            assert!(
                key_names(key).iter().any(|name| words.contains(name)),
                "{:?} of `{}` is not in the help:\n{help:#?}",
                key,
                binding.label
            );
        }
    }
    let text = help
        .iter()
        .map(|(label, line)| format!("{label} {line}"))
        .collect::<Vec<_>>()
        .join(" ");
    for live in alexnet_tui::config::LIVE {
        let (section, name) = live.key.split_once('.').expect("section.key");
        assert!(
            text.contains(name) || text.contains(&format!("[{section}]")),
            "live key {} not named in the help:\n{text}",
            live.key
        );
    }
}

#[test]
fn the_readme_key_table_names_every_key_of_the_dashboard() {
    use alexnet_tui::tui::keys::{BINDINGS, Context};
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let table: String = readme
        .lines()
        .skip_while(|line| !line.starts_with("| key | does |"))
        .take_while(|line| line.starts_with('|'))
        .map(|line| line.split('|').nth(1).unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join(" / ");
    assert!(!table.is_empty(), "README has no key table");
    for binding in BINDINGS
        .iter()
        .filter(|b| b.context == Context::Dashboard && !b.help.is_empty())
    {
        for &key in binding.keys {
            let named = key_names(key).iter().any(|name| {
                table.contains(&format!("`{name}`"))
                    || table.split([' ', '/']).any(|word| word == name)
            });
            assert!(
                named,
                "README's key table lacks {key:?} (`{}`): {table}",
                binding.label
            );
        }
    }
}
