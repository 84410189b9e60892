//! The fix loop: a crashed LLM experiment goes back to the coder with its log tail and diff,
//! a bounded number of times (counted in the ledger, so a restart grants no new attempts).

use autolab_core::experiment::{ProposerKind, State};
use autolab_core::ids::ExperimentId;
use autolab_core::ledger::Changes;
use serde_json::json;

use super::{Driver, Report};
use crate::EngineError;
use crate::llm::coder::Fix;

/// Characters of a crash's log sent back to the coder.
const FIX_LOG_CHARS: usize = 2000;

impl Driver<'_> {
    /// The fix of an experiment's last crash, rebuilt from the ledger (its log tail and diff).
    pub(super) fn fix_for(&self, row: ExperimentId) -> Result<Fix, EngineError> {
        let exp = self.ledger.experiment_by_row(row)?;
        let log_tail = self
            .ledger
            .runs(row)?
            .last()
            .and_then(|r| r.log_tail.clone())
            .unwrap_or_default();
        let diff = match &exp.commit {
            Some(c) => self.lab.repo.diff(&exp.parent, c).unwrap_or_default(),
            None => String::new(),
        };
        Ok(Fix {
            log_tail: tail_chars(&log_tail, FIX_LOG_CHARS),
            diff,
        })
    }

    /// A crashed LLM experiment goes back to the coder with its log tail, a bounded number of
    /// times. Returns whether a fix was started (and the crash verdict is deferred).
    pub(super) fn try_fix(
        &mut self,
        row: ExperimentId,
        reason: &str,
        log_tail: &str,
    ) -> Result<bool, EngineError> {
        let Some(agent) = self.agent.as_mut() else {
            return Ok(false);
        };
        if agent.out_of_budget || agent.cfg.fix_attempts == 0 {
            return Ok(false);
        }
        // Counted from the ledger on first use, so a restart grants no new attempts.
        if !agent.fix_attempts.contains_key(&row) {
            let done = self.ledger.fix_attempts(row)?;
            if let Some(a) = self.agent.as_mut() {
                a.fix_attempts.insert(row, done);
            }
        }
        let Some(agent) = self.agent.as_mut() else {
            return Ok(false);
        };
        let used = agent.fix_attempts.entry(row).or_insert(0);
        if *used >= agent.cfg.fix_attempts {
            return Ok(false);
        }
        *used += 1;
        let attempt = *used;
        let exp = self.ledger.experiment_by_row(row)?;
        if exp.proposer != ProposerKind::Llm {
            return Ok(false);
        }
        let diff = match &exp.commit {
            Some(c) => self.lab.repo.diff(&exp.parent, c).unwrap_or_default(),
            None => String::new(),
        };
        let tail = tail_chars(log_tail, FIX_LOG_CHARS);
        let ch = Changes {
            reason: Some(reason.to_string()),
            ..Changes::default()
        };
        self.ledger.transition_with(
            row,
            State::Evaluating,
            json!({"fix_attempt": attempt, "crash": reason}),
            &ch,
        )?;
        self.observer.report(Report::Note(format!(
            "#{:04} crashed ({reason}); fix attempt {attempt}",
            exp.number
        )));
        self.implement_async(
            row,
            Some(Fix {
                log_tail: tail,
                diff,
            }),
        )?;
        Ok(true)
    }
}

/// The last `n` characters of `text`.
fn tail_chars(text: &str, n: usize) -> String {
    let count = text.chars().count();
    text.chars().skip(count.saturating_sub(n)).collect()
}
