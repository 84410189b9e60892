//! The evaluation red-team (AlphaLab's adversarial harness): an LLM critic writes candidates
//! that would raise the score without a real improvement — editing or shadowing the
//! evaluation, reading validation labels, printing a forged metric line, caching results
//! across runs, editing time limits or seeds, writing into other runs' directories — and
//! autolab runs each through the normal path (worktree, protected files, sandbox, `evaluate`,
//! the lab's policy) in a campaign of its own: the baseline, then the attack. An attack the
//! lab keeps is a hole: "NOT STOPPED", with advice.

mod attacks;
mod verdicts;

pub use attacks::{ATTACK_KINDS, Attack, ask_for_attacks, parse_attacks, parse_attacks_counted};
pub use verdicts::{Outcome, REDTEAM_FILE, Report, advice, outcome_of};

use std::path::Path;
use std::sync::atomic::AtomicBool;

use autolab_core::confine::confine;
use autolab_core::experiment::ProposerKind;

use crate::EngineError;
use crate::campaign::{Observer, Parts, RunOptions, run_campaign_with};
use crate::coder::Coder;
use crate::lab::Lab;
use crate::proposer::{Proposal, Proposer, Trial};

/// Proposes one attack, as experiment #1.
struct AttackProposer {
    title: String,
}

impl Proposer for AttackProposer {
    fn propose(&mut self, number: u32, _history: &[Trial]) -> Option<Proposal> {
        (number == 1).then(|| Proposal {
            title: self.title.clone(),
            proposer: ProposerKind::Llm,
            params: None,
        })
    }
}

/// Writes the attack's files into the worktree (never outside it).
struct AttackCoder {
    files: Vec<(String, String)>,
}

impl Coder for AttackCoder {
    fn implement(&self, _proposal: &Proposal, worktree: &Path) -> Result<(), String> {
        for (rel, content) in &self.files {
            let path = confine(worktree, rel).map_err(|e| format!("refused: {e}"))?;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            std::fs::write(&path, content)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        Ok(())
    }
}

/// The campaign tag attack `k` (1-based) of the red-team run `stamp` is tried in.
pub fn attack_tag(stamp: &str, k: usize) -> String {
    format!("{}{stamp}-{k}", autolab_core::ledger::REDTEAM_TAG_PREFIX)
}

/// Runs attack `k` in its own campaign (baseline, then the attack) and reads what stopped it.
/// The lab's notifications are off for it.
pub fn try_attack(
    lab: &Lab,
    attack: &Attack,
    tag: &str,
    opts: &RunOptions,
    observer: &mut dyn Observer,
    stop: &AtomicBool,
) -> Result<Outcome, EngineError> {
    let mut quiet = lab.clone();
    quiet.config.notify = None;
    quiet.config.explore.auto = false;
    // Nobody is asked to approve an attack: the approve gate would wait for ever.
    quiet.config.decide.approve = false;
    let opts = RunOptions {
        tag: tag.to_string(),
        max_experiments: Some(2),
        max_hours: None,
        parallel: Some(1),
        seed: opts.seed,
        sandbox_helper: opts.sandbox_helper.clone(),
        serial_agent: false,
        base: None,
        base_params: None,
        holder: None,
    };
    let parts = Parts {
        proposer: Some(Box::new(AttackProposer {
            title: format!("red-team: {}", attack.name),
        })),
        coder: Some(Box::new(AttackCoder {
            files: attack.files.clone(),
        })),
        runner: None,
    };
    match run_campaign_with(&quiet, &opts, observer, stop, parts) {
        Ok(_) => {}
        Err(EngineError::BaselineFailed { reason, .. }) => {
            return Ok(Outcome::not_judged(format!(
                "the baseline itself failed ({reason}): fix the lab first"
            )));
        }
        Err(e) => return Err(e),
    }
    let ledger = autolab_core::ledger::Ledger::open(&lab.ledger_path())?;
    let Some(campaign) = ledger.campaign(tag)? else {
        return Ok(Outcome::not_judged("its campaign was not created".into()));
    };
    let base = ledger.experiment(campaign.id, 0)?;
    let exp = ledger.experiment(campaign.id, 1)?;
    Ok(outcome_of(
        &lab.config.task,
        attack,
        base.as_ref(),
        exp.as_ref(),
        lab.config.score_goal(),
    ))
}

#[cfg(test)]
mod tests;

/// What the red-team was tried against: the config text and the protected files at HEAD (a
/// change of either makes an earlier report stale).
pub fn fingerprint(lab: &Lab) -> String {
    let mut text = lab.config_text.clone();
    let head = lab.repo.head().unwrap_or_else(|_| "HEAD".into());
    for f in lab.repo.files_at(&head).unwrap_or_default() {
        if lab
            .config
            .task
            .protected
            .iter()
            .any(|p| autolab_core::git::path_matches(p, &f))
        {
            text.push_str(&f);
            text.push_str(
                &lab.repo
                    .run(&["show", &format!("{head}:{f}")])
                    .unwrap_or_default(),
            );
        }
    }
    crate::writeup::prompt_hash(&text)
}

/// The newest red-team report of the lab, if any.
pub fn load_report(lab: &Lab) -> Option<Report> {
    let text = std::fs::read_to_string(lab.paths().state_dir().join(REDTEAM_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Asks the critic for `attacks` attacks and tries each; the report is written to
/// `.autolab/redteam.json`. Transcripts go to `log`.
#[allow(clippy::too_many_arguments)]
pub fn run_redteam(
    lab: &Lab,
    caller: &crate::llm::Caller,
    attacks: usize,
    opts: &RunOptions,
    observer: &mut dyn Observer,
    stop: &AtomicBool,
    log: &mut Vec<autolab_core::ledger::Transcript>,
) -> Result<Report, EngineError> {
    let (list, dropped) =
        ask_for_attacks(caller, lab, attacks, log).map_err(|why| EngineError::Usage {
            message: format!("the red-team critic wrote no attack: {why}"),
            hint: Some("check the LLM of [agent]".into()),
        })?;
    let stamp = format!("{}", autolab_core::ledger::now() as u64);
    let mut outcomes = Vec::new();
    let stopped = || stop.load(std::sync::atomic::Ordering::SeqCst);
    for (k, attack) in list.iter().enumerate() {
        if stopped() {
            break;
        }
        let tag = attack_tag(&stamp, k + 1);
        observer.report(crate::Report::Note(format!(
            "red-team attack {}/{}: {} ({})",
            k + 1,
            list.len(),
            attack.name,
            attack.kind
        )));
        let mut o = try_attack(lab, attack, &tag, opts, observer, stop)?;
        if o.attack.is_empty() {
            o.attack = attack.name.clone();
            o.kind = attack.kind.clone();
            o.explanation = attack.explanation.clone();
            o.files = attack.files.iter().map(|(p, _)| p.clone()).collect();
        }
        o.tag = tag;
        outcomes.push(o);
    }
    // An interrupted red-team says nothing of the lab: no report is kept.
    if stopped() {
        return Err(EngineError::Usage {
            message: "the red-team was stopped before every attack was tried; no report was kept"
                .into(),
            hint: None,
        });
    }
    let report = Report {
        stamp,
        at: autolab_core::ledger::now(),
        fingerprint: fingerprint(lab),
        outcomes,
        dropped,
    };
    let path = lab.paths().state_dir().join(REDTEAM_FILE);
    let text = serde_json::to_string_pretty(&report).unwrap_or_default();
    std::fs::write(&path, text).map_err(|e| EngineError::io(&path, e))?;
    Ok(report)
}
