//! What `pause`, `resume`, `stop` and `cancel` share: a command written to the control inbox of
//! the live campaign, then the effect the campaign answers with.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use autolab_core::StatePaths;
use autolab_core::control::Command;
use autolab_core::git::Repo;
use autolab_core::ledger::Ledger;
use autolab_core::lock::LabLock;

use super::common::pick_campaign;
use crate::output::CliError;

/// How long the command waits for the campaign's answer (it reads its inbox every turn, a
/// fraction of a second, unless busy recording a verdict).
const ANSWER_WITHIN: Duration = Duration::from_secs(15);
/// How long a command waits for a run that has just started to write its campaign.
const STARTING_WITHIN: Duration = Duration::from_secs(10);

/// Whether the ledger at `path` has campaign `tag` (false while it cannot be read).
fn campaign_exists(path: &Path, tag: &str) -> bool {
    path.exists()
        && Ledger::open_read_only(path)
            .ok()
            .and_then(|l| l.campaign(tag).ok().flatten())
            .is_some()
}

/// The tag of the campaign an `autolab run` is live on in the lab at `root`.
pub fn live_tag(root: &Path) -> Option<String> {
    let holder = LabLock::holder(&StatePaths::new(root).lock())?;
    let rest = holder.split_once("--tag ")?.1;
    Some(rest.split_whitespace().next()?.to_string())
}

/// Who writes the command, as the inbox records it.
pub fn by(what: &str) -> String {
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| format!("uid {}", nix::unistd::getuid()));
    format!("{user} via autolab {what}")
}

/// Writes `command` for the live campaign (`tag`, or the one live) and prints its effect.
pub fn send(dir: &Path, tag: Option<&str>, command: Command) -> Result<ExitCode, CliError> {
    let repo = Repo::discover(dir)?;
    let path = StatePaths::new(&repo.root).ledger();
    let live = live_tag(&repo.root);
    // A run that has just started may not have written its campaign yet.
    let starting = Instant::now();
    while let Some(t) = &live
        && starting.elapsed() < STARTING_WITHIN
        && !campaign_exists(&path, t)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    if !path.exists() {
        return Err(CliError::usage(
            format!("no campaign has run in {} yet", repo.root.display()),
            Some("start one with `autolab run --tag <name>`"),
        ));
    }
    let ledger = Ledger::open(&path)?;
    let campaign = pick_campaign(&ledger, tag.or(live.as_deref()))?;
    if live.as_deref() != Some(campaign.tag.as_str()) {
        let name = command.name();
        let (message, hint) = match (&live, &command) {
            (Some(other), _) => (
                format!("campaign `{}` is not running (`{other}` is)", campaign.tag),
                format!("`autolab {name} --tag {other}` acts on the running one"),
            ),
            (None, Command::Stop) => (
                format!(
                    "campaign `{}` is not running: nothing to stop",
                    campaign.tag
                ),
                "`autolab status` shows where it stands".to_string(),
            ),
            (None, _) => (
                format!("campaign `{}` is not running", campaign.tag),
                format!(
                    "`autolab {name}` acts on a running campaign; `autolab run --tag {}` resumes it",
                    campaign.tag
                ),
            ),
        };
        return Err(CliError::failure(message, Some(&hint)));
    }
    let effect = push_and_wait(&ledger, campaign.id, &command)?;
    match effect {
        Some(effect) => {
            println!("{}: {effect}", campaign.tag);
            Ok(if effect.starts_with("refused") {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        None => {
            println!(
                "{}: {command} sent; the campaign has not answered yet (busy?): `autolab status` shows when it does",
                campaign.tag
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes `command` to the inbox of `campaign`; the effect it had, once the campaign took it
/// (none if it did not within [`ANSWER_WITHIN`]).
pub fn push_and_wait(
    ledger: &Ledger,
    campaign: autolab_core::ids::CampaignId,
    command: &Command,
) -> Result<Option<String>, CliError> {
    let id = ledger
        .controls()
        .push(campaign, command, &by(command.name()))?;
    let asked = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        if let Some(effect) = ledger.controls().get(id)?.and_then(|c| c.effect) {
            return Ok(Some(effect));
        }
        if asked.elapsed() > ANSWER_WITHIN {
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}
