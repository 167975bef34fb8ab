//! `alexnet-tui lr-find`: the learning-rate range test without a dashboard. The worker runs it
//! from a new run's initial weights, or with `--resume` from a checkpoint's weights and
//! optimizer state (as `l` in the dashboard's Ready state does; the checkpoint's run is only
//! read, as a branch reads its parent), a progress line
//! comes every `ui.headless_interval_seconds`, then the table of rates and smoothed losses and
//! the suggestions in the dashboard's words. `--write` puts the pick into the config file
//! ([`crate::rate_pick`]), `--json` prints the curve and the suggestions as one JSON object
//! instead, and `--out` draws the curve into a PNG ([`crate::curves::plot_range_test`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;

use crate::config::Config;
use crate::curves::plot_range_test;
use crate::interrupts::{print_err, print_out};
use crate::rate_pick::{self, Written};
use crate::report::range_test::{format_rate, progress_line};
use crate::report::{Level, Line, Reporter, Steer};
use crate::session::{self, ConfigArgs, Error};
use crate::train::checkpoint::Checkpoint;
use crate::train::range_test::{Method, RangeTest, Suggestions};
use crate::train::worker::{self, WorkerHandle, WorkerOptions};
use crate::train::{Command, Event};

#[derive(Debug, Clone, Args)]
pub struct LrFindArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Test from this checkpoint's weights and optimizer state instead of a new run's initial
    /// weights; its run is left as it is. A path, or "latest": the most recently written
    /// checkpoint of any run under checkpoint.dir that no other process holds.
    #[arg(long, value_name = "PATH|latest")]
    pub resume: Option<String>,
    /// Write the pick into the config file as training.learning_rate, keeping its comments.
    #[arg(long)]
    pub write: bool,
    /// Print the curve and the suggestions as one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also draw the curve into this PNG.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `alexnet-tui lr-find [--config F] [--write] [--json] [--out FILE]`. Fails (status 1) when
