//! `autolab forget <tag>`: a campaign's ledger rows, branches and run logs go, so the tag starts
//! afresh; the commits it tried stay reachable under `refs/autolab/<tag>/archive/*` unless
//! `--purge`.

use std::path::Path;
use std::process::ExitCode;

use autolab_core::StatePaths;
use autolab_core::git::{Repo, incumbent_branch, valid_tag};
use autolab_core::ledger::Ledger;
use autolab_core::lock::{LabLock, LockError};

use super::common::confirm;
use crate::output::CliError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign to forget.
    pub tag: String,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub yes: bool,
    /// Also delete the archive refs that keep the tried commits reachable.
    #[arg(long)]
    pub purge: bool,
}

/// Refs a campaign owns: its incumbent branch, experiment branches, archive refs.
struct Refs {
    incumbent: Option<String>,
    experiments: Vec<String>,
    archives: Vec<String>,
    /// Archives of campaigns of this tag forgotten before.
    forgotten: Vec<String>,
}

fn refs(repo: &Repo, tag: &str) -> Result<Refs, CliError> {
    let list = |prefix: &str| -> Result<Vec<String>, CliError> {
        Ok(repo
            .run(&["for-each-ref", "--format=%(refname)", prefix])?
            .lines()
            .map(str::to_string)
            .collect())
    };
    let branch = format!("refs/heads/{}", incumbent_branch(tag));
    Ok(Refs {
        incumbent: repo.rev_parse(&branch).map(|_| branch),
        experiments: list(&format!("refs/heads/autolab-exp/{tag}/"))?,
        archives: list(&format!("refs/autolab/{tag}/"))?,
        forgotten: list(&format!("refs/autolab-forgotten/{tag}/"))?,
    })
}

pub fn forget(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    if !valid_tag(&args.tag) {
        return Err(CliError::usage(
            format!("invalid tag `{}`", args.tag),
            Some("a tag is letters, digits, `-`, `_` and `.`; `autolab status` lists campaigns"),
        ));
    }
    let tag = args.tag.as_str();
    let repo = Repo::discover(dir)?;
    let paths = StatePaths::new(&repo.root);
    let ledger_path = paths.ledger();
    // Hold the lab lock throughout: no `autolab run` can start (or be live) meanwhile.
    let _lock = if paths.state_dir().is_dir() {
        Some(
            LabLock::acquire(&paths.lock(), &format!("autolab forget {tag}")).map_err(
                |e| match e {
                    LockError::Held { holder } => CliError::failure(
                        format!(
                            "cannot forget `{tag}`: a live `autolab run` holds {} ({holder})",
                            repo.root.display()
                        ),
                        Some("stop it first (Ctrl-C in its terminal, or wait for it to end), then forget"),
                    ),
                    other => CliError::failure(other.to_string(), None),
                },
            )?,
        )
    } else {
        None
    };
    let mut ledger = if ledger_path.exists() {
        Some(Ledger::open(&ledger_path)?)
    } else {
        None
    };
    let campaign = match &ledger {
        Some(l) => l.campaign(tag)?,
        None => None,
    };
    let found = refs(&repo, tag)?;
    let experiments = match (&ledger, &campaign) {
        (Some(l), Some(c)) => l.experiments(c.id)?.len(),
        _ => 0,
    };
    if campaign.is_none() && found.incumbent.is_none() && found.experiments.is_empty() {
        let known: Vec<String> = ledger
            .as_ref()
            .and_then(|l| l.campaigns().ok())
            .map(|cs| cs.into_iter().map(|c| c.tag).collect())
            .unwrap_or_default();
        let hint = if known.is_empty() {
            "no campaign has run here".to_string()
        } else {
            format!("campaigns here: {}", known.join(", "))
        };
        if found.archives.is_empty() || !args.purge {
            return Err(CliError::usage(
                format!("no campaign `{tag}` in {}", repo.root.display()),
                Some(&hint),
            ));
        }
    }
    // Deleting the branch the user has checked out would leave their HEAD dangling.
    let head = repo
        .run(&["symbolic-ref", "--quiet", "HEAD"])
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if found.incumbent.as_deref() == Some(head.as_str()) {
        return Err(CliError::usage(
            format!(
                "cannot forget `{tag}`: your checkout is on its branch {}",
                incumbent_branch(tag)
            ),
            Some(
                "switch to another branch first (`git switch -`), or keep it with `git branch <name>`",
            ),
        ));
    }

    let archives_note = if args.purge {
        format!("{} archive ref(s) deleted", found.archives.len())
    } else {
        format!(
            "{} archive ref(s) kept, moved to refs/autolab-forgotten/{tag}/ (--purge deletes them)",
            found.archives.len()
        )
    };
    let plan = format!(
        "forget campaign `{tag}`: {experiments} experiment(s) in the ledger, branch {}, {} experiment branch(es), its run logs; {archives_note}",
        found
            .incumbent
            .as_deref()
            .map(|_| incumbent_branch(tag))
            .unwrap_or_else(|| "(none)".into()),
        found.experiments.len(),
    );
    if !args.yes {
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            return Err(CliError::usage(
                format!("{plan}: not confirmed (stdin is not a terminal)"),
                Some(&format!("pass --yes: `autolab forget {tag} --yes`")),
            ));
        }
        eprintln!("{plan}");
        if !confirm("Forget it?") {
            eprintln!("nothing was changed");
            return Ok(ExitCode::from(1));
        }
    }

    // The ledger first: a crash after it leaves only refs, which forgetting again removes.
    let forgotten = match ledger.as_mut() {
        Some(l) => autolab_core::ledger::forget_campaign(l, tag)?,
        None => None,
    };
    let worktrees = paths.worktrees(tag);
    if let Ok(entries) = std::fs::read_dir(&worktrees) {
        for e in entries.flatten() {
            repo.remove_worktree(&e.path())?;
        }
    }
    let _ = std::fs::remove_dir_all(&worktrees);
    repo.run(&["worktree", "prune"])?;
    for r in found.incumbent.iter().chain(&found.experiments) {
        repo.delete_ref(r)?;
    }
    if args.purge {
        for r in found.archives.iter().chain(&found.forgotten) {
            repo.delete_ref(r)?;
        }
    } else {
        // Kept, but out of the tag's way: a new campaign may reuse the tag, and a ref under it
        // that no ledger knows would stop that campaign (autolab never overwrites one).
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        for r in &found.archives {
            let kept = r.replacen(
                &format!("refs/autolab/{tag}/"),
                &format!("refs/autolab-forgotten/{tag}/{stamp}/"),
                1,
            );
            let Some(commit) = repo.rev_parse(r) else {
                continue;
            };
            repo.run(&["update-ref", &kept, &commit, ""])?;
            repo.run(&["update-ref", "-d", r, &commit])?;
        }
    }
    let runs = paths.runs(tag);
    if runs.exists() {
        std::fs::remove_dir_all(&runs)?;
    }
    let f = forgotten.unwrap_or_default();
    println!(
        "forgot campaign `{tag}`: {} experiment(s) and {} run(s) removed from the ledger; {} branch(es) deleted; {archives_note}",
        f.experiments,
        f.runs,
        usize::from(found.incumbent.is_some()) + found.experiments.len()
    );
    Ok(ExitCode::SUCCESS)
}
