//! The LLM coder's side of the agent: an experiment's code is written as a job in its
//! worktree and committed when it returns; a crashed LLM experiment goes back to the coder
//! with its log tail and diff, a bounded number of times (counted in the ledger, so a restart
//! grants no new attempts).

use crate::llm::context::tail_chars;
use autolab_core::experiment::{ProposerKind, State, Verdict};
use autolab_core::ids::ExperimentId;
use autolab_core::ledger::Changes;
use serde_json::json;

use super::Report;
use super::agent_flow::AgentRuntime;
use super::books::Books;
use super::jobs::{Jobs, SlotMsg, Work};
use crate::EngineError;
use crate::agent::ideas::Idea;
use crate::llm::coder::{CodeJob, CodeOutcome, Fix, implement};
use crate::llm::context;

/// Characters of a crash's log sent back to the coder.
const FIX_LOG_CHARS: usize = 2000;

impl AgentRuntime {
    /// Checks out the experiment's parent and starts its coder (or a fix of its last crash).
    pub fn implement_async(
        &mut self,
        books: &mut Books<'_>,
        jobs: &mut Jobs,
        row: ExperimentId,
        fix: Option<Fix>,
    ) -> Result<(), EngineError> {
        let exp = books.ledger.experiment_by_row(row)?;
        let (idea, expert) = books.ledger.idea(row)?;
        let Some(idea) = idea.and_then(|v| serde_json::from_value::<Idea>(v).ok()) else {
            return books.verdict_without_run(
                row,
                Verdict::Invalid,
                "the experiment's idea is missing",
                None,
            );
        };
        let start = if fix.is_some() {
            exp.commit.clone().unwrap_or(exp.parent.clone())
        } else {
            exp.parent.clone()
        };
        books
            .ledger
            .transition(&exp, State::Implementing, json!({"fix": fix.is_some()}))?;
        books.worktrees().checkout(exp.number, &start)?;
        let job = CodeJob {
            coder: self.coder.clone(),
            idea,
            expert: expert.clone(),
            goal: context::goal_text(&books.lab.root, &books.lab.config),
            worktree: books
                .lab
                .repo
                .worktree(&books.lab.worktree(&books.campaign.tag, exp.number))?,
            editable: books.lab.config.task.editable.clone(),
            protected: books.lab.config.task.protected.clone(),
            fix: fix.clone(),
        };
        self.prep_in_flight += 1;
        self.coding.insert(row);
        let tx = jobs.tx.clone();
        let fixing = fix.is_some();
        std::thread::spawn(move || {
            let outcome = implement(job);
            let _ = tx.send(SlotMsg::CodeReady {
                exp: row,
                outcome: Box::new(outcome),
                fix: fixing,
            });
        });
        Ok(())
    }

    pub fn code_ready(
        &mut self,
        books: &mut Books<'_>,
        jobs: &mut Jobs,
        row: ExperimentId,
        outcome: CodeOutcome,
        fix: bool,
    ) -> Result<(), EngineError> {
        self.prep_in_flight = self.prep_in_flight.saturating_sub(1);
        self.coding.remove(&row);
        let answered = outcome.transcripts.iter().any(|t| t.reply.is_some());
        for mut t in outcome.transcripts {
            t.experiment = Some(row);
            books.ledger.record_transcript(books.campaign.id, &t)?;
        }
        if outcome.out_of_budget {
            self.budget_spent(books);
        }
        let exp = books.ledger.experiment_by_row(row)?;
        if exp.state.is_final() {
            return Ok(());
        }
        // Cancelled while its code was being written: the verdict waited for the coder.
        if jobs.conclude_cancelled(books, row)? {
            return Ok(());
        }
        if let Some(reason) = self.disproven.remove(&row) {
            return books.verdict_without_run(row, Verdict::Discarded, &reason, None);
        }
        if outcome.unavailable {
            // Not the idea's fault: it waits for the LLM to come back, keeping its number.
            if let Err(why) = &outcome.result {
                if !fix {
                    books.ledger.transition(
                        &exp,
                        State::Proposed,
                        json!({"deferred": "the LLM is unavailable"}),
                    )?;
                }
                self.deferred.push_back((row, fix));
                self.llm_unavailable(books, why);
                return Ok(());
            }
        } else if answered {
            self.llm_back(books, jobs)?;
        }
        let changed = match outcome.result {
            Ok(c) => c,
            Err(why) if fix => {
                let reason = format!(
                    "{}; the fix failed: {why}",
                    exp.reason.clone().unwrap_or_else(|| "crashed".into())
                );
                return books.verdict_without_run(row, Verdict::Crashed, &reason, None);
            }
            Err(why) => {
                return books.verdict_without_run(
                    row,
                    Verdict::Invalid,
                    &format!("could not implement: {why}"),
                    None,
                );
            }
        };
        let (_, expert) = books.ledger.idea(row)?;
        let worktree = books.lab.worktree(&books.campaign.tag, exp.number);
        let message = format!(
            "{}\n\nautolab experiment {} by {} ({})\nfiles: {}\n",
            exp.title,
            books.experiment_name(exp.number),
            expert.as_deref().unwrap_or("llm"),
            if fix { "fix" } else { "idea" },
            changed.join(", ")
        );
        let commit = books.lab.repo.worktree(&worktree)?.commit_all(&message)?;
        let detail = json!({"commit": commit, "fix": fix});
        if books.queue_commit(&exp, commit, detail)? {
            jobs.queue.push_back(Work::Run(row));
        }
        Ok(())
    }

