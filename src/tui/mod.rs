//! The dashboard: a ratatui view over the training worker.
//!
//! `run` sets the terminal up (and guarantees it is restored on every way out, panics included),
//! then the event loop takes one input at a time, passes worker events and config reloads
//! through the [`Controller`] (which steers the run and words what happened), lets
//! [`App::update`] change the state, carries out the resulting effects (commands to the worker,
//! and reading runs for the overlay on blocking threads), and redraws only when something
//! changed, at most `ui.refresh_hz` times a second, so that the UI leaves the cores to the
//! training.
//!
//! Signals ([`crate::interrupts`]: SIGINT from outside, SIGTERM, SIGHUP) save and quit as Ctrl-C
//! does, and a second one quits at once. After SIGHUP (or a draw that fails) the terminal is
//! gone: nothing more is drawn or printed (restoring it fails quietly), and nothing written to
//! it may panic.

pub mod app;
pub mod event;
pub mod keys;
pub mod picker;
pub mod theme;
pub mod ui;

use std::io::stdout;
use std::process::ExitCode;
use std::time::Instant;

use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use tokio::sync::mpsc::unbounded_channel;

use crate::control::Controller;
use crate::interrupts::{self, Interrupts, Signal};
use crate::report::{self, Level, Line, Steer};
use crate::session::{Error, Prepared};
use crate::train::worker::WORKER_THREAD_NAME;
use app::{App, Effect, Msg, Phase, Reloaded};
use event::Input;

pub fn run(prepared: Prepared, autostart: bool) -> Result<ExitCode, Error> {
    install_panic_hook();
    let runtime = interrupts::runtime().map_err(Error::Failed)?;
    // Listening from here on: a signal while the data loads saves nothing but quits cleanly.
    let interrupts = {
        let _inside = runtime.enter();
        Interrupts::listen()
    };
    enable_raw_mode().map_err(|e| Error::Failed(format!("cannot use this terminal: {e}")))?;
    if let Err(error) = execute!(stdout(), EnterAlternateScreen) {
        restore();
        return Err(Error::Failed(format!("cannot use this terminal: {error}")));
    }
    let ended = match Terminal::new(CrosstermBackend::new(stdout())) {
        Ok(mut terminal) => {
            let ended =
                runtime.block_on(event_loop(&mut terminal, prepared, autostart, interrupts));
            if ended.screen.is_gone() {
                // Its drop would show the cursor and `eprintln!` the failure, which panics on a
                // terminal that is gone.
                std::mem::forget(terminal);
            }
            ended
        }
        Err(error) => {
            restore();
            return Err(Error::Failed(format!("cannot use this terminal: {error}")));
        }
    };
    // Restored in every case: after a SIGHUP sent by hand the terminal is still there, and on
    // one that is gone restoring fails quietly. Nothing more is printed on a terminal that is
    // gone: there is no one to read it.
    restore();
    let gone = ended.screen.is_gone();
    if let Some(signal) = ended.at_once {
        if !gone {
            print_line(&report::quitting_on(signal, Steer::Keys));
        }
        interrupts::exit_at_once(signal);
    }
    if let Screen::Lost(error) = &ended.screen {
        // The terminal stopped taking output without a SIGHUP: the run was saved all the same,
        // and the status says something went wrong.
        return Err(Error::Failed(format!("cannot draw: {error}")));
    }
    let app = &ended.app;
    let mut code = ExitCode::SUCCESS;
    match &app.phase {
        Phase::Failed(message) => {
            if !gone {
                interrupts::print_err(&format!("alexnet-tui: training failed: {message}"));
            }
            code = ExitCode::FAILURE;
        }
        _ if gone => {}
        _ => {
            // Say where things stand once the screen is back to normal.
            // A dashboard quit before training started made no run folder.
            if let Some((run_id, run_dir)) = app
                .info
                .as_ref()
                .and_then(|info| Some((info.run_id.as_ref()?, info.run_dir.as_ref()?)))
            {
                interrupts::print_out(&format!("run {run_id} is in {}", run_dir.display()));
                let curves = run_dir.join(crate::curves::CURVES_FILE);
                if matches!(app.phase, Phase::Finished(_)) && curves.is_file() {
                    interrupts::print_out(&format!("curves: {}", curves.display()));
                }
            }
            if let Some(best) = app.best_test_accuracy() {
                interrupts::print_out(&format!(
                    "best test accuracy {:.4} (epoch {})",
                    best.accuracy,
                    crate::train::metrics::epoch_label(best.position)
                ));
            }
        }
    }
    if let Some(summary) = &ended.unsaved {
        // What was not kept is the last line, and the exit status says it went wrong.
        if !gone {
            interrupts::print_err(&format!("alexnet-tui: {summary}"));
        }
        code = ExitCode::FAILURE;
    }
    Ok(code)
}

fn print_line(line: &Line) {
    match line.level {
        Level::Info => interrupts::print_out(&line.text),
        Level::Warning => interrupts::print_err(&format!("warning: {}", line.text)),
        Level::Error => interrupts::print_err(&format!("alexnet-tui: {}", line.text)),
    }
}

