//! What the pages show, read from the ledger: each view is a JSON value a template renders.
//! Nothing here writes; every request reads the ledger as it is now.

use std::path::Path;

use autolab_core::config::{Config, Goal};
use autolab_core::experiment::{Experiment, State, Verdict};
use autolab_core::ledger::Ledger;
use serde_json::{Value, json};

use crate::commands::common::{experiment_json, fmt_score, pick_campaign};
use crate::commands::status::status_of;
use crate::output::CliError;
use crate::plot;

/// Cards shown in the column of judged experiments (the newest); the rest are counted.
const JUDGED_CARDS: usize = 40;
/// Rows of the leaderboard.
const LEADERBOARD_ROWS: usize = 100;
/// LLM calls in the agent's stream.
const AGENT_CALLS: u32 = 15;

/// The lifecycle columns of the board, with the states each gathers.
const COLUMNS: &[(&str, &[State])] = &[
    ("proposed", &[State::Proposed]),
    ("implementing", &[State::Implementing]),
    ("queued", &[State::Queued]),
    ("running", &[State::Running, State::Evaluating]),
    ("confirming", &[State::Confirming]),
];

/// The campaigns of the lab, newest first, and which one is shown.
pub fn campaigns(ledger: &Ledger, tag: Option<&str>) -> Result<(Vec<String>, String), CliError> {
    let shown = pick_campaign(ledger, tag)?.tag;
    let mut all: Vec<String> = ledger.campaigns()?.into_iter().map(|c| c.tag).collect();
    all.reverse();
    Ok((all, shown))
}

/// The overview of campaign `tag`: summary, progress plot, board, leaderboard, commands.
pub fn overview(
    ledger: &Ledger,
    root: &Path,
    tag: &str,
    live: bool,
    sort: Option<&str>,
) -> Result<Value, CliError> {
    let campaign = pick_campaign(ledger, Some(tag))?;
    let exps = ledger.experiments(campaign.id)?;
    let mut status = status_of(ledger, &campaign, &exps, live)?;
    // A long steering note is the experts' to read in full, not every page's.
    if let Some(list) = status["controls"].as_array_mut() {
        for c in list {
            if let Some(arg) = c["arg"].as_str()
                && arg.chars().count() > 120
            {
                c["arg"] = json!(format!("{}…", arg.chars().take(120).collect::<String>()));
            }
        }
    }
    let config = Config::load_lab(root).ok();
    let goal = config.as_ref().map_or(Goal::Minimize, |c| c.score_goal());
    let primary = config
        .as_ref()
        .map(|c| c.metrics.primary.clone())
        .unwrap_or_else(|| "score".into());
    let baseline = exps.iter().find(|e| e.number == 0);
    let best = campaign
        .incumbent
        .and_then(|n| exps.iter().find(|e| e.number == n));
    let gain = match (baseline.and_then(|b| b.score), best.and_then(|b| b.score)) {
        (Some(b), Some(x)) => Some(match goal {
            Goal::Minimize => b - x,
            Goal::Maximize => x - b,
        }),
        _ => None,
    };
    let crashes = exps
        .iter()
        .filter(|e| matches!(e.verdict, Some(Verdict::Crashed | Verdict::Timeout)))
        .count();
    let spent = ledger.spent_usd(campaign.id).unwrap_or(0.0);
    let t = now();
    // With the approve gate: candidates waiting for an approval, as `status` finds them.
    let awaiting: Vec<u64> = status["open"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| o["awaiting_approval"] == true)
        .filter_map(|o| o["id"].as_u64())
        .collect();
    let mut columns = Vec::new();
    for (name, states) in COLUMNS {
        let mut cards = Vec::new();
        for e in exps.iter().filter(|e| states.contains(&e.state)) {
            let mut c = card(ledger, e, live, t)?;
            c["awaiting"] = json!(awaiting.contains(&u64::from(e.number)));
            cards.push(c);
        }
        columns.push(json!({"name": name, "count": cards.len(), "cards": cards}));
    }
    let judged: Vec<&Experiment> = exps.iter().filter(|e| e.state.is_final()).collect();
    let mut judged_cards = Vec::new();
    for e in judged.iter().rev().take(JUDGED_CARDS) {
        judged_cards.push(card(ledger, e, live, t)?);
    }
    columns.push(json!({
        "name": "judged",
        "count": judged.len(),
        "cards": judged_cards,
        "more": judged.len().saturating_sub(JUDGED_CARDS),
    }));
    let metrics: Vec<String> = {
        let mut names: Vec<String> = Vec::new();
        for e in &exps {
            for k in e.metrics.keys() {
                if !names.contains(k) {
                    names.push(k.clone());
                }
            }
        }
        names
    };
    Ok(json!({
        "tag": tag,
        "status": status,
        "primary": primary,
        "goal": goal.as_str(),
        "baseline": baseline.map(|b| fmt_score(b.score)),
        "best": best.map(|b| json!({"id": b.number, "title": b.title, "score": fmt_score(b.score)})),
        "gain": gain.map(autolab_core::stats::fmt_value),
        "gain_pct": match (gain, baseline.and_then(|b| b.score)) {
            (Some(g), Some(b)) if b != 0.0 => Some(format!("{:.1}", 100.0 * g / b.abs())),
            _ => None,
        },
        "noise": baseline.and_then(|b| b.stats.as_ref()).map(|s| s["noise_runs"].clone()),
        "crashes": crashes,
        "eta": eta(&status, &exps),
        "spent_usd": format!("{spent:.4}"),
        "columns": columns,
        "metrics": metrics
            .iter()
            .map(|m| json!({"name": m, "href": format!("/?tag={}&sort={}", url_part(tag), url_part(m))}))
            .collect::<Vec<_>>(),
        "leaderboard": leaderboard(&exps, baseline, best, goal, sort),
        "agent": agent(ledger, root, campaign.id, &exps)?,
        "plot": plot::progress(&exps, goal, baseline),
    }))
}

