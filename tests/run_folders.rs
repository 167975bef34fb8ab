//! The run folders of tests/common/runs.rs read through the library: how `runs` summarizes,
//! lists and resolves them, what `runs clean` plans and removes, and how `compare` lines runs up.
//! tests/runs.rs runs the same folders through the binary.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use alexnet_tui::config::{Change, Config};
use alexnet_tui::curves::{Metrics, TestRow};
use alexnet_tui::runs::clean_plan::{execute, plan};
use alexnet_tui::runs::side_by_side::compare;
use alexnet_tui::runs::{RunState, RunsError, list, resolve, summarize};
use alexnet_tui::train::lock::{self, Phase};
use alexnet_tui::train::metrics::{METRICS_FILE, MetricsRow};
use alexnet_tui::train::record::{EndReason, Parent, RECORD_FILE};

mod common;
use common::runs::{CKPT_BYTES, legacy, mark, metrics_csv, recorded};

/// Two epochs, tested at 1.0 (0.80), 1.5 (0.86) and 2.0 (0.85).
fn metrics_tested() -> String {
    metrics_csv(&[(1.0, 0.80), (1.5, 0.86), (2.0, 0.85)])
}

#[test]
fn states_come_from_the_record_and_the_lock_and_legacy_runs_never_crash() {
    let root = tempfile::tempdir().expect("tempdir");
    let finished = recorded(root.path(), "20261202-100000", &[], |record| {
        record.end(EndReason::Completed, None);
    });
    let stopped = recorded(root.path(), "20261202-100001", &[], |record| {
        record.end(EndReason::Stopped, None);
    });
    let failed = recorded(root.path(), "20261202-100002", &[], |record| {
        record.end(EndReason::Failed, Some("disk full".into()));
    });
    let crashed = recorded(root.path(), "20261202-100003", &[], |_| {});
    let running = recorded(root.path(), "20261202-100004", &[], |_| {});
    let _lock = lock::acquire(&running, Phase::Training).expect("lock");
    let old = legacy(root.path(), "20261101-090000", &metrics_tested());

    assert_eq!(summarize(&finished).state, RunState::Finished);
    assert_eq!(summarize(&stopped).state, RunState::Stopped);
    let failed = summarize(&failed);
    assert_eq!(failed.state, RunState::Failed);
    assert_eq!(failed.end_message.as_deref(), Some("disk full"));
    assert_eq!(summarize(&crashed).state, RunState::Crashed);
    let running = summarize(&running);
    assert_eq!(running.state, RunState::Running);
    assert_eq!(running.pid, Some(std::process::id()));
    let old = summarize(&old);
    assert_eq!(old.state, RunState::Legacy, "{:?}", old.problem);
    assert_eq!(old.started.as_deref(), Some("2026-11-01T09:00:00Z"));

    // A dead process's lock does not make a run without an end running.
    std::fs::write(
        crashed_lock(root.path(), "20261202-100003"),
        r#"{"pid": 999999999, "process_started": 1}"#,
    )
    .expect("lock");
    assert_eq!(
        summarize(&root.path().join("20261202-100003")).state,
        RunState::Crashed
    );
}

fn crashed_lock(root: &Path, id: &str) -> PathBuf {
    root.join(id).join(lock::LOCK_FILE)
}

#[test]
fn a_recorded_run_is_summarized_from_its_record_alone() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = recorded(root.path(), "20261202-103551", &[], |record| {
        record.config.training.learning_rate = 0.1;
        record.progress.position = 2.0;
        record.progress.images = 60_000;
        record.progress.train_seconds = 100.0;
        record.note_test(mark(0.87, 1.5, 200.0), 0.88);
        record.note_test(mark(0.8812, 1.6, 230.0), 0.88);
        record.note_test(mark(0.88, 2.0, 300.0), 0.88);
        record.end(EndReason::TargetReached, None);
    });
    // Not a metrics.csv: a recorded run is listed without reading it.
    std::fs::write(dir.join(METRICS_FILE), "garbage").expect("write");
    let run = summarize(&dir);
    assert_eq!(run.state, RunState::Finished);
    assert_eq!(run.profile.as_deref(), Some("fast"));
    let keys: Vec<&str> = run.differs.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["training.learning_rate"]);
    assert_eq!(run.best.map(|b| b.position), Some(1.6));
    assert_eq!(run.final_test.map(|b| b.accuracy), Some(0.88));
    assert_eq!(run.target_reached.map(|b| b.position), Some(1.6));
    assert_eq!(run.images_per_second, Some(600.0));
    assert_eq!(run.checkpoints, 2);
    assert_eq!(run.checkpoint_bytes, 2 * CKPT_BYTES);
    assert!(run.disk_bytes > run.checkpoint_bytes);
}

