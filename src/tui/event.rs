//! Everything the dashboard reacts to arrives as one [`Msg`] on one channel: keys and resizes from
//! crossterm's event stream, the worker's events, config reloads, a one-second tick with process
//! figures, and Ctrl-C / SIGTERM sent from outside the terminal.

use std::time::{Duration, Instant};

use crossterm::event::{EventStream, KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};
use futures::StreamExt;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::app::{Msg, ProcessStats};
use crate::train::Event;
use crate::watch::Reload;

/// Starts the tasks that feed `tx`. They end when the receiver is dropped.
pub fn spawn_sources(
    tx: UnboundedSender<Msg>,
    mut worker_events: UnboundedReceiver<Event>,
    reloads: Option<UnboundedReceiver<Reload>>,
) {
    let keys = tx.clone();
    tokio::spawn(async move {
        let mut stream = EventStream::new();
        while let Some(Ok(event)) = stream.next().await {
            let msg = match event {
                crossterm::event::Event::Key(key) => Msg::Key(key),
                crossterm::event::Event::Resize(_, _) => Msg::Resize,
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
            if worker.send(Msg::Worker(event)).is_err() {
                return;
            }
        }
        let _ = worker.send(Msg::WorkerGone);
    });

    if let Some(mut reloads) = reloads {
        let reload_tx = tx.clone();
        tokio::spawn(async move {
            while let Some(reload) = reloads.recv().await {
                if reload_tx.send(Msg::Reload(Box::new(reload))).is_err() {
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
            if ticks.send(Msg::Tick(sampler.sample())).is_err() {
                break;
            }
        }
    });

    // Ctrl-C from outside the terminal (kill -INT) and SIGTERM: save and quit, like Ctrl-C typed.
    tokio::spawn(async move {
        let interrupt = KeyEvent {
            code: KeyCode::Char('c'),
            modifiers: KeyModifiers::CONTROL,
            kind: KeyEventKind::Press,
            state: KeyEventState::NONE,
        };
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
                return;
            };
            loop {
                tokio::select! {
                    _ = int.recv() => {},
                    _ = term.recv() => {},
                }
                if tx.send(Msg::Key(interrupt)).is_err() {
                    break;
                }
            }
        }
        #[cfg(not(unix))]
        while tokio::signal::ctrl_c().await.is_ok() {
            if tx.send(Msg::Key(interrupt)).is_err() {
                break;
            }
        }
    });
}

/// CPU use and memory of this process, from /proc (zeros where /proc is absent).
pub struct ProcessSampler {
    last_cpu_seconds: Option<f64>,
    last_at: Instant,
}

/// Linux reports CPU time in clock ticks of 1/100 s on every common platform.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

impl ProcessSampler {
    pub fn new() -> Self {
        Self {
            last_cpu_seconds: cpu_seconds(),
            last_at: Instant::now(),
        }
    }

    pub fn sample(&mut self) -> ProcessStats {
        let now = Instant::now();
        let cpu = cpu_seconds();
        let wall = now.duration_since(self.last_at).as_secs_f64();
        let cpu_percent = match (cpu, self.last_cpu_seconds) {
            (Some(cpu), Some(last)) if wall > 0.0 => 100.0 * (cpu - last) / wall,
            _ => 0.0,
        };
        self.last_cpu_seconds = cpu;
        self.last_at = now;
        let (resident_bytes, peak_resident_bytes) = memory().unwrap_or((0, 0));
        ProcessStats {
            cpu_percent,
            resident_bytes,
            peak_resident_bytes,
        }
    }
}

impl Default for ProcessSampler {
    fn default() -> Self {
        Self::new()
    }
}

fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / CLOCK_TICKS_PER_SECOND)
}

/// (resident, peak resident) bytes.
pub fn memory() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|line| line.starts_with(name))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}
