//! A resumed campaign runs under the config it started with: what defines the search may not
//! change under the same tag; what only changes how it runs is recorded as an event.

use autolab_core::config::Config;
use autolab_core::config::drift::drift;
use autolab_core::ledger::{Campaign, Ledger};
use serde_json::json;

use crate::{EngineError, Lab, Observer, Report};

/// The lab's config against the campaign's: an error when a change defines the search (its
/// verdicts would not compare); nothing is recorded. For work that reads a campaign without
/// running it further (`autolab ablate`).
pub fn refuse_defining_changes(
    lab: &Lab,
    ledger: &Ledger,
    campaign: &Campaign,
) -> Result<(), EngineError> {
    let stored = ledger.campaign_config(campaign.id)?;
    if stored == lab.config_text {
        return Ok(());
    }
    let Ok(was) = Config::parse(&lab.config.path, &stored) else {
        return Ok(());
    };
    let d = drift(&was, &lab.config);
    if d.refused.is_empty() {
        return Ok(());
    }
    Err(EngineError::ConfigChanged {
        path: lab.config.path.display().to_string(),
        tag: campaign.tag.clone(),
        changes: d.refused.iter().map(|c| c.to_string()).collect(),
    })
}

/// Compares the lab's config with the campaign's; refuses a defining change, records others.
pub(super) fn check(
    lab: &Lab,
    ledger: &mut Ledger,
    campaign: &Campaign,
    observer: &mut dyn Observer,
) -> Result<(), EngineError> {
    let stored = ledger.campaign_config(campaign.id)?;
    if stored == lab.config_text {
        return Ok(());
    }
    // A config written by an older autolab that this one cannot read has nothing to compare.
    let Ok(was) = Config::parse(&lab.config.path, &stored) else {
        observer.report(Report::Note(format!(
            "campaign `{}` started under a config this version cannot read; not comparing",
            campaign.tag
        )));
        return Ok(());
    };
    let d = drift(&was, &lab.config);
    if !d.refused.is_empty() {
        return Err(EngineError::ConfigChanged {
            path: lab.config.path.display().to_string(),
            tag: campaign.tag.clone(),
            changes: d.refused.iter().map(|c| c.to_string()).collect(),
        });
    }
    let changed: Vec<String> = d.allowed.iter().map(|c| c.to_string()).collect();
    ledger.change_campaign_config(
        campaign.id,
        &lab.config_text,
        &json!({ "changed": changed }),
    )?;
    if !changed.is_empty() {
        observer.report(Report::Note(format!(
            "config changed since the last run (recorded): {}",
            d.allowed
                .iter()
                .map(|c| c.key.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

/// Warns when the config the campaign runs under is not the committed one: candidates are
/// built from commits, and a config only on disk cannot be reproduced from the repository.
pub(super) fn warn_uncommitted(lab: &Lab, observer: &mut dyn Observer) {
    let name = lab
        .config
        .path
        .strip_prefix(&lab.root)
        .unwrap_or(&lab.config.path)
        .to_string_lossy()
        .into_owned();
    let Ok(status) = lab.repo.run(&["status", "--porcelain", "--", &name]) else {
        return;
    };
    let state = status.get(..2).unwrap_or("");
    let what = match state {
        "" => return,
        "??" => "is not tracked by git",
        _ => "has uncommitted changes",
    };
    observer.report(Report::Note(format!(
        "{name} {what}: this campaign runs under the file on disk, which no commit records; \
         commit it (`git add {name} && git commit -m 'autolab config'`) to make the campaign reproducible"
    )));
}

/// Warns when tracked files other than the config have uncommitted changes: experiments start
/// from the last commit, so those edits are not part of any run.
pub(super) fn warn_dirty_code(lab: &Lab, observer: &mut dyn Observer) {
    let Ok(status) = lab
        .repo
        .run(&["status", "--porcelain", "--untracked-files=no"])
    else {
        return;
    };
    let config = lab
        .config
        .path
        .strip_prefix(&lab.root)
        .unwrap_or(&lab.config.path)
        .to_string_lossy()
        .into_owned();
    let dirty: Vec<String> = status
        .lines()
        .filter_map(|l| l.get(3..))
        .map(str::to_string)
        .filter(|f| *f != config)
        .collect();
    if dirty.is_empty() {
        return;
    }
    let shown: Vec<&str> = dirty.iter().take(5).map(String::as_str).collect();
    observer.report(Report::Note(format!(
        "uncommitted changes to {}{} are not part of any run: experiments start from the last commit (HEAD); commit them to include them",
        shown.join(", "),
        if dirty.len() > 5 { ", …" } else { "" }
    )));
}
