//! The config corpus: every file under tests/valid_configs loads, every file under
//! tests/invalid_configs fails with its exact message (file, line, key, what is wrong), and the
//! binary exits with status 2 on them before doing any work.

use std::path::{Path, PathBuf};

use alexnet_tui::config::{Config, Precision, Profile, Schedule};

fn corpus(folder: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus folder")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

/// Loads a corpus file, reporting it under its bare name so messages do not depend on the checkout.
fn load(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path).expect("read corpus file");
    let name = path.file_name().expect("file name");
    Config::parse(&text, Path::new(name), None).map_err(|error| error.to_string())
}

#[test]
fn every_valid_config_loads() {
    let files = corpus("valid_configs");
    assert!(files.len() >= 5);
    for path in files {
        if let Err(message) = load(&path) {
            panic!("{} should load: {message}", path.display());
        }
    }
}

#[test]
fn the_shipped_config_toml_is_the_fast_profile() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    let config = Config::load(&path, None).expect("the shipped config loads");
    assert_eq!(config, Profile::Fast.config());
    let seed = Config::load(&path, Some("seed")).expect("with --profile seed");
    // The file's explicit keys still win over the profile; everything else is the notebook's.
    assert_eq!(seed.model.resize, 224);
    assert_eq!(seed.training.batch_size, 256);
    assert_eq!(seed.training.learning_rate, 0.05);
    assert_eq!(seed.training.epochs, 10.0);
    assert_eq!(seed.training.momentum, 0.0);
    assert_eq!(seed.training.schedule, Schedule::Constant);
    assert_eq!(seed.profile, "seed");
}

#[test]
fn explicit_keys_override_the_profile() {
    let config = load(
        &corpus("valid_configs")
            .into_iter()
            .find(|p| p.ends_with("fast_with_overrides.toml"))
            .expect("file"),
    )
    .expect("loads");
    assert_eq!(config.model.resize, 96);
    assert_eq!(config.training.learning_rate, 0.02);
    assert_eq!(config.training.schedule, Schedule::Cosine);
    // Not written: from the fast profile.
    assert_eq!(config.training.momentum, 0.9);
    assert_eq!(config.training.batch_size, 128);
    let dotted = load(
        &corpus("valid_configs")
            .into_iter()
            .find(|p| p.ends_with("dotted_keys.toml"))
            .expect("file"),
    )
    .expect("loads");
    assert_eq!(dotted.training.learning_rate, 0.01);
    assert_eq!(dotted.model.resize, 128);
}

#[test]
fn the_range_test_section_has_defaults_and_takes_what_is_written() {
    let defaults = Profile::Fast.config().lr_find;
    assert_eq!(
        (defaults.start, defaults.end, defaults.steps),
        (1e-5, 1.0, 100)
    );
    assert_eq!(Profile::Seed.config().lr_find, defaults);
    let path = corpus("valid_configs")
        .into_iter()
        .find(|p| p.ends_with("lr_find.toml"))
        .expect("file");
    let written = load(&path).expect("loads").lr_find;
    assert_eq!((written.start, written.end, written.steps), (1e-4, 0.5, 30));
}

#[test]
fn precision_is_auto_for_fast_f32_for_seed_and_needs_a_restart() {
    assert_eq!(Profile::Fast.config().training.precision, Precision::Auto);
    assert_eq!(Profile::Seed.config().training.precision, Precision::F32);
    let path = corpus("valid_configs")
        .into_iter()
        .find(|p| p.ends_with("seed_bf16.toml"))
        .expect("file");
    let config = load(&path).expect("loads");
    // The key wins over the seed profile's f32; the rest is the notebook.
    assert_eq!(config.training.precision, Precision::Bf16);
    assert_eq!(config.model.resize, 224);
    let old = Profile::Fast.config();
    let mut new = old.clone();
    new.training.precision = Precision::Bf16;
    let diff = old.diff(&new);
    assert!(diff.live.is_empty());
    assert_eq!(
        diff.restart
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["training.precision: \"auto\" -> \"bf16\""]
    );
    // Checkpoints are f32 whatever the precision: resuming under the other one is allowed.
    assert_eq!(old.resume_incompatibility(&new), None);
    assert_eq!(new.resume_incompatibility(&old), None);
}

