//! `autolab explore`: the explorer studies the lab — goal, editable and protected files, docs,
//! samples of the data files, the output of `[explore] commands` — and writes
//! `.autolab/brief.md`, which every ideation reads. Each version is kept in the ledger.

use std::path::Path;
use std::process::ExitCode;

use autolab_core::ledger::Ledger;
use autolab_engine::Lab;
use autolab_engine::explore::{current_brief, explore as run_explorer};

use crate::output::CliError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write a new brief even when the lab has one (older versions stay in the ledger).
    #[arg(long)]
    pub force: bool,
}

pub fn explore(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    let lab = Lab::open(dir)?;
    let Some(agent) = lab.config.agent.clone() else {
        return Err(CliError::usage(
            "the explorer is an LLM, and autolab.toml has no [agent] section",
            Some(
                "add [agent] (see README: LLM experts), or write .autolab/brief.md yourself: every ideation reads it",
            ),
        ));
    };
    let state = lab.paths().state_dir();
    std::fs::create_dir_all(&state)?;
    let mut ledger = Ledger::open(&lab.ledger_path())?;
    // A user's edit of brief.md is kept as a version before anything replaces it.
    let had = current_brief(&lab, &ledger)?;
    if had.is_some() && !args.force {
        let v = ledger.briefs().latest()?.map_or(0, |b| b.version);
        eprintln!(
            "the lab has a research brief (version {v}, {}): `autolab explore --force` writes a new one",
            lab.paths().brief().display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let caller = super::paper::caller(&agent)?;
    eprintln!("exploring {} …", lab.root.display());
    let mut log = Vec::new();
    let explored = run_explorer(
        &lab,
        &ledger,
        &caller,
        std::env::current_exe().ok(),
        &mut log,
    );
    // The calls are kept with the newest campaign, when there is one.
    if let Some(c) = ledger.campaigns()?.into_iter().max_by(|a, b| {
        a.heartbeat
            .partial_cmp(&b.heartbeat)
            .unwrap_or(std::cmp::Ordering::Equal)
    }) {
        super::paper::keep_transcripts(&mut ledger, c.id, &log)?;
    }
    let e = explored.map_err(|why| {
        CliError::failure(
            format!("the explorer wrote no brief: {why}"),
            Some("`autolab doctor` checks the LLM; or write .autolab/brief.md yourself"),
        )
    })?;
    for c in &e.material.commands {
        eprintln!("ran `{}`: {}", c.command, c.status);
    }
    eprintln!(
        "read {} editable and {} protected files, {} docs, {} data files{}",
        e.material.editable.len(),
        e.material.protected.len(),
        e.material.docs.len(),
        e.material.data.samples.len(),
        if e.material.data.more > 0 {
            format!(" (and {} more not sampled)", e.material.data.more)
        } else {
            String::new()
        }
    );
    print!("{}", e.text);
    eprintln!(
        "research brief version {} written to {}: every ideation reads it; edit it to steer",
        e.version,
        e.path.display()
    );
    Ok(ExitCode::SUCCESS)
}
