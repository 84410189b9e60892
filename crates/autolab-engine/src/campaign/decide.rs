//! Verdicts: from a finished run to `kept`, `discarded`, `crashed` or `timeout`, by the
//! judge's calls ([`crate::judge`]) applied to the ledger, git and `results.tsv`.

use autolab_core::config::Policy;
use autolab_core::experiment::{State, Verdict};
use autolab_core::git;
use autolab_core::ids::{ExperimentId, RunId};
use autolab_core::ledger::Changes;
use serde_json::json;

use super::agent_flow::AgentRuntime;
use super::books::Books;
use super::jobs::{Jobs, Work};
use super::pipeline::Sources;
use crate::EngineError;
use crate::judge::{
    self,
    run::RunCall,
    strict::{Incumbent, StrictCall},
};
use std::collections::HashMap;

/// How often one experiment may be moved onto a newer incumbent before it is discarded.
const MAX_REBASES: u32 = 3;

/// What reaching a verdict touches: the books (where it lands), the queue (confirmation runs,
/// reruns), the count of moves onto newer incumbents, the coder (to apply a moved change
/// again) and the LLM's fix loop (a crashed LLM experiment goes back to its coder first).
pub(super) struct Verdicts<'d, 'a> {
    pub books: &'d mut Books<'a>,
    pub jobs: &'d mut Jobs,
    /// How often each experiment was moved onto a newer incumbent.
    pub rebases: &'d mut HashMap<ExperimentId, u32>,
    pub sources: &'d Sources,
    pub agent: Option<&'d mut AgentRuntime>,
    /// The campaign is paused: nothing new goes to the LLM (a fix waits for the resume).
    pub paused: bool,
}

impl Verdicts<'_, '_> {
    pub fn decide(&mut self, row: ExperimentId, run: RunId) -> Result<(), EngineError> {
        let exp = self.books.ledger.experiment_by_row(row)?;
        if exp.state.is_final() {
            return Ok(());
        }
        // Its run ended on its own before the kill of a `cancel` reached it.
        if self.jobs.conclude_cancelled(self.books, row)? {
            return Ok(());
        }
        let Some(r) = self
            .books
            .ledger
            .runs(row)?
            .into_iter()
            .find(|r| r.row == run)
        else {
            self.jobs.queue.push_back(Work::Run(row));
            return Ok(());
        };
        let config = &self.books.lab.config;
        let (verdict, reason, keep_metrics) =
            match judge::run::call(&r, &config.metrics.score, config.task.timeout) {
                RunCall::Rerun => {
                    self.jobs.queue.push_back(Work::Run(row));
                    return Ok(());
                }
                RunCall::Scored(s) => {
                    // Below the full budget (successive halving): its bracket decides.
                    if exp.number > 0 && super::halving::rung_result(self.books, &exp, &r, s)? {
                        return Ok(());
                    }
                    let ch = Changes {
                        score: Some(s),
                        metrics: Some(r.metrics.clone()),
                        ..Changes::default()
                    };
                    self.books.ledger.transition_with(
                        row,
                        State::Evaluating,
                        json!({"run": r.index, "score": s}),
                        &ch,
                    )?;
                    return match self.books.lab.config.decide.policy {
                        Policy::Strict => self.judge(row, s),
                        Policy::NoiseAware => self.judge_noise_aware(row),
                    };
                }
                RunCall::Final {
                    verdict,
                    reason,
                    keep_metrics,
                } => (verdict, reason, keep_metrics),
            };
        // The same error as the runs before it (fix attempts included): the environment, not
        // the code — no fix is asked for, the supervisor hears of it at once.
        let again = verdict == Verdict::Crashed
            && super::supervise::same_error_again(
                self.books,
                run,
                r.log_tail.as_deref().unwrap_or(""),
            )?;
        if again {
            self.books.observer.report(super::Report::Note(format!(
                "#{:04}: the same error as the runs before it; no fix asked for",
                exp.number
            )));
        }
        if verdict == Verdict::Crashed
            && exp.number > 0
            && !again
            && let Some(agent) = self.agent.as_deref_mut()
            && agent.try_fix(
                self.books,
                self.jobs,
                row,
                &reason,
                r.log_tail.as_deref().unwrap_or(""),
                !self.paused,
            )?
        {
            return Ok(());
        }
        let ch = Changes {
            metrics: keep_metrics.then(|| r.metrics.clone()),
            ..Changes::default()
        };
        self.books.conclude(row, verdict, &reason, json!({}), ch)?;
        // A baseline that crashed or timed out leaves nothing to compare with.
        if exp.number == 0 && matches!(verdict, Verdict::Crashed | Verdict::Timeout) {
            return Err(EngineError::BaselineFailed {
                verdict: verdict.as_str().into(),
                reason,
                log: r.log_tail,
            });
        }
        Ok(())
    }

