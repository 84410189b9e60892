//! Ablation (`autolab ablate`): which of a campaign's kept changes carried the gain. For each
//! change on the incumbent line, leave-one-out (the final incumbent with that change reverted)
//! and add-one-in (that change alone on the baseline), each run `repeats` times; with the final
//! incumbent and the baseline measured the same way, each change's contribution gets a
//! confidence interval. Every variant is a commit autolab builds without a worktree (a
//! three-way merge of trees) and runs as the baseline of a side campaign `ablate-<key>` based
//! on it — the lab's normal path (worktree, sandbox, protected files, `evaluate`, the runner),
//! never touching the campaign's incumbent. The key names the variant's tree, the config and
//! the repeats: a variant measured before (the same tree twice, an interrupted ablation run
//! again) is read back, not run again.

mod effects;
mod line;
mod variants;

pub use effects::{Ablation, Effect, Measured, Row, effect, pooled};
pub use line::{Change, incumbent_line};
pub use variants::{Plan, Spec, Variant};

use std::sync::atomic::{AtomicBool, Ordering};

use autolab_core::config::{Goal, Policy};
use autolab_core::ledger::{ABLATION_TAG_PREFIX, Ledger};
use autolab_core::stats::Sample;

use crate::EngineError;
use crate::campaign::{Observer, Parts, RunOptions, run_campaign_with};
use crate::judge::run::{RunCall, call};
use crate::lab::Lab;
use crate::proposer::{Proposal, Proposer, Trial};

/// The campaign event an ablation's table is stored as (the newest is the campaign's).
pub const ABLATION_EVENT: &str = "ablation";

/// A variant's side campaign proposes nothing: its baseline is the variant.
struct NoProposals;

impl Proposer for NoProposals {
    fn propose(&mut self, _number: u32, _history: &[Trial]) -> Option<Proposal> {
        None
    }
}

/// The side campaign a variant is measured in under `lab`'s config: `code` names what it runs
/// (its tree, and its parameter values if any). The config counts as parsed: a comment or a
/// blank line changes nothing that runs.
pub fn variant_tag(lab: &Lab, code: &str, repeats: u32) -> String {
    let config = lab
        .config_text
        .parse::<toml::Table>()
        .map_or_else(|_| lab.config_text.clone(), |t| t.to_string());
    let key = crate::writeup::prompt_hash(&format!("{code}\n{repeats}\n{config}"));
    format!("{ABLATION_TAG_PREFIX}{}", &key[..12])
}

/// The newest ablation stored for campaign `tag`, if any.
pub fn latest(ledger: &Ledger, campaign: autolab_core::ids::CampaignId) -> Option<Ablation> {
    let events = ledger.campaign_events(campaign, ABLATION_EVENT).ok()?;
    events
        .into_iter()
        .rev()
        .find_map(|v| serde_json::from_value(v).ok())
}

/// What the side campaign `side` says of its variant: its baseline's scored runs once it has
/// `repeats` of them, why it has none when its baseline failed, or None while unfinished.
fn read_back(lab: &Lab, side: &str, repeats: u32) -> Result<Option<Measured>, EngineError> {
    let ledger = Ledger::open(&lab.ledger_path())?;
    let Some(campaign) = ledger.campaign(side)? else {
        return Ok(None);
    };
    let Some(base) = ledger.experiment(campaign.id, 0)? else {
        return Ok(None);
    };
    let measured = |sample, why| Measured {
        tag: Some(side.to_string()),
        commit: base.commit.clone(),
        sample,
        why,
    };
    let runs = ledger.runs(base.row)?;
    if base.state.is_final() && !base.state.keeps() {
        let mut why = format!(
            "its runs failed: {}",
            base.reason.clone().unwrap_or_default()
        );
        // What the run said last, e.g. the exception.
        if let Some(last) = runs
            .last()
            .and_then(|r| r.log_tail.as_deref())
            .and_then(|t| t.lines().rev().find(|l| !l.trim().is_empty()))
        {
            let whole = last.trim();
            let mut last: String = whole.chars().take(120).collect();
            if whole.chars().count() > 120 {
                last.push('…');
            }
            if !why.contains(&last) {
                why.push_str(&format!(" ({last})"));
            }
        }
        return Ok(Some(measured(None, Some(why))));
    }
    let scores: Vec<f64> = runs
        .iter()
        .filter_map(
            |r| match call(r, &lab.config.metrics.score, lab.config.task.timeout) {
                RunCall::Scored(s) => Some(s),
                _ => None,
            },
        )
        .collect();
    if !base.state.is_final() || scores.len() < repeats as usize {
        return Ok(None);
    }
    Ok(Some(measured(Sample::of(&scores), None)))
}