const EXPECTED: &[(&str, &str)] = &[
    (
        "bad_device.toml",
        "bad_device.toml:2: training.device: must be \"auto\", \"cpu\", \"cuda:N\" or \"mps\", got \"gpu\"",
    ),
    (
        "bad_schedule.toml",
        "bad_schedule.toml:2: training.schedule: unknown variant `linear`, expected one of `constant`, `one-cycle`, `cosine`",
    ),
    (
        "bad_precision.toml",
        "bad_precision.toml:2: training.precision: unknown variant `fp8`, expected one of `f32`, `bf16`, `auto`",
    ),
    (
        "dropout_one.toml",
        "dropout_one.toml:2: model.dropout: must be at least 0 and below 1, got 1",
    ),
    (
        "lr_find_start_above_end.toml",
        "lr_find_start_above_end.toml:3: lr_find.end: must be above lr_find.start (0.5): the rate rises from start to end, got 0.1",
    ),
    (
        "lr_find_zero_start.toml",
        "lr_find_zero_start.toml:3: lr_find.start: must be above 0 (the range test's first learning rate), got 0",
    ),
    (
        "lr_find_negative_end.toml",
        "lr_find_negative_end.toml:2: lr_find.end: must be above 0 and at most 10 (the pick becomes training.learning_rate, which allows at most 10), got -1",
    ),
    (
        "lr_find_nan_start.toml",
        "lr_find_nan_start.toml:2: lr_find.start: must be above 0 (the range test's first learning rate), got NaN",
    ),
    (
        "lr_find_too_few_steps.toml",
        "lr_find_too_few_steps.toml:2: lr_find.steps: must be between 10 and 10000 (batches from start to end), got 5",
    ),
    (
        "negative_learning_rate.toml",
        "negative_learning_rate.toml:3: training.learning_rate: must be above 0 and at most 10, got -0.05",
    ),
    (
        "nesterov_without_momentum.toml",
        "nesterov_without_momentum.toml:4: training.nesterov: needs training.momentum above 0",
    ),
    (
        "resize_too_small.toml",
        "resize_too_small.toml:2: model.resize: must be between 65 and 1024, got 64: 65 is the smallest input for which the third max-pool still has a 3x3 map",
    ),
    (
        "syntax_error.toml",
        "syntax_error.toml:3: extra `=`, expected nothing",
    ),
    (
        "unknown_key.toml",
        "unknown_key.toml:3: training.learnin_rate: unknown field `learnin_rate`, expected one of `epochs`, `batch_size`, `learning_rate`, `optimizer`, `schedule`, `warmup_fraction`, `momentum`, `nesterov`, `weight_decay`, `label_smoothing`, `flip`, `normalize`, `seed`, `target_accuracy`, `device`, `precision`, `threads`, `interop_threads`, `log_every`, `eval_batch_size`, `eval_every`, `eval_from`",
    ),
    (
        "unknown_profile.toml",
        "unknown_profile.toml:1: profile: unknown profile \"turbo\"; valid profiles: seed, fast",
    ),
    (
        "unknown_section.toml",
        "unknown_section.toml:3: optimizer: unknown field `optimizer`, expected one of `profile`, `data`, `model`, `training`, `checkpoint`, `ui`, `lr_find`",
    ),
    (
        "wrong_type.toml",
        "wrong_type.toml:2: training.epochs: invalid type: string \"ten\", expected f64",
    ),
    (
        "too_many_interop_threads.toml",
        "too_many_interop_threads.toml:2: training.interop_threads: must be between 0 (all physical cores) and 256, got 300",
    ),
    (
        "zero_batch.toml",
        "zero_batch.toml:2: training.batch_size: must be between 1 and 4096, got 0",
    ),
];

#[test]
fn every_invalid_config_gives_its_precise_message() {
    let files = corpus("invalid_configs");
    assert_eq!(
        files.len(),
        EXPECTED.len(),
        "every invalid file has an expected message"
    );
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        let expected = EXPECTED
            .iter()
            .find(|(file, _)| *file == name)
            .unwrap_or_else(|| panic!("no expected message for {name}"))
            .1;
        match load(&path) {
            Ok(_) => panic!("{name} should be rejected"),
            Err(message) => assert_eq!(message, expected, "for {name}"),
        }
    }
}

#[test]
fn the_binary_exits_with_status_2_before_any_work() {
    let path = corpus("invalid_configs")
        .into_iter()
        .find(|p| p.ends_with("resize_too_small.toml"))
        .expect("file");
    let runs = tempfile::tempdir().expect("temp dir");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_alexnet-tui"))
        .args(["train", "--headless", "--config"])
        .arg(&path)
        .current_dir(runs.path())
        .output()
        .expect("run the binary");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("model.resize: must be between 65 and 1024, got 64"),
        "{stderr}"
    );
    assert!(stdout_is_empty(&output.stdout));
    // No run folder was created: nothing was done.
    assert!(
        std::fs::read_dir(runs.path())
            .expect("dir")
            .next()
            .is_none()
    );
}

fn stdout_is_empty(stdout: &[u8]) -> bool {
    stdout.iter().all(u8::is_ascii_whitespace)
}

#[test]
fn a_missing_config_file_is_a_clear_error() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_alexnet-tui"))
        .args([
            "train",
            "--headless",
            "--config",
            "/nonexistent/config.toml",
        ])
        .output()
        .expect("run the binary");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/nonexistent/config.toml: cannot read the config file"),
        "{stderr}"
    );
}

#[test]
fn live_and_restart_only_changes_are_told_apart() {
    let old = Profile::Fast.config();
    let mut new = old.clone();
    new.training.learning_rate = 0.01;
    new.training.epochs = 4.0;
    new.model.resize = 96;
    new.training.batch_size = 64;
    let diff = old.diff(&new);
    let live: Vec<String> = diff.live.iter().map(ToString::to_string).collect();
    let restart: Vec<String> = diff.restart.iter().map(ToString::to_string).collect();
    assert_eq!(
        live,
        [
            "training.epochs: 2.0 -> 4.0",
            "training.learning_rate: 0.05 -> 0.01"
        ]
    );
    assert_eq!(
        restart,
        ["model.resize: 67 -> 96", "training.batch_size: 128 -> 64"]
    );
    let mut running = old.clone();
    running.apply_live(&new, None);
    assert_eq!(running.training.learning_rate, 0.01);
    assert_eq!(running.model.resize, 67);
}
