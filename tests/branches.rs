//! Run folders on real short runs: a branch from a checkpoint (its recorded parent, its
//! continuous history, the parent's folder untouched), and one writer per run (a second process
//! refused, a killed process's lock taken over).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant, SystemTime};

use alexnet_tui::curves::Metrics;
use alexnet_tui::session;
use alexnet_tui::train::checkpoint::{self, Checkpoint};
use alexnet_tui::train::lock::{self, LockState};
use alexnet_tui::train::record::{EndReason, RunRecord};
use alexnet_tui::train::worker::{self, WorkerOptions};
use alexnet_tui::train::{Event, FinishReason};
use common::{MINUTE, serial, small_config, start, until};

/// Every file under `dir` with its size and modification time.
fn files_of(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("readable folder") {
            let path = entry.expect("entry").path();
            let meta = std::fs::metadata(&path).expect("metadata");
            if meta.is_dir() {
                stack.push(path);
            } else {
                out.insert(path, (meta.len(), meta.modified().expect("mtime")));
            }
        }
    }
    out
}

fn opened(
    handle: &mut worker::WorkerHandle,
) -> (String, PathBuf, Option<alexnet_tui::train::record::Parent>) {
    let Event::Opened {
        run_id,
        run_dir,
        parent,
    } = until(handle, MINUTE, |e| matches!(e, Event::Opened { .. }))
    else {
        unreachable!()
    };
    (run_id, run_dir, parent)
}

#[test]
fn a_branch_records_its_parent_and_carries_its_history() {
    let _serial = serial();
    let runs = tempfile::tempdir().expect("temp dir");
    let config = small_config(runs.path());

    // The parent: one epoch, tested at its end.
    let mut first = start(config.clone(), true, None);
    let (parent_id, parent_dir, no_parent) = opened(&mut first);
    assert!(no_parent.is_none());
    until(&mut first, 5 * MINUTE, |e| {
        matches!(
            e,
            Event::Finished {
                reason: FinishReason::Completed
            }
        )
    });
    first.thread.join().expect("worker ends");
    let record = RunRecord::read(&parent_dir)
        .expect("readable")
        .expect("run.json");
    assert_eq!(
        record.ended.as_ref().map(|e| e.reason),
        Some(EndReason::Completed)
    );
    let best = record.best.expect("tested at the epoch end");
    assert_eq!(best.position, 1.0);
    let last = record
        .last_checkpoint
        .clone()
        .expect("saved at the epoch end");
    assert_eq!(
        record.best_checkpoint.as_ref().map(|b| b.file.as_str()),
        Some(last.as_str()),
        "the epoch end's checkpoint holds the tested weights"
    );
    let parent_files = files_of(&parent_dir);

    // The branch: the current config (another learning rate, one more epoch).
    let mut branch_config = config.clone();
    branch_config.training.learning_rate = 0.02;
    branch_config.training.epochs = 2.0;
    let checkpoint_path = parent_dir.join("checkpoints").join(&last);
    let (path, checkpoint) =
        session::load_resume(&checkpoint_path.display().to_string(), &branch_config, true)
            .expect("a branch of a compatible checkpoint");
    let parent_step = checkpoint.meta.step;
    let mut branch = worker::spawn(WorkerOptions {
        config: branch_config.clone(),
        resume: Some((path, checkpoint)),
        autostart: true,
        locations: None,
        branch: true,
    });
    let (branch_id, branch_dir, parent) = opened(&mut branch);
    let parent = parent.expect("a branch names its parent");
    assert_ne!(branch_id, parent_id);
    assert_eq!(branch_dir, runs.path().join(&branch_id));
    assert_eq!(parent.run_id, parent_id);
    assert_eq!(parent.step, parent_step);
    assert_eq!(parent.position, 1.0);
    until(&mut branch, 5 * MINUTE, |e| {
        matches!(
            e,
            Event::Finished {
                reason: FinishReason::Completed
            }
        )
    });
    branch.thread.join().expect("worker ends");

    // The parent's folder is untouched: the same files, sizes and times.
    assert_eq!(files_of(&parent_dir), parent_files);

    let record = RunRecord::read(&branch_dir)
        .expect("readable")
        .expect("run.json");
    assert_eq!(
        record.parent.as_ref().map(|p| p.run_id.as_str()),
        Some(parent_id.as_str())
    );
    assert_eq!(record.config.training.learning_rate, 0.02);
    assert_eq!(
        record.ended.as_ref().map(|e| e.reason),
        Some(EndReason::Completed)
    );
    assert_eq!(record.sessions[0].step, parent_step);
    assert!(record.progress.step > parent_step);
    // The branch's own throughput: only the images it trained itself.
    assert_eq!(record.progress.images, 640);

    // The branch's curves are continuous: its metrics.csv starts with the parent's batches and
    // test, then goes on with its own.
    let parents = Metrics::read(&parent_dir.join("metrics.csv")).expect("parent metrics");
    let branchs = Metrics::read(&branch_dir.join("metrics.csv")).expect("branch metrics");
    assert_eq!(
        branchs.batches[..parents.batches.len()],
        parents.batches[..],
        "the history up to the branch point is the parent's"
    );
    assert!(branchs.batches.len() > parents.batches.len());
    let (_, accuracies) = branchs.test_curves();
    let positions: Vec<f64> = accuracies.iter().map(|(x, _)| *x).collect();
    assert_eq!(positions, [1.0, 2.0]);
    assert_eq!(accuracies[0].1, best.accuracy);
}