    /// The fix of an experiment's last crash, rebuilt from the ledger (its log tail and diff).
    pub fn fix_for(&self, books: &Books<'_>, row: ExperimentId) -> Result<Fix, EngineError> {
        let exp = books.ledger.experiment_by_row(row)?;
        let log_tail = books
            .ledger
            .runs(row)?
            .last()
            .and_then(|r| r.log_tail.clone())
            .unwrap_or_default();
        let diff = match &exp.commit {
            Some(c) => books.lab.repo.diff(&exp.parent, c).unwrap_or_default(),
            None => String::new(),
        };
        Ok(Fix {
            log_tail: tail_chars(&log_tail, FIX_LOG_CHARS),
            diff,
        })
    }

    /// A crashed LLM experiment goes back to the coder with its log tail, a bounded number of
    /// times. Returns whether a fix was started (and the crash verdict is deferred). Without
    /// `now` (the campaign is paused) the fix waits, neither started nor counted, and starts
    /// once the campaign goes on; a campaign that ends first judges the crash again when it
    /// is resumed.
    pub fn try_fix(
        &mut self,
        books: &mut Books<'_>,
        jobs: &mut Jobs,
        row: ExperimentId,
        reason: &str,
        log_tail: &str,
        now: bool,
    ) -> Result<bool, EngineError> {
        if self.out_of_budget || self.cfg.fix_attempts == 0 {
            return Ok(false);
        }
        if !now {
            let number = books.ledger.experiment_by_row(row)?.number;
            books.observer.report(Report::Note(format!(
                "#{number:04} crashed ({reason}); its fix waits until the campaign goes on"
            )));
            self.pending_fixes
                .push_back((row, reason.to_string(), log_tail.to_string()));
            return Ok(true);
        }
        // Counted from the ledger on first use, so a restart grants no new attempts.
        let used = match self.fix_attempts.entry(row) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(books.ledger.fix_attempts(row)?)
            }
        };
        if *used >= self.cfg.fix_attempts {
            return Ok(false);
        }
        *used += 1;
        let attempt = *used;
        let exp = books.ledger.experiment_by_row(row)?;
        if exp.proposer != ProposerKind::Llm {
            return Ok(false);
        }
        let diff = match &exp.commit {
            Some(c) => books.lab.repo.diff(&exp.parent, c).unwrap_or_default(),
            None => String::new(),
        };
        let tail = tail_chars(log_tail, FIX_LOG_CHARS);
        let ch = Changes {
            reason: Some(reason.to_string()),
            ..Changes::default()
        };
        books.ledger.transition_with(
            row,
            State::Evaluating,
            json!({"fix_attempt": attempt, "crash": reason}),
            &ch,
        )?;
        books.observer.report(Report::Note(format!(
            "#{:04} crashed ({reason}); fix attempt {attempt}{}",
            exp.number,
            if now {
                ""
            } else {
                " once the campaign goes on"
            }
        )));
        if !now {
            self.deferred.push_back((row, true));
            return Ok(true);
        }
        self.implement_async(
            books,
            jobs,
            row,
            Some(Fix {
                log_tail: tail,
                diff,
            }),
        )?;
        Ok(true)
    }
}
