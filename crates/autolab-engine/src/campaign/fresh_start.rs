//! A tag is not poisoned by a failed baseline: when the baseline crashed, timed out or was
//! invalid, nothing else ran, and the lab changed since (a new commit, or a new config), the
//! next `autolab run` of the tag starts the campaign afresh, so the fix counts.

use autolab_core::experiment::Verdict;
use autolab_core::ledger::{Campaign, Ledger};

use crate::{EngineError, Lab, Observer, Report};

/// Forgets `campaign` if its failed baseline deserves another try; returns whether it did.
pub(super) fn retry_failed_baseline(
    lab: &Lab,
    ledger: &mut Ledger,
    campaign: &Campaign,
    observer: &mut dyn Observer,
) -> Result<bool, EngineError> {
    let experiments = ledger.experiments(campaign.id)?;
    let [baseline] = experiments.as_slice() else {
        return Ok(false);
    };
    let failed = matches!(
        baseline.verdict,
        Some(Verdict::Crashed | Verdict::Timeout | Verdict::Invalid)
    );
    if baseline.number != 0 || !failed {
        return Ok(false);
    }
    let head = lab.repo.head()?;
    let new_commit = head != campaign.base_commit;
    let new_config = ledger.campaign_config(campaign.id)? != lab.config_text;
    if !new_commit && !new_config {
        return Ok(false);
    }
    // Its refs hold nothing worth keeping: the incumbent branch and any archive point at the
    // base commit or the baseline's own commit. Each goes only if it still points there.
    let known: Vec<&str> = [
        Some(campaign.base_commit.as_str()),
        baseline.commit.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    for r in lab.repo.refs_of_tag(&campaign.tag)? {
        lab.repo.delete_ref_if(&r, &known)?;
    }
    let _ = lab.repo.remove_worktree(&lab.worktree(&campaign.tag, 0));
    let _ = std::fs::remove_dir_all(lab.paths().runs(&campaign.tag));
    autolab_core::ledger::forget_campaign(ledger, &campaign.tag)?;
    let changed = match (new_commit, new_config) {
        (true, true) => "the commit and the config",
        (true, false) => "the commit",
        _ => "the config",
    };
    observer.report(Report::Note(format!(
        "the baseline of `{}` {} ({}); {changed} changed since, so the campaign starts afresh",
        campaign.tag,
        baseline.verdict.map(|v| v.as_str()).unwrap_or("failed"),
        baseline.reason.as_deref().unwrap_or("no reason recorded")
    )));
    Ok(true)
}
