//! `runs`, `runs clean`, `compare` and `plot A B`, run as the binary on run folders made here the
//! way training makes them: run.json written through the library, metrics.csv in the worker's
//! format, checkpoints of a few bytes (nothing here opens one): see tests/common/runs.rs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use alexnet_tui::config::Change;
use alexnet_tui::train::checkpoint;
use alexnet_tui::train::lock::{LOCK_FILE, Owner};
use alexnet_tui::train::record::{EndReason, Parent, RunRecord};

mod common;
use common::runs::{CKPT_BYTES, legacy, metrics_csv, recorded};
use common::skip;

const BIN: &str = env!("CARGO_BIN_EXE_alexnet-tui");

fn alexnet(args: &[&str], cwd: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run alexnet-tui")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A parent, its branch, a crashed run, a legacy run, a damaged one and a folder that is no run.
fn many_runs(root: &Path) {
    recorded(
        root,
        "20261202-103551",
        &[(1.5, 0.86), (1.6, 0.8812), (2.0, 0.88)],
        |record| {
            record.config.training.learning_rate = 0.1;
            record.end(EndReason::TargetReached, None);
        },
    );
    recorded(
        root,
        "20261202-113000",
        &[(1.5, 0.86), (1.75, 0.87), (2.0, 0.885)],
        |record| {
            record.config.training.learning_rate = 0.1;
            record.parent = Some(Parent {
                run_id: "20261202-103551".into(),
                step: 30,
                position: 1.5,
                checkpoint: checkpoint::file_name(29, 1, 10).into(),
            });
            record.note_changes(
                &[Change {
                    key: "training.learning_rate".into(),
                    old: "0.1".into(),
                    new: "0.02".into(),
                }],
                32,
                1.6,
            );
            record.end(EndReason::Stopped, None);
        },
    );
    recorded(root, "20261202-120000", &[(1.5, 0.84)], |record| {
        record.progress.position = 1.52;
    });
    legacy(
        root,
        "20261101-090000",
        &metrics_csv(&[(1.0, 0.80), (1.5, 0.85), (2.0, 0.87)]),
    );
    legacy(
        root,
        "20261102-090000",
        &metrics_csv(&[(1.0, 0.80)]).replace("0.8000", "eighty"),
    );
    std::fs::create_dir_all(root.join("notes")).expect("folder");
}

#[test]
fn runs_lists_every_state_and_the_branches_under_their_parent() {
    let root = tempfile::tempdir().expect("tempdir");
    many_runs(root.path());
    let dir = root.path().display().to_string();
    let output = alexnet(&["runs", "--dir", &dir], root.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    let line_of = |id: &str| {
        lines
            .iter()
            .position(|line| line.contains(id) && !line.contains(&format!("{id}:")))
            .unwrap_or_else(|| panic!("{id} not listed:\n{text}"))
    };
    // What every run shares, said once above the table.
    assert_eq!(lines[0], "all runs: fast", "{text}");
    assert!(lines[1].starts_with("RUN "), "{text}");
    // Newest first, the branch right under its parent and marked as one.
    let (crashed, parent, branch, damaged, old) = (
        line_of("20261202-120000"),
        line_of("20261202-103551 "),
        line_of("└ 20261202-113000"),
        line_of("20261102-090000"),
        line_of("20261101-090000"),
    );
    assert_eq!(
        [crashed, parent, branch, damaged, old],
        [2, 3, 4, 5, 6],
        "{text}"
    );
    assert!(lines[branch].contains("20261202-103551 @1.50"), "{text}");
    assert!(lines[parent].contains("finished"), "{text}");
    assert!(lines[parent].contains(" lr=0.1 "), "{text}");
    assert!(lines[crashed].contains(" lr=0.05 "), "{text}");
    assert!(lines[parent].contains("0.8812 @1.60"), "{text}");
    assert!(lines[parent].contains("2m 40s"), "time to target: {text}");
    assert!(lines[parent].contains(" 640 "), "images/s: {text}");
    assert!(lines[branch].contains("stopped"), "{text}");
    assert!(lines[branch].contains("lr 0.1→0.02@1.60"), "{text}");
    assert!(lines[crashed].contains("crashed"), "{text}");
    assert!(lines[old].contains("earlier version"), "{text}");
    assert!(!lines[old].contains("crashed"), "{text}");
    assert!(lines[old].contains("0.8700 @2.00"), "{text}");
    assert!(lines[damaged].contains("damaged"), "{text}");
    assert!(!text.contains("notes"), "{text}");
    assert!(
        text.contains("20261102-090000: damaged: ") && text.contains("metrics.csv:"),
        "{text}"
    );
    assert!(text.contains(": 5 runs, "), "{text}");
    assert!(text.contains("160 B of it checkpoints"), "{text}");
}

#[test]
fn runs_json_has_every_field_for_scripts() {
    let root = tempfile::tempdir().expect("tempdir");
    many_runs(root.path());
    let dir = root.path().display().to_string();
    // A reader that stops early is no failure.
    let mut child = Command::new(BIN)
        .args(["runs", "--dir", &dir, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let early = child.wait_with_output().expect("ran");
    assert!(early.status.success(), "{}", stderr(&early));
    assert!(early.stderr.is_empty(), "{}", stderr(&early));

    let output = alexnet(&["runs", "--dir", &dir, "--json"], root.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(runs.len(), 5);
    let run = |id: &str| {
        runs.iter()
            .find(|run| run["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing"))
    };
    let parent = run("20261202-103551");
    assert_eq!(parent["state"], "finished");
    assert_eq!(parent["started"], "2026-12-02T10:35:51Z");
    assert_eq!(parent["profile"], "fast");
    assert_eq!(parent["differs"][0]["key"], "training.learning_rate");
    assert_eq!(parent["differs"][0]["new"], "0.1");
    assert_eq!(parent["best"]["accuracy"], 0.8812);
    assert_eq!(parent["best"]["position"], 1.6);
    assert_eq!(parent["target_reached"]["elapsed_seconds"], 160.0);
    assert_eq!(parent["epochs_done"], 2.0);
    assert_eq!(parent["images_per_second"], 640.0);
    assert_eq!(parent["end_reason"], "target_reached");
    assert_eq!(parent["checkpoints"], 2);
    assert_eq!(parent["checkpoint_bytes"], 2 * CKPT_BYTES);
    assert!(parent["disk_bytes"].as_u64().expect("bytes") > 2 * CKPT_BYTES);
    assert!(parent["parent"].is_null());
    let branch = run("20261202-113000");
    assert_eq!(branch["parent"]["run_id"], "20261202-103551");
    assert_eq!(branch["parent"]["position"], 1.5);
    assert_eq!(branch["live_changes"][0]["new"], "0.02");
    assert_eq!(branch["live_changes"][0]["position"], 1.6);
    assert_eq!(run("20261202-120000")["state"], "crashed");
    assert_eq!(run("20261101-090000")["state"], "legacy");
    let damaged = run("20261102-090000");
    assert_eq!(damaged["state"], "damaged");
    assert!(
        damaged["problem"]
            .as_str()
            .is_some_and(|p| p.contains("metrics.csv:")),
        "{damaged}"
    );
}

/// The settings the runs of the issue shared: the fast profile on a slice, one epoch, no target,
/// tests every quarter epoch from the start, two checkpoints kept at the end.
fn sliced(record: &mut RunRecord) {
    record.config.data.train_limit = 6400;
    record.config.data.test_limit = 1000;
    record.config.training.epochs = 1.0;
    record.config.training.target_accuracy = 0.0;
    record.config.training.eval_every = 0.25;
    record.config.training.eval_from = 0.0;
    record.config.checkpoint.keep_at_end = 2;
    record.progress.position = 1.0;
}

const QUARTERS: [(f64, f64); 4] = [(0.25, 0.71), (0.5, 0.78), (0.75, 0.81), (1.0, 0.83)];

/// Two sliced runs that differ in one setting, the learning rate.
fn one_key(root: &Path) {
    recorded(root, "20261202-100000", &QUARTERS, |record| {
        sliced(record);
        record.end(EndReason::Completed, None);
    });
    recorded(root, "20261202-110000", &QUARTERS, |record| {
        sliced(record);
        record.config.training.learning_rate = 0.1;
        record.end(EndReason::Completed, None);
    });
}

/// Sliced runs that differ in many settings, and a branch of one with a live change.
fn many_keys(root: &Path) {
    one_key(root);
    recorded(root, "20261202-120000", &QUARTERS, |record| {
        sliced(record);
        record.config.training.batch_size = 64;
        record.config.training.weight_decay = 0.001;
        record.config.training.label_smoothing = 0.0;
        record.config.training.warmup_fraction = 0.1;
        record.config.training.flip = false;
        record.config.training.seed = 7;
        record.end(EndReason::Completed, None);
    });
    recorded(root, "20261202-130000", &QUARTERS, |record| {
        sliced(record);
        record.config.training.learning_rate = 0.1;
        record.config.training.epochs = 1.5;
        record.progress.position = 1.5;
        record.parent = Some(Parent {
            run_id: "20261202-110000".into(),
            step: 20,
            position: 1.0,
            checkpoint: checkpoint::file_name(19, 0, 20).into(),
        });
        record.note_changes(
            &[Change {
                key: "training.learning_rate".into(),
                old: "0.1".into(),
                new: "0.02".into(),
            }],
            25,
            1.25,
        );
        record.end(EndReason::Stopped, None);
    });
}

/// `runs` of the runs under `root`, with `args`, the folder's path written `[runs]`.
fn listing(root: &Path, args: &[&str]) -> String {
    let dir = root.display().to_string();
    let mut all = vec!["runs", "--dir", &dir];
    all.extend(args);
    let output = alexnet(&all, root);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).replace(&dir, "[runs]")
}

/// The width of the `runs` table's SETTINGS column: where its header starts to where the next
/// one does, less the two spaces between.
fn settings_width(text: &str) -> usize {
    let header = text
        .lines()
        .find(|line| line.starts_with("RUN "))
        .expect("a header");
    let start = header.find("SETTINGS").expect("SETTINGS");
    let next = header.find("EPOCHS").expect("EPOCHS");
    header[start..next].chars().count() - 2
}

#[test]
fn runs_fit_the_terminal_by_cutting_settings_and_say_what_all_share_once() {
    for (name, fixture) in [
        ("one_key", one_key as fn(&Path)),
        ("many_keys", many_keys as fn(&Path)),
    ] {
        let root = tempfile::tempdir().expect("tempdir");
        fixture(root.path());
        let whole = listing(root.path(), &[]);
        let shared = whole.lines().next().expect("a first line");
        assert!(
            shared.starts_with(
                "all runs: fast, target=0.0, test_every=0.25, test_from=0.0, train_limit=6400, \
                 test_limit=1000, keep_at_end=2"
            ),
            "{whole}"
        );
        for setting in [
            "target=0.0",
            "test_every=0.25",
            "test_from=0.0",
            "keep_at_end=2",
        ] {
            assert!(shared.contains(setting), "{setting}: {whole}");
        }
        let rows = whole
            .lines()
            .filter(|line| line.starts_with("2026") || line.starts_with('└'))
            .count();
        let whole_settings = settings_width(&whole);
        for width in [80, 100, 120] {
            let text = listing(root.path(), &["--width", &width.to_string()]);
            // No row is wider than the terminal, and SETTINGS keeps a useful width: columns
            // that say least are left out or said shorter first.
            let table: Vec<&str> = text
                .lines()
                .skip_while(|line| !line.starts_with("RUN "))
                .take_while(|line| !line.is_empty())
                .collect();
            assert_eq!(table.len(), rows + 1, "{text}");
            for line in text.lines().take_while(|line| !line.is_empty()) {
                assert!(line.chars().count() <= width, "{width}: {line}\n{text}");
            }
            assert!(
                settings_width(&text) >= whole_settings.min(16),
                "{width}: SETTINGS too narrow:\n{text}"
            );
            // Every run keeps its id, state, epochs and best test, whole.
            for line in &table[1..] {
                let cells: Vec<&str> = whole
                    .lines()
                    .find(|whole_line| whole_line.split("  ").next() == line.split("  ").next())
                    .expect("the same run in whole rows")
                    .split("  ")
                    .filter(|cell| !cell.trim().is_empty())
                    .map(str::trim)
                    .collect();
                for cell in cells.iter().filter(|cell| {
                    ["finished", "stopped", "0.8300 @1.00", "1.50", "1.00"].contains(cell)
                }) {
                    assert!(line.contains(cell), "{width}: {cell} lost:\n{text}");
                }
            }
            insta::assert_snapshot!(format!("runs_{name}_{width}"), text);
        }
    }
}

#[test]
fn runs_piped_or_wide_keep_whole_rows() {
    let root = tempfile::tempdir().expect("tempdir");
    many_keys(root.path());
    // Run here with stdout a pipe: whole rows, as with --wide, even with a width asked.
    let piped = listing(root.path(), &[]);
    assert_eq!(listing(root.path(), &["--wide"]), piped);
    assert_eq!(listing(root.path(), &["--wide", "--width", "80"]), piped);
    assert!(!piped.contains('…'), "{piped}");
    let row = |text: &str, id: &str| {
        text.lines()
            .find(|line| line.starts_with(id))
            .unwrap_or_else(|| panic!("{id} not listed:\n{text}"))
            .to_string()
    };
    let many = row(&piped, "20261202-120000");
    assert!(
        many.contains(
            "lr=0.05 batch=64 wd=0.001 smoothing=0.0 warmup=0.1 epochs=1.0 flip=false seed=7"
        ),
        "{piped}"
    );
    assert!(many.chars().count() > 120, "{piped}");
    // The branch under its parent, its start and its live change said.
    let lines: Vec<&str> = piped.lines().collect();
    let parent = lines
        .iter()
        .position(|line| line.starts_with("20261202-110000"))
        .expect("parent");
    assert!(
        lines[parent + 1].starts_with("└ 20261202-130000"),
        "{piped}"
    );
    assert!(
        lines[parent + 1].contains("lr=0.1 batch=128 wd=")
            && lines[parent + 1].contains("warmup=0.25 epochs=1.5 flip=true")
            && lines[parent + 1].contains("lr 0.1→0.02@1.25"),
        "{piped}"
    );
    // --json is as it was: every run, what differs from its profile.
    let dir = root.path().display().to_string();
    let output = alexnet(
        &["runs", "--dir", &dir, "--json", "--width", "80"],
        root.path(),
    );
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(runs.len(), 4);
    assert!(runs.iter().all(|run| run["profile"] == "fast"));
}

/// A run of the fast profile on a small slice, tested every quarter epoch, with `edit`.
fn quarterly(root: &Path, id: &str, edit: impl FnOnce(&mut RunRecord)) {
    recorded(root, id, &[], |record| {
        record.config.data.train_limit = 6400;
        record.config.training.epochs = 1.0;
        record.config.training.eval_every = 0.25;
        edit(record);
    });
}

/// The row of `id` in a `runs` table.
fn row(text: &str, id: &str) -> String {
    text.lines()
        .find(|line| line.contains(&format!("{id} ")))
        .unwrap_or_else(|| panic!("{id} not listed:\n{text}"))
        .to_string()
}

#[test]
fn settings_every_run_shares_are_said_once_and_the_rest_per_run() {
    let live_lr = |record: &mut RunRecord| {
        record.config.training.learning_rate = 0.1;
        record.note_changes(
            &[Change {
                key: "training.learning_rate".into(),
                old: "0.1".into(),
                new: "0.02".into(),
            }],
            30,
            1.4,
        );
    };
    let root = tempfile::tempdir().expect("tempdir");
    quarterly(root.path(), "20261202-100000", |_| {});
    quarterly(root.path(), "20261202-110000", live_lr);
    quarterly(root.path(), "20261202-120000", |record| {
        record.config.training.batch_size = 64;
        record.config.training.eval_every = 0.1;
    });
    let text = listing(root.path(), &[]);
    assert!(
        text.starts_with("all runs: fast, train_limit=6400, epochs=1.0\nRUN "),
        "{text}"
    );
    // lr differs from the profile in one run only: every run says its own.
    for (id, settings) in [
        ("20261202-100000", " lr=0.05 batch=128 test_every=0.25 "),
        (
            "20261202-110000",
            " lr=0.1 batch=128 test_every=0.25 lr 0.1→0.02@1.40 ",
        ),
        ("20261202-120000", " lr=0.05 batch=64 test_every=0.1 "),
    ] {
        assert!(row(&text, id).contains(settings), "{id}: {text}");
    }
    // A narrow terminal breaks the shared line between settings.
    let narrow = listing(root.path(), &["--width", "30"]);
    assert!(
        narrow.starts_with("all runs: fast,\n          train_limit=6400,\n          epochs=1.0\n"),
        "{narrow}"
    );

    // One run: all it has is shared, its live change is its own.
    let one = tempfile::tempdir().expect("tempdir");
    quarterly(one.path(), "20261202-110000", live_lr);
    let text = listing(one.path(), &[]);
    assert!(
        text.starts_with(
            "all runs: fast, lr=0.1, test_every=0.25, train_limit=6400, epochs=1.0\nRUN "
        ),
        "{text}"
    );
    assert!(
        row(&text, "20261202-110000").contains(" lr 0.1→0.02@1.40 "),
        "{text}"
    );

    // A run whose settings are not known (an earlier version's, without its config.toml)
    // takes no part in what is shared, and shows none.
    let unknown = tempfile::tempdir().expect("tempdir");
    quarterly(unknown.path(), "20261202-100000", |_| {});
    let old = legacy(
        unknown.path(),
        "20261101-090000",
        &metrics_csv(&[(1.0, 0.8)]),
    );
    std::fs::remove_file(old.join("config.toml")).expect("remove config.toml");
    let text = listing(unknown.path(), &[]);
    assert!(
        text.starts_with("all runs: fast, test_every=0.25, train_limit=6400, epochs=1.0\nRUN "),
        "{text}"
    );
    let header = text.lines().nth(1).expect("a header");
    let settings = header.find("SETTINGS").expect("SETTINGS");
    for id in ["20261202-100000", "20261101-090000"] {
        let line = row(&text, id);
        let cell: String = line
            .chars()
            .skip(settings)
            .take_while(|c| *c != ' ')
            .collect();
        assert_eq!(cell, "-", "{id}: {text}");
    }
}

#[test]
fn a_table_too_wide_for_the_terminal_shortens_branches_under_their_parent_and_cuts_settings() {
    let branch_of = |parent: &str| {
        let parent = parent.to_string();
        move |record: &mut RunRecord| {
            record.config.training.learning_rate = 0.02;
            record.parent = Some(Parent {
                run_id: parent,
                step: 30,
                position: 1.5,
                checkpoint: checkpoint::file_name(29, 1, 10).into(),
            });
        }
    };
    let root = tempfile::tempdir().expect("tempdir");
    quarterly(root.path(), "20261202-100000", |_| {});
    quarterly(root.path(), "20261202-110000", branch_of("20261202-100000"));
    let whole = listing(root.path(), &[]);
    assert!(
        row(&whole, "└ 20261202-110000").contains("20261202-100000 @1.50"),
        "{whole}"
    );
    let fitted = listing(root.path(), &["--width", "120"]);
    // The parent is the run above.
    let branch = row(&fitted, "└ 20261202-110000");
    assert!(branch.starts_with("└ 20261202-110000  @1.50  "), "{fitted}");
    assert!(branch.contains("lr=0.02"), "{fitted}");
    assert!(
        fitted
            .lines()
            .take_while(|line| !line.is_empty())
            .all(|line| line.chars().count() <= 120),
        "{fitted}"
    );
    // Wide enough: whole rows.
    assert_eq!(listing(root.path(), &["--width", "300"]), whole);
    // A branch whose parent is not listed still names it.
    quarterly(root.path(), "20261202-120000", branch_of("20261101-000000"));
    let fitted = listing(root.path(), &["--width", "120"]);
    assert!(
        row(&fitted, "20261202-120000").contains("20261101-000000 @1.50"),
        "{fitted}"
    );
}

#[test]
fn compare_follows_the_test_schedule_the_runs_share() {
    let root = tempfile::tempdir().expect("tempdir");
    one_key(root.path());
    let dir = root.path().display().to_string();
    let output = alexnet(
        &[
            "compare",
            "20261202-100000",
            "20261202-110000",
            "--dir",
            &dir,
        ],
        root.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let places: Vec<&str> = text
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("at epoch "))
        .map(|rest| rest.split_whitespace().next().unwrap_or_default())
        .collect();
    assert_eq!(places, ["0.25", "0.50", "0.75", "1.00"], "{text}");
    assert_eq!(
        row_of(&text, "at epoch 0.75"),
        "at epoch 0.75 0.8100 0.8100"
    );
}

/// A row of `compare`'s table, its cells one space apart.
fn row_of(text: &str, label: &str) -> String {
    text.lines()
        .find(|line| line.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label} row:\n{text}"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn compare_shows_what_differs_and_accuracy_at_the_same_epochs() {
    let root = tempfile::tempdir().expect("tempdir");
    many_runs(root.path());
    let dir = root.path().display().to_string();
    // A legacy run and a recorded one, tested at different places.
    let output = alexnet(
        &[
            "compare",
            "20261101-090000",
            "20261202-103551",
            "--dir",
            &dir,
        ],
        root.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.lines().next().is_some_and(|header| {
        header.contains("20261101-090000") && header.contains("20261202-103551")
    }));
    assert_eq!(
        row_of(&text, "training.learning_rate"),
        "training.learning_rate 0.05 0.1"
    );
    // Both tested from 1.5 to 2.0: every 0.1 epoch in between, read off the test curves.
    assert_eq!(
        row_of(&text, "at epoch 1.50"),
        "at epoch 1.50 0.8500 0.8600"
    );
    assert_eq!(
        row_of(&text, "at epoch 1.60"),
        "at epoch 1.60 0.8540 0.8812"
    );
    assert_eq!(
        row_of(&text, "at epoch 1.80"),
        "at epoch 1.80 0.8620 0.8806"
    );
    assert_eq!(
        row_of(&text, "at epoch 2.00"),
        "at epoch 2.00 0.8700 0.8800"
    );
    assert!(!text.contains("at epoch 1.40"), "{text}");
    assert_eq!(row_of(&text, "best"), "best 0.8700 @2.00 0.8812 @1.60");
    assert_eq!(
        row_of(&text, "time to target"),
        "time to target not reached (0.88) 2m 40s (0.88)"
    );

    // A branch with its parent: from the branch point on, said as such.
    let output = alexnet(
        &[
            "compare",
            "20261202-103551",
            "20261202-113000",
            "--dir",
            &dir,
        ],
        root.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("branch of 20261202-103551 at epoch 1.50"),
        "{text}"
    );
    assert!(
        text.contains("test accuracy (from the branch point)"),
        "{text}"
    );
    assert!(text.contains("0.1 → 0.02@1.60"), "{text}");
    assert_eq!(
        row_of(&text, "at epoch 1.70"),
        "at epoch 1.70 0.8809 0.8680"
    );
}

#[test]
fn plot_draws_several_runs_in_one_picture_and_says_where() {
    let root = tempfile::tempdir().expect("tempdir");
    many_runs(root.path());
    let dir = root.path().display().to_string();
    let work = tempfile::tempdir().expect("tempdir");
    let output = alexnet(
        &["plot", "20261101-090000", "20261202-103551", "--dir", &dir],
        work.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let name = "compare-20261101-090000-20261202-103551.png";
    assert_eq!(stdout(&output), format!("wrote {name}\n"));
    let picture = image::open(work.path().join(name)).expect("a PNG");
    assert_eq!((picture.width(), picture.height()), (1200, 500));

    let out = work.path().join("three.png");
    let output = alexnet(
        &[
            "plot",
            "20261101-090000",
            "latest",
            &root.path().join("20261202-113000").display().to_string(),
            "--dir",
            &dir,
            "--out",
            &out.display().to_string(),
        ],
        work.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), format!("wrote {}\n", out.display()));
    assert!(image::open(&out).is_ok());
}

/// A live process holding a run's lock as a training process does: `flock(1)` keeps the OS
/// lock on run.lock while it waits for its `sleep` (`--close`: its alone), and the file names it;
/// killed when dropped.
struct Holder(std::process::Child);

impl Holder {
    fn lock(dir: &Path) -> Holder {
        let child = Command::new("flock")
            .args(["--exclusive", "--close"])
            .arg(dir.join(LOCK_FILE))
            .args(["sleep", "60"])
            .spawn()
            .expect("flock(1) from util-linux");
        let pid = child.id();
        let owner = Owner {
            pid,
            process_started: alexnet_tui::process::started_at(pid).expect("flock runs"),
            phase: alexnet_tui::train::lock::Phase::Training,
        };
        std::fs::write(
            dir.join(LOCK_FILE),
            serde_json::to_string(&owner).expect("json"),
        )
        .expect("run.lock");
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn files_under(dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = walk(dir)
        .iter()
        .map(|path| path.strip_prefix(dir).expect("under").display().to_string())
        .collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn runs_clean_removes_only_checkpoints_and_never_a_running_runs() {
    let root = tempfile::tempdir().expect("tempdir");
    many_runs(root.path());
    let dir = root.path().display().to_string();
    let done = root.path().join("20261202-103551");
    let running = root.path().join("20261202-120000");
    let _holder = Holder::lock(&running);
    let running_before = files_under(&running);

    // Recent runs are not older than a week.
    let output = alexnet(
        &["runs", "clean", "--older-than", "7d", "--dir", &dir],
        root.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("nothing to delete"),
        "{}",
        stdout(&output)
    );

    // Asked, and told no: nothing goes.
    let mut child = Command::new(BIN)
        .args(["runs", "clean", "20261202-103551", "--dir", &dir])
        .current_dir(root.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"n\n")
        .expect("answer");
    let output = child.wait_with_output().expect("ran");
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("delete 2 checkpoint files (40 B)? [y/N]"),
        "{text}"
    );
    assert!(text.contains("nothing deleted"), "{text}");
    assert_eq!(files_under(&done.join("checkpoints")).len(), 2);

    let output = alexnet(
        &[
            "runs",
            "clean",
            "20261202-103551",
            "20261202-120000",
            "--yes",
            "--dir",
            &dir,
        ],
        root.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let pid = _holder.0.id();
    assert!(
        text.contains(&format!("skipped 20261202-120000: running (process {pid})")),
        "{text}"
    );
    assert!(
        text.contains("deleted 2 checkpoint files, 40 B freed"),
        "{text}"
    );
    // run.lock is new: clean held the run while it deleted, and a lock file is emptied, never
    // removed (see train/lock.rs).
    assert_eq!(
        files_under(&done),
        ["config.toml", "metrics.csv", "run.json", "run.lock"],
        "only checkpoints go"
    );
    assert_eq!(
        std::fs::read_to_string(done.join("run.lock")).expect("run.lock"),
        "",
        "let go"
    );
    assert_eq!(
        files_under(&running),
        running_before,
        "the running run kept"
    );
    // The run is still listed, read from what is left.
    let output = alexnet(&["runs", "--dir", &dir], root.path());
    assert!(stdout(&output).contains("0.8812 @1.60"));
}

/// Asserts that `output` failed with `code` and one line on stderr containing each of `words`.
fn one_line_error(output: &Output, code: i32, words: &[&str]) {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(code), "{text}");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.starts_with("alexnet-tui: "), "{text}");
    for word in words {
        assert!(text.contains(word), "{word} not in {text}");
    }
}

#[test]
fn bad_names_and_unreadable_runs_are_one_line_and_a_failure() {
    let root = tempfile::tempdir().expect("tempdir");
    many_runs(root.path());
    let dir = root.path().display().to_string();
    let at = root.path();

    let unknown = alexnet(&["compare", "20261202-1035", "latest", "--dir", &dir], at);
    one_line_error(
        &unknown,
        2,
        &[
            "no run \"20261202-1035\"",
            "20261202-103551",
            "alexnet-tui runs",
        ],
    );
    let notes = root.path().join("notes").display().to_string();
    one_line_error(
        &alexnet(&["compare", &notes, "latest", "--dir", &dir], at),
        2,
        &["not a run folder"],
    );
    one_line_error(
        &alexnet(&["compare", "20261102-090000", "latest", "--dir", &dir], at),
        1,
        &["metrics.csv:", "eighty"],
    );
    one_line_error(
        &alexnet(&["plot", "20261202-1035", "--dir", &dir], at),
        2,
        &["no run \"20261202-1035\""],
    );
    one_line_error(
        &alexnet(&["runs", "clean", "--dir", &dir], at),
        2,
        &["--older-than"],
    );
    one_line_error(
        &alexnet(
            &["runs", "clean", "--older-than", "soon", "--dir", &dir],
            at,
        ),
        2,
        &["--older-than soon"],
    );
    let missing = root.path().join("elsewhere").display().to_string();
    one_line_error(
        &alexnet(&["runs", "--dir", &missing], at),
        1,
        &["cannot list the runs"],
    );

    // A run folder this user cannot read: damaged in the list, an error to compare. Root (as in
    // CI) reads through permission bits, so the commands run without that power
    // (`common::skip::bound_by_permissions`): the folder really is unreadable to them.
    let locked = root.path().join("20261202-113000");
    let mode = |mode| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    let bound = |args: &[&str]| {
        skip::bound_by_permissions(BIN)
            .args(args)
            .current_dir(at)
            .output()
            .expect("run alexnet-tui")
    };
    mode(0o000);
    match skip::unreadable_when_bound(&locked) {
        Ok(true) => {
            let listing = bound(&["runs", "--dir", &dir]);
            let text = stdout(&listing);
            assert!(listing.status.success(), "{}", stderr(&listing));
            assert!(
                text.contains("20261202-113000: damaged: ")
                    && text.contains("20261202-113000/run.json: cannot read: Permission denied"),
                "{text}"
            );
            assert!(
                text.contains("20261101-090000"),
                "the others still listed: {text}"
            );
            one_line_error(
                &bound(&["compare", "20261202-113000", "latest", "--dir", &dir]),
                1,
                &["20261202-113000", "cannot read", "Permission denied"],
            );
        }
        Ok(false) => skip::skip(
            "an unreadable run folder",
            "a folder with mode 000 is readable to the commands here",
        ),
        Err(why) => skip::skip("an unreadable run folder", &why),
    }
    mode(0o755);
}

/// Run folders as this version writes them (tests/fixtures/runs-format-1): a recorded branch
/// with tests, a target reached, a live change and its end, and a run of an earlier version
/// (metrics.csv and config.toml alone), with `runs --json` as it printed them when they were
/// made (runs-format-1.json).
const FORMAT_1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/runs-format-1");

#[test]
fn files_written_before_read_back_and_list_as_they_did() {
    let dir = Path::new(FORMAT_1).join("20261202-113000");
    let record = RunRecord::read(&dir)
        .expect("readable")
        .expect("a run.json");
    let best = record.best.expect("a best test");
    assert_eq!((best.accuracy, best.position), (0.885, 2.0));
    assert_eq!(best.step, Some(40));
    assert_eq!(best.elapsed_seconds, Some(200.0));
    let reached = record.target_reached.expect("the target reached");
    assert_eq!((reached.position, reached.step), (1.75, Some(35)));
    // Written again, byte for byte the file it was read from.
    let out = tempfile::tempdir().expect("tempdir");
    record.write(out.path()).expect("written");
    assert_eq!(
        std::fs::read_to_string(out.path().join("run.json")).expect("written"),
        std::fs::read_to_string(dir.join("run.json")).expect("fixture")
    );
    // `runs --json` prints what it printed (the legacy run's times unknown: null).
    let output = alexnet(&["runs", "--dir", FORMAT_1, "--json"], out.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let expected = std::fs::read_to_string(format!("{FORMAT_1}.json")).expect("fixture");
    assert_eq!(stdout(&output).replace(FORMAT_1, "[fixtures]"), expected);
}
