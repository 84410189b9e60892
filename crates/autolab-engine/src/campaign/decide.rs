//! Verdicts: from a finished run to `kept`, `discarded`, `crashed` or `timeout`.

use autolab_core::config::{Policy, format_duration};
use autolab_core::experiment::{RunOutcome, State, Verdict};
use autolab_core::git;
use autolab_core::ledger::Changes;
use autolab_core::score;
use serde_json::json;

use super::{Driver, Work};
use crate::EngineError;
use crate::proposer::Proposal;

/// How often one experiment may be moved onto a newer incumbent before it is discarded.
const MAX_REBASES: u32 = 3;

impl Driver<'_> {
    pub(super) fn decide(&mut self, row: i64, run: i64) -> Result<(), EngineError> {
        let exp = self.ledger.experiment_by_row(row)?;
        if exp.state.is_final() {
            return Ok(());
        }
        // Its run ended on its own before the kill of a `cancel` reached it.
        if self.conclude_cancelled(row)? {
            return Ok(());
        }
        let Some(r) = self.ledger.runs(row)?.into_iter().find(|r| r.row == run) else {
            self.queue.push_back(Work::Run(row));
            return Ok(());
        };
        let crash = |reason: String| (Verdict::Crashed, reason);
        // The run's note, when autolab wrote one, is the most precise reason.
        let noted = |default: String| r.note.clone().unwrap_or(default);
        let failure = match r.outcome {
            RunOutcome::Running | RunOutcome::Cancelled | RunOutcome::Lost => {
                self.queue.push_back(Work::Run(row));
                return Ok(());
            }
            RunOutcome::Tampered => {
                let reason = noted("protected files modified during the run".into());
                let ch = Changes {
                    reason: Some(reason.clone()),
                    ..Changes::default()
                };
                self.ledger
                    .transition_with(row, State::Invalid, json!({"reason": reason}), &ch)?;
                self.finalize(row)?;
                return self.report_verdict(row);
            }
            RunOutcome::OverBudget => Some(crash(noted("disk budget exceeded".into()))),
            RunOutcome::Timeout => Some((
                Verdict::Timeout,
                noted(format!(
                    "timed out after {} (task.timeout)",
                    format_duration(self.lab.config.task.timeout)
                )),
            )),
            RunOutcome::Failed => Some(crash(noted(match r.exit_code {
                Some(code) if code > 128 => format!("killed by signal {}", code - 128),
                Some(code) => format!("exit code {code}"),
                None => r
                    .log_tail
                    .clone()
                    .unwrap_or_else(|| "could not start".into()),
            }))),
            RunOutcome::Stopped => {
                let reason = noted("stopped early".into());
                let ch = Changes {
                    reason: Some(reason.clone()),
                    metrics: Some(r.metrics.clone()),
                    ..Changes::default()
                };
                self.ledger.transition_with(
                    row,
                    State::Discarded,
                    json!({"reason": reason}),
                    &ch,
                )?;
                self.finalize(row)?;
                return self.report_verdict(row);
            }
            RunOutcome::Exited => None,
        };
        let specs = &self.lab.config.metrics.score;
        let scored = score::score(&r.metrics, specs);
        let (verdict, reason) = match (failure, scored) {
            (Some(f), _) => f,
            (None, Err(e @ score::ScoreError::NotFinite(..))) => crash(e.to_string()),
            (None, Err(e)) => {
                // Say what the run did print, so a misnamed metric is plain to see.
                let printed: Vec<&str> = r
                    .metrics
                    .iter()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(k, _)| k.as_str())
                    .collect();
                crash(if printed.is_empty() {
                    format!("{e}; the run printed no metric")
                } else {
                    format!("{e}; the run printed: {}", printed.join(", "))
                })
            }
            (None, Ok(s)) => {
                let ch = Changes {
                    score: Some(s),
                    metrics: Some(r.metrics.clone()),
                    ..Changes::default()
                };
                self.ledger.transition_with(
                    row,
                    State::Evaluating,
                    json!({"run": r.index, "score": s}),
                    &ch,
                )?;
                return match self.lab.config.decide.policy {
                    Policy::Strict => self.judge(row, s),
                    Policy::NoiseAware => self.judge_noise_aware(row),
                };
            }
        };
        if verdict == Verdict::Crashed
            && exp.number > 0
            && self.try_fix(row, &reason, r.log_tail.as_deref().unwrap_or(""))?
        {
            return Ok(());
        }
        let ch = Changes {
            reason: Some(reason.clone()),
            metrics: Some(r.metrics.clone()),
            ..Changes::default()
        };
        self.ledger
            .transition_with(row, verdict.state(), json!({"reason": reason}), &ch)?;
        self.finalize(row)?;
        self.report_verdict(row)?;
        if exp.number == 0 {
            return Err(EngineError::BaselineFailed {
                verdict: verdict.as_str().into(),
                reason,
                log: r.log_tail,
            });
        }
        Ok(())
    }

    /// The `strict` policy: keep iff strictly better than the incumbent (by more than
    /// `min_delta`); a better candidate built on an older incumbent is moved onto the current
    /// one and confirmed by a fresh run first.
    fn judge(&mut self, row: i64, s: f64) -> Result<(), EngineError> {
        let exp = self.ledger.experiment_by_row(row)?;
        let goal = self.lab.config.score_goal();
        let incumbent = self.incumbent()?;
        let (verdict, reason, becomes_incumbent) = match &incumbent {
            _ if exp.number == 0 => (Verdict::Kept, "baseline".to_string(), true),
            None => (Verdict::Kept, "first scored experiment".to_string(), true),
            Some(inc) => {
                let best = inc.score.unwrap_or(f64::NAN);
                if !score::strictly_better(s, best, goal, self.lab.config.decide.min_delta) {
                    (
                        Verdict::Discarded,
                        format!(
                            "score {s:.6} does not beat #{} ({best:.6}, {})",
                            inc.number,
                            goal.as_str()
                        ),
                        false,
                    )
                } else if inc.commit.as_deref() == Some(exp.parent.as_str()) {
                    (
                        Verdict::Kept,
                        format!("score {s:.6} beats #{} ({best:.6})", inc.number),
                        true,
                    )
                } else {
                    return self.rebase(row, inc.commit.clone().unwrap_or_default(), inc.number);
                }
            }
        };
        let ch = Changes {
            reason: Some(reason.clone()),
            new_incumbent: becomes_incumbent.then_some(exp.number),
            ..Changes::default()
        };
        self.ledger.transition_with(
            row,
            verdict.state(),
            json!({"reason": reason, "policy": "strict"}),
            &ch,
        )?;
        self.finalize(row)?;
        self.report_verdict(row)
    }

    /// Moves a better candidate onto the current incumbent and queues a confirmation run.
    pub(super) fn rebase(
        &mut self,
        row: i64,
        onto: String,
        onto_number: u32,
    ) -> Result<(), EngineError> {
        let exp = self.ledger.experiment_by_row(row)?;
        let count = self.rebases.entry(row).or_insert(0);
        *count += 1;
        let attempt = *count;
        let discard = |d: &mut Self, reason: String| -> Result<(), EngineError> {
            let ch = Changes {
                reason: Some(reason.clone()),
                ..Changes::default()
            };
            d.ledger
                .transition_with(row, State::Discarded, json!({"reason": reason}), &ch)?;
            d.finalize(row)?;
            d.report_verdict(row)
        };
        if attempt > MAX_REBASES {
            return discard(
                self,
                format!("the incumbent moved on {MAX_REBASES} times while confirming"),
            );
        }
        let old = exp.commit.clone().unwrap_or_default();
        let tag = self.campaign.tag.clone();
        self.archive_before_move(&git::archive_ref(&tag, exp.number), &old)?;
        let worktree = self.lab.worktree(&tag, exp.number);
        self.checkout(exp.number, &onto)?;
        let applied = match (&exp.params, &self.coder) {
            (Some(_), Some(coder)) => {
                let p = Proposal {
                    title: exp.title.clone(),
                    proposer: exp.proposer.clone(),
                    params: exp.params.clone(),
                };
                coder.implement(&p, &worktree)
            }
            _ => self
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
        let commit = self.lab.repo.worktree(&worktree)?.commit_all(&format!(
            "{}\n\nautolab experiment {} (moved onto #{onto_number})\n",
            exp.title,
            self.experiment_name(exp.number)
        ))?;
        if let Some(reason) = self.rule_violation(&onto, &commit)? {
            let ch = Changes {
                commit: Some(commit),
                parent: Some(onto),
                reason: Some(reason.clone()),
                ..Changes::default()
            };
            self.ledger
                .transition_with(row, State::Invalid, json!({"reason": reason}), &ch)?;
            self.finalize(row)?;
            return self.report_verdict(row);
        }
        let lines = self.lab.repo.line_counts(&onto, &commit)?;
        let ch = Changes {
            commit: Some(commit.clone()),
            parent: Some(onto),
            lines: Some(lines),
            ..Changes::default()
        };
        self.ledger.transition_with(
            row,
            State::Confirming,
            json!({"moved_from": old, "onto": onto_number, "commit": commit}),
            &ch,
        )?;
        self.queue.push_front(Work::Run(row));
        Ok(())
    }
}

impl Driver<'_> {
    /// Keeps `old` reachable under `<archive>-pre-<k>`, the first k that is free or holds it
    /// already (the attempt counter starts again after a restart, so the name cannot come
    /// from it); an existing ref is never overwritten.
    fn archive_before_move(&self, archive: &str, old: &str) -> Result<(), EngineError> {
        let repo = &self.lab.repo;
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