#[test]
fn a_legacy_run_is_read_from_its_metrics_and_config() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = legacy(root.path(), "20261101-090000", &metrics_tested());
    let mut config = Config::default();
    config.training.learning_rate = 0.1;
    std::fs::write(
        dir.join("config.toml"),
        toml::to_string_pretty(&config).expect("toml"),
    )
    .expect("write");
    let run = summarize(&dir);
    assert_eq!(run.state, RunState::Legacy);
    assert_eq!(run.epochs_done, Some(2.0));
    assert_eq!(
        run.best.map(|b| (b.accuracy, b.position)),
        Some((0.86, 1.5))
    );
    assert_eq!(run.final_test.map(|b| b.position), Some(2.0));
    assert_eq!(run.target_reached, None, "0.88 never reached");
    // Two logged batches of 128 images, 0.2 s each.
    let speed = run.images_per_second.expect("throughput");
    assert!((speed - 640.0).abs() < 1e-9, "{speed}");
    assert_eq!(run.profile.as_deref(), Some("fast"));
    assert_eq!(run.differs.len(), 1);

    // A config.toml with only some keys is read over its profile, as a config file is.
    std::fs::write(
        dir.join("config.toml"),
        "profile = \"seed\"\n\n[training]\nepochs = 2.0\n",
    )
    .expect("write");
    let run = summarize(&dir);
    assert_eq!(run.profile.as_deref(), Some("seed"));
    let keys: Vec<&str> = run.differs.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(keys, ["training.epochs"]);
    assert_eq!(
        run.target_accuracy,
        Some(0.0),
        "the seed profile has no target"
    );
}

#[test]
fn a_damaged_metrics_file_is_a_damaged_run_and_hides_no_other() {
    let damaged = [
        (
            "truncated",
            format!(
                "{}\nbatch,1,1,469,0.0021,1,2.3",
                MetricsRow::COLUMNS.join(",")
            ),
        ),
        (
            "a column missing",
            metrics_tested().replace("test_accuracy,", ""),
        ),
        (
            "text in a number",
            metrics_tested().replace("0.8600", "eighty-six"),
        ),
    ];
    for (what, text) in damaged {
        let root = tempfile::tempdir().expect("tempdir");
        legacy(root.path(), "20261101-090000", &text);
        recorded(root.path(), "20261202-100000", &[], |_| {});
        legacy(root.path(), "20261001-090000", &metrics_tested());
        let runs = list(root.path()).expect("listed");
        let ids: Vec<&str> = runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            ["20261202-100000", "20261101-090000", "20261001-090000"],
            "{what}"
        );
        assert_eq!(runs[1].state, RunState::Damaged, "{what}");
        let problem = runs[1].problem.as_deref().unwrap_or_default();
        assert!(problem.contains("metrics.csv"), "{what}: {problem}");
        assert_eq!(runs[2].state, RunState::Legacy, "{what}");
    }
}

#[test]
fn a_damaged_record_is_a_damaged_run() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("20261202-100000");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join(RECORD_FILE), "{\"format\": 1, \"run_").expect("write");
    let run = summarize(&dir);
    assert_eq!(run.state, RunState::Damaged);
    assert!(
        run.problem
            .as_deref()
            .is_some_and(|p| p.contains("not a valid run record"))
    );
}

#[test]
fn folders_that_are_not_runs_are_left_out() {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(root.path().join("notes")).expect("mkdir");
    std::fs::write(root.path().join("README"), "hi").expect("write");
    legacy(root.path(), "20261101-090000", &metrics_tested());
    let runs = list(root.path()).expect("listed");
    assert_eq!(runs.len(), 1);
    assert!(matches!(
        list(&root.path().join("missing")),
        Err(RunsError::ReadRoot { .. })
    ));
}