    /// The `strict` policy ([`judge::strict`]) applied to experiment `row`, which scored `s`.
    fn judge(&mut self, row: ExperimentId, s: f64) -> Result<(), EngineError> {
        let exp = self.books.ledger.experiment_by_row(row)?;
        let incumbent = self.books.incumbent()?;
        let against = incumbent.as_ref().map(|inc| Incumbent {
            number: inc.number,
            score: inc.score,
            commit: inc.commit.as_deref(),
        });
        let decide = &self.books.lab.config.decide;
        // A project's run starts from its project's last run, not from the incumbent: it is
        // judged against the incumbent as it is, never moved onto it.
        let parent = match (&self.books.lab.config.projects, &against) {
            (Some(_), Some(inc)) => inc.commit.unwrap_or(&exp.parent).to_string(),
            _ => exp.parent.clone(),
        };
        let call = judge::strict::call(
            exp.number,
            s,
            &parent,
            against,
            self.books.lab.config.score_goal(),
            decide.min_delta,
            judge::strict::Lines {
                net: exp.lines_added as i64 - exp.lines_removed as i64,
                simplicity: decide.simplicity,
            },
        );
        let (verdict, reason) = match (call, incumbent) {
            (StrictCall::Keep(reason), _) => (Verdict::Kept, reason),
            (StrictCall::Discard(reason), _) => (Verdict::Discarded, reason),
            (StrictCall::Simpler(reason), _) => (Verdict::Simplified, reason),
            (StrictCall::MoveOnto, Some(inc)) => {
                return self.rebase(row, inc.commit.clone().unwrap_or_default(), inc.number);
            }
            // The call moves a candidate only onto an incumbent.
            (StrictCall::MoveOnto, None) => (Verdict::Kept, "first scored experiment".into()),
        };
        let ch = Changes {
            new_incumbent: verdict.keeps().then_some(exp.number),
            ..Changes::default()
        };
        self.books
            .conclude(row, verdict, &reason, json!({"policy": "strict"}), ch)
    }

    /// Moves a better candidate onto the current incumbent and queues a confirmation run.
    pub fn rebase(
        &mut self,
        row: ExperimentId,
        onto: String,
        onto_number: u32,
    ) -> Result<(), EngineError> {
        let exp = self.books.ledger.experiment_by_row(row)?;
        let count = self.rebases.entry(row).or_insert(0);
        *count += 1;
        let attempt = *count;
        let discard = |d: &mut Self, reason: String| -> Result<(), EngineError> {
            d.books.conclude(
                row,
                Verdict::Discarded,
                &reason,
                json!({}),
                Changes::default(),
            )
        };
        if attempt > MAX_REBASES {
            return discard(
                self,
                format!("the incumbent moved on {MAX_REBASES} times while confirming"),
            );
        }
        let old = exp.commit.clone().unwrap_or_default();
        let tag = self.books.campaign.tag.clone();
        self.archive_before_move(&git::archive_ref(&tag, exp.number), &old)?;
        let worktree = self.books.lab.worktree(&tag, exp.number);
        self.books.worktrees().checkout(exp.number, &onto)?;
        let applied = match self.sources.reapply(&exp, &worktree) {
            Some(applied) => applied,
            None => self
                .books
                .lab
                .repo
                .worktree(&worktree)
                .and_then(|wt| wt.run(&["cherry-pick", "--no-commit", &old]))
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        if let Err(e) = applied {
            return discard(
                self,
                format!("does not apply onto the newer incumbent #{onto_number}: {e}"),
            );
        }
        let commit = self
            .books
            .lab
            .repo
            .worktree(&worktree)?
            .commit_all(&format!(
                "{}\n\nautolab experiment {} (moved onto #{onto_number})\n",
                exp.title,
                self.books.experiment_name(exp.number)
            ))?;
        if let Some(reason) = self.books.rule_violation(&onto, &commit)? {
            let ch = Changes {
                commit: Some(commit),
                parent: Some(onto),
                ..Changes::default()
            };
            return self
                .books
                .conclude(row, Verdict::Invalid, &reason, json!({}), ch);
        }
        let lines = self.books.lab.repo.line_counts(&onto, &commit)?;
        let ch = Changes {
            commit: Some(commit.clone()),
            parent: Some(onto),
            lines: Some(lines),
            ..Changes::default()
        };
        self.books.ledger.transition_with(
            row,
            State::Confirming,
            json!({"moved_from": old, "onto": onto_number, "commit": commit}),
            &ch,
        )?;
        self.jobs.queue.push_front(Work::Run(row));
        Ok(())
    }
}

impl Verdicts<'_, '_> {
    /// Keeps `old` reachable under `<archive>-pre-<k>`, the first k that is free or holds it
    /// already (the attempt counter starts again after a restart, so the name cannot come
    /// from it); an existing ref is never overwritten.
    fn archive_before_move(&self, archive: &str, old: &str) -> Result<(), EngineError> {
        let repo = &self.books.lab.repo;
        for k in 1.. {
            let name = format!("{archive}-pre-{k}");
            match repo.ref_target(&name) {
                Some(now) if now == old => return Ok(()),
                Some(_) => continue,
                None => return Ok(repo.set_ref(&name, old, git::Expect::Absent)?),
            }
        }
        Ok(())
    }
}
