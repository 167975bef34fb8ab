//! The dashboard: a ratatui view over the training worker.
//!
//! `run` sets the terminal up (and guarantees it is restored on every way out, panics included),
//! then the event loop takes one input at a time, passes worker events and config reloads
//! through the [`Controller`] (which steers the run and words what happened), lets
//! [`App::update`] change the state, carries out the resulting effects (commands to the worker,
//! and reading runs for the overlay on blocking threads), and redraws only when something
//! changed, at most `ui.refresh_hz` times a second, so that the UI leaves the cores to the
//! training.

pub mod app;
pub mod event;
mod keys;
pub mod overlay;
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
use crate::report::Steer;
use crate::session::{Error, Prepared};
use crate::train::worker::WORKER_THREAD_NAME;
use app::{App, Effect, Msg, Phase, Reloaded};
use event::Input;

pub fn run(prepared: Prepared, autostart: bool) -> Result<ExitCode, Error> {
    install_panic_hook();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Failed(format!("cannot start the async runtime: {e}")))?;
    enable_raw_mode().map_err(|e| Error::Failed(format!("cannot use this terminal: {e}")))?;
    if let Err(error) = execute!(stdout(), EnterAlternateScreen) {
        restore();
        return Err(Error::Failed(format!("cannot use this terminal: {error}")));
    }
    let result = match Terminal::new(CrosstermBackend::new(stdout())) {
        Ok(mut terminal) => runtime.block_on(event_loop(&mut terminal, prepared, autostart)),
        Err(error) => Err(Error::Failed(format!("cannot use this terminal: {error}"))),
    };
    restore();
    let app = result?;
    // Say where things stand once the screen is back to normal.
    match &app.phase {
        Phase::Failed(message) => {
            eprintln!("alexnet-tui: training failed: {message}");
            Ok(ExitCode::FAILURE)
        }
        _ => {
            // A dashboard quit before training started made no run folder.
            if let Some((run_id, run_dir)) = app
                .info
                .as_ref()
                .and_then(|info| Some((info.run_id.as_ref()?, info.run_dir.as_ref()?)))
            {
                println!("run {run_id} is in {}", run_dir.display());
                let curves = run_dir.join(crate::curves::CURVES_FILE);
                if matches!(app.phase, Phase::Finished(_)) && curves.is_file() {
                    println!("curves: {}", curves.display());
                }
            }
            if let Some(best) = app.best_test_accuracy() {
                println!(
                    "best test accuracy {:.4} (epoch {})",
                    best.accuracy,
                    crate::train::metrics::epoch_label(best.position)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Leaves raw mode and the alternate screen; safe to call more than once.
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
) -> Result<App, Error> {
    let mut app = App::new(prepared.config.clone());
    if let Ok(size) = terminal.size() {
        app.update(Msg::Resize(size.width, size.height));
    }
    let compare = prepared.compare.clone();
    let (mut controller, inputs, lines) = Controller::launch(prepared, autostart, Steer::Keys);
    for line in lines {
        app.note(line.level, line.text);
    }
    let (tx, mut rx) = unbounded_channel();
    event::spawn_sources(tx.clone(), inputs.events, inputs.reloads);
    if let Some(name) = compare {
        for effect in app.update(Msg::Compare(name)) {
            event::spawn_file_work(effect, &app.config, &tx);
        }
    }

    let mut last_draw: Option<Instant> = None;
    loop {
        let interval = app.frame_interval();
        if app.dirty && last_draw.is_none_or(|at| at.elapsed() >= interval) {
            terminal
                .draw(|frame| ui::draw(&app, frame))
                .map_err(|e| Error::Failed(format!("cannot draw: {e}")))?;
            app.dirty = false;
            last_draw = Some(Instant::now());
        }
        let input = if app.dirty {
            let next = last_draw.map_or_else(Instant::now, |at| at + interval);
            tokio::select! {
                input = rx.recv() => input,
                _ = tokio::time::sleep_until(next.into()) => continue,
            }
        } else {
            rx.recv().await
        };
        let Some(input) = input else { break };
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
            Input::Done(msg) => *msg,
        };
        let mut quit = false;
        for effect in app.update(msg) {
            match effect {
                Effect::Send(command) => controller.send(command),
                Effect::Quit => quit = true,
                file_work => event::spawn_file_work(file_work, &app.config, &tx),
            }
        }
        if quit {
            break;
        }
    }
    // Every way out has told the worker to stop (or it has finished).
    controller.join_within(std::time::Duration::from_secs(10));
    Ok(app)
}