const CONFIG: &str = r#"
[data]
train_limit = 256
test_limit = 64

[model]
resize = 65

[training]
batch_size = 32
epochs = 1000
device = "cpu"
threads = 1
log_every = 1

[checkpoint]
dir = "runs"
interval_minutes = 0
keep = 2
"#;

fn binary() -> Process {
    Process::new(env!("CARGO_BIN_EXE_alexnet-tui"))
}

fn wait_for<T>(what: &str, timeout: Duration, mut found: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(Instant::now() < deadline, "no {what} within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The state and training process of every run, as `runs --json` gives them.
fn run_states(dir: &Path) -> Vec<(String, Option<u64>)> {
    let output = binary()
        .args(["runs", "--json"])
        .current_dir(dir)
        .output()
        .expect("runs --json");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).expect("JSON");
    runs.iter()
        .map(|run| {
            (
                run["state"].as_str().unwrap_or_default().to_string(),
                run["pid"].as_u64(),
            )
        })
        .collect()
}

#[test]
fn one_process_trains_a_run_and_a_killed_ones_lock_is_taken_over() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("config.toml"), CONFIG).expect("write config");
    let mut trainer = binary()
        .args(["train", "--headless", "--config", "config.toml"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start training");
    let runs = dir.path().join("runs");
    let run_dir = wait_for("run folder", 2 * MINUTE, || {
        std::fs::read_dir(&runs)
            .ok()?
            .next()?
            .ok()
            .map(|e| e.path())
    });
    let checkpoint = wait_for("checkpoint", 2 * MINUTE, || {
        checkpoint::list(&run_dir.join("checkpoints")).pop()
    });
    assert!(
        matches!(lock::state(&run_dir), LockState::Held(owner) if owner.pid == trainer.id()),
        "the training process holds the lock"
    );
    let listed = run_states(dir.path());
    assert_eq!(
        listed,
        [("running".to_string(), Some(u64::from(trainer.id())))]
    );

    // A second process may not train into the same folder...
    let output = binary()
        .args(["train", "--headless", "--config", "config.toml", "--resume"])
        .arg(&checkpoint)
        .current_dir(dir.path())
        .output()
        .expect("second process");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("process {} is training run", trainer.id())),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // ...and `--resume latest` does not pick a checkpoint of a run being trained.
    let output = binary()
        .args([
            "train",
            "--headless",
            "--config",
            "config.toml",
            "--resume",
            "latest",
        ])
        .current_dir(dir.path())
        .output()
        .expect("latest");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no checkpoint found"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // kill -9: no chance to end the record or remove the lock.
    let pid = trainer.id();
    trainer.kill().expect("SIGKILL");
    trainer.wait().expect("reaped");
    assert!(matches!(lock::state(&run_dir), LockState::Stale(owner) if owner.pid == pid));
    let record = RunRecord::read(&run_dir)
        .expect("readable")
        .expect("run.json");
    assert!(record.ended.is_none(), "a killed run has no end record");
    assert_eq!(run_states(dir.path()), [("crashed".to_string(), None)]);

    // The stale lock is taken over: the run resumes in its folder and ends normally.
    let newest = checkpoint::list(&run_dir.join("checkpoints"))
        .pop()
        .expect("a checkpoint");
    let epoch = Checkpoint::read(&newest).expect("readable").meta.epoch;
    let short = CONFIG.replace("epochs = 1000", &format!("epochs = {}", epoch + 1));
    std::fs::write(dir.path().join("config.toml"), short).expect("write config");
    let output = binary()
        .args([
            "train",
            "--headless",
            "--config",
            "config.toml",
            "--resume",
            "latest",
        ])
        .current_dir(dir.path())
        .output()
        .expect("resume");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(lock::state(&run_dir), LockState::Free);
    assert_eq!(run_states(dir.path()), [("finished".to_string(), None)]);
    let record = RunRecord::read(&run_dir)
        .expect("readable")
        .expect("run.json");
    assert_eq!(
        record.ended.as_ref().map(|e| e.reason),
        Some(EndReason::Completed)
    );
    assert_eq!(record.sessions.len(), 2, "the first start and the resume");
    assert_eq!(
        record.sessions[1].resumed_from.as_deref(),
        Some(newest.strip_prefix(dir.path()).unwrap_or(&newest))
    );
    // The live change made for the resume (training.epochs) is recorded at the resume's step.
    let change = record
        .changes
        .iter()
        .find(|c| c.key == "training.epochs")
        .expect("epochs changed on resume");
    assert_eq!(change.step, record.sessions[1].step);
}
