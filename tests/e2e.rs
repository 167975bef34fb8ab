//! The built binary in a real pseudo-terminal, read through a VT100 parser as a person would see
//! it: start on a tiny config over the real data, wait for batches on screen, pause, save (the
//! checkpoint file appears), edit the learning rate in config.toml (the screen shows the new
//! value), stop, quit, and find the terminal back in normal mode.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alexnet_tui::train::metrics::MetricsRow;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};

const ROWS: u16 = 36;
const COLS: u16 = 120;

struct Screen {
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
}

impl Screen {
    fn text(&self) -> String {
        self.parser.lock().expect("parser").screen().contents()
    }

    fn wait_for(&self, what: &str, timeout: Duration, found: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.text();
            if found(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "waited {timeout:?} for {what}; the screen shows:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn raw(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().expect("raw")).to_string()
    }
}

const CONFIG: &str = "\
[data]
train_limit = 3000
test_limit = 500

[model]
resize = 65

[training]
epochs = 3
batch_size = 32
learning_rate = 0.01
schedule = \"constant\"
threads = 1
log_every = 1

[checkpoint]
dir = \"runs\"
interval_minutes = 0

[ui]
refresh_hz = 10
";

fn checkpoints(runs: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for run in std::fs::read_dir(runs).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(run.path().join("checkpoints"))
            .into_iter()
            .flatten()
            .flatten()
        {
            found.push(file.path());
        }
    }
    found
}

/// The program in a real pseudo-terminal of `cols` x `rows`, started by a shell that reports
/// the terminal's mode once it has exited.
struct Session {
    screen: Screen,
    keys: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Session {
    fn start(dir: &Path, rows: u16, cols: u16) -> Session {
        Session::start_with(dir, rows, cols, "")
    }

    /// As [`Session::start`], with more options on the command line.
    fn start_with(dir: &Path, rows: u16, cols: u16, options: &str) -> Session {
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pseudo-terminal");
        let mut command = CommandBuilder::new("sh");
        command.arg("-c");
        command.arg(format!(
            "'{}' --config config.toml {options}; echo EXIT=$?; stty -a",
            env!("CARGO_BIN_EXE_alexnet-tui")
        ));
        command.cwd(dir);
        command.env("TERM", "xterm-256color");
        let child = pty.slave.spawn_command(command).expect("spawn");
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().expect("reader");
        let keys = pty.master.take_writer().expect("writer");
        let screen = Screen {
            parser: Arc::new(Mutex::new(vt100::Parser::new(rows, cols, 0))),
            raw: Arc::new(Mutex::new(Vec::new())),
        };
        let (parser, raw) = (screen.parser.clone(), screen.raw.clone());
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                parser.lock().expect("parser").process(&buffer[..n]);
                raw.lock().expect("raw").extend_from_slice(&buffer[..n]);
            }
        });
        Session {
            screen,
            keys,
            child,
        }
    }

    fn press(&mut self, key: &str) {
        self.keys.write_all(key.as_bytes()).expect("type");
        self.keys.flush().expect("flush");
    }

    /// Waits for the program to quit and checks that the terminal is back to normal: the
    /// alternate screen was left after it was entered, and the line discipline is canonical
    /// with echo again (raw mode clears both).
    fn ends_with_the_terminal_restored(mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.screen.raw().contains("speed") {
            assert!(
                Instant::now() < deadline,
                "the program did not quit:\n{}",
                self.screen.text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let status = self.child.wait().expect("shell exits");
        assert!(status.success());
        let raw = self.screen.raw();
        assert!(raw.contains("EXIT=0"), "{raw}");
        let entered = raw
            .rfind("\x1b[?1049h")
            .expect("entered the alternate screen");
        let left = raw.rfind("\x1b[?1049l").expect("left the alternate screen");
        assert!(left > entered);
        let stty = &raw[raw.rfind("speed").expect("stty output")..];
        assert!(
            stty.contains(" icanon") && stty.contains(" echo "),
            "{stty}"
        );
        assert!(!stty.contains("-icanon"), "{stty}");
    }
}

#[test]
fn the_dashboard_in_a_real_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, CONFIG).expect("write config");
    let mut session = Session::start(dir.path(), ROWS, COLS);
    session
        .screen
        .wait_for("the Ready state", Duration::from_secs(120), |s| {
            s.contains("Ready") && s.contains("Press s to start")
        });
    assert!(session.screen.text().contains("Layers for a 65x65 input"));
    session.press("s");
    session
        .screen
        .wait_for("batches on screen", Duration::from_secs(120), |s| {
            s.contains("Training") && s.contains("images/s") && !s.contains("batch 0/")
        });

    session.press("p");
    session
        .screen
        .wait_for("Paused", Duration::from_secs(60), |s| s.contains("Paused"));

    session.press("c");
    let runs = dir.path().join("runs");
    let deadline = Instant::now() + Duration::from_secs(60);
    while checkpoints(&runs).is_empty() {
        assert!(Instant::now() < deadline, "no checkpoint file appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
    session
        .screen
        .wait_for("the save message", Duration::from_secs(30), |s| {
            s.contains("checkpoint saved (on request)")
        });

    // Let the watcher settle, then edit the learning rate as a person would.
    std::thread::sleep(Duration::from_millis(300));
    let edited = CONFIG.replace("learning_rate = 0.01", "learning_rate = 0.02");
    std::fs::write(&config_path, edited).expect("edit config");
    session
        .screen
        .wait_for("the new learning rate", Duration::from_secs(30), |s| {
            s.contains("learning rate 0.02")
        });

    session.press("x");
    session
        .screen
        .wait_for("the stop question", Duration::from_secs(10), |s| {
            s.contains("Stop training?")
        });
    session.press("y");
    session
        .screen
        .wait_for("the stopped run", Duration::from_secs(120), |s| {
            s.contains("Finished")
        });
    // Stopping saves too (at the paused position: the same file as the manual save).
    assert!(
        session.screen.text().contains("checkpoint saved (on stop)"),
        "{}",
        session.screen.text()
    );
    assert!(!checkpoints(&runs).is_empty());
    session.press("q");

    session.ends_with_the_terminal_restored();
}

/// `l` in Ready: the range test's curve on screen while the batches arrive, then its pick;
/// Enter writes the pick into config.toml (that one line changes, the comments stay) and the
/// live reload shows the new learning rate like any edit.
#[test]
fn the_range_test_in_a_real_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("config.toml");
    let config = format!("{CONFIG}\n# a short range test\n[lr_find]\nsteps = 30\n");
    std::fs::write(&config_path, &config).expect("write config");
    let mut session = Session::start(dir.path(), ROWS, COLS);
    session
        .screen
        .wait_for("the Ready state", Duration::from_secs(120), |s| {
            s.contains("Ready") && s.contains("l find the learning rate")
        });
    session.press("l");
    session
        .screen
        .wait_for("the curve as it arrives", Duration::from_secs(120), |s| {
            s.contains("Range test: batch ") && s.contains("log lr") && s.contains("Range test ")
        });
    let done = session
        .screen
        .wait_for("the pick", Duration::from_secs(120), |s| {
            s.contains("Range test: Enter writes valley ")
        });
    let pick = done
        .split("Enter writes valley ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the pick on screen")
        .to_string();
    assert!(done.contains(&format!("valley {pick} (pick)")), "{done}");
    assert!(done.contains("Ready"), "{done}");

    session.press("\r");
    session
        .screen
        .wait_for("the pick written", Duration::from_secs(30), |s| {
            s.contains(&format!("training.learning_rate = {pick} (was 0.01)"))
        });
    session
        .screen
        .wait_for("the live reload", Duration::from_secs(30), |s| {
            s.contains(&format!("learning rate {pick}"))
        });
    let edited = std::fs::read_to_string(&config_path).expect("config");
    let changed: Vec<(&str, &str)> = config
        .lines()
        .zip(edited.lines())
        .filter(|(before, after)| before != after)
        .collect();
    assert_eq!(edited.lines().count(), config.lines().count());
    assert_eq!(
        changed,
        [(
            "learning_rate = 0.01",
            format!("learning_rate = {pick}").as_str()
        )]
    );
    // Nothing was trained: quitting asks nothing and leaves no run folder.
    session.press("q");
    session.ends_with_the_terminal_restored();
    assert!(!dir.path().join("runs").exists());
}

