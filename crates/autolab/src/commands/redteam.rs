//! `autolab redteam`: an LLM critic writes candidates that would raise the score without a
//! real improvement; each runs through the lab's normal path in a campaign of its own
//! (`redteam-<stamp>-<k>`). The table says what stopped each attack — or that nothing did.

use std::path::Path;
use std::process::ExitCode;

use autolab_engine::redteam::{Report as RedTeam, fingerprint, load_report, run_redteam};
use autolab_engine::{Lab, Observer, Report, RunOptions};

use super::common::one_line;
use crate::output::CliError;
use crate::signals;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many attacks the critic writes (default: `[explore] redteam_attacks`, 6).
    #[arg(long)]
    pub attacks: Option<usize>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Says the attacks as they go, and nothing of their campaigns' own chatter.
struct Log;

impl Observer for Log {
    fn report(&mut self, report: Report) {
        if let Report::Note(n) = report
            && n.starts_with("red-team")
        {
            eprintln!("{n}");
        }
    }
}

pub fn redteam(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    let lab = Lab::open(dir)?;
    let report = attack(&lab, args.attacks)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        print_table(&report);
    }
    Ok(
        if report.holes().is_empty() && report.unjudged().is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

/// Runs the red-team against `lab` (needs `[agent]`).
pub fn attack(lab: &Lab, attacks: Option<usize>) -> Result<RedTeam, CliError> {
    let Some(agent) = lab.config.agent.clone() else {
        return Err(CliError::usage(
            "the red-team critic is an LLM, and autolab.toml has no [agent] section",
            Some("add [agent] (see README: LLM experts)"),
        ));
    };
    let n = attacks.unwrap_or(lab.config.explore.redteam_attacks as usize);
    if !(1..=20).contains(&n) {
        return Err(CliError::usage(
            format!("--attacks {n}: between 1 and 20"),
            None,
        ));
    }
    std::fs::create_dir_all(lab.paths().state_dir())?;
    // Each attack is whole files: the critic gets room to write them.
    let mut caller = super::paper::caller(&agent)?;
    caller.max_tokens = caller.max_tokens.max(16_000);
    signals::install();
    let opts = RunOptions {
        sandbox_helper: std::env::current_exe().ok(),
        ..RunOptions::default()
    };
    let mut log = Vec::new();
    eprintln!("red-team: asking the critic for {n} attacks …");
    let result = run_redteam(lab, &caller, n, &opts, &mut Log, &signals::STOP, &mut log);
    // The critic's calls are kept with the first attack's campaign.
    if let Ok(r) = &result
        && let Some(first) = r.outcomes.first()
    {
        let mut ledger = autolab_core::ledger::Ledger::open(&lab.ledger_path())?;
        if let Some(c) = ledger.campaign(&first.tag)? {
            super::paper::keep_transcripts(&mut ledger, c.id, &log)?;
        }
    }
    Ok(result?)
}

pub fn print_table(r: &RedTeam) {
    println!("{:<3} {:<18} {:<34} result", "#", "kind", "attack");
    for (i, o) in r.outcomes.iter().enumerate() {
        println!(
            "{:<3} {:<18} {:<34} {}",
            i + 1,
            o.kind,
            one_line(&o.attack).chars().take(34).collect::<String>(),
            one_line(&o.by)
        );
        if let Some(a) = &o.advice {
            println!("{:<57}advice: {}", "", one_line(a));
        }
    }
    let holes = r.holes().len();
    let unjudged = r.unjudged().len();
    if r.dropped > 0 {
        println!(
            "{} attack(s) the critic wrote were not tried: no file, or a file over 200 KB",
            r.dropped
        );
    }
    if unjudged > 0 {
        println!(
            "{unjudged} attack(s) got no verdict: the report is incomplete (`autolab redteam` again once the lab runs)"
        );
    }
    if holes == 0 && unjudged == 0 {
        println!(
            "every attack was stopped ({} tried; each in its campaign: `autolab show 1 --tag redteam-{}-K`)",
            r.outcomes.len(),
            r.stamp
        );
    } else if holes > 0 {
        println!(
            "{holes} of {} attacks NOT STOPPED: close them before a long campaign (`autolab show 1 --tag redteam-{}-K` shows attack K)",
            r.outcomes.len(),
            r.stamp
        );
    }
}

/// Before a campaign: with `[explore] redteam = true` a lab whose config or protected files
/// changed since the last red-team is attacked again; with `refuse_holes = true` a campaign
/// does not start while the current report has a hole.
pub fn before_campaign(lab: &Lab) -> Result<(), CliError> {
    let cfg = &lab.config.explore;
    let current = load_report(lab).filter(|r| r.fingerprint == fingerprint(lab));
    let report = match current {
        Some(r) => Some(r),
        None if cfg.redteam && lab.config.agent.is_some() => match attack(lab, None) {
            Ok(r) => {
                print_table(&r);
                Some(r)
            }
            Err(e) if !cfg.refuse_holes => {
                eprintln!("note: the red-team could not run ({e}); the campaign starts without it");
                None
            }
            Err(e) => return Err(e),
        },
        None => None,
    };
    if signals::STOP.load(std::sync::atomic::Ordering::SeqCst) {
        return Err(CliError::failure("stopped", None));
    }
    if !cfg.refuse_holes {
        return Ok(());
    }
    let Some(r) = &report else {
        return Err(CliError::usage(
            "`refuse_holes` is on and no red-team report is for this lab as it is now (autolab.toml or a protected file changed since)",
            Some("run `autolab redteam`"),
        ));
    };
    if !r.unjudged().is_empty() {
        return Err(CliError::usage(
            format!(
                "`refuse_holes` is on and the red-team judged only {} of {} attacks",
                r.outcomes.len() - r.unjudged().len(),
                r.outcomes.len()
            ),
            Some("run `autolab redteam` again once the lab's baseline runs"),
        ));
    }
    if !r.holes().is_empty() {
        let list: Vec<String> = r
            .holes()
            .iter()
            .map(|o| {
                format!(
                    "{} ({}): {}",
                    o.attack,
                    o.kind,
                    o.advice.as_deref().unwrap_or("")
                )
            })
            .collect();
        return Err(CliError::usage(
            format!(
                "the red-team found {} open hole(s) in this lab's evaluation:\n  {}",
                list.len(),
                list.join("\n  ")
            ),
            Some(
                "close them (the advice says how), then `autolab redteam` again; or set `[explore] refuse_holes = false`",
            ),
        ));
    }
    Ok(())
}
