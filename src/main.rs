//! Parses the command line, loads the config and hands over to the dashboard, the headless
//! runner, or one of the small commands.

use std::io::IsTerminal;
use std::process::ExitCode;

use alexnet_tui::cli::{Cli, Commands, TrainArgs};
use alexnet_tui::{bench, headless, inspect, plot, predict, session, tui};
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => train(cli.train),
        Some(Commands::Train(args)) => train(args),
        Some(Commands::Summary(args)) => session::summary(&args),
        Some(Commands::Bench(args)) => bench::run(&args),
        Some(Commands::Eval(args)) => inspect::eval(&args.config, &args.checkpoint, args.json),
        Some(Commands::Export(args)) => inspect::export(&args.config, &args.checkpoint, &args.out),
        Some(Commands::Predict(args)) => predict::run(&args),
        Some(Commands::Plot(args)) => plot::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("alexnet-tui: {error}");
            ExitCode::from(error.exit_code())
        }
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