/// Minutes until the experiment budget is used, at the pace so far (judged experiments over
/// the campaign's elapsed time); none without an experiment budget or a pace.
fn eta(status: &Value, exps: &[Experiment]) -> Option<String> {
    let left = status["budget"]["experiments_left"].as_u64()?;
    let judged = exps.iter().filter(|e| e.verdict.is_some()).count();
    let elapsed = status["elapsed_secs"].as_f64()?;
    if judged == 0 || left == 0 {
        return None;
    }
    let secs = elapsed / judged as f64 * left as f64;
    Some(format!("{:.0} min", (secs / 60.0).ceil()))
}

/// The LLM path as it works: its newest calls, the playbook and the steering notes.
fn agent(
    ledger: &Ledger,
    root: &Path,
    campaign: autolab_core::ids::CampaignId,
    exps: &[Experiment],
) -> Result<Value, CliError> {
    let paths = autolab_core::StatePaths::new(root);
    let read = |p: std::path::PathBuf| -> String {
        let text = std::fs::read_to_string(p).unwrap_or_default();
        text.chars().take(6000).collect()
    };
    let calls: Vec<Value> = ledger
        .recent_transcripts(campaign, AGENT_CALLS)?
        .into_iter()
        .map(|t| {
            let number = t
                .experiment
                .and_then(|row| exps.iter().find(|e| e.row == row))
                .map(|e| e.number);
            json!({
                "ago": format!("{:.0} s", (now() - t.at).max(0.0)),
                "role": t.role,
                "expert": t.expert,
                "experiment": number,
                "tokens": t.prompt_tokens + t.completion_tokens,
                "latency_ms": t.latency_ms,
                "cost": format!("{:.4}", t.cost_usd),
                "error": t.error,
            })
        })
        .collect();
    Ok(json!({
        "calls": calls,
        "playbook": read(paths.playbook()),
        "steering": read(paths.steering()),
    }))
}

fn card(ledger: &Ledger, e: &Experiment, live: bool, t: f64) -> Result<Value, CliError> {
    let (_, expert) = ledger.idea(e.row)?;
    let running = matches!(
        e.state,
        State::Running | State::Evaluating | State::Confirming
    );
    let run_secs = if running && live {
        ledger
            .runs(e.row)?
            .iter()
            .rev()
            .find(|r| r.ended_at.is_none())
            .map(|r| (t - r.started_at).max(0.0).round())
    } else {
        None
    };
    Ok(json!({
        "id": e.number,
        "num": format!("{:04}", e.number),
        "title": e.title,
        "by": expert.unwrap_or_else(|| e.proposer.to_string()),
        "state": e.state.as_str(),
        "verdict": e.verdict.map(|v| v.as_str()),
        "score": e.score.map(|s| fmt_score(Some(s))),
        "run_secs": run_secs,
        "cancellable": !e.state.is_final() && e.number > 0,
    }))
}

