//! The fault-injection suite: nothing a user trained is lost to a kill -9, a full disk, a second
//! process, foreign files or a resume from an older checkpoint. Each scenario runs the built
//! binary on tiny real runs (65x65 inputs, a few hundred images, real checkpoints, real
//! processes), injects its fault, and counts what happened in a [`Row`]; the suite prints the
//! table and fails on any row that did not hold. SIGTERM, SIGHUP and nohup, headless and in the
//! dashboard, are in `faults/signals.rs`.
//!
//! Races are forced, not left to luck: the binary has named fail points (tikv's `fail` crate,
//! set through the FAILPOINTS environment variable) that hold a process at the step a race
//! would split, so two processes meet there every time.
//!
//! `cargo test --release --test faults` runs the CI part (about three minutes on two cores);
//! `cargo test --release --test faults -- --ignored --nocapture` runs the soak (more kills at
//! random moments, more rounds of racing processes).

#[path = "faults/support.rs"]
mod support;

#[path = "faults/signals.rs"]
mod signals;

#[allow(dead_code)] // the suite uses its tmpfs and the skip rule only
#[path = "common/skip.rs"]
mod skip;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alexnet_tui::train::checkpoint::{self, Checkpoint};
use alexnet_tui::train::record::EndReason;
use rand::{Rng, SeedableRng};
use support::{
    Place, Row, checkpoints, corrupted, end_reason, finish, newest_saved_step, print_table,
    tiny_config, wait_for,
};

const MINUTE: Duration = Duration::from_secs(60);

/// How hard the scenarios push: the CI part, or the soak.
#[derive(Debug, Clone, Copy)]
struct Scale {
    kills: usize,
    race_rounds: usize,
    racers: usize,
    seed: u64,
}

const CI: Scale = Scale {
    kills: 4,
    race_rounds: 1,
    racers: 2,
    seed: 2026,
};

const SOAK: Scale = Scale {
    kills: 19,
    race_rounds: 10,
    racers: 4,
    seed: 7,
};

#[test]
fn every_fault_is_survived() {
    suite("fault-injection suite (CI)", CI);
}

#[test]
#[ignore = "the soak: about 16 minutes; run with --ignored --nocapture"]
fn every_fault_is_survived_many_times() {
    suite("fault-injection soak", SOAK);
}

fn suite(title: &str, scale: Scale) {
    let started = Instant::now();
    let mut rows = vec![
        kill_nine(scale),
        racing_resumers(scale),
        racing_new_runs(scale),
        older_checkpoint(),
        record_lost(),
        opened_resume_is_held(),
        foreign_files(),
        disk_full(),
    ];
    rows.extend(signals::rows());
    print_table(title, &rows, started.elapsed());
    let failed: Vec<&str> = rows
        .iter()
        .filter(|row| !row.ok())
        .map(|r| r.fault)
        .collect();
    assert!(
        failed.is_empty(),
        "faults not survived: {failed:?} (see the table)"
    );
}

/// Every file under `dir` with its length and modification time.
fn files_of(dir: &Path) -> Vec<(PathBuf, u64, std::time::SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path);
            } else {
                out.push((path, meta.len(), meta.modified().expect("mtime")));
            }
        }
    }
    out.sort();
    out
}

/// The last step announced on a `--json` stream before `limit` lines were read, and when the
/// newest checkpoint was announced.
#[derive(Debug, Default, Clone)]
struct Stream {
    /// Steps trained (the last batch event's step + 1).
    trained: u64,
    /// The step of the newest checkpoint the process said it saved, and when.
    saved: Option<(u64, Instant)>,
}

/// Reads a child's `--json` stdout on a thread, keeping the [`Stream`] figures current.
fn watch_stream(
    child: &mut std::process::Child,
    place: &Place,
) -> std::sync::Arc<std::sync::Mutex<Stream>> {
    let base = place.path().to_path_buf();
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("piped stdout");
    let state = std::sync::Arc::new(std::sync::Mutex::new(Stream::default()));
    let shared = state.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let mut stream = shared.lock().expect("stream");
            match value["event"].as_str() {
                Some("batch") => {
                    stream.trained = value["step"].as_u64().unwrap_or(0) + 1;
                }
                Some("checkpointed") => {
                    let path = value["path"].as_str().unwrap_or_default();
                    // Relative to the process's folder, as the config names it.
                    if let Ok(checkpoint) = Checkpoint::read(&base.join(path)) {
                        stream.saved = Some((checkpoint.meta.step, Instant::now()));
                    }
                }
                _ => {}
            }
        }
    });
    state
}