/// the curve suggests nothing, or what was asked for could not be written.
pub fn run(args: &LrFindArgs) -> Result<ExitCode, Error> {
    let config = session::load_config(&args.config)?;
    let resume = match &args.resume {
        Some(which) => Some(session::load_resume(which, &config, true)?),
        None => None,
    };
    let test = find(&config, resume, args.json)?;
    let mut failed = false;
    let written = match (args.write, test.suggestions.pick()) {
        (true, Some(pick)) => match rate_pick::write(&args.config.config, pick.learning_rate) {
            Ok(written) => Some(written),
            Err(error) => {
                print_err(&format!("alexnet-tui: {error}"));
                failed = true;
                None
            }
        },
        (true, None) => {
            print_err("alexnet-tui: no suggestion, so nothing was written");
            failed = true;
            None
        }
        (false, _) => None,
    };
    if let Some(out) = &args.out {
        let title = format!(
            "alexnet-tui range test: profile {}, {}x{}, batch {}, {}",
            config.profile,
            config.model.resize,
            config.model.resize,
            config.training.batch_size,
            config.training.optimizer
        );
        match plot_range_test(&test, &title, out) {
            Ok(()) if !args.json => print_out(&format!("curve: {}", out.display())),
            Ok(()) => {}
            Err(error) => {
                print_err(&format!("alexnet-tui: curve NOT drawn: {error}"));
                failed = true;
            }
        }
    }
    if args.json {
        print_out(&json(&test, written.as_ref()).to_string());
    } else if let Some(written) = &written {
        print_out(&written.line().text);
    } else if let Some(pick) = test.suggestions.pick().filter(|_| !args.write) {
        print_out(&format!(
            "add --write to put {} into {} (every comment stays)",
            format_rate(pick.learning_rate),
            args.config.config.display()
        ));
    }
    let no_pick = test.suggestions.pick().is_none();
    Ok(if failed || no_pick {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Starts a worker, runs the range test in its Ready state and stops it before any training (so
/// no run folder is made); prints the progress and (unless `json`) the result.
fn find(
    config: &Config,
    resume: Option<(PathBuf, Checkpoint)>,
    json: bool,
) -> Result<RangeTest, Error> {
    let mut handle = worker::spawn(WorkerOptions {
        config: config.clone(),
        resume,
        autostart: false,
        locations: None,
        // A branch takes the checkpoint's weights without holding or writing its run.
        branch: true,
    });
    let mut reporter = Reporter::new(config, Steer::FileOnly);
    let interval = Duration::from_secs_f64(config.ui.headless_interval_seconds);
    let mut last_line: Option<Instant> = None;
    let mut found = None;
    while let Some(event) = handle.events.blocking_recv() {
        let lines = reporter.lines(&event);
        match &event {
            Event::Ready(_) => {
                let _ = handle.commands.send(Command::FindLearningRate);
            }
            Event::RangeBatch { point, seconds }
                if !json && last_line.is_none_or(|at| at.elapsed() >= interval) =>
            {
                last_line = Some(Instant::now());
                print_out(&progress_line(point, config.lr_find.steps, *seconds));
            }
            Event::RangeTested(test) => {
                if !json {
                    print_table(test);
                }
                found = Some((**test).clone());
                let _ = handle.commands.send(Command::Stop);
            }
            Event::Failed { message } => {
                stop(handle);
                return Err(Error::Failed(format!("the range test failed: {message}")));
            }
            // The worker's own end, after the stop: said by nothing here.
            Event::Finished { .. } => continue,
            _ => {}
        }
        if !json || matches!(event, Event::Warning { .. }) {
            print(&lines, json);
        }
    }
    stop(handle);
    found.ok_or_else(|| Error::Failed("the worker ended before the range test".to_string()))
}

fn stop(handle: WorkerHandle) {
    let _ = handle.commands.send(Command::Stop);
    let _ = handle.thread.join();
}

fn print(lines: &[Line], json: bool) {
    for line in lines {
        match line.level {
            Level::Info if !json => print_out(&line.text),
            Level::Info => print_err(&line.text),
            Level::Warning => print_err(&format!("warning: {}", line.text)),
            Level::Error => print_err(&format!("alexnet-tui: {}", line.text)),
        }
    }
}

/// Every point: the batch, its rate, its loss and the smoothed loss, the suggestions marked.
fn print_table(test: &RangeTest) {
    print_out(&format!(
        "{:>5}  {:>13}  {:>8}  {:>8}",
        "batch", "learning rate", "loss", "smoothed"
    ));
    for point in &test.points {
        let marks: Vec<String> = [Suggestions::PICK, Method::Steep]
            .into_iter()
            .filter(|&method| {
                test.suggestions
                    .get(method)
                    .is_some_and(|suggestion| suggestion.step == point.step)
            })
            .map(|method| {
                if method == Suggestions::PICK {
                    format!("<- {} (the pick)", method.name())
                } else {
                    format!("<- {}", method.name())
                }
            })
            .collect();
        print_out(
            format!(
                "{:>5}  {:>13}  {:>8.4}  {:>8.4}  {}",
                point.step + 1,
                format_rate(point.learning_rate),
                point.loss,
                point.smoothed_loss,
                marks.join(" ")
            )
            .trim_end(),
        );
    }
}

/// The curve and the suggestions as one object, in stable snake_case.
fn json(test: &RangeTest, written: Option<&Written>) -> serde_json::Value {
    serde_json::json!({
        "settings": test.settings,
        "end": test.end,
        "points": test.points,
        "suggestions": test.suggestions,
        "pick": test.suggestions.pick().map(|pick| serde_json::json!({
            "method": Suggestions::PICK,
            "learning_rate": pick.learning_rate,
            "written_as": format_rate(pick.learning_rate),
        })),
        "written": written.map(|written| serde_json::json!({
            "path": written.path,
            "key": "training.learning_rate",
            "old": written.old,
            "new": written.new,
        })),
    })
}