/// Runs a variant `repeats` times, or reads back an earlier measurement. A variant whose
/// runs failed before is tried again (in a side campaign of its own, `<tag>-<k>`): the cause
/// may be fixed, or passing.
fn measure(
    lab: &Lab,
    spec: &Spec,
    repeats: u32,
    opts: &RunOptions,
    observer: &mut dyn Observer,
    stop: &AtomicBool,
    ran: &mut std::collections::HashSet<String>,
) -> Result<Measured, EngineError> {
    let commit = spec.commit.as_str();
    let mut code = lab
        .repo
        .tree_of(commit)
        .unwrap_or_else(|| commit.to_string());
    if let Some(p) = &spec.params {
        code.push('\n');
        code.push_str(&p.to_string());
    }
    let key = variant_tag(lab, &code, repeats);
    let mut side = key.clone();
    for k in 1.. {
        match read_back(lab, &side, repeats)? {
            Some(m) if m.sample.is_some() => {
                observer.report(crate::Report::Note(format!(
                    "ablation: measured before, read back from `{side}`"
                )));
                return Ok(m);
            }
            // Failed in this very ablation (a variant two rows share): not again.
            Some(m) if ran.contains(&side) => return Ok(m),
            Some(_) => side = format!("{key}-{k}"),
            None => break,
        }
    }
    observer.report(crate::Report::Note(format!(
        "ablation: running in side campaign `{side}`"
    )));
    let mut quiet = lab.clone();
    quiet.config.notify = None;
    quiet.config.explore.auto = false;
    quiet.config.decide.approve = false;
    // The baseline of a noise-aware campaign runs `repeats` times: the variant's sample.
    quiet.config.decide.policy = Policy::NoiseAware;
    quiet.config.decide.repeats = repeats;
    let side_opts = RunOptions {
        tag: side.clone(),
        max_experiments: Some(1),
        max_hours: None,
        parallel: Some(1),
        seed: opts.seed,
        sandbox_helper: opts.sandbox_helper.clone(),
        serial_agent: false,
        base: Some(commit.to_string()),
        base_params: spec.params.clone(),
        holder: opts
            .holder
            .as_ref()
            .map(|h| format!("{h} (variant {side})")),
    };
    ran.insert(side.clone());
    let parts = Parts {
        proposer: Some(Box::new(NoProposals)),
        coder: None,
        runner: None,
    };
    match run_campaign_with(&quiet, &side_opts, observer, stop, parts) {
        Ok(_) | Err(EngineError::BaselineFailed { .. }) => {}
        Err(e) => return Err(e),
    }
    read_back(lab, &side, repeats)?.ok_or_else(|| {
        EngineError::usage(
            "the ablation was stopped before its end",
            Some("the same command resumes it: the variants measured so far are kept"),
        )
    })
}

