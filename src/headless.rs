//! The run without a dashboard: what [`crate::report`] says of each event, printed as lines (a
//! progress line every few seconds), or one JSON object per event with `--json`. Steering
//! decisions come from [`crate::control`]; this file only prints.
//!
//! Ctrl-C, SIGTERM and SIGHUP ([`crate::interrupts`]) stop the run after the batch in flight and
//! save a checkpoint; a second one exits at once. Printing never panics: the terminal may be
//! gone (SIGHUP) while the run saves.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::control::Controller;
use crate::interrupts::{self, Interrupts};
use crate::report::{self, Level, Line, Steer};
use crate::session::{Error, Prepared};
use crate::train::metrics::Ema;
use crate::train::{Command, Event};

pub fn run(prepared: Prepared, json: bool) -> Result<ExitCode, Error> {
    let runtime = interrupts::runtime().map_err(Error::Failed)?;
    runtime.block_on(run_async(prepared, json))
}

async fn run_async(prepared: Prepared, json: bool) -> Result<ExitCode, Error> {
    // Listening before the worker starts: a signal while the data loads stops it too.
    let mut interrupts = Interrupts::listen();
    let (mut controller, mut inputs, lines) = Controller::launch(prepared, true, Steer::FileOnly);
    let mut printer = Printer::new(json, controller.config().ui.headless_interval_seconds);
    printer.lines(&lines);
    let mut failed = false;
    loop {
        tokio::select! {
            event = inputs.events.recv() => {
                let Some(event) = event else { break };
                let lines = controller.on_event(&event);
                printer.event(&event, &lines, controller.config().training.epochs);
                match event {
                    Event::Finished { .. } => break,
                    Event::Failed { .. } => { failed = true; break }
                    _ => {}
                }
            }
            interrupt = interrupts.recv() => {
                if interrupt.first {
                    printer.lines(&[report::stopping_on(interrupt.signal, Steer::FileOnly)]);
                    controller.send(Command::Stop);
                } else {
                    printer.lines(&[report::quitting_on(interrupt.signal, Steer::FileOnly)]);
                    interrupts::exit_at_once(interrupt.signal);
                }
            }
            Some(reload) = async {
                match inputs.reloads.as_mut() {
                    Some(reloads) => reloads.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                let lines = controller.on_reload(reload);
                printer.interval = Duration::from_secs_f64(controller.config().ui.headless_interval_seconds);
                printer.lines(&lines);
            }
        }
    }
    controller.join();
    if let Some(summary) = controller.unsaved_summary() {
        // The last line says what was not kept, and the exit status says it went wrong.
        printer.lines(&[Line::error(summary)]);
        return Ok(ExitCode::FAILURE);
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

struct Printer {
    json: bool,
    interval: Duration,
    last_line: Instant,
    speed: Ema,
    progress: Option<indicatif::ProgressBar>,
}

impl Printer {
    fn new(json: bool, interval_seconds: f64) -> Printer {
        Printer {
            json,
            interval: Duration::from_secs_f64(interval_seconds),
            last_line: Instant::now(),
            speed: Ema::new(0.9),
            progress: None,
        }
    }

    fn out(&self, line: &str) {
        interrupts::print_out(line);
    }

    /// Lines not tied to a worker event (notes, reloads): as text, or as `note` objects.
    fn lines(&self, lines: &[Line]) {
        for line in lines {
            if self.json {
                let value = serde_json::json!({ "event": "note", "message": line.text });
                self.out(&value.to_string());
            } else {
                self.text(line);
            }
        }
    }

    /// Information goes to stdout, warnings and errors to stderr.
    fn text(&self, line: &Line) {
        match line.level {
            Level::Info => self.out(&line.text),
            Level::Warning => interrupts::print_err(&format!("warning: {}", line.text)),
            Level::Error => interrupts::print_err(&format!("alexnet-tui: {}", line.text)),
        }
    }

    fn event(&mut self, event: &Event, lines: &[Line], epochs: f64) {
        if let Event::Batch(batch) = event {
            self.speed.push(batch.images_per_second);
        }
        if self.json {
            if let Ok(line) = serde_json::to_string(event) {
                self.out(&line);
            }
            // What the controller did beyond the worker's event (the curves) is a note.
            let extra: Vec<Line> = match event {
                Event::Finished { .. } => lines
                    .iter()
                    .filter(|line| line.text.starts_with("curves"))
                    .cloned()
                    .collect(),
                _ => Vec::new(),
            };
            self.lines(&extra);
            return;
        }
        match event {
            Event::Download { file, bytes, total } => self.download(file, *bytes, *total),
            Event::Ready(_) => {
                if let Some(bar) = self.progress.take() {
                    bar.finish_and_clear();
                }
            }
            Event::Started { .. } => self.last_line = Instant::now(),
            Event::Batch(batch) if self.last_line.elapsed() >= self.interval => {
                self.last_line = Instant::now();
                let speed = self.speed.get().unwrap_or(batch.images_per_second);
                self.out(&report::progress_line(batch, epochs, speed));
            }
            _ => {}
        }
        for line in lines {
            self.text(line);
        }
    }

    fn download(&mut self, file: &str, bytes: u64, total: Option<u64>) {
        if !std::io::stderr().is_terminal() {
            if total.is_some_and(|t| bytes >= t) {
                interrupts::print_err(&format!("downloaded {file} ({bytes} bytes)"));
            }
            return;
        }
        let bar = self.progress.get_or_insert_with(|| {
            let bar = indicatif::ProgressBar::new(total.unwrap_or(0));
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    // Decimal units, as everywhere else (see crate::units): indicatif's plain
                    // {bytes} are binary (MiB).
                    "{msg:28} [{bar:30}] {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        bar.set_message(file.to_string());
        if let Some(total) = total {
            bar.set_length(total);
        }
        bar.set_position(bytes);
        if total.is_some_and(|t| bytes >= t) {
            bar.finish();
            self.progress = None;
        }
    }
}
