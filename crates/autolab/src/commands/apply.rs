//! `autolab apply [--tag T] [N]`: bring a campaign's incumbent (merge, a fast-forward when it
//! can) or one experiment's change (cherry-pick) into the branch you are on; `--print` shows
//! its params and diff and changes nothing.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use autolab_core::experiment::{Experiment, Verdict};
use autolab_core::git::{Repo, archive_ref, incumbent_branch};

use super::common::{open_ledger, pick_campaign, short};
use crate::output::CliError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign (default: the most recently active one).
    #[arg(long)]
    pub tag: Option<String>,
    /// An experiment's number: apply its change alone (default: the incumbent line).
    pub number: Option<u32>,
    /// Print the params and the diff instead of changing anything.
    #[arg(long)]
    pub print: bool,
}

/// What is applied: a commit, the change it carries (from `base`) and the experiment behind it.
struct Target {
    what: String,
    commit: String,
    base: String,
    experiment: Option<Experiment>,
    /// The incumbent line (merge) or one experiment (cherry-pick).
    line: bool,
}

pub fn apply(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    let opened = open_ledger(dir)?;
    let repo = Repo::discover(&opened.root)?;
    let campaign = pick_campaign(&opened.ledger, args.tag.as_deref())?;
    let tag = campaign.tag.clone();
    let target = match args.number {
        None => {
            let branch = incumbent_branch(&tag);
            let commit = repo.rev_parse(&format!("refs/heads/{branch}")).ok_or_else(|| {
                CliError::failure(
                    format!("campaign `{tag}` has no branch {branch}"),
                    Some("was it forgotten, or the branch deleted by hand? `autolab results` lists its experiments"),
                )
            })?;
            if commit == campaign.base_commit {
                return Err(CliError::failure(
                    format!(
                        "nothing to apply: campaign `{tag}` has kept nothing beyond its baseline"
                    ),
                    Some(&format!(
                        "`autolab results --tag {tag}` lists what it tried; `autolab apply --tag {tag} N` applies one of them"
                    )),
                ));
            }
            let experiment = campaign
                .incumbent
                .and_then(|n| opened.ledger.experiment(campaign.id, n).ok().flatten());
            Target {
                what: format!("the incumbent of `{tag}` ({branch})"),
                commit,
                base: campaign.base_commit.clone(),
                experiment,
                line: true,
            }
        }
        Some(n) => {
            let e = opened.ledger.experiment(campaign.id, n)?.ok_or_else(|| {
                CliError::usage(
                    format!("no experiment #{n} in campaign `{tag}`"),
                    Some(&format!("`autolab results --tag {tag}` lists them")),
                )
            })?;
            if n == 0 {
                return Err(CliError::usage(
                    format!("experiment #0 of `{tag}` is the baseline: it changes nothing"),
                    Some("apply the incumbent (no number) or a later experiment"),
                ));
            }
            let archived = archive_ref(&tag, n);
            let commit = match e.verdict {
                Some(Verdict::Kept | Verdict::Simplified) => e.commit.clone().filter(|c| repo.rev_parse(c).is_some()),
                _ => None,
            }
            .or_else(|| repo.rev_parse(&archived))
            .or_else(|| e.commit.clone().filter(|c| repo.rev_parse(c).is_some()))
            .ok_or_else(|| {
                CliError::failure(
                    format!("experiment #{n} of `{tag}` has no commit to apply (not on autolab/{tag}, no {archived})"),
                    Some("it may not have been implemented, or its archive was purged (`autolab forget --purge`)"),
                )
            })?;
            let base = repo
                .rev_parse(&format!("{commit}^"))
                .unwrap_or_else(|| e.parent.clone());
            Target {
                what: format!("experiment #{n:04} of `{tag}` ({})", e.title),
                commit,
                base,
                experiment: Some(e),
                line: false,
            }
        }
    };
    if args.print {
        print_target(&repo, &target)?;
        return Ok(ExitCode::SUCCESS);
    }
    let dirty = user_git(
        &repo.root,
        &["status", "--porcelain", "--untracked-files=no"],
    )?;
    if !dirty.trim().is_empty() {
        let files: Vec<&str> = dirty.lines().take(5).collect();
        return Err(CliError::usage(
            format!(
                "your checkout {} has uncommitted changes:\n{}",
                repo.root.display(),
                files.join("\n")
            ),
            Some(
                "commit or stash them (`git stash`), then apply again; `autolab apply --print` shows the change without touching anything",
            ),
        ));
    }
    let branch = user_git(&repo.root, &["symbolic-ref", "--quiet", "--short", "HEAD"])
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "HEAD (detached)".into());
    let head = repo.head()?;
    let how = if target.line {
        if is_ancestor(&repo.root, &target.commit, &head) {
            println!("{branch} already contains {}", target.what);
            return Ok(ExitCode::SUCCESS);
        }
        if is_ancestor(&repo.root, &head, &target.commit) {
            user_git(
                &repo.root,
                &["merge", "--ff-only", "--quiet", &target.commit],
            )?;
            "fast-forward"
        } else {
            let msg = format!("Merge {}", target.what);
            if let Err(e) = user_git(
                &repo.root,
                &["merge", "--no-edit", "-m", &msg, &target.commit],
            ) {
                let _ = user_git(&repo.root, &["merge", "--abort"]);
                return Err(conflict(e, &target, "merge"));
            }
            "merge"
        }
    } else {
        if let Err(e) = user_git(&repo.root, &["cherry-pick", "-x", &target.commit]) {
            let _ = user_git(&repo.root, &["cherry-pick", "--abort"]);
            return Err(conflict(e, &target, "cherry-pick"));
        }
        "cherry-pick"
    };
    let now = repo.head()?;
    println!(
        "applied {} to {branch} ({how}): {} → {}",
        target.what,
        short(Some(&head)),
        short(Some(&now))
    );
    Ok(ExitCode::SUCCESS)
}