/// Answers the ablated campaign's inbox until `done`: `stop` (or Ctrl-C, `stop`) sets `halt`;
/// anything else is refused, as only an ablation runs.
fn watch_inbox(
    lab: &Lab,
    campaign: autolab_core::ids::CampaignId,
    stop: &AtomicBool,
    halt: &AtomicBool,
    done: &AtomicBool,
) {
    let Ok(ledger) = Ledger::open(&lab.ledger_path()) else {
        return;
    };
    while !done.load(Ordering::SeqCst) {
        if stop.load(Ordering::SeqCst) {
            halt.store(true, Ordering::SeqCst);
        }
        for c in ledger.controls().waiting(campaign).unwrap_or_default() {
            let effect = if c.command == autolab_core::control::Command::Stop {
                halt.store(true, Ordering::SeqCst);
                "stopping the ablation: the variant running now is cancelled; `autolab ablate` again resumes it"
            } else {
                "refused: an ablation of this campaign is running, not the campaign; only `stop` acts on it"
            };
            let _ = ledger.controls().take(c.id, effect);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Measures each variant in turn until `halt`.
fn measure_all(
    lab: &Lab,
    variants: &[Variant],
    repeats: u32,
    side_opts: &RunOptions,
    observer: &mut dyn Observer,
    halt: &AtomicBool,
) -> Result<Vec<Measured>, EngineError> {
    let stopped = || {
        EngineError::usage(
            "the ablation was stopped before its end",
            Some("the same command resumes it: the variants measured so far are kept"),
        )
    };
    let mut measured = Vec::new();
    let mut ran = std::collections::HashSet::new();
    for (k, v) in variants.iter().enumerate() {
        if halt.load(Ordering::SeqCst) {
            return Err(stopped());
        }
        observer.report(crate::Report::Note(format!(
            "ablation variant {}/{}: {}",
            k + 1,
            variants.len(),
            v.label
        )));
        measured.push(match &v.spec {
            Ok(spec) => measure(lab, spec, repeats, side_opts, observer, halt, &mut ran)?,
            Err(why) => Measured::missing(format!("does not apply: {why}")),
        });
    }
    Ok(measured)
}

/// Ablates campaign `tag`'s incumbent line with `repeats` runs a variant; the table is
/// stored as the campaign's `ablation` event and returned.
pub fn run_ablation(
    lab: &Lab,
    tag: &str,
    repeats: u32,
    opts: &RunOptions,
    observer: &mut dyn Observer,
    stop: &AtomicBool,
) -> Result<Ablation, EngineError> {
    if !(2..=100).contains(&repeats) {
        return Err(EngineError::usage(
            format!(
                "{repeats} run(s) a variant: between 2 (a confidence interval needs two) and 100"
            ),
            Some("use at least 2 repeats"),
        ));
    }
    let ledger = Ledger::open(&lab.ledger_path())?;
    let Some(campaign) = ledger.campaign(tag)? else {
        return Err(EngineError::usage(
            format!("this lab has no campaign `{tag}`"),
            None,
        ));
    };
    if campaign.is_side() {
        return Err(EngineError::usage(
            format!(
                "`{tag}` is a side campaign (one variant of an ablation, or one red-team attack)"
            ),
            Some("ablate the campaign it belongs to: `autolab ablate --tag <its tag>`"),
        ));
    }
    crate::campaign::refuse_defining_changes(lab, &ledger, &campaign)?;
    let Some(incumbent) = campaign.incumbent else {
        return Err(EngineError::usage(
            format!("campaign `{tag}` has no incumbent yet (its baseline has no verdict)"),
            None,
        ));
    };
    let experiments = ledger.experiments(campaign.id)?;
    let line = incumbent_line(&experiments, incumbent, &campaign.base_commit)
        .map_err(|why| EngineError::usage(format!("campaign `{tag}`: {why}"), None))?;
    if line.is_empty() {
        return Err(EngineError::usage(
            format!("campaign `{tag}` kept no change over its baseline: nothing to ablate"),
            None,
        ));
    }
    drop(ledger);
    let base = campaign.base_commit.clone();
    let of = |n: u32| experiments.iter().find(|e| e.number == n);
    let by_params = lab.config.params.as_ref().filter(|_| {
        line.iter()
            .all(|c| of(c.number).is_some_and(|e| e.params.is_some()))
    });
    let plan = match (by_params, of(incumbent)) {
        (Some(params), Some(inc)) => {
            let with_values: Vec<_> = line
                .iter()
                .map(|c| (c.clone(), of(c.number).and_then(|e| e.params.clone())))
                .collect();
            variants::by_parameter(lab, params, &base, inc, &with_values).map_err(|why| {
                EngineError::usage(
                    format!("campaign `{tag}` cannot be ablated by parameter: {why}"),
                    Some("declare each parameter's `default` in [params]: the value the code uses when it is not given"),
                )
            })?
        }
        _ => variants::by_change(lab, tag, &base, incumbent, line),
    };
    if plan.rows.is_empty() {
        return Err(EngineError::usage(
            format!(
                "campaign `{tag}`'s incumbent holds every parameter at the baseline's value: nothing to ablate"
            ),
            None,
        ));
    }
    let variants = plan.variants;
    let side_opts = RunOptions {
        seed: Some(campaign.seed),
        // `autolab stop` finds the ablation by the campaign it ablates.
        holder: Some(format!("autolab ablate --tag {tag}")),
        ..opts.clone()
    };
    // The variants stop on Ctrl-C, or on `autolab stop` written to the ablated campaign's
    // inbox (which a watcher answers while the ablation runs).
    let halt = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    let measured = std::thread::scope(|scope| {
        scope.spawn(|| watch_inbox(lab, campaign.id, stop, &halt, &done));
        let result = measure_all(lab, &variants, repeats, &side_opts, observer, &halt);
        done.store(true, Ordering::SeqCst);
        result
    })?;
    let goal = lab.config.score_goal();
    let confidence = lab.config.decide.confidence;
    let noise = pooled(&measured.iter().collect::<Vec<_>>());
    let (full_m, base_m) = (measured[0].clone(), measured[1].clone());
    let rows = plan
        .rows
        .into_iter()
        .enumerate()
        .map(|(i, change)| {
            let without = measured[2 + 2 * i].clone();
            let alone = measured[3 + 2 * i].clone();
            Row {
                leave_one_out: effect(&full_m, &without, goal, noise, confidence),
                add_one_in: effect(&alone, &base_m, goal, noise, confidence),
                change,
                without,
                alone,
            }
        })
        .collect();
    let ablation = Ablation {
        tag: tag.to_string(),
        by: plan.by.to_string(),
        repeats,
        confidence,
        goal: match goal {
            Goal::Minimize => "minimize".into(),
            Goal::Maximize => "maximize".into(),
        },
        incumbent,
        total: effect(&full_m, &base_m, goal, noise, confidence),
        full: full_m,
        baseline: base_m,
        rows,
        noise_sd: noise.map(|n| n.sd),
        at: autolab_core::ledger::now(),
    };
    let ledger = Ledger::open(&lab.ledger_path())?;
    ledger.campaign_event(
        campaign.id,
        ABLATION_EVENT,
        &serde_json::to_value(&ablation).unwrap_or_default(),
    )?;
    Ok(ablation)
}

#[cfg(test)]
mod tests;