#[test]
fn runs_are_named_by_id_folder_or_latest() {
    let root = tempfile::tempdir().expect("tempdir");
    let old = legacy(root.path(), "20261101-090000", &metrics_tested());
    let new = recorded(root.path(), "20261202-100000", &[], |_| {});
    std::fs::create_dir_all(root.path().join("notes")).expect("mkdir");
    assert_eq!(resolve(root.path(), "20261101-090000").expect("id"), old);
    assert_eq!(
        resolve(root.path(), &new.display().to_string()).expect("folder"),
        new
    );
    assert_eq!(resolve(root.path(), "latest").expect("latest"), new);
    let error = resolve(root.path(), "20261101-0900").expect_err("unknown");
    let message = error.to_string();
    assert!(error.is_usage());
    assert!(message.contains("no run \"20261101-0900\""), "{message}");
    assert!(message.contains("20261101-090000"), "{message}");
    assert!(message.contains("alexnet-tui runs"), "{message}");
    assert!(matches!(
        resolve(
            root.path(),
            &root.path().join("notes").display().to_string()
        ),
        Err(RunsError::NotARun(_))
    ));
    let empty = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        resolve(empty.path(), "latest"),
        Err(RunsError::NoRuns(_))
    ));
}

#[test]
fn a_hundred_runs_list_in_well_under_a_second() {
    let root = tempfile::tempdir().expect("tempdir");
    for index in 0..50 {
        recorded(
            root.path(),
            &format!("20261202-1000{index:02}"),
            &[],
            |_| {},
        );
        legacy(
            root.path(),
            &format!("20261101-1000{index:02}"),
            &metrics_tested(),
        );
    }
    let start = std::time::Instant::now();
    let runs = list(root.path()).expect("listed");
    assert_eq!(runs.len(), 100);
    assert!(
        start.elapsed() < std::time::Duration::from_millis(500),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn only_checkpoints_are_planned_and_a_running_run_is_skipped() {
    let root = tempfile::tempdir().expect("tempdir");
    let done = recorded(root.path(), "20261202-100000", &[], |record| {
        record.end(EndReason::Completed, None);
    });
    std::fs::write(done.join("curves.png"), "png").expect("write");
    std::fs::write(done.join("checkpoints").join("notes.txt"), "keep").expect("write");
    let running = recorded(root.path(), "20261202-110000", &[], |_| {});
    let _lock = lock::acquire(&running, Phase::Training).expect("lock");
    let runs = list(root.path()).expect("list");

    let plan = plan(&runs, true, None, SystemTime::now());
    assert_eq!(plan.files.len(), 2, "{plan:?}");
    for file in &plan.files {
        assert_eq!(file.run_id, "20261202-100000");
        assert_eq!(file.path.parent(), Some(done.join("checkpoints").as_path()));
        assert!(file.path.extension().is_some_and(|ext| ext == "ckpt"));
    }
    assert_eq!(plan.bytes(), 2 * CKPT_BYTES);
    assert_eq!(plan.skipped.len(), 1);
    assert_eq!(plan.skipped[0].run_id, "20261202-110000");
    assert!(plan.skipped[0].reason.starts_with("running (process "));

    let cleaned = execute(&plan);
    assert_eq!((cleaned.files, cleaned.bytes), (2, 2 * CKPT_BYTES));
    assert!(cleaned.failed.is_empty());
    for kept in ["run.json", "metrics.csv", "config.toml", "curves.png"] {
        assert!(done.join(kept).is_file(), "{kept} removed");
    }
    assert!(done.join("checkpoints").join("notes.txt").is_file());
    assert_eq!(summarize(&running).checkpoints, 2, "the running run kept");
    assert_eq!(summarize(&done).state, RunState::Finished);
}

#[test]
fn a_run_that_starts_after_the_plan_is_left_alone() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = recorded(root.path(), "20261202-100000", &[], |_| {});
    let runs = list(root.path()).expect("list");
    let plan = plan(&runs, true, None, SystemTime::now());
    assert_eq!(plan.files.len(), 2);
    let _lock = lock::acquire(&dir, Phase::Training).expect("lock");
    let cleaned = execute(&plan);
    assert_eq!(cleaned.files, 0);
    assert_eq!(cleaned.skipped.len(), 1);
    assert_eq!(summarize(&dir).checkpoints, 2);
}

#[test]
fn an_age_keeps_runs_written_since() {
    let root = tempfile::tempdir().expect("tempdir");
    recorded(root.path(), "20261202-100000", &[], |_| {});
    let runs = list(root.path()).expect("list");
    let day = Duration::from_secs(24 * 3600);
    let now = SystemTime::now();
    assert!(plan(&runs, false, Some(day), now).files.is_empty());
    let later = now + 2 * day;
    assert_eq!(plan(&runs, false, Some(day), later).files.len(), 2);
    // Not named: a run without checkpoints is no news.
    let empty = recorded(root.path(), "20261202-120000", &[], |_| {});
    std::fs::remove_dir_all(empty.join("checkpoints")).expect("rm");
    let runs = list(root.path()).expect("list");
    assert!(plan(&runs, false, None, now).skipped.is_empty());
    assert_eq!(plan(&runs, true, None, now).skipped.len(), 1);
}

fn tested(points: &[(f64, f64)]) -> Metrics {
    Metrics {
        tests: points
            .iter()
            .map(|&(position, test_accuracy)| TestRow {
                position,
                test_loss: 0.5,
                test_accuracy,
            })
            .collect(),
        ..Metrics::default()
    }
}

#[test]
fn accuracy_is_read_between_tests_and_settings_that_differ_are_listed() {
    let root = tempfile::tempdir().expect("tempdir");
    let a = recorded(root.path(), "20261202-100000", &[], |_| {});
    let b = recorded(root.path(), "20261202-110000", &[], |record| {
        record.config.training.learning_rate = 0.1;
        record.config.training.batch_size = 64;
        record.note_changes(
            &[Change {
                key: "training.learning_rate".into(),
                old: "0.1".into(),
                new: "0.02".into(),
            }],
            30,
            1.4,
        );
    });
    let runs = vec![
        (summarize(&a), tested(&[(1.5, 0.80), (2.0, 0.90)])),
        (
            summarize(&b),
            tested(&[(1.0, 0.70), (1.6, 0.82), (2.0, 0.86)]),
        ),
    ];
    let comparison = compare(&runs);
    let keys: Vec<&str> = comparison.settings.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["training.learning_rate", "training.batch_size"]);
    assert_eq!(
        comparison.settings[0].values,
        [
            Some("0.05".to_string()),
            Some("0.1 → 0.02@1.40".to_string())
        ]
    );
    assert_eq!(comparison.positions, [1.5, 1.6, 1.7, 1.8, 1.9, 2.0]);
    // a at 1.7: 0.80 + 0.2 * 0.10; b at 1.5: 0.70 + 5/6 * 0.12.
    let a_at = comparison.accuracy_at[2][0].expect("a at 1.7");
    assert!((a_at - 0.84).abs() < 1e-9, "{a_at}");
    let b_at = comparison.accuracy_at[0][1].expect("b at 1.5");
    assert!((b_at - 0.80).abs() < 1e-9, "{b_at}");
    assert_eq!(comparison.legend(0), "20261202-100000 (lr 0.05, batch 128)");
    assert_eq!(
        comparison.legend(1),
        "20261202-110000 (lr 0.1→0.02@1.40, batch 64)"
    );
}

#[test]
fn a_branch_is_compared_with_its_parent_from_the_branch_point() {
    let root = tempfile::tempdir().expect("tempdir");
    let parent = recorded(root.path(), "20261202-100000", &[], |_| {});
    let branch = recorded(root.path(), "20261202-110000", &[], |record| {
        record.config.training.learning_rate = 0.02;
        record.parent = Some(Parent {
            run_id: "20261202-100000".into(),
            step: 30,
            position: 1.55,
            checkpoint: "checkpoints/x.ckpt".into(),
        });
    });
    let history = [(1.0, 0.70), (1.5, 0.80)];
    let runs = vec![
        (
            summarize(&parent),
            tested(&[history[0], history[1], (2.0, 0.85)]),
        ),
        (
            summarize(&branch),
            tested(&[history[0], history[1], (2.0, 0.88)]),
        ),
    ];
    let comparison = compare(&runs);
    assert_eq!(comparison.aligned_from, Some(1.55));
    assert_eq!(comparison.positions, [1.6, 1.7, 1.8, 1.9, 2.0]);
    assert_eq!(
        comparison.columns[1].branch.as_deref(),
        Some("branch of 20261202-100000 at epoch 1.55")
    );
    assert_eq!(comparison.columns[0].branch, None);
}
