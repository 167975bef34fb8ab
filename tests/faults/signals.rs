//! SIGTERM and SIGHUP: what `kill`, `docker stop`, `systemctl stop`, a cluster's preemption and
//! a closed terminal send. Each must end a run as the first Ctrl-C does (a checkpoint at the
//! step the signal arrived, the run recorded as stopped, exit status 0); a second signal exits
//! 128 + its number at once; a SIGHUP ignored from the start (`nohup`) stays ignored. Headless
//! runs read their progress from `--json`; the dashboard runs in a real pseudo-terminal.

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use alexnet_tui::train::record::EndReason;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

use super::support::{
    Place, Row, checkpoints, corrupted, end_reason, newest_saved_step, signal, tiny_config,
    wait_exit, wait_for,
};

/// Long enough never to finish by itself (8 batches an epoch, about 0.1 s each).
const EPOCHS: f64 = 1000.0;
/// Training steps seen before a signal is sent.
const WARM_UP_STEPS: u64 = 3;
/// How long starting (loading the data) and stopping (the checkpoint) may take.
const START: Duration = Duration::from_secs(90);
const STOP: Duration = Duration::from_secs(30);

pub fn rows() -> Vec<Row> {
    // The dashboard's scenarios run alongside the headless ones (each run trains on one thread
    // of the two cores), which halves the wall time.
    let dashboards = std::thread::spawn(|| vec![dashboard_sigterm(), dashboard_terminal_closed()]);
    let mut rows = vec![
        headless_first(libc::SIGTERM),
        headless_first(libc::SIGHUP),
        headless_second(),
        headless_nohup(),
    ];
    rows.extend(
        dashboards
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
    );
    rows
}

fn name(signo: i32) -> &'static str {
    match signo {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// "exit status 0", or how else the process ended.
fn describe(status: &ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signo)) => format!("killed by signal {signo}"),
        _ => format!("{status}"),
    }
}

/// What must hold of a run stopped by a signal that arrived after `seen` steps (as far as the
/// test could see; at most `slack` more may have been trained or in flight): a checkpoint at
/// that step, nothing corrupted, run.json ended as stopped. Gives the problems and the steps
/// lost.
fn saved_and_stopped(run: Option<&Path>, seen: u64, slack: u64) -> (Vec<String>, u64, usize) {
    let Some(run) = run else {
        return (vec!["no run folder".into()], seen, 0);
    };
    let mut problems = Vec::new();
    let saved = newest_saved_step(run);
    if checkpoints(run).is_empty() {
        problems.push(format!("no checkpoint (signal after step {seen})"));
    } else if saved < seen || saved > seen + slack {
        problems.push(format!(
            "checkpoint at step {saved}, the signal came after step {seen} (+{slack} in flight)"
        ));
    }
    match end_reason(run) {
        Some(EndReason::Stopped) => {}
        Some(other) => problems.push(format!("run.json ends as {other:?}, not Stopped")),
        None => problems.push("run.json not ended (runs says crashed)".into()),
    }
    (problems, seen.saturating_sub(saved), corrupted(run).len())
}

fn only_run(place: &Place) -> Option<PathBuf> {
    let dirs = place.run_dirs();
    (dirs.len() == 1).then(|| dirs[0].clone())
}

/// A headless `--json` run whose standard output is read as it comes.
struct Headless {
    child: Child,
    out: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Headless {
    /// Started directly, or through `nohup` (SIGHUP ignored from the start).
    fn start(place: &Place, nohup: bool) -> Headless {
        let args = ["train", "--headless", "--json"];
        let mut command = place.command(&args);
        if nohup {
            // The same program and settings, started by nohup.
            let mut wrapped = std::process::Command::new("nohup");
            wrapped
                .arg(command.get_program())
                .args(args)
                .current_dir(place.path())
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            command = wrapped;
        }
        let mut child = command.spawn().expect("start alexnet-tui");
        let mut stdout = child.stdout.take().expect("stdout");
        let out = Arc::new(Mutex::new(String::new()));
        let sink = out.clone();
        let reader = std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("out")
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        Headless {
            child,
            out,
            reader: Some(reader),
        }
    }

    fn text(&self) -> String {
        self.out.lock().expect("out").clone()
    }

    /// The step of the latest batch event printed so far.
    fn step(&self) -> Option<u64> {
        self.text()
            .lines()
            .rev()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|value| value["event"] == "batch")
            .find_map(|value| value["step"].as_u64())
    }

