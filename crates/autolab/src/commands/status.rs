//! `autolab status`: each campaign's incumbent, verdict counts, budget, elapsed time and open
//! experiments (what runs now, and for how long).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use autolab_core::control::{Command, Control};
use autolab_core::experiment::{State, Verdict};
use autolab_core::ledger::Ledger;
use serde_json::{Value, json};

use super::common::{fmt_score, one_line, open_ledger, pick_campaign, short};
use crate::output::CliError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// One campaign (default: the most recently active).
    #[arg(long)]
    pub tag: Option<String>,
    /// Every campaign of the lab.
    #[arg(long, conflicts_with = "tag")]
    pub all: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn status(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    let opened = open_ledger(dir)?;
    let live = super::control::live_tag(&opened.root);
    let tags: Vec<String> = if args.all {
        opened
            .ledger
            .campaigns()?
            .into_iter()
            .map(|c| c.tag)
            .collect()
    } else {
        vec![pick_campaign(&opened.ledger, args.tag.as_deref())?.tag]
    };
    let mut all = Vec::new();
    for tag in &tags {
        let this_live = live.as_deref() == Some(tag.as_str());
        all.push(status_json(&opened.ledger, tag, this_live)?);
    }
    if args.json {
        let v = if args.all {
            Value::Array(all)
        } else {
            all.pop().unwrap_or(Value::Null)
        };
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    for (i, v) in all.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print_one(v);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_one(v: &Value) {
    let inc = &v["incumbent"];
    println!(
        "campaign   {}  ({})",
        v["tag"].as_str().unwrap_or(""),
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
    println!(
        "elapsed    {}",
        duration(v["elapsed_secs"].as_f64().unwrap_or(0.0))
    );
    println!("budget     {}", budget_line(&v["budget"]));
    for p in v["projects"].as_array().into_iter().flatten() {
        println!(
            "project    {} \"{}\" {}, {} run(s){}",
            p["number"],
            p["title"].as_str().unwrap_or(""),
            p["status"].as_str().unwrap_or(""),
            p["runs"],
            p["score"]
                .as_f64()
                .map(|s| format!(", review {s}/10 {}", p["decision"].as_str().unwrap_or("")))
                .unwrap_or_default()
        );
    }
    let open: Vec<String> = v["open"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|o| {
                    let n = o["id"].as_u64().unwrap_or(0);
                    let state = o["state"].as_str().unwrap_or("");
                    match o["running_secs"].as_f64() {
                        Some(s) => format!("#{n:04} {state} {}", duration(s)),
                        None if o["awaiting_approval"] == true => {
                            format!("#{n:04} waits for approval")
                        }
                        None => format!("#{n:04} {state}"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let line = if open.is_empty() {
        "none".to_string()
    } else if v["orchestrator"] == "stale" || v["orchestrator"] == "stopped" {
        let tag = v["tag"].as_str().unwrap_or("");
        let resume = match autolab_core::ledger::side_prefix(tag) {
            Some(autolab_core::ledger::ABLATION_TAG_PREFIX) => {
                "`autolab ablate --tag <the ablated campaign>` resumes them".to_string()
            }
            Some(_) => "`autolab redteam` again tries the attacks anew".to_string(),
            None => format!("`autolab run --tag {tag}` resumes them"),
        };
        format!("{} (interrupted: {resume})", open.join(", "))
    } else {
        open.join(", ")
    };
    println!("open       {line}");
    for o in v["open"].as_array().into_iter().flatten() {
        if o["awaiting_approval"] == true {
            let n = o["id"].as_u64().unwrap_or(0);
            println!(
                "approve    #{n:04} {}: `autolab approve {n}` or `autolab reject {n}`",
                one_line(o["title"].as_str().unwrap_or(""))
            );
        }
    }
    if let Some(cause) = v["diagnosis"]["cause"].as_str() {
        let by = if v["diagnosis"]["by"] == "llm" {
            " (LLM)"
        } else {
            ""
        };
        println!("diagnosis  {}{by}", one_line(cause));
        if let Some(advice) = v["diagnosis"]["advice"].as_str() {
            println!("advice     {}", one_line(advice));
        }
    }
    if let Some(who) = v["paused_by"].as_str() {
        println!(
            "paused     by {}: `autolab resume --tag {}` goes on",
            one_line(who),
            v["tag"].as_str().unwrap_or("")
        );
    }
    for c in v["controls"].as_array().into_iter().flatten().rev().take(3) {
        let arg = c["arg"]
            .as_str()
            .map(|a| format!(" {a}"))
            .unwrap_or_default();
        let line = format!(
            "{}{arg} by {}: {}",
            c["command"].as_str().unwrap_or(""),
            c["by"].as_str().unwrap_or(""),
            c["effect"].as_str().unwrap_or("waiting")
        );
        println!("command    {}", one_line(&line));
    }
}

/// Who paused the campaign, when the newest pause or resume taken by its current run is a
/// pause that took effect.
fn paused_by(controls: &[Control], run_started: f64) -> Option<String> {
    let effective = |c: &&Control| {
        let effect = c.effect.as_deref().unwrap_or("");
        match c.command {
            Command::Pause => effect.starts_with("paused"),
            Command::Resume => effect.starts_with("resumed"),
            _ => false,
        }
    };
    let last = controls
        .iter()
        .rev()
        .filter(|c| c.taken_at.is_some_and(|t| t >= run_started))
        .find(effective)?;
    (last.command == Command::Pause).then(|| last.by.clone())
}

fn budget_line(b: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(max) = b["max_experiments"].as_u64() {
        parts.push(format!(
            "{} of {max} experiments left",
            b["experiments_left"].as_u64().unwrap_or(0)
        ));
    }
    if let Some(h) = b["max_hours"].as_f64() {
        parts.push(format!(
            "{} of {} left",
            duration(b["seconds_left"].as_f64().unwrap_or(0.0)),
            duration(h * 3600.0)
        ));
    }
    if parts.is_empty() {
        "none given: runs until stopped".into()
    } else {
        parts.join(", ")
    }
}

/// `1h02m`, `3m05s`, `42s`.
fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, m, sec) => format!("{m}m{sec:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

/// Whether an `autolab run` holds the lab now.
fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub fn status_json(ledger: &Ledger, tag: &str, live: bool) -> Result<Value, CliError> {
    let campaign = pick_campaign(ledger, Some(tag))?;
    let experiments = ledger.experiments(campaign.id)?;
    status_of(ledger, &campaign, &experiments, live)
}

/// [`status_json`] of a campaign whose experiments are read already.
pub fn status_of(
    ledger: &Ledger,
    campaign: &autolab_core::ledger::Campaign,
    experiments: &[autolab_core::experiment::Experiment],
    live: bool,
) -> Result<Value, CliError> {
    let mut counts: BTreeMap<&str, u32> = Verdict::ALL.iter().map(|v| (v.as_str(), 0)).collect();
    for e in experiments {
        if let Some(v) = e.verdict {
            *counts.entry(v.as_str()).or_default() += 1;
        }
    }
    let running_state =
        |s: State| matches!(s, State::Running | State::Evaluating | State::Confirming);
    let running: Vec<u32> = experiments
        .iter()
        .filter(|e| running_state(e.state))
        .map(|e| e.number)
        .collect();
    let t = now();
    // Candidates the approve gate holds: said to wait, not approved since.
    let approved = ledger.campaign_event_numbers(campaign.id, autolab_core::control::APPROVED)?;
    let held: Vec<u32> = ledger
        .campaign_event_numbers(campaign.id, autolab_core::control::AWAITING_APPROVAL)?
        .into_iter()
        .filter(|n| !approved.contains(n))
        .collect();
    let mut open = Vec::new();
    for e in experiments.iter().filter(|e| !e.state.is_final()) {
        // How long its current run has been going, while a live run holds the lab.
        let running_secs = if live && running_state(e.state) {
            ledger
                .runs(e.row)?
                .iter()
                .rev()
                .find(|r| r.ended_at.is_none())
                .map(|r| (t - r.started_at).max(0.0))
        } else {
            None
        };
        open.push(json!({
            "id": e.number,
            "state": e.state.as_str(),
            "title": e.title,
            "running_secs": running_secs,
            "awaiting_approval": e.state == State::Queued && held.contains(&e.number),
        }));
    }
    let incumbent = campaign
        .incumbent
        .and_then(|n| experiments.iter().find(|e| e.number == n))
        .map(|e| json!({"id": e.number, "commit": e.commit, "score": e.score}));
    let has_open = !open.is_empty();
    // Not live: the campaign's last sign of life (a heartbeat, or any event after it).
    let last = ledger
        .campaign_last_event_at(campaign.id)?
        .unwrap_or(campaign.heartbeat)
        .max(campaign.heartbeat);
    let end = if live { t } else { last };
    // An orchestrator that ended cleanly recorded it; one that did not was killed.
    let last_start = ledger
        .campaign_event_times(campaign.id, "run_started")?
        .pop();
    let started_at = last_start.unwrap_or(0.0);
    let ended_cleanly = ledger
        .campaign_event_times(campaign.id, "run_ended")?
        .pop()
        .is_some_and(|at| at >= started_at);
    let ended_paused = ended_cleanly
        && ledger
            .campaign_events(campaign.id, "run_ended")?
            .pop()
            .is_some_and(|e| e["ending"] == "paused");
    let started = ledger
        .campaign_events(campaign.id, "run_started")?
        .pop()
        .unwrap_or(Value::Null);
    let since_start = last_start.map(|at| (end - at).max(0.0));
    let max_experiments = started["max_experiments"].as_u64();
    let max_hours = started["max_hours"].as_f64();
    let budget = json!({
        "max_experiments": max_experiments,
        "experiments_left": max_experiments.map(|m| m.saturating_sub(experiments.len() as u64)),
        "max_hours": max_hours,
        "seconds_left": max_hours.map(|h| (h * 3600.0 - since_start.unwrap_or(0.0)).max(0.0)),
    });
    // A ledger from before the inbox has none (a read-only view does not add the table).
    let controls = ledger
        .controls()
        .recent(campaign.id, 20)
        .unwrap_or_default();
    let paused = if live {
        paused_by(&controls, started_at)
    } else {
        None
    };
    // Projects mode's archive: each idea with its runs, outcome and review score. A ledger
    // from before projects has none (a read-only view does not add the table).
    let projects: Vec<Value> = ledger
        .projects()
        .list(campaign.id)
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let runs = ledger.projects().runs(p.id).map(|r| r.len()).unwrap_or(0);
            json!({
                "number": p.number,
                "title": p.idea["title"],
                "status": p.status,
                "runs": runs,
                "score": p.score,
                "decision": p.review.as_ref().map(|r| r["Decision"].clone()),
                "dir": p.dir,
                "paper": p.paper,
            })
        })
        .collect();
    // The supervisor's newest diagnosis of the current (or last) run, if it paused it.
    let diagnosis = ledger
        .campaign_event_times(campaign.id, autolab_engine::supervisor::DIAGNOSIS_EVENT)?
        .into_iter()
        .zip(ledger.campaign_events(campaign.id, autolab_engine::supervisor::DIAGNOSIS_EVENT)?)
        .rfind(|(at, _)| *at >= started_at)
        .map(|(_, d)| d);
    Ok(json!({
        "tag": campaign.tag,
        "diagnosis": diagnosis,
        "projects": projects,
        "incumbent": incumbent,
        "counts": counts,
        "running": if live { running } else { Vec::new() },
        "open": open,
        "experiments": experiments.len(),
        "orchestrator": if paused.is_some() {
            "paused"
        } else if live {
            "running"
        } else if ended_paused {
            // Its last run paused it (the supervisor, failed ideations, an outage).
            "paused"
        } else if has_open && ended_cleanly {
            "stopped"
        } else if has_open {
            "stale"
        } else {
            "idle"
        },
        "paused_by": paused,
        "controls": controls,
        "heartbeat": campaign.heartbeat,
        "elapsed_secs": (end - campaign.created_at).max(0.0),
        "budget": budget,
    }))
}
