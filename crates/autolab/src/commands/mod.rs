//! One module per subcommand, each with an `Args` struct and one entry function.

mod ablate;
mod apply;
mod approve;
mod bench;
mod cancel;
mod common;
mod control;
mod demo;
mod doctor;
mod explore;
mod forget;
mod init;
mod paper;
mod pause;
mod preflight;
mod redteam;
mod reject;
mod report;
mod results;
mod resume;
mod review;
mod run;
mod serve;
mod show;
mod show_brief;
mod status;
mod steer;
mod stop;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::CliError;

/// Runs the research loop on any code that produces a number.
#[derive(Debug, Parser)]
#[command(name = "autolab", version, about, propagate_version = true)]
pub struct Cli {
    /// The lab (a git repository with an autolab.toml); default: the current directory.
    #[arg(long, short = 'C', global = true, value_name = "DIR")]
    pub lab: Option<std::path::PathBuf>,
    /// More log output on stderr (-v, -vv).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter autolab.toml for this repository.
    Init(init::Args),
    /// Run (or resume) a campaign until a budget ends.
    Run(run::Args),
    /// Study the lab (goal, code, docs, data samples) and write the research brief (needs [agent]).
    Explore(explore::Args),
    /// Try to game the lab's evaluation with LLM-written attacks; say what stopped each (needs [agent]).
    Redteam(redteam::Args),
    /// Which kept changes carried the gain: leave-one-out and add-one-in, with confidence intervals.
    Ablate(ablate::Args),
    /// Show campaigns: incumbent, verdict counts, what is running.
    Status(status::Args),
    /// List a campaign's experiments.
    Results(results::Args),
    /// A campaign in facts from the ledger: result, kept changes, failures, plot (md, html, json).
    Report(report::Args),
    /// A LaTeX paper about a campaign, every number a ledger fact (needs [agent] and LaTeX).
    Paper(paper::Args),
    /// AI-Scientist's review of a paper: an ensemble of reviewers and a meta-review (JSON).
    Review(review::Args),
    /// Show one experiment: idea, diff, metrics, verdict, runs, log tail.
    Show(show::Args),
    /// Bring the incumbent (or experiment N's change) into your branch, or --print it.
    Apply(apply::Args),
    /// Tell the experts what to try (or avoid); read before the next ideation.
    Steer(steer::Args),
    /// Pause the running campaign: running experiments finish, nothing new starts.
    Pause(pause::Args),
    /// Resume a paused running campaign.
    Resume(resume::Args),
    /// Stop the running campaign (as Ctrl-C in its terminal does).
    Stop(stop::Args),
    /// Cancel experiment N of the running campaign (its run is killed).
    Cancel(cancel::Args),
    /// Let candidate N run (with `[decide] approve = true` candidates wait for it).
    Approve(approve::Args),
    /// Do not run candidate N (with `[decide] approve = true`): verdict `cancelled`.
    Reject(reject::Args),
    /// Check that this machine and lab are ready, with a fix for each problem.
    Doctor(doctor::Args),
    /// Forget a campaign: its ledger rows, branches and run logs (archive refs kept unless --purge).
    Forget(forget::Args),
    /// Run a real campaign on the bundled spiral example in a fresh repository.
    Demo(demo::Args),
    /// Measure autolab itself.
    Bench(bench::Args),
    /// A live web dashboard over the ledger, with controls.
    Serve(serve::Args),
}

pub fn dispatch(cli: Cli) -> Result<ExitCode, CliError> {
    let dir = match &cli.lab {
        Some(d) => d.clone(),
        None => std::env::current_dir()?,
    };
    match cli.command {
        Command::Init(a) => init::init(&dir, a),
        Command::Run(a) => run::run(&dir, a),
        Command::Status(a) => status::status(&dir, a),
        Command::Results(a) => results::results(&dir, a),
        Command::Report(a) => report::report(&dir, a),
        Command::Show(a) => show::show(&dir, a),
        Command::Paper(a) => paper::paper(&dir, a),
        Command::Review(a) => review::review(&dir, a),
        Command::Explore(a) => explore::explore(&dir, a),
        Command::Redteam(a) => redteam::redteam(&dir, a),
        Command::Ablate(a) => ablate::ablate(&dir, a),
        Command::Steer(a) => steer::steer(&dir, a),
        Command::Pause(a) => pause::pause(&dir, a),
        Command::Resume(a) => resume::resume(&dir, a),
        Command::Stop(a) => stop::stop(&dir, a),
        Command::Cancel(a) => cancel::cancel(&dir, a),
        Command::Approve(a) => approve::approve(&dir, a),
        Command::Reject(a) => reject::reject(&dir, a),
        Command::Apply(a) => apply::apply(&dir, a),
        Command::Doctor(a) => doctor::doctor(&dir, a),
        Command::Forget(a) => forget::forget(&dir, a),
        Command::Demo(a) => demo::demo(a),
        Command::Bench(a) => bench::bench(a),
        Command::Serve(a) => serve::serve(&dir, a),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