    /// Waits until `steps` steps were trained (fails the scenario after [`START`]).
    fn trained(&self, steps: u64) -> u64 {
        wait_for("batches", START, || {
            self.step().filter(|step| *step >= steps)
        })
    }

    /// Waits until a line of the output contains `text`; false after `timeout`.
    fn says(&self, text: &str, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if self.text().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Waits for the exit; the status and everything printed.
    fn finish(mut self) -> (ExitStatus, String) {
        let status = wait_exit(&mut self.child, STOP);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        (status, self.text())
    }
}

/// One signal to a headless run: saved at its step, stopped, exit 0, a line naming it.
fn headless_first(signo: i32) -> Row {
    let fault = match signo {
        libc::SIGTERM => "SIGTERM, headless",
        _ => "SIGHUP, headless",
    };
    let mut row = Row::new(
        fault,
        format!("kill -{} after {WARM_UP_STEPS}+ steps", name(signo)),
        "checkpoint at the signal's step, run stopped, exit 0",
    );
    let place = Place::new(&tiny_config(EPOCHS, 2));
    let run = Headless::start(&place, false);
    run.trained(WARM_UP_STEPS);
    let seen = run.step().unwrap_or(0);
    signal(&run.child, signo);
    let (status, out) = run.finish();
    let (mut problems, lost, corrupted) = saved_and_stopped(only_run(&place).as_deref(), seen, 2);
    if status.code() != Some(0) {
        problems.insert(0, describe(&status));
    }
    if !out.contains(name(signo)) {
        problems.push(format!("no line naming {}", name(signo)));
    }
    row.injected(problems, lost, corrupted);
    row
}

/// A second signal while the first one's checkpoint is being written: exit 128 + its number.
fn headless_second() -> Row {
    let mut row = Row::new(
        "second signal, headless",
        "kill -TERM twice, kill -HUP twice",
        "exit 128 + n at once (143, 129)",
    );
    for signo in [libc::SIGTERM, libc::SIGHUP] {
        let place = Place::new(&tiny_config(EPOCHS, 2));
        let run = Headless::start(&place, false);
        run.trained(WARM_UP_STEPS);
        signal(&run.child, signo);
        // The second once the first was taken (two at once may arrive as one).
        let heard = run.says(name(signo), Duration::from_secs(10));
        signal(&run.child, signo);
        let (status, _) = run.finish();
        let mut problems = Vec::new();
        if !heard {
            problems.push(format!("the first {} was not announced", name(signo)));
        }
        if status.code() != Some(128 + signo) {
            problems.push(format!(
                "{} twice: {}, not exit status {}",
                name(signo),
                describe(&status),
                128 + signo
            ));
        }
        row.injected(problems, 0, 0);
    }
    row
}

/// Under nohup SIGHUP changes nothing: training goes on; SIGTERM then stops it as usual.
fn headless_nohup() -> Row {
    let mut row = Row::new(
        "SIGHUP under nohup, headless",
        "nohup; kill -HUP; later kill -TERM",
        "HUP ignored (keeps training); TERM saves, exit 0",
    );
    let place = Place::new(&tiny_config(EPOCHS, 2));
    let mut run = Headless::start(&place, true);
    let before = run.trained(WARM_UP_STEPS);
    signal(&run.child, libc::SIGHUP);
    let mut problems = Vec::new();
    // Five more steps after the SIGHUP, and still running.
    let went_on = {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if run.step().is_some_and(|step| step >= before + 5) {
                break true;
            }
            if std::time::Instant::now() >= deadline || !run.alive() {
                break false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    if !went_on || !run.alive() {
        problems.push("SIGHUP under nohup stopped the training".into());
    }
    if run.text().contains("SIGHUP") {
        problems.push("SIGHUP under nohup was heard".into());
    }
    let (lost, corrupted) = if run.alive() {
        let seen = run.step().unwrap_or(0);
        signal(&run.child, libc::SIGTERM);
        let (status, _) = run.finish();
        let (more, lost, corrupted) = saved_and_stopped(only_run(&place).as_deref(), seen, 2);
        if status.code() != Some(0) {
            problems.push(format!("SIGTERM after: {}", describe(&status)));
        }
        problems.extend(more);
        (lost, corrupted)
    } else {
        let (status, _) = run.finish();
        problems.push(format!("ended by SIGHUP: {}", describe(&status)));
        (0, 0)
    };
    row.injected(problems, lost, corrupted);
    row
}

/// The dashboard in a pseudo-terminal: the screen as a person sees it, the raw bytes written.
struct Dashboard {
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    /// Tells the reader to let go of the terminal after its next read.
    hang_up: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    keys: Option<Box<dyn Write + Send>>,
    master: Option<Box<dyn portable_pty::MasterPty + Send>>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Dashboard {
    /// `alexnet-tui --start` in `place`: through a shell that prints its exit status and the
    /// terminal's mode afterwards (`shell`), or as the session's only process.
    fn start(place: &Place, shell: bool) -> Dashboard {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows: 36,
                cols: 120,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pseudo-terminal");
        let binary = env!("CARGO_BIN_EXE_alexnet-tui");
        let mut command = if shell {
            let mut command = CommandBuilder::new("sh");
            command.arg("-c");
            command.arg(format!("'{binary}' --start; echo EXIT=$?; stty -a"));
            command
        } else {
            let mut command = CommandBuilder::new(binary);
            command.arg("--start");
            command
        };
        command.cwd(place.path());
        command.env("TERM", "xterm-256color");
        let child = pty.slave.spawn_command(command).expect("spawn");
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().expect("reader");
        let keys = pty.master.take_writer().expect("writer");
        let parser = Arc::new(Mutex::new(vt100::Parser::new(36, 120, 0)));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let hang_up = Arc::new(AtomicBool::new(false));
        let (screen, bytes, stop) = (parser.clone(), raw.clone(), hang_up.clone());
        let reader = std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 || stop.load(Ordering::SeqCst) {
                    break;
                }
                screen.lock().expect("parser").process(&buffer[..n]);
                bytes.lock().expect("raw").extend_from_slice(&buffer[..n]);
            }
        });
        Dashboard {
            parser,
            raw,
            hang_up,
            reader: Some(reader),
            keys: Some(keys),
            master: Some(pty.master),
            child,
        }
    }

    fn screen(&self) -> String {
        self.parser.lock().expect("parser").screen().contents()
    }

    fn raw(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().expect("raw")).into_owned()
    }

