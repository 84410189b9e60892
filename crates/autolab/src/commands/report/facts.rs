//! A campaign in facts, from the ledger alone: every number with the experiment it came from.

use std::collections::BTreeMap;
use std::path::Path;

use autolab_core::config::{Config, Goal};
use autolab_core::experiment::{Experiment, RunOutcome, Verdict};
use autolab_core::ledger::Ledger;
use autolab_core::stats::{Sample, pooled_noise, t_quantile, welch_sides};
use serde_json::{Value, json};

use crate::commands::common::{fmt_score, pick_campaign};
use crate::commands::status::status_of;
use crate::output::CliError;

/// Scores of an experiment's clean runs of its own commit (under successive halving, at the
/// full budget: the ones its verdict was judged on).
fn scores(ledger: &Ledger, config: Option<&Config>, e: &Experiment) -> Result<Vec<f64>, CliError> {
    let Some(config) = config else {
        return Ok(e.score.into_iter().collect());
    };
    let halving = config.params.as_ref().and_then(|p| p.halving.as_ref());
    Ok(ledger
        .runs(e.row)?
        .into_iter()
        .filter(|r| r.outcome == RunOutcome::Exited)
        .filter(|r| halving.is_none_or(|h| h.judges(r.budget)))
        .filter(|r| r.commit.is_none() || r.commit == e.commit)
        .filter_map(|r| autolab_core::score::score(&r.metrics, &config.metrics.score).ok())
        .collect())
}

/// Baseline → best: the gain in the goal's direction and its 95 % interval (Welch; a side
/// with one run borrows the baseline's noise), with the runs each side rests on.
fn gain(base: &[f64], best: &[f64], goal: Goal) -> Option<Value> {
    let (b, x) = (Sample::of(base)?, Sample::of(best)?);
    let g = match goal {
        Goal::Minimize => b.mean - x.mean,
        Goal::Maximize => x.mean - b.mean,
    };
    let noise = pooled_noise(&[b]);
    let c = welch_sides(&x, &b, (noise, noise), g, 0.0);
    let interval = (c.se > 0.0 && c.df.is_finite()).then(|| {
        let h = t_quantile(0.975, c.df) * c.se;
        json!({"low": g - h, "high": g + h})
    });
    Some(json!({
        "value": g,
        "relative": (b.mean != 0.0).then(|| g / b.mean.abs()),
        "ci95": interval,
        "runs": {"baseline": b.n, "best": x.n},
    }))
}