fn conflict(e: CliError, target: &Target, how: &str) -> CliError {
    CliError {
        error: e.error.context(format!(
            "cannot {how} {} into your branch: it conflicts with your changes (undone, nothing changed)",
            target.what
        )),
        code: 1,
        hint: Some(format!(
            "`autolab apply --print` shows its diff; resolve by hand with `git {how} {}`",
            short(Some(&target.commit))
        )),
    }
}

fn print_target(repo: &Repo, t: &Target) -> Result<(), CliError> {
    println!("{}: commit {}", t.what, short(Some(&t.commit)));
    if let Some(e) = &t.experiment {
        println!(
            "experiment #{:04} {} ({})",
            e.number,
            e.title,
            e.verdict.map(|v| v.as_str()).unwrap_or("open")
        );
        if !e.metrics.is_empty() {
            let m: Vec<String> = e.metrics.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("metrics: {}", m.join(" "));
        }
        if let Some(p) = &e.params {
            println!(
                "params: {}",
                serde_json::to_string_pretty(p).unwrap_or_default()
            );
        }
    }
    println!();
    print!("{}", repo.diff(&t.base, &t.commit)?);
    Ok(())
}

fn is_ancestor(root: &Path, a: &str, b: &str) -> bool {
    Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["merge-base", "--is-ancestor", a, b])
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs git in the user's checkout as the user (their identity, hooks and config).
fn user_git(root: &Path, args: &[&str]) -> Result<String, CliError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(CliError::failure(
            format!(
                "`git {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            None,
        ))
    }
}

/// What the end of a campaign says about adopting its result, when it kept something.
pub fn adopt_hint(repo: &Repo, tag: &str) -> Option<String> {
    let branch = incumbent_branch(tag);
    let tip = repo.rev_parse(&format!("refs/heads/{branch}"))?;
    let head = repo.head().ok()?;
    if tip == head || is_ancestor(&repo.root, &tip, &head) {
        return None;
    }
    Some(if is_ancestor(&repo.root, &head, &tip) {
        format!(
            "adopt it: `autolab apply --tag {tag}` (or `git merge --ff-only {branch}`: a fast-forward of your branch)"
        )
    } else {
        format!(
            "adopt it: `autolab apply --tag {tag}` merges it (your branch moved on, so `git merge --ff-only {branch}` would fail)"
        )
    })
}
