//! How every verdict lands: `conclude()` records it (state, reason, changes, event in one
//! transaction), carries out its git effects idempotently (`finalize`), rewrites results.tsv
//! and leaves it in `concluded` for the loop to report.

use autolab_core::experiment::Verdict;
use autolab_core::git;
use autolab_core::ids::ExperimentId;
use autolab_core::ledger::Changes;
use autolab_core::results;
use serde_json::json;

use super::books::Books;
use crate::EngineError;

impl Books<'_> {
    /// A verdict reached before (or instead of) a run: invalid changes, failures to start.
    pub fn verdict_without_run(
        &mut self,
        row: ExperimentId,
        verdict: Verdict,
        reason: &str,
        score: Option<f64>,
    ) -> Result<(), EngineError> {
        let ch = Changes {
            score,
            ..Changes::default()
        };
        self.conclude(row, verdict, reason, json!({}), ch)
    }

    /// Applies a verdict to experiment `row`, the one way every verdict lands: its state,
    /// reason and `changes` with an event (`detail` and the reason) in one transaction, then
    /// its git effects and results.tsv, then waits in `concluded` for the loop's report (crash streak, playbook, lessons).
    pub fn conclude(
        &mut self,
        row: ExperimentId,
        verdict: Verdict,
        reason: &str,
        mut detail: serde_json::Value,
        mut changes: Changes,
    ) -> Result<(), EngineError> {
        changes.reason = Some(reason.to_string());
        if let serde_json::Value::Object(m) = &mut detail {
            m.insert("reason".into(), json!(reason));
        }
        self.ledger
            .transition_with(row, verdict.state(), detail, &changes)?;
        self.finalize(row)?;
        self.concluded.push(row);
        Ok(())
    }

    /// Carries out a final experiment's git effects, idempotently: the incumbent branch follows
    /// the ledger, a not-kept commit is archived, the worktree and branch go; then results.tsv.
    /// Refs move by compare-and-swap: the incumbent branch from the kept commit's parent (the
    /// incumbent it was built on), a new archive ref from nothing; a ref found elsewhere stops
    /// the campaign and is left as it is.
    pub fn finalize(&mut self, row: ExperimentId) -> Result<(), EngineError> {
        let exp = self.ledger.experiment_by_row(row)?;
        let tag = self.campaign.tag.clone();
        let repo = &self.lab.repo;
        if let Some(commit) = &exp.commit {
            if exp.state.keeps() {
                let branch = format!("refs/heads/{}", git::incumbent_branch(&tag));
                let now = repo.ref_target(&branch);
                let projects = self.lab.config.projects.is_some();
                // Done already when the branch holds the commit (a finalize run again).
                let done = now.as_deref().is_some_and(|now| {
                    now == commit || (!projects && repo.is_ancestor(commit, now))
                });
                if !done {
                    // A project's run is not built on the incumbent: the branch jumps to it
                    // from where it stood, if that is the base or an earlier kept run.
                    let from = match &now {
                        Some(n) if projects && self.incumbent_line(n)? => n.clone(),
                        _ => exp.parent.clone(),
                    };
                    let repo = &self.lab.repo;
                    repo.set_ref(&branch, commit, git::Expect::At(&from))?;
                }
            } else if commit != &exp.parent {
                repo.set_ref(
                    &git::archive_ref(&tag, exp.number),
                    commit,
                    git::Expect::Absent,
                )?;
            }
        }
        self.worktrees().release(exp.number)?;
        let repo = &self.lab.repo;
        // The experiment branch goes if it holds what the ledger recorded for this experiment,
        // or a commit autolab made on it before a crash let the ledger record it.
        let branch = format!("refs/heads/{}", git::experiment_branch(&tag, exp.number));
        let mut known = vec![exp.parent.clone()];
        known.extend(exp.commit.clone());
        if let Some(tip) = repo.ref_target(&branch)
            && repo
                .rev_parse(&format!("{tip}^"))
                .is_some_and(|p| known.contains(&p))
        {
            known.push(tip);
        }
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        repo.delete_ref_if(&branch, &known)?;
        self.ledger.mark_finalized(row)?;
        self.write_results()
    }

    pub fn write_results(&self) -> Result<(), EngineError> {
        // The red-team's side campaigns leave the lab's results.tsv to the real ones.
        if self.campaign.is_side() {
            return Ok(());
        }
        let experiments = self.ledger.experiments(self.campaign.id)?;
        let text = results::results_tsv(&self.lab.config.metrics.primary, &experiments);
        let path = self.lab.results_path();
        results::write_atomic(&path, &text).map_err(|e| EngineError::io(&path, e))
    }
}