    /// The step the progress gauge shows ("epoch 3/1000 batch 5/8" is step 21).
    fn step(&self) -> Option<u64> {
        let screen = self.screen();
        screen.match_indices("epoch ").find_map(|(at, _)| {
            let words: Vec<&str> = screen[at..].split_whitespace().take(4).collect();
            let [_, epoch, "batch", batch] = words[..] else {
                return None;
            };
            let epoch: u64 = epoch.split('/').next()?.parse().ok()?;
            let mut batch = batch.split('/');
            let (done, per_epoch): (u64, u64) =
                (batch.next()?.parse().ok()?, batch.next()?.parse().ok()?);
            Some((epoch - 1) * per_epoch + done)
        })
    }

    fn trained(&self, steps: u64) -> u64 {
        let deadline = std::time::Instant::now() + START;
        loop {
            if let Some(step) = self.step().filter(|step| *step >= steps) {
                return step;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "waited {START:?} for batches on the dashboard:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn shows(&self, text: &str, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if self.screen().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The program's own process id: the shell's child, or the session's process itself.
    fn program(&self) -> u32 {
        let own = self.child.process_id().expect("pid");
        let children =
            std::fs::read_to_string(format!("/proc/{own}/task/{own}/children")).unwrap_or_default();
        children
            .split_whitespace()
            .next()
            .and_then(|pid| pid.parse().ok())
            .unwrap_or(own)
    }

    fn signal(&self, signo: i32) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{signo}"))
            .arg(self.program().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signo}");
    }

    /// Closes the terminal as a closed window or a dropped ssh link does: every handle on the
    /// pseudo-terminal's master side is let go, so the kernel hangs the terminal up.
    fn close(&mut self) {
        self.hang_up.store(true, Ordering::SeqCst);
        drop(self.keys.take());
        drop(self.master.take());
        // The reader lets go after its next read (the dashboard redraws its clock every second).
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }

    /// Waits for the session's process to end: its exit status (the program's, or the shell's).
    fn wait(&mut self, timeout: Duration) -> Option<portable_pty::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                let _ = self.child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The shell's report after the program quit: its exit status, and whether the terminal is
    /// back in normal mode (the alternate screen left, canonical mode and echo on).
    fn shell_report(&mut self) -> (Option<i32>, Vec<String>) {
        let ended = self.wait(STOP).is_some();
        let raw = self.raw();
        let mut problems = Vec::new();
        if !ended {
            problems.push("the dashboard did not quit".into());
        }
        let code = raw
            .rfind("EXIT=")
            .and_then(|at| raw[at + 5..].split_whitespace().next()?.parse().ok());
        let entered = raw.rfind("\x1b[?1049h");
        let left = raw.rfind("\x1b[?1049l");
        if !matches!((entered, left), (Some(entered), Some(left)) if left > entered) {
            problems.push("the alternate screen was not left".into());
        }
        match raw.rfind("speed") {
            Some(at) if raw[at..].contains(" icanon") && raw[at..].contains(" echo ") => {}
            Some(_) => problems.push("the terminal was left in raw mode".into()),
            None => problems.push("no stty report".into()),
        }
        (code, problems)
    }
}

/// SIGTERM to the dashboard saves, records the run stopped, restores the terminal and exits 0;
/// a second SIGTERM while it saves exits 143, the terminal restored all the same.
fn dashboard_sigterm() -> Row {
    let mut row = Row::new(
        "SIGTERM, dashboard",
        "kill -TERM after 3+ steps; kill -TERM twice",
        "checkpoint at its step, stopped, exit 0, terminal restored; twice: 143",
    );
    // Once.
    let place = Place::new(&tiny_config(EPOCHS, 2));
    let mut dashboard = Dashboard::start(&place, true);
    dashboard.trained(WARM_UP_STEPS);
    let seen = dashboard.step().unwrap_or(0);
    dashboard.signal(libc::SIGTERM);
    let (code, mut problems) = dashboard.shell_report();
    let (more, lost, corrupted) = saved_and_stopped(only_run(&place).as_deref(), seen, 4);
    if code != Some(0) {
        problems.insert(0, format!("exit status {code:?}"));
    }
    problems.extend(more);
    row.injected(problems, lost, corrupted);

    // Twice.
    let place = Place::new(&tiny_config(EPOCHS, 2));
    let mut dashboard = Dashboard::start(&place, true);
    dashboard.trained(WARM_UP_STEPS);
    dashboard.signal(libc::SIGTERM);
    let heard = dashboard.shows("SIGTERM", Duration::from_secs(10));
    dashboard.signal(libc::SIGTERM);
    let (code, mut problems) = dashboard.shell_report();
    if !heard {
        problems.push("the first SIGTERM was not shown".into());
    }
    if code != Some(128 + libc::SIGTERM) {
        problems.insert(0, format!("SIGTERM twice: exit status {code:?}, not 143"));
    }
    row.injected(problems, 0, 0);
    row
}

/// The dashboard's terminal closed (the window, the ssh link): SIGHUP. It saves and exits 0 by
/// itself, without a terminal to draw on.
fn dashboard_terminal_closed() -> Row {
    let mut row = Row::new(
        "SIGHUP, dashboard",
        "its terminal closed after 3+ steps",
        "exits 0 by itself, checkpoint at its step, stopped",
    );
    let place = Place::new(&tiny_config(EPOCHS, 2));
    let mut dashboard = Dashboard::start(&place, false);
    dashboard.trained(WARM_UP_STEPS);
    let seen = dashboard.step().unwrap_or(0);
    dashboard.close();
    let status = dashboard.wait(STOP);
    let (mut problems, lost, corrupted) = saved_and_stopped(only_run(&place).as_deref(), seen, 4);
    match status {
        None => problems.insert(0, "did not exit by itself".into()),
        Some(status) if !status.success() => {
            problems.insert(0, format!("ended with {status}"));
        }
        Some(_) => {}
    }
    row.injected(problems, lost, corrupted);
    row
}
