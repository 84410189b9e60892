//! `autolab status`: each campaign's incumbent, verdict counts and running experiments.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use autolab_core::STATE_DIR;
use autolab_core::experiment::{State, Verdict};
use autolab_core::ledger::Ledger;
use autolab_core::lock::LabLock;
use serde_json::{Value, json};

use super::common::{fmt_score, open_ledger, pick_campaign, short};
use crate::output::CliError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// One campaign (default: the most recently active).
    #[arg(long)]
    pub tag: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn status(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    let opened = open_ledger(dir)?;
    let campaign = pick_campaign(&opened.ledger, args.tag.as_deref())?;
    let live = is_live(&opened.root);
    let v = status_json(&opened.ledger, &campaign.tag, live)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    let inc = &v["incumbent"];
    println!(
        "campaign   {}  ({})",
        campaign.tag,
        v["orchestrator"].as_str().unwrap_or("")
    );
    if inc.is_null() {
        println!("incumbent  none yet");
    } else {
        println!(
            "incumbent  #{:04} {} score {}",
            inc["id"].as_u64().unwrap_or(0),
            short(inc["commit"].as_str()),
            fmt_score(inc["score"].as_f64())
        );
    }
    let counts: Vec<String> = v["counts"]
        .as_object()
        .map(|m| m.iter().map(|(k, n)| format!("{k} {n}")).collect())
        .unwrap_or_default();
    println!("verdicts   {}", counts.join(", "));
    let running: Vec<String> = v["running"]
        .as_array()
        .map(|a| a.iter().map(|n| format!("#{n}")).collect())
        .unwrap_or_default();
    println!(
        "open       {}",
        if running.is_empty() {
            "none".into()
        } else {
            running.join(" ")
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// Whether an `autolab run` holds the lab now.
fn is_live(root: &Path) -> bool {
    let path = root.join(STATE_DIR).join("lock");
    LabLock::is_held(&path)
}

pub fn status_json(ledger: &Ledger, tag: &str, live: bool) -> Result<Value, CliError> {
    let campaign = pick_campaign(ledger, Some(tag))?;
    let experiments = ledger.experiments(campaign.id)?;
    let mut counts: BTreeMap<&str, u32> = Verdict::ALL.iter().map(|v| (v.as_str(), 0)).collect();
    for e in &experiments {
        if let Some(v) = e.verdict {
            *counts.entry(v.as_str()).or_default() += 1;
        }
    }
    let running: Vec<u32> = experiments
        .iter()
        .filter(|e| {
            matches!(
                e.state,
                State::Running | State::Evaluating | State::Confirming
            )
        })
        .map(|e| e.number)
        .collect();
    let open: Vec<u32> = experiments
        .iter()
        .filter(|e| !e.state.is_final())
        .map(|e| e.number)
        .collect();
    let incumbent = campaign
        .incumbent
        .and_then(|n| experiments.iter().find(|e| e.number == n))
        .map(|e| json!({"id": e.number, "commit": e.commit, "score": e.score}));
    let has_open = !open.is_empty();
    Ok(json!({
        "tag": campaign.tag,
        "incumbent": incumbent,
        "counts": counts,
        "running": if live { running } else { Vec::new() },
        "open": open,
        "experiments": experiments.len(),
        "orchestrator": if live { "running" } else if has_open { "stale" } else { "idle" },
        "heartbeat": campaign.heartbeat,
    }))
}