/// What became of the terminal during the event loop.
#[derive(Debug)]
enum Screen {
    /// Drawn on to the end.
    Kept,
    /// SIGHUP: it is gone.
    HungUp,
    /// A draw failed (the message says why) and no SIGHUP came.
    Lost(String),
}

impl Screen {
    fn is_gone(&self) -> bool {
        !matches!(self, Screen::Kept)
    }
}

/// How the event loop ended.
struct Ended {
    app: App,
    screen: Screen,
    /// A second signal: exit at once with its status.
    at_once: Option<Signal>,
    /// What the run could not write (the controller's summary).
    unsaved: Option<String>,
}

/// Leaves raw mode and the alternate screen; safe to call more than once.
///
/// Not `ratatui::init`/`restore`, whose steps these are otherwise: `init` installs a panic hook
/// that restores the terminal on a panic in any thread, and the dashboard keeps it on a panic
/// of the worker thread (caught there and shown as a failure, see [`install_panic_hook`]);
/// `restore` prints its failure with `eprintln!`, which panics on a terminal that is gone
/// (after SIGHUP); and `try_restore` stops at the first failure, leaving the alternate screen
/// on when raw mode could not be left, and does not show the cursor again.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
}

/// A panic in the UI thread restores the terminal before the message is printed. A panic in the
/// worker thread is caught there and shown in the dashboard as a failure, so the hook stays quiet.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some(WORKER_THREAD_NAME) {
            return;
        }
        restore();
        previous(info);
    }));
}

async fn event_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    prepared: Prepared,
    autostart: bool,
    interrupts: Interrupts,
) -> Ended {
    let mut app = App::new(prepared.config.clone());
    if let Ok(size) = terminal.size() {
        app.update(Msg::Resize(size.width, size.height));
    }
    let compare = prepared.compare.clone();
    let config_path = prepared.config_path.clone();
    let (mut controller, inputs, lines) = Controller::launch(prepared, autostart, Steer::Keys);
    for line in lines {
        app.note(line.level, line.text);
    }
    let (tx, mut rx) = unbounded_channel();
    event::spawn_sources(tx.clone(), inputs.events, inputs.reloads, interrupts);
    if let Some(name) = compare {
        for effect in app.update(Msg::Compare(name)) {
            event::spawn_file_work(effect, &app.config, &config_path, &tx);
        }
    }

    let mut screen = Screen::Kept;
    let mut last_draw: Option<Instant> = None;
    loop {
        let interval = app.frame_interval();
        let mut lost = None;
        if app.dirty && !screen.is_gone() && last_draw.is_none_or(|at| at.elapsed() >= interval) {
            match terminal.draw(|frame| ui::draw(&app, frame)) {
                Ok(_) => {
                    app.dirty = false;
                    last_draw = Some(Instant::now());
                }
                Err(error) => {
                    // The terminal is gone (a SIGHUP usually follows): save and quit as on
                    // Ctrl-C, without drawing again.
                    let text = error.to_string();
                    lost = Some(report::terminal_lost(&text));
                    screen = Screen::Lost(text);
                }
            }
        }
        let input = if let Some(line) = lost {
            Input::Done(Box::new(Msg::Interrupt(line)))
        } else {
            let next = if app.dirty && !screen.is_gone() {
                last_draw.map(|at| at + interval)
            } else {
                None
            };
            let input = match next {
                Some(next) => tokio::select! {
                    input = rx.recv() => input,
                    _ = tokio::time::sleep_until(next.into()) => continue,
                },
                None => rx.recv().await,
            };
            let Some(input) = input else { break };
            input
        };
        let msg = match input {
            Input::Key(key) => Msg::Key(key),
            Input::Worker(event) => {
                let lines = controller.on_event(&event);
                Msg::Worker(event, lines)
            }
            Input::WorkerGone => Msg::WorkerGone,
            Input::Reload(reload) => {
                let lines = controller.on_reload(*reload);
                Msg::Reloaded(Box::new(Reloaded {
                    lines,
                    config: controller.config().clone(),
                    pending: controller.pending().to_vec(),
                }))
            }
            Input::Resize(columns, rows) => Msg::Resize(columns, rows),
            Input::Tick(stats) => Msg::Tick(stats),
            Input::Interrupt(interrupt) if !interrupt.first => {
                return Ended {
                    app,
                    screen,
                    at_once: Some(interrupt.signal),
                    unsaved: None,
                };
            }
            Input::Interrupt(interrupt) => {
                if interrupt.signal == Signal::Hangup {
                    screen = Screen::HungUp;
                }
                Msg::Interrupt(report::stopping_on(interrupt.signal, Steer::Keys))
            }
            Input::Done(msg) => *msg,
        };
        let mut quit = false;
        for effect in app.update(msg) {
            match effect {
                Effect::Send(command) => controller.send(command),
                Effect::Quit => quit = true,
                file_work => event::spawn_file_work(file_work, &app.config, &config_path, &tx),
            }
        }
        if quit {
            break;
        }
    }
    // Every way out has told the worker to stop (or it has finished).
    controller.join_within(std::time::Duration::from_secs(10));
    Ended {
        app,
        screen,
        at_once: None,
        unsaved: controller.unsaved_summary(),
    }
}
