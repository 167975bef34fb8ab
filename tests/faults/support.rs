//! What the fault scenarios share: the built binary on a tiny real run in a folder of its own,
//! waiting with a deadline, reading what a run left behind (its record, its checkpoints, whether
//! each of them still reads), and the table the suite prints.

#![allow(dead_code)] // each scenario uses a different part

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use alexnet_tui::train::checkpoint::{self, Checkpoint};
use alexnet_tui::train::record::{EndReason, RunRecord};

/// A tiny real run: 65x65 inputs, 256 training images in 8 batches of 32, 64 test images, one
/// thread. `epochs` long; `keep` checkpoints kept while it trains.
pub fn tiny_config(epochs: f64, keep: usize) -> String {
    format!(
        r#"[data]
train_limit = 256
test_limit = 64

[model]
resize = 65

[training]
batch_size = 32
epochs = {epochs:?}
device = "cpu"
precision = "f32"
threads = 1
log_every = 1

[checkpoint]
dir = "runs"
interval_minutes = 0
keep = {keep}
keep_at_end = {keep}
"#
    )
}

/// A folder with a config.toml: where one scenario runs the binary.
pub struct Place {
    pub dir: tempfile::TempDir,
}

impl Place {
    pub fn new(config: &str) -> Place {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("config.toml"), config).expect("write config");
        Place { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn runs(&self) -> PathBuf {
        self.dir.path().join("runs")
    }

    /// The binary in this folder, its output piped.
    pub fn command(&self, args: &[&str]) -> Process {
        let mut command = Process::new(env!("CARGO_BIN_EXE_alexnet-tui"));
        command
            .args(args)
            .current_dir(self.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    /// `train --headless` with `args` added, started.
    pub fn headless(&self, args: &[&str]) -> Child {
        let mut all = vec!["train", "--headless"];
        all.extend_from_slice(args);
        self.command(&all).spawn().expect("start alexnet-tui")
    }

    /// The run folders under runs/, sorted.
    pub fn run_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(self.runs())
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.is_dir())
            .collect();
        dirs.sort();
        dirs
    }

    /// The only run folder (fails the scenario if there is not exactly one).
    pub fn only_run(&self) -> PathBuf {
        let dirs = self.run_dirs();
        assert_eq!(dirs.len(), 1, "one run folder expected: {dirs:?}");
        dirs[0].clone()
    }
}

/// Waits until `found` gives a value; fails after `timeout`, naming `what`.
pub fn wait_for<T>(what: &str, timeout: Duration, mut found: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(Instant::now() < deadline, "waited {timeout:?} for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for a child to end; kills it and fails after `timeout`.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not end within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Output and status of a finished child.
pub fn finish(child: Child, timeout: Duration) -> (std::process::ExitStatus, String, String) {
    let mut child = child;
    let status = wait_exit(&mut child, timeout);
    let output = child.wait_with_output().expect("output");
    (
        status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Sends `signal` (a `libc::SIG*` number) to a process.
pub fn signal(child: &Child, signal: i32) {
    let status = Process::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{signal} {}", child.id());
}

pub fn record(run: &Path) -> RunRecord {
    RunRecord::read(run)
        .expect("readable run.json")
        .expect("a run.json")
}

pub fn end_reason(run: &Path) -> Option<EndReason> {
    RunRecord::read(run)
        .ok()
        .flatten()
        .and_then(|record| record.ended.map(|ended| ended.reason))
}

/// The checkpoint files of a run, oldest step first.
pub fn checkpoints(run: &Path) -> Vec<PathBuf> {
    checkpoint::list(&run.join(checkpoint::CHECKPOINTS_DIR))
}

/// Every file in a run's checkpoint folder that does not read back as a whole checkpoint
/// (temporary files of an interrupted write are not checkpoints and are not counted).
pub fn corrupted(run: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(run.join(checkpoint::CHECKPOINTS_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == checkpoint::EXTENSION)
        })
        .filter(|path| Checkpoint::read(path).is_err())
        .collect()
}

/// The newest step a run's checkpoints hold (0 without any).
pub fn newest_saved_step(run: &Path) -> u64 {
    checkpoints(run)
        .iter()
        .filter_map(|path| Checkpoint::read(path).ok())
        .map(|checkpoint| checkpoint.meta.step)
        .max()
        .unwrap_or(0)
}

/// One line of the suite's table: a fault, how it was injected, what must hold, and what
/// happened. `problems` lists every way what must hold did not.
#[derive(Debug, Clone)]
pub struct Row {
    pub fault: &'static str,
    pub how: String,
    pub must_hold: &'static str,
    pub injected: u32,
    pub survived: u32,
    pub steps_lost_max: u64,
    pub corrupted: usize,
    pub problems: Vec<String>,
    /// Why it was not run here (only with ALEXNET_TUI_ALLOW_SKIP=1, see tests/common/skip.rs).
    pub skipped: Option<String>,
}

impl Row {
    pub fn new(fault: &'static str, how: impl Into<String>, must_hold: &'static str) -> Row {
        Row {
            fault,
            how: how.into(),
            must_hold,
            injected: 0,
            survived: 0,
            steps_lost_max: 0,
            corrupted: 0,
            problems: Vec::new(),
            skipped: None,
        }
    }

    /// Counts one injected fault; `problems` empty means it was survived.
    pub fn injected(&mut self, problems: Vec<String>, steps_lost: u64, corrupted: usize) {
        self.injected += 1;
        if problems.is_empty() && corrupted == 0 {
            self.survived += 1;
        }
        self.steps_lost_max = self.steps_lost_max.max(steps_lost);
        self.corrupted += corrupted;
        self.problems.extend(problems);
    }

    /// A scenario injected once into the run in `run`: counted with its problems and the
    /// checkpoints of `run` that no longer read.
    pub fn once(mut self, problems: Vec<String>, run: &Path) -> Row {
        let broken = corrupted(run).len();
        self.injected(problems, 0, broken);
        self
    }

    pub fn ok(&self) -> bool {
        self.skipped.is_some()
            || (self.injected > 0 && self.survived == self.injected && self.corrupted == 0)
    }
}

/// Prints the table on the test's standard error, past cargo's capture (written to the file
/// descriptor, not through `eprintln!`, so that it shows for a passing test too).
pub fn print_table(title: &str, rows: &[Row], took: Duration) {
    let mut text = format!("\n{title} ({:.0} s)\n", took.as_secs_f64());
    text.push_str(
        "| fault | how | must hold | injected | survived | steps lost (max) | files corrupted |\n",
    );
    text.push_str("| --- | --- | --- | --- | --- | --- | --- |\n");
    for row in rows {
        text.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            row.fault,
            row.how,
            row.must_hold,
            row.injected,
            row.survived,
            row.steps_lost_max,
            row.corrupted
        ));
    }
    for row in rows {
        if let Some(why) = &row.skipped {
            text.push_str(&format!("SKIPPED {}: {why}\n", row.fault));
        }
    }
    for row in rows.iter().filter(|row| !row.ok()) {
        for problem in &row.problems {
            text.push_str(&format!("FAILED {}: {problem}\n", row.fault));
        }
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
}
