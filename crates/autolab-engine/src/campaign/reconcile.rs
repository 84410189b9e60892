//! After a restart (also after kill -9): make the ledger and reality agree, then go on.
//!
//! - runs the ledger calls running are dead (their processes are found by run dir and killed)
//!   and are marked `lost`; their experiments run again, keeping their number and commit;
//! - a run that finished but has no verdict gets its verdict from what it recorded;
//! - an experiment caught while being implemented is implemented again from its recorded idea;
//! - final experiments get their git effects again (idempotent); leftover worktrees, branches
//!   and autolab's own git lock files go; the incumbent branch is set from the ledger;
//! - results.tsv is rewritten from the ledger.

use std::path::Path;

use autolab_core::experiment::{RunOutcome, State};
use autolab_core::git;
use autolab_runner::kill_run_processes;
use serde_json::json;

use super::jobs::Work;
use super::{Driver, Report};
use crate::EngineError;

impl Driver<'_> {
    pub(super) fn reconcile(&mut self) -> Result<(), EngineError> {
        let repo = &self.books.lab.repo;
        let mut notes = Vec::new();
        for lock in repo.remove_stale_locks() {
            notes.push(format!("removed stale git lock {}", lock.display()));
        }
        repo.run(&["worktree", "prune"])?;
        if let Some(note) = self.incumbent_follows_ledger()? {
            notes.push(note);
        }

        let experiments = self.books.ledger.experiments(self.books.campaign.id)?;
        for exp in &experiments {
            if exp.state.is_final() {
                if !exp.finalized
                    || self
                        .books
                        .lab
                        .worktree(&self.books.campaign.tag, exp.number)
                        .exists()
                {
                    self.books.finalize(exp.row)?;
                }
                continue;
            }
            let runs = self.books.ledger.runs(exp.row)?;
            // Cluster jobs outlive autolab: wait for them again instead of running anew.
            if self.jobs.runner.name() != "local"
                && let Some(r) = runs
                    .iter()
                    .rev()
                    .find(|r| r.outcome == RunOutcome::Running && r.job.is_some())
            {
                notes.push(format!(
                    "#{:04}: re-attaching to job {}",
                    exp.number,
                    r.job.as_ref().map(|j| j.to_string()).unwrap_or_default()
                ));
                self.jobs.queue.push_back(Work::Attach(exp.row, r.row));
                continue;
            }
            for r in runs.iter().filter(|r| r.outcome == RunOutcome::Running) {
                let killed = kill_run_processes(Path::new(&r.run_dir));
                self.books.ledger.finish_run(
                    r.row,
                    RunOutcome::Lost,
                    None,
                    &Default::default(),
                    "orchestrator stopped during this run",
                    None,
                )?;
                notes.push(format!(
                    "#{:04}: run {} was interrupted{}; it runs again",
                    exp.number,
                    r.index,
                    if killed.is_empty() {
                        String::new()
                    } else {
                        format!(" ({} leftover process(es) killed)", killed.len())
                    }
                ));
            }
            let last_finished = runs.iter().rev().find(|r| r.outcome.is_recorded_end());
            let work = match exp.state {
                State::Proposed | State::Implementing => {
                    self.books.lab.repo.remove_worktree(
                        &self
                            .books
                            .lab
                            .worktree(&self.books.campaign.tag, exp.number),
                    )?;
                    Work::Implement(exp.row)
                }
                State::Queued => Work::Run(exp.row),
                State::Running | State::Evaluating | State::Confirming => {
                    match (last_finished, runs.last()) {
                        // The newest run finished and was recorded: judge it — unless it ran
                        // another commit (the experiment was moved onto a newer incumbent and
                        // killed before its confirmation started): then it runs again.
                        (Some(f), Some(last))
                            if f.row == last.row
                                && (f.commit.is_none() || f.commit == exp.commit) =>
                        {
                            Work::Decide(exp.row, f.row)
                        }
                        _ => {
                            if exp.state != State::Confirming {
                                self.books.ledger.transition(
                                    exp,
                                    State::Queued,
                                    json!({"reconciled": "run lost"}),
                                )?;
                            }
                            Work::Run(exp.row)
                        }
                    }
                }
                _ => continue,
            };
            self.jobs.queue.push_back(work);
        }

        // Worktrees of experiments the ledger does not know (a crash before `propose` landed).
        let dir = self.books.lab.paths().worktrees(&self.books.campaign.tag);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let known = e
                    .file_name()
                    .to_str()
                    .and_then(|n| n.parse::<u32>().ok())
                    .is_some_and(|n| {
                        experiments
                            .iter()
                            .any(|x| x.number == n && !x.state.is_final())
                    });
                if !known {
                    self.books.lab.repo.remove_worktree(&e.path())?;
                    if let Some(n) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) {
                        self.books
                            .lab
                            .repo
                            .delete_branch(&git::experiment_branch(&self.books.campaign.tag, n))?;
                    }
                }
            }
        }
        self.books.write_results()?;
        let existing = self.books.ledger.next_number(self.books.campaign.id)?;
        let judged = self
            .books
            .ledger
            .experiments(self.books.campaign.id)?
            .iter()
            .filter(|e| e.verdict.is_some())
            .count() as u32;
        self.books.observer.report(Report::Ready {
            tag: self.books.campaign.tag.clone(),
            existing,
            judged,
            target: self.books.opts.max_experiments,
            resumed: notes,
        });
        Ok(())
    }
}