pub fn facts(ledger: &Ledger, root: &Path, tag: &str) -> Result<Value, CliError> {
    let campaign = pick_campaign(ledger, Some(tag))?;
    let exps = ledger.experiments(campaign.id)?;
    let status = status_of(ledger, &campaign, &exps, false)?;
    let config = Config::load_lab(root).ok();
    let goal = config.as_ref().map_or(Goal::Minimize, |c| c.score_goal());
    let primary = config.as_ref().map(|c| c.metrics.primary.clone());
    let ideas = ledger.ideas(campaign.id)?;
    let by = |e: &Experiment| -> String {
        ideas
            .get(&e.row)
            .and_then(|(_, x)| x.clone())
            .unwrap_or_else(|| e.proposer.to_string())
    };
    let mut compute = 0.0;
    for e in &exps {
        for r in ledger.runs(e.row)? {
            if let Some(end) = r.ended_at {
                compute += (end - r.started_at).max(0.0);
            }
        }
    }
    let baseline = exps.iter().find(|e| e.number == 0);
    let best = campaign
        .incumbent
        .and_then(|n| exps.iter().find(|e| e.number == n));
    let gain = match (baseline, best) {
        (Some(b), Some(x)) if x.number != b.number => gain(
            &scores(ledger, config.as_ref(), b)?,
            &scores(ledger, config.as_ref(), x)?,
            goal,
        ),
        _ => None,
    };
    // The kept changes in order, each against the incumbent before it.
    let mut kept = Vec::new();
    let mut before: Option<&Experiment> = baseline;
    for e in exps
        .iter()
        .filter(|e| e.verdict.is_some_and(Verdict::keeps) && e.number > 0)
    {
        let (idea, _) = ledger.idea(e.row)?;
        let delta = match (e.score, before.and_then(|b| b.score)) {
            (Some(x), Some(b)) => Some(match goal {
                Goal::Minimize => b - x,
                Goal::Maximize => x - b,
            }),
            _ => None,
        };
        kept.push(json!({
            "id": e.number,
            "title": e.title,
            "by": by(e),
            "hypothesis": idea.as_ref().and_then(|i| i["hypothesis"].as_str().map(str::to_string)),
            "score": e.score,
            "score_text": fmt_score(e.score),
            "over": before.map(|b| b.number),
            "gain": delta,
            "p": e.stats.as_ref().and_then(|s| s["p"].as_f64()),
            "runs": e.stats.as_ref().and_then(|s| s["candidate"]["n"].as_u64()),
            "reason": e.reason,
            "lines": [e.lines_added, e.lines_removed],
        }));
        before = Some(e);
    }
    // Why candidates failed: each verdict's reasons, with the experiments that gave them.
    let mut causes: BTreeMap<(String, String), Vec<u32>> = BTreeMap::new();
    for e in &exps {
        if let Some(v @ (Verdict::Crashed | Verdict::Timeout | Verdict::Invalid)) = e.verdict {
            let reason = e.reason.clone().unwrap_or_default();
            let short: String = reason
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(120)
                .collect();
            causes
                .entry((v.as_str().to_string(), short))
                .or_default()
                .push(e.number);
        }
    }
    let causes: Vec<Value> = causes
        .into_iter()
        .map(|((verdict, reason), ids)| json!({"verdict": verdict, "reason": reason, "count": ids.len(), "ids": ids}))
        .collect();
    // How each proposer (or LLM expert) did.
    let mut who: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for e in exps.iter().filter(|e| e.number > 0 && e.verdict.is_some()) {
        if e.verdict == Some(Verdict::Cancelled) {
            continue;
        }
        let w = who.entry(by(e)).or_default();
        w.0 += 1;
        w.1 += u32::from(e.verdict.is_some_and(Verdict::keeps));
    }
    let proposers: Vec<Value> = who
        .into_iter()
        .map(|(name, (judged, kept))| {
            json!({"name": name, "judged": judged, "kept": kept, "rate": f64::from(kept) / f64::from(judged.max(1))})
        })
        .collect();
    let started = ledger
        .campaign_events(campaign.id, "run_started")?
        .pop()
        .unwrap_or(Value::Null);
    Ok(json!({
        "tag": campaign.tag,
        "goal": config
            .as_ref()
            .map(|c| autolab_engine::llm::context::goal_text(root, c))
            .filter(|g| !g.trim().is_empty()),
        "command": config.as_ref().map(|c| c.task.command.clone()),
        "editable": config.as_ref().map(|c| c.task.editable.clone()),
        "policy": config.as_ref().map(|c| format!("{:?}", c.decide.policy).to_lowercase()),
        "primary": primary,
        "direction": goal.as_str(),
        "budget": {"max_experiments": started["max_experiments"], "max_hours": started["max_hours"]},
        "wall_secs": status["elapsed_secs"],
        "compute_secs": compute,
        "llm_usd": ledger.spent_usd(campaign.id)?,
        "counts": status["counts"],
        "experiments": exps.len(),
        "baseline": baseline.map(|b| json!({"id": b.number, "score": b.score, "score_text": fmt_score(b.score)})),
        "best": best.map(|b| json!({"id": b.number, "title": b.title, "score": b.score, "score_text": fmt_score(b.score)})),
        "gain": gain,
        "kept": kept,
        "causes": causes,
        "proposers": proposers,
        "projects": status["projects"],
        // `autolab ablate`'s newest table, while the incumbent it ablated is still the best.
        "ablation": autolab_engine::ablation::latest(ledger, campaign.id)
            .filter(|a| Some(a.incumbent) == campaign.incumbent),
    }))
}
