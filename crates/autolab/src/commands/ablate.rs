//! `autolab ablate`: which of a campaign's kept changes carried its gain. Each change on the
//! incumbent line is reverted from the final incumbent (leave-one-out) and applied alone to
//! the baseline (add-one-in); every variant runs `--repeats` times in a side campaign of its
//! own (`ablate-<key>`), so the table gives each change's contribution with a confidence
//! interval. The campaign's incumbent never moves. Stopped, the same command resumes.

use std::path::Path;
use std::process::ExitCode;

use autolab_core::ledger::Ledger;
use autolab_engine::ablation::run_ablation;
use autolab_engine::{Lab, Observer, Report, RunOptions};

use super::common::pick_campaign;
use crate::output::CliError;
use crate::signals;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign (default: the most recently active one).
    #[arg(long)]
    pub tag: Option<String>,
    /// Runs of each variant (default: `[decide] repeats`, at least 2).
    #[arg(long)]
    pub repeats: Option<u32>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Says which variant runs, and nothing of its campaign's own chatter.
struct Log;

impl Observer for Log {
    fn report(&mut self, report: Report) {
        match report {
            Report::Note(n) if n.starts_with("ablation:") => eprintln!("  {}", &n[10..]),
            Report::Note(n) if n.starts_with("ablation") => eprintln!("{n}"),
            Report::Verdict { experiment, .. } => eprintln!(
                "  {}{}",
                experiment.verdict.map_or("-", |v| v.as_str()),
                experiment
                    .reason
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            _ => {}
        }
    }
}

pub fn ablate(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    let lab = Lab::open(dir)?;
    lab.prepare_state_dir()?;
    let tag = {
        let ledger = Ledger::open(&lab.ledger_path())?;
        pick_campaign(&ledger, args.tag.as_deref())?.tag
    };
    let repeats = args.repeats.unwrap_or(lab.config.decide.repeats.max(2));
    if !(2..=100).contains(&repeats) {
        return Err(CliError::usage(
            format!(
                "--repeats {repeats}: between 2 (a confidence interval needs two runs) and 100"
            ),
            None,
        ));
    }
    signals::install();
    let opts = RunOptions {
        sandbox_helper: std::env::current_exe().ok(),
        ..RunOptions::default()
    };
    eprintln!("ablating campaign `{tag}`: {repeats} run(s) a variant …");
    let table = run_ablation(&lab, &tag, repeats, &opts, &mut Log, &signals::STOP)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&table).unwrap_or_default()
        );
    } else {
        print!("{}", table.render());
        println!(
            "(each variant's runs: `autolab results --tag ablate-…`; `autolab report` shows this table)"
        );
    }
    Ok(ExitCode::SUCCESS)
}