/// Judged, scored experiments, best first (or by `sort`: any metric, its direction from the
/// score when it is scored, else descending), with deltas to the baseline and the incumbent.
fn leaderboard(
    exps: &[Experiment],
    baseline: Option<&Experiment>,
    best: Option<&Experiment>,
    goal: Goal,
    sort: Option<&str>,
) -> Vec<Value> {
    let mut rows: Vec<&Experiment> = exps
        .iter()
        .filter(|e| e.state.is_final() && e.score.is_some())
        .collect();
    let key = |e: &Experiment| -> f64 {
        match sort {
            Some(m) => e.metrics.get(m).copied().unwrap_or(f64::NAN),
            None => e.score.unwrap_or(f64::NAN),
        }
    };
    let ascending = sort.is_none() && goal == Goal::Minimize;
    rows.sort_by(|a, b| {
        let (x, y) = (key(a), key(b));
        // Missing values last either way.
        match (x.is_nan(), y.is_nan()) {
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ if ascending => x.total_cmp(&y),
            _ => y.total_cmp(&x),
        }
    });
    let delta = |e: &Experiment, to: Option<&Experiment>| -> Option<String> {
        Some(format!("{:+.6}", e.score? - to?.score?))
    };
    rows.iter()
        .take(LEADERBOARD_ROWS)
        .map(|e| {
            let mut v = experiment_json("", e, 0);
            v["score"] = json!(fmt_score(e.score));
            v["vs_baseline"] = json!(delta(e, baseline));
            v["vs_best"] = json!(delta(e, best));
            v["n"] = json!(e.stats.as_ref().and_then(|s| s["candidate"]["n"].as_u64()));
            v["p"] = json!(
                e.stats
                    .as_ref()
                    .and_then(|s| s["p"].as_f64())
                    .map(|p| format!("{p:.3}"))
            );
            v["metrics"] = e
                .metrics
                .iter()
                .map(|(k, x)| (k.clone(), json!(fmt_score(Some(*x)))))
                .collect::<serde_json::Map<_, _>>()
                .into();
            v
        })
        .collect()
}

/// The experiment page of `tag`'s experiment `number`, with the live tail of its log while it
/// runs and the figures its runs wrote.
pub fn experiment(
    ledger: &Ledger,
    root: &Path,
    tag: &str,
    number: u32,
) -> Result<Option<Value>, CliError> {
    let campaign = pick_campaign(ledger, Some(tag))?;
    let Some(e) = ledger.experiment(campaign.id, number)? else {
        return Ok(None);
    };
    let mut v = crate::commands::show::detail_json(ledger, root, tag, &e)?;
    let runs = ledger.runs(e.row)?;
    // While it runs, its log as it is now (the ledger keeps the tail once it ends).
    v["live_log"] = json!(
        runs.last()
            .filter(|r| r.ended_at.is_none())
            .map(|r| tail_of(&Path::new(&r.run_dir).join("stdout.log")))
    );
    v["figures"] = runs
        .iter()
        .flat_map(|r| {
            super::files::figures(Path::new(&r.run_dir))
                .into_iter()
                .map(move |f| json!({"run": r.index, "name": f}))
        })
        .collect();
    // The lineage: the kept experiments this one was built on, back to the baseline.
    let exps = ledger.experiments(campaign.id)?;
    let mut lineage = Vec::new();
    let mut parent = e.parent.clone();
    while let Some(p) = exps
        .iter()
        .find(|x| x.commit.as_deref() == Some(parent.as_str()) && x.number != e.number)
    {
        lineage.push(json!({"id": p.number, "title": p.title}));
        if p.parent == parent || lineage.len() > exps.len() {
            break;
        }
        parent = p.parent.clone();
    }
    v["lineage"] = json!(lineage);
    v["curves"] = json!(crate::curves::learning_curves(root, ledger, &runs));
    v["score_text"] = json!(fmt_score(e.score));
    v["num"] = json!(format!("{:04}", e.number));
    v["diff_lines"] = v["diff"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let class = if l.starts_with("+++") || l.starts_with("---") {
                "file"
            } else if l.starts_with('+') {
                "add"
            } else if l.starts_with('-') {
                "del"
            } else if l.starts_with("@@") {
                "hunk"
            } else {
                ""
            };
            json!({"class": class, "text": l})
        })
        .collect();
    Ok(Some(v))
}

/// The last 8 KiB of a log (a plain file only), as text.
fn tail_of(path: &Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = autolab_core::open_plain(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(8192)));
    let mut buf = Vec::new();
    let _ = f.take(8192).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// `text` for a URL's query: unreserved characters as they are, the rest percent-encoded.
pub fn url_part(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