/// The columns of metrics.csv that do not measure time: what an interrupted run must repeat
/// exactly.
fn untimed_metrics(run: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).expect("metrics.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let timed = ["images_per_second", "batch_seconds", "elapsed_seconds"];
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !timed.contains(&header[i]))
        .collect();
    lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            keep.iter()
                .map(|&i| cells.get(i).copied().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

/// The weights of the newest checkpoint of a run, tensor by tensor, as the bits of each value
/// (the record's bytes also hold burn's parameter ids, which every process draws anew).
fn final_weights(run: &Path) -> Vec<(String, Vec<u32>)> {
    let newest = checkpoints(run).pop().expect("a checkpoint");
    let checkpoint = Checkpoint::read(&newest).expect("readable");
    let device = alexnet_tui::train::runtime::cpu();
    let model = alexnet_tui::session::restore_model(&checkpoint, &newest, &device)
        .expect("the checkpoint's model");
    model
        .torch_named_tensors()
        .into_iter()
        .map(|(name, _, values)| (name, values.iter().map(|v| v.to_bits()).collect()))
        .collect()
}

/// A checkpoint every 2 s of training (and at every epoch end); a write takes about a second.
const INTERVAL_SECONDS: f64 = 2.0;

fn kill_config(epochs: f64) -> String {
    tiny_config(epochs, 2).replace(
        "interval_minutes = 0",
        &format!("interval_minutes = {}", INTERVAL_SECONDS / 60.0),
    )
}

/// kill -9 at seeded moments of a run (one of them inside a checkpoint write), each followed by
/// `--resume latest`: the finished run equals an uninterrupted one.
fn kill_nine(scale: Scale) -> Row {
    let epochs = 3.0 + scale.kills as f64;
    let mut row = Row::new(
        "kill -9",
        format!(
            "{} seeded moments of a run, one inside a checkpoint write; --resume latest each time",
            scale.kills + 1
        ),
        "final weights and metrics.csv (less timing columns) equal an uninterrupted run's; no checkpoint unreadable; at most one checkpoint interval lost",
    );
    let config = kill_config(epochs);

    // The uninterrupted run.
    let (_reference, reference_run) = finished_run(&config);
    let reference_weights = final_weights(&reference_run);
    let reference_metrics = untimed_metrics(&reference_run);

    let place = Place::new(&config);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(scale.seed);
    // Which kill is the one inside a checkpoint write.
    let in_write = rng.random_range(0..=scale.kills);
    for kill in 0..=scale.kills {
        let mut args = vec!["--json"];
        if kill > 0 {
            args.extend(["--resume", "latest"]);
        }
        let mut command = place.command(&[&["train", "--headless"][..], &args].concat());
        if kill == in_write {
            // Its first save goes through (a resume needs one), the next is held.
            command.env("FAILPOINTS", "checkpoint-write=1*off->sleep(20000)");
        }
        let mut child = command.spawn().expect("start");
        let stream = watch_stream(&mut child, &place);
        let started_at = stream.lock().expect("stream").trained;
        let mut problems = Vec::new();
        let killed_in_write = if kill == in_write {
            // Held inside its second checkpoint write: a checkpoint is there, and a temporary
            // file that stays (the first write's own temporary lives a moment only).
            let mut seen: Option<(std::ffi::OsString, Instant)> = None;
            wait_for("a checkpoint write held", MINUTE, || {
                let run = place.run_dirs().into_iter().next()?;
                if checkpoints(&run).is_empty() {
                    return None;
                }
                let dir = run.join(checkpoint::CHECKPOINTS_DIR);
                let temporary = std::fs::read_dir(dir)
                    .ok()?
                    .flatten()
                    .map(|entry| entry.file_name())
                    .find(|name| name.to_string_lossy().starts_with('.'));
                match (temporary, &seen) {
                    (Some(name), Some((held, since))) if name == *held => {
                        (since.elapsed() > Duration::from_millis(1500)).then_some(())
                    }
                    (Some(name), _) => {
                        seen = Some((name, Instant::now()));
                        None
                    }
                    (None, _) => None,
                }
            });
            true
        } else {
            let batches = rng.random_range(1..=4u64);
            if kill == 0 {
                // A run killed before its first checkpoint has nothing to resume.
                wait_for("a first checkpoint", MINUTE, || {
                    stream.lock().expect("stream").saved.map(|_| ())
                });
            }
            let started_at = stream.lock().expect("stream").trained.max(started_at);
            let ended = wait_for("batches to train", MINUTE, || {
                if let Ok(Some(status)) = child.try_wait() {
                    return Some(Some(status));
                }
                let stream = stream.lock().expect("stream");
                (stream.trained >= started_at + batches && stream.trained > 0).then_some(None)
            });
            if let Some(status) = ended {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                row.injected(
                    vec![format!(
                        "session {kill} ended by itself ({status}): {}",
                        stderr.trim()
                    )],
                    0,
                    0,
                );
                break;
            }
            false
        };
        let at_kill = stream.lock().expect("stream").clone();
        let _ = child.kill();
        let _ = child.wait();
        let run = place.only_run();
        let broken = corrupted(&run);
        let saved = newest_saved_step(&run);
        let lost = at_kill.trained.saturating_sub(saved);
        match at_kill.saved {
            Some((step, _)) if step > saved => problems.push(format!(
                "kill {kill}: checkpoint of step {step} was announced, the newest on disk is step {saved}"
            )),
            Some((_, when)) if !killed_in_write => {
                // The interval, one batch and a checkpoint write of slack.
                let since = when.elapsed().as_secs_f64();
                if since > INTERVAL_SECONDS + 3.0 {
                    problems.push(format!(
                        "kill {kill}: {since:.1} s since the last checkpoint (interval {INTERVAL_SECONDS} s)"
                    ));
                }
            }
            _ => {}
        }
        if !broken.is_empty() {
            problems.push(format!("kill {kill}: unreadable checkpoints {broken:?}"));
        }
        row.injected(problems, lost, broken.len());
    }
    // The last resume runs to the end.
    let (status, _, stderr) = finish(place.headless(&["--resume", "latest"]), 5 * MINUTE);
    let run = place.only_run();
    let mut problems = Vec::new();
    if !status.success() {
        problems.push(format!("the last resume failed: {stderr}"));
    } else {
        let weights = final_weights(&run);
        let differing: Vec<&str> = weights
            .iter()
            .zip(&reference_weights)
            .filter(|(ours, theirs)| ours != theirs)
            .map(|((name, _), _)| name.as_str())
            .collect();
        if !differing.is_empty() || weights.len() != reference_weights.len() {
            problems.push(format!(
                "final weights differ from the uninterrupted run's in {differing:?}"
            ));
        }
        let metrics = untimed_metrics(&run);
        if metrics != reference_metrics {
            let first = metrics
                .iter()
                .zip(&reference_metrics)
                .position(|(a, b)| a != b)
                .unwrap_or(metrics.len().min(reference_metrics.len()));
            problems.push(format!(
                "metrics.csv differs from the uninterrupted run's from row {first}: {:?} vs {:?}",
                metrics.get(first),
                reference_metrics.get(first)
            ));
        }
    }
    if end_reason(&run) != Some(EndReason::Completed) {
        problems.push(format!("run.json ends as {:?}", end_reason(&run)));
    }
    row.problems.extend(problems);
    if !row.problems.is_empty() {
        row.survived = 0;
    }
    row
}

/// A run of `config` trained to its end in a place of its own, and its folder.
fn finished_run(config: &str) -> (Place, PathBuf) {
    let place = Place::new(config);
    let (status, _, stderr) = finish(place.headless(&[]), 5 * MINUTE);
    assert!(status.success(), "the run failed: {stderr}");
    let run = place.only_run();
    (place, run)
}

/// A crashed run (its owner killed): what `--resume latest` finds.
fn crashed_run(place: &Place) -> PathBuf {
    let mut child = place.headless(&["--json"]);
    let stream = watch_stream(&mut child, place);
    wait_for("a checkpoint", MINUTE, || {
        stream.lock().expect("stream").saved.map(|_| ())
    });
    let _ = child.kill();
    let _ = child.wait();
    place.only_run()
}

/// Processes that `--resume latest` the same crashed run at once, all held by a fail point
/// just before taking the run's lock: exactly one trains, the others are refused in one line.
fn racing_resumers(scale: Scale) -> Row {
    let mut row = Row::new(
        "racing resumers",
        format!(
            "{} processes --resume latest on one crashed run, held together before the lock ({} rounds)",
            scale.racers, scale.race_rounds
        ),
        "exactly one trains; the others refused in one line",
    );
    for round in 0..scale.race_rounds {
        let place = Place::new(&kill_config(1000.0));
        let run = crashed_run(&place);
        // The winner trains one more epoch and ends.
        let saved = newest_saved_step(&run);
        let epochs = (saved / 8 + 2) as f64;
        std::fs::write(place.path().join("config.toml"), kill_config(epochs)).expect("config");
        let children: Vec<_> = (0..scale.racers)
            .map(|_| {
                place
                    .command(&["train", "--headless", "--resume", "latest"])
                    .env("FAILPOINTS", "lock-takeover=sleep(1500)")
                    .spawn()
                    .expect("start")
            })
            .collect();
        let results: Vec<_> = children
            .into_iter()
            .map(|child| finish(child, 5 * MINUTE))
            .collect();
        let trained = results
            .iter()
            .filter(|(status, _, _)| status.success())
            .count();
        let refused: Vec<&String> = results
            .iter()
            .filter(|(status, _, _)| status.code() == Some(2))
            .map(|(_, _, stderr)| stderr)
            .collect();
        let mut problems = Vec::new();
        if trained != 1 || refused.len() != scale.racers - 1 {
            problems.push(format!(
                "round {round}: {trained} trained, {} refused; exit statuses {:?}; stderr {:?}",
                refused.len(),
                results.iter().map(|r| r.0.code()).collect::<Vec<_>>(),
                results.iter().map(|r| r.2.as_str()).collect::<Vec<_>>()
            ));
        }
        for stderr in refused {
            let lines: Vec<&str> = stderr.lines().collect();
            if lines.len() != 1 || !lines[0].contains("process") {
                problems.push(format!(
                    "round {round}: the refusal is not one line: {stderr:?}"
                ));
            }
        }
        let sessions = support::record(&run).sessions.len();
        if sessions != 2 {
            problems.push(format!(
                "round {round}: run.json has {sessions} sessions, not 2"
            ));
        }
        let broken = corrupted(&run);
        row.injected(problems, 0, broken.len());
    }
    row
}

/// Processes that create a new run at the same moment, given the same run id and held by a fail
/// point between choosing the folder's name and making it: as many folders as processes.
fn racing_new_runs(scale: Scale) -> Row {
    let mut row = Row::new(
        "racing new runs",
        format!(
            "{} processes creating a run in the same second, held before making the folder ({} rounds)",
            scale.racers, scale.race_rounds
        ),
        "one folder and one finished run each",
    );
    for round in 0..scale.race_rounds {
        let place = Place::new(&tiny_config(1.0, 1));
        let children: Vec<_> = (0..scale.racers)
            .map(|_| {
                place
                    .command(&["train", "--headless"])
                    .env(
                        "FAILPOINTS",
                        "run-id=return(20261207-120000);run-dir-create=sleep(1000)",
                    )
                    .spawn()
                    .expect("start")
            })
            .collect();
        let results: Vec<_> = children
            .into_iter()
            .map(|child| finish(child, 5 * MINUTE))
            .collect();
        let mut problems = Vec::new();
        for (status, _, stderr) in &results {
            if !status.success() {
                problems.push(format!("round {round}: a run failed ({status}): {stderr}"));
            }
        }
        let runs = place.run_dirs();
        if runs.len() != scale.racers {
            problems.push(format!(
                "round {round}: {} run folders: {runs:?}",
                runs.len()
            ));
        }
        let finished = runs
            .iter()
            .filter(|run| end_reason(run) == Some(EndReason::Completed))
            .count();
        if finished != scale.racers {
            problems.push(format!("round {round}: {finished} runs finished"));
        }
        let broken: usize = runs.iter().map(|run| corrupted(run).len()).sum();
        row.injected(problems, 0, broken);
    }
    row
}

/// `--resume` of a checkpoint that is not its run's newest: refused, the later files untouched.
fn older_checkpoint() -> Row {
    let row = Row::new(
        "older checkpoint",
        "--resume of a run's first of three checkpoints, with fewer epochs and keep_at_end = 1",
        "later files untouched; exit 2 naming the newest checkpoint",
    );
    let (place, run) = finished_run(&tiny_config(3.0, 3));
    let saved = checkpoints(&run);
    assert_eq!(saved.len(), 3, "{saved:?}");
    let before = files_of(&run);
    std::fs::write(
        place.path().join("config.toml"),
        tiny_config(2.0, 1).replace("batch_size = 32", "batch_size = 32\nlearning_rate = 0.01"),
    )
    .expect("config");
    let first = saved[0].display().to_string();
    let (status, _, stderr) = finish(place.headless(&["--resume", &first]), 5 * MINUTE);
    let mut problems = Vec::new();
    if status.code() != Some(2) {
        problems.push(format!("exit {status}, not 2"));
    }
    let newest = saved[2]
        .file_name()
        .expect("name")
        .to_string_lossy()
        .to_string();
    let lines: Vec<&str> = stderr.lines().collect();
    if lines.len() != 1 || !lines[0].contains(&newest) || !lines[0].contains("--branch") {
        problems.push(format!(
            "not one line naming {newest} and --branch: {stderr:?}"
        ));
    }
    if files_of(&run) != before {
        problems.push("the run's files changed".to_string());
    }
    row.once(problems, &run)
}

/// A run whose run.json is gone (as every run of an earlier version), resumed and ended with
/// `keep_at_end = 1`: the checkpoint with the best test accuracy, known only from its own
/// metadata, is kept.
fn record_lost() -> Row {
    let row = Row::new(
        "run.json lost",
        "run.json deleted, the run resumed and ended with keep_at_end = 1",
        "the best checkpoint by test accuracy kept, whoever recorded it",
    );
    let (place, run) = finished_run(&tiny_config(3.0, 10));
    let saved = checkpoints(&run);
    assert_eq!(saved.len(), 3, "{saved:?}");
    // The first epoch's weights, made the best by far.
    let mut best = Checkpoint::read(&saved[0]).expect("readable");
    best.meta.test_accuracy = Some(0.99);
    best.write(&saved[0]).expect("rewrite");
    std::fs::remove_file(run.join("run.json")).expect("remove run.json");
    std::fs::write(place.path().join("config.toml"), tiny_config(4.0, 1)).expect("config");
    let newest = saved[2].display().to_string();
    let (status, _, stderr) = finish(place.headless(&["--resume", &newest]), 5 * MINUTE);
    let mut problems = Vec::new();
    if !status.success() {
        problems.push(format!("the resume failed: {stderr}"));
    }
    if !saved[0].is_file() {
        problems.push(format!(
            "the best checkpoint {} was deleted; left: {:?}",
            saved[0].display(),
            checkpoints(&run)
        ));
    }
    row.once(problems, &run)
}

/// A run opened for resuming (waiting to start, as a dashboard in Ready): `runs clean` of it
/// deletes nothing, and `runs` says it is opened.
fn opened_resume_is_held() -> Row {
    use alexnet_tui::session::{ConfigArgs, TrainArgs};
    use alexnet_tui::train::Event;
    use alexnet_tui::train::worker::{self, WorkerOptions};

    let row = Row::new(
        "clean during a resume",
        "runs clean --yes of a run opened for resuming, before it starts training",
        "nothing of the run deleted; runs says it is opened",
    );
    let (place, run) = finished_run(&tiny_config(1.0, 3));
    let run_id = run.file_name().expect("id").to_string_lossy().to_string();
    // Absolute paths: this process does not run in the place's folder.
    let runs = place.runs().display().to_string();
    std::fs::write(
        place.path().join("config.toml"),
        tiny_config(2.0, 3).replace("dir = \"runs\"", &format!("dir = {runs:?}")),
    )
    .expect("config");
    let newest = checkpoints(&run).pop().expect("a checkpoint");
    let args = TrainArgs {
        config: ConfigArgs {
            config: place.path().join("config.toml"),
            profile: None,
        },
        resume: Some(newest.display().to_string()),
        ..TrainArgs::default()
    };
    let prepared = alexnet_tui::session::prepare(&args).expect("prepared");
    let mut handle = worker::spawn(WorkerOptions {
        config: prepared.config.clone(),
        resume: prepared.resume.clone(),
        autostart: false,
        locations: None,
        branch: false,
    });
    wait_for("the worker to be ready", MINUTE, || {
        match handle.events.try_recv() {
            Ok(Event::Ready(_)) => Some(()),
            Ok(Event::Failed { message }) => panic!("{message}"),
            _ => None,
        }
    });
    let before = files_of(&run);
    let output = place
        .command(&["runs", "clean", &run_id, "--yes", "--dir", &runs])
        .output()
        .expect("runs clean");
    let listed = place
        .command(&["runs", "--json", "--dir", &runs])
        .output()
        .expect("runs");
    let mut problems = Vec::new();
    if !newest.is_file() || checkpoints(&run).is_empty() {
        problems.push(format!(
            "runs clean deleted the opened run's checkpoints: {}",
            String::from_utf8_lossy(&output.stdout)
        ));
    }
    let json: serde_json::Value =
        serde_json::from_slice(&listed.stdout).unwrap_or(serde_json::Value::Null);
    let state = json[0]["state"].as_str().unwrap_or_default().to_string();
    if state != "opened" {
        problems.push(format!("runs says {state:?}, not \"opened\""));
    }
    let _ = handle.commands.send(alexnet_tui::train::Command::Stop);
    let _ = handle.thread.join();
    drop(prepared);
    if files_of(&run).len() < before.len() {
        problems.push("files of the opened run went missing".to_string());
    }
    row.once(problems, &run)
}

/// A Lightning-style folder and a linked run folder under the runs folder, and a foreign `.ckpt`
/// inside a run's own checkpoints: none of them counted, deleted or resumed.
fn foreign_files() -> Row {
    let mut row = Row::new(
        "foreign files",
        "a Lightning-style version_0/, a foreign .ckpt among a run's checkpoints, a linked run folder",
        "nothing of theirs counted, deleted or resumed",
    );
    // A run of ours elsewhere, linked in; made first, so it is the oldest.
    let (_elsewhere, linked_target) = finished_run(&tiny_config(1.0, 3));
    let linked_files = files_of(&linked_target);

    let (place, ours) = finished_run(&tiny_config(1.0, 3));
    let runs = place.runs();
    let lightning = runs.join("version_0");
    std::fs::create_dir_all(lightning.join("checkpoints")).expect("mkdir");
    let lightning_ckpt = lightning.join("checkpoints").join("epoch=0-step=10.ckpt");
    std::fs::write(
        &lightning_ckpt,
        b"PK\x03\x04 a PyTorch Lightning checkpoint",
    )
    .expect("write");
    std::fs::write(
        lightning.join("metrics.csv"),
        "epoch,step,train_loss\n0,10,0.5\n",
    )
    .expect("write");
    std::fs::write(lightning.join("hparams.yaml"), "lr: 0.1\n").expect("write");
    // Newest of all: what a careless `latest` would pick.
    let stray = ours.join("checkpoints").join("lightning.ckpt");
    std::fs::write(&stray, b"PK\x03\x04 not ours").expect("write");
    std::os::unix::fs::symlink(&linked_target, runs.join("linked")).expect("symlink");

    let mut problems = Vec::new();
    let listed = place.command(&["runs", "--json"]).output().expect("runs");
    let json: serde_json::Value =
        serde_json::from_slice(&listed.stdout).unwrap_or(serde_json::Value::Null);
    let entries = json.as_array().cloned().unwrap_or_default();
    let ids: Vec<&str> = entries
        .iter()
        .filter_map(|run| run["id"].as_str())
        .collect();
    if ids.contains(&"version_0") {
        problems.push(format!("runs lists version_0: {ids:?}"));
    }
    if !ids.contains(&"linked") {
        problems.push(format!("runs does not list the linked run: {ids:?}"));
    }
    let our_id = ours.file_name().expect("id").to_string_lossy().to_string();
    let counted = entries
        .iter()
        .find(|run| run["id"] == our_id.as_str())
        .and_then(|run| run["checkpoints"].as_u64());
    if counted != Some(1) {
        problems.push(format!("our run counts {counted:?} checkpoints, not 1"));
    }
    // Resume ours, for one more epoch; it ends with thinning to one checkpoint.
    std::fs::write(place.path().join("config.toml"), tiny_config(2.0, 1)).expect("config");
    let (status, _, stderr) = finish(place.headless(&["--resume", "latest"]), 5 * MINUTE);
    if !status.success() {
        problems.push(format!("--resume latest failed: {}", stderr.trim()));
    }
    let cleaned = place
        .command(&["runs", "clean", "--yes"])
        .output()
        .expect("runs clean");
    for (what, path) in [("version_0's", &lightning_ckpt), ("the stray", &stray)] {
        if !path.is_file() {
            problems.push(format!("{what} .ckpt was deleted"));
        }
    }
    if files_of(&linked_target) != linked_files {
        problems.push(format!(
            "the linked run's files changed: {}",
            String::from_utf8_lossy(&cleaned.stdout)
        ));
    }
    let broken = corrupted(&ours)
        .into_iter()
        .filter(|path| path != &stray)
        .count();
    row.injected(problems, 0, broken);
    row
}

/// A disk that fills at a save (a small tmpfs, partly taken by another file, so that pruning this
/// run's own checkpoints cannot make room): the run ends loudly, naming the newest checkpoint it
/// kept, and nothing it saved is damaged or deleted.
fn disk_full() -> Row {
    let mut row = Row::new(
        "disk full",
        "a tmpfs with room for 1.5 checkpoints besides another file; a save at the second epoch end",
        "no checkpoint corrupt; exit 1 naming the newest kept checkpoint; nothing the keep rule spares deleted",
    );
    // One checkpoint's size, measured on a one-epoch run.
    let (_probe, probe_run) = finished_run(&tiny_config(1.0, 1));
    let size = checkpoints(&probe_run)
        .first()
        .and_then(|path| std::fs::metadata(path).ok())
        .map(|meta| meta.len())
        .expect("a checkpoint");
    let disk = match skip::Tmpfs::mount(&format!("size={}", size * 5 / 2)) {
        Ok(disk) => disk,
        Err(why) => {
            skip::skip("disk full", &why);
            row.skipped = Some(why);
            return row;
        }
    };
    std::fs::write(
        disk.path().join("someone-elses-file"),
        vec![0u8; size as usize],
    )
    .expect("filler");
    let runs = disk.path().join("runs").display().to_string();
    let place =
        Place::new(&tiny_config(3.0, 2).replace("dir = \"runs\"", &format!("dir = {runs:?}")));
    let (status, _, stderr) = finish(place.headless(&[]), 5 * MINUTE);
    let run = std::fs::read_dir(disk.path().join("runs"))
        .expect("runs folder")
        .flatten()
        .map(|entry| entry.path())
        .next()
        .expect("a run folder");
    let kept = checkpoints(&run);
    let mut problems = Vec::new();
    if status.code() != Some(1) {
        problems.push(format!("exit {status}, not 1"));
    }
    let last = stderr.lines().last().unwrap_or_default();
    let newest = kept
        .last()
        .and_then(|path| path.file_name())
        .map(|name| name.to_string_lossy().to_string());
    match &newest {
        Some(name) if last.contains(name.as_str()) => {}
        _ => problems.push(format!(
            "the last line does not name the kept checkpoint {newest:?}: {last:?}"
        )),
    }
    if kept.len() != 1 {
        problems.push(format!(
            "{} checkpoints kept, not the first epoch's: {kept:?}",
            kept.len()
        ));
    }
    let lost = support::record(&run)
        .progress
        .step
        .saturating_sub(newest_saved_step(&run));
    let broken = corrupted(&run);
    row.injected(problems, lost, broken.len());
    row
}