impl Driver<'_> {
    /// Brings the incumbent branch to the ledger's incumbent, before any other git effect: it
    /// is created when missing and fast-forwarded when it is behind (a crash between the
    /// ledger's verdict and the ref), and never moved otherwise. A branch that is ahead of the
    /// ledger or on another line was moved by someone else (another checkout of the repository
    /// ran this tag): the campaign stops and the branch stays as it is.
    fn incumbent_follows_ledger(&self) -> Result<Option<String>, EngineError> {
        let repo = &self.books.lab.repo;
        let branch = format!(
            "refs/heads/{}",
            git::incumbent_branch(&self.books.campaign.tag)
        );
        let mut want = self
            .books
            .incumbent()?
            .and_then(|e| e.commit)
            .unwrap_or_else(|| self.books.campaign.base_commit.clone());
        // A kept experiment not yet finalized is the incumbent the branch is about to reach.
        // (Projects are separate lines: there the ledger's incumbent is all there is to reach.)
        let projects = self.books.lab.config.projects.is_some();
        for exp in self.books.ledger.experiments(self.books.campaign.id)? {
            if !projects
                && exp.state.keeps()
                && !exp.finalized
                && let Some(c) = exp.commit
                && repo.is_ancestor(&want, &c)
            {
                want = c;
            }
        }
        let short = &want[..want.len().min(7)];
        match repo.ref_target(&branch) {
            Some(now) if now == want => Ok(None),
            None => {
                repo.set_ref(&branch, &want, git::Expect::Absent)?;
                Ok(Some(format!("incumbent branch re-created at {short}")))
            }
            Some(now) if repo.is_ancestor(&now, &want) => {
                repo.set_ref(&branch, &want, git::Expect::At(&now))?;
                Ok(Some(format!("incumbent branch moved forward to {short}")))
            }
            // Projects are separate lines: the branch jumps from one kept run to another.
            Some(now)
                if self.books.lab.config.projects.is_some()
                    && self.books.incumbent_line(&now)? =>
            {
                repo.set_ref(&branch, &want, git::Expect::At(&now))?;
                Ok(Some(format!("incumbent branch moved to {short}")))
            }
            Some(now) => Err(git::GitError::RefMismatch {
                name: branch,
                expected: Some(want),
                found: Some(now),
            }
            .into()),
        }
    }
}
