//! The `autolab` command line.

mod commands;
mod curves;
mod hints;
mod output;
mod plot;
mod plot_png;
mod signals;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // The sandbox helper must run before anything starts a thread.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(autolab_runner::sandbox::HELPER_ARG) {
        let code = autolab_runner::sandbox::helper_main(&args[1..]);
        return ExitCode::from(u8::try_from(code).unwrap_or(125));
    }
    let cli = commands::Cli::parse();
    // Commands that print data die quietly when their reader goes away (`autolab show 3 |
    // head`), as other command-line tools do; a campaign is never stopped by a closed pipe.
    if !matches!(
        cli.command,
        commands::Command::Run(_) | commands::Command::Demo(_) | commands::Command::Bench(_)
    ) {
        signals::default_sigpipe();
    }
    output::init_logging(cli.verbose);
    let result = commands::dispatch(cli);
    // Whatever ran is over: what is left to say dies quietly with a closed pipe too.
    signals::default_sigpipe();
    match result {
        Ok(code) => code,
        Err(e) => output::report_error(&e),
    }
}