/// At the smallest size the dashboard lays out, every panel keeps its labels whole and `v`
/// brings the layer table back.
#[test]
fn the_compact_dashboard_at_100x30() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("config.toml"), CONFIG).expect("write config");
    let mut session = Session::start(dir.path(), 30, 100);
    let ready = session
        .screen
        .wait_for("the Ready state", Duration::from_secs(120), |s| {
            s.contains("Ready") && s.contains("Press s to start")
        });
    for label in ["images/s average", "Configuration", "Messages", "Accuracy"] {
        assert!(ready.contains(label), "{label:?} missing:\n{ready}");
    }
    assert!(!ready.contains("Layers for a"), "{ready}");
    session.press("v");
    session
        .screen
        .wait_for("the layer table", Duration::from_secs(10), |s| {
            s.contains("Layers for a 65x65 input")
        });
    session.press("q");
    session.ends_with_the_terminal_restored();
}

#[test]
fn headless_ctrl_c_saves_a_checkpoint_and_exits_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("config.toml"), CONFIG).expect("write config");
    // SIGINT at its default, whoever started the tests: a shell's `make test &` starts them with
    // SIGINT ignored, which the program rightly keeps ignored (as nohup's SIGHUP). `env` execs
    // the program in its own process, so the pid is the program's.
    let child = std::process::Command::new("env")
        .arg("--default-signal=INT")
        .arg(env!("CARGO_BIN_EXE_alexnet-tui"))
        .args(["train", "--headless", "--config", "config.toml"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start headless");
    let runs = dir.path().join("runs");
    // Wait until training has begun (the run folder exists and a few seconds have passed).
    let deadline = Instant::now() + Duration::from_secs(120);
    while !runs.is_dir() {
        assert!(Instant::now() < deadline, "no run folder appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(5));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("send SIGINT");
    assert!(status.success());
    let output = child.wait_with_output().expect("headless exits");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("Ctrl-C: stopping after this batch"),
        "{stdout}"
    );
    assert!(stdout.contains("checkpoint saved (on stop)"), "{stdout}");
    assert!(stdout.trim_end().ends_with("stopped"), "{stdout}");
    assert_eq!(checkpoints(&runs).len(), 1);
}

/// metrics.csv of an earlier run of `batches_per_epoch` batches an epoch: three epochs, every
/// batch logged, tests at the epoch ends.
fn earlier_metrics_csv(batches_per_epoch: usize) -> String {
    let mut text = MetricsRow::COLUMNS.join(",") + "\n";
    for (epoch, test) in [0.62, 0.68, 0.71].into_iter().enumerate() {
        for batch in 1..=batches_per_epoch {
            let step = epoch * batches_per_epoch + batch;
            let position = epoch as f64 + batch as f64 / batches_per_epoch as f64;
            let loss = 2.3 - 0.4 * position;
            text.push_str(&format!(
                "batch,{},{batch},{batches_per_epoch},{position},{step},{loss},0.5,,,0.01,100.0,0.3,{}\n",
                epoch + 1,
                0.3 * step as f64
            ));
        }
        text.push_str(&format!(
            "epoch,{},,,{},,1.5,0.5,1.0,{test},,100.0,,{}\n",
            epoch + 1,
            epoch + 1,
            30.0 * (epoch as f64 + 1.0)
        ));
    }
    text
}

/// An earlier run in the checkpoint folder: `o` lists it, Enter draws it behind the live run, and
/// the accuracy panel compares the two once training runs.
#[test]
fn an_earlier_run_is_overlaid_and_compared() {
    use alexnet_tui::config::Config;
    use alexnet_tui::train::record::{EndReason, RunRecord};

    const EARLIER: &str = "20261202-103551";
    let dir = tempfile::tempdir().expect("temp dir");
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, CONFIG).expect("write config");
    let config = Config::load(&config_path, None).expect("the test's config");
    let run = dir.path().join("runs").join(EARLIER);
    std::fs::create_dir_all(&run).expect("run folder");
    // 3000 images in batches of 32.
    std::fs::write(
        run.join(alexnet_tui::train::metrics::METRICS_FILE),
        earlier_metrics_csv(94),
    )
    .expect("metrics.csv");
    let mut record = RunRecord::new(EARLIER, &config, None);
    record.end(EndReason::Completed, None);
    record.write(&run).expect("run.json");

    let mut session = Session::start(dir.path(), ROWS, COLS);
    session
        .screen
        .wait_for("the Ready state", Duration::from_secs(120), |s| {
            s.contains("Ready") && s.contains("o overlay")
        });
    session.press("o");
    session.screen.wait_for(
        "the picker with the earlier run",
        Duration::from_secs(10),
        |s| s.contains("Overlay: an earlier run") && s.contains(EARLIER) && s.contains("finished"),
    );
    // Enter in the picker chooses; it does not start training.
    session.press("\r");
    session
        .screen
        .wait_for("the overlay's name", Duration::from_secs(10), |s| {
            s.contains(&format!("grey: {EARLIER}"))
                && s.contains(&format!("vs {EARLIER} once training starts"))
                && s.contains("Ready")
        });
    session.press("s");
    session
        .screen
        .wait_for("the comparison", Duration::from_secs(120), |s| {
            s.contains(&format!("vs {EARLIER} at epoch"))
        });
    session.press("q");
    session
        .screen
        .wait_for("the quit question", Duration::from_secs(10), |s| {
            s.contains("Save a checkpoint and quit?")
        });
    session.press("y");
    session.ends_with_the_terminal_restored();
}

/// `--compare` with a run that is not there: a warning in the message pane, and the dashboard
/// goes on.
#[test]
fn compare_with_an_unknown_run_warns_and_opens_the_dashboard() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("config.toml"), CONFIG).expect("write config");
    let mut session = Session::start_with(dir.path(), ROWS, COLS, "--compare 20200101-000000");
    // The warning comes at once, before the data is loaded.
    session
        .screen
        .wait_for("the warning", Duration::from_secs(60), |s| {
            s.contains("--compare 20200101-000000: no run")
        });
    let screen = session
        .screen
        .wait_for("the Ready state", Duration::from_secs(120), |s| {
            s.contains("Ready") && s.contains("Press s to start")
        });
    assert!(!screen.contains("grey: "), "{screen}");
    session.press("q");
    session.ends_with_the_terminal_restored();
}
