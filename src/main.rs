//! Parses the command line, loads the config and hands over to the dashboard, the headless
//! runner, or one of the small commands.

use std::io::IsTerminal;
use std::process::ExitCode;

use alexnet_tui::cli::{Cli, Commands};
use alexnet_tui::session::TrainArgs;
use alexnet_tui::{bench, catalog, headless, inspect, lr_find, plot, predict, session, tui};
use clap::Parser;

fn main() -> ExitCode {
    keep_freed_memory();
    // FAILPOINTS, set only by the fault-injection tests (see Cargo.toml); held until the end.
    let _fail_points = fail::FailScenario::setup();
    let cli = Cli::parse();
    let result = match cli.command {
        None => train(cli.train),
        Some(Commands::Train(args)) => train(args),
        Some(Commands::Summary(args)) => inspect::summary(&args),
        Some(Commands::Bench(args)) => bench::run(&args),
        Some(Commands::Eval(args)) => inspect::eval(&args),
        Some(Commands::Export(args)) => inspect::export(&args),
        Some(Commands::Predict(args)) => predict::run(&args),
        Some(Commands::Plot(args)) => plot::run(&args),
        Some(Commands::Runs(args)) => catalog::runs(&args),
        Some(Commands::Compare(args)) => catalog::run_compare(&args),
        Some(Commands::LrFind(args)) => lr_find::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            // Not `eprintln!`, which panics when the terminal is gone (after SIGHUP).
            alexnet_tui::interrupts::print_err(&format!("alexnet-tui: {error}"));
            ExitCode::from(error.exit_code())
        }
    }
}

/// libtorch takes every tensor from the C library's malloc and frees it when burn drops it. glibc
/// serves blocks above 32 MB (the large linear layer's weight gradient is 64 MB at 67x67) with
/// fresh mmap'd pages and other threads (the training worker) from arenas that cannot hold such a
/// block, so each step at 67x67/128 faulted in about 24,000 zeroed pages (95 MB), several
/// percent of a step. One arena that never maps blocks of its own and keeps what is freed lets
/// the next step reuse the same memory; the process's peak grows (0.02 GB at 67x67, 0.4 GB at
/// 224x224 with batch 128, where the gain in speed is small).
/// `ALEXNET_TUI_MALLOC=system` keeps glibc's defaults (for comparisons).
fn keep_freed_memory() {
    if std::env::var_os("ALEXNET_TUI_MALLOC").is_some_and(|value| value == "system") {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // The one place the binary needs unsafe code (the crate denies it elsewhere).
    #[allow(unsafe_code)]
    // SAFETY: mallopt only changes the allocator's tuning parameters, and it runs first thing in
    // main, before any other thread exists (so every later thread shares the one arena).
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_MAX, 0);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}

fn train(args: TrainArgs) -> Result<ExitCode, session::Error> {
    let prepared = session::prepare(&args)?;
    if args.headless || args.json || !std::io::stdout().is_terminal() {
        headless::run(prepared, args.json)
    } else {
        let autostart = args.start || prepared.config.ui.start;
        tui::run(prepared, autostart)
    }
}
