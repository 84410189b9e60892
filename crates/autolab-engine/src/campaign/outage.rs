//! The LLM path's budgets and outages: a spent `max_usd` ends the campaign once running
//! experiments finish; an unreachable or overloaded provider is waited out with growing pauses
//! (candidates whose code could not be written keep their number and wait), and only an outage
//! longer than `max_outage` pauses the campaign.

use std::time::{Duration, Instant};

use super::{Driver, Report};
use crate::EngineError;
use crate::llm::CallError;

/// The LLM has not been reachable since `since`; the next call may go out at `retry_at`.
#[derive(Debug, Clone, Copy)]
pub struct Outage {
    pub since: Instant,
    pub retry_at: Instant,
    pub failures: u32,
}

/// The longest wait between tries while the LLM cannot be reached.
const MAX_OUTAGE_WAIT: Duration = Duration::from_secs(600);

impl Driver<'_> {
    /// A call found the LLM unreachable: wait (doubling from `outage_retry`, at most 10
    /// minutes) before the next one, and pause once it has been out for `max_outage`.
    pub(super) fn llm_unavailable(&mut self, why: &str) {
        let Some(agent) = self.agent.as_mut() else {
            return;
        };
        let now = Instant::now();
        let o = agent.outage.get_or_insert(Outage {
            since: now,
            retry_at: now,
            failures: 0,
        });
        if o.failures > 0 && now < o.retry_at {
            // Another call that was already out when the LLM went away: one failure.
            return;
        }
        o.failures += 1;
        let wait = agent
            .cfg
            .outage_retry
            .saturating_mul(1 << (o.failures - 1).min(16))
            .min(MAX_OUTAGE_WAIT);
        o.retry_at = now + wait;
        let out_for = now.duration_since(o.since);
        let note = if out_for >= agent.cfg.max_outage {
            self.paused = true;
            format!(
                "the LLM has been unavailable for {} (max_outage): pausing; running the campaign again resumes it. Last error: {why}",
                autolab_core::config::format_duration(out_for)
            )
        } else {
            format!(
                "the LLM is unavailable ({why}); trying again in {}",
                autolab_core::config::format_duration(wait)
            )
        };
        self.observer.report(Report::Note(note));
    }

    /// The LLM answered: an outage is over, and lessons it held up are written now.
    pub(super) fn llm_back(&mut self) -> Result<(), EngineError> {
        let was_out = self
            .agent
            .as_mut()
            .is_some_and(|a| a.outage.take().is_some());
        if was_out {
            self.launch_lessons()?;
        }
        Ok(())
    }

    /// Whether the campaign should wait for the LLM to come back: implementations wait for
    /// it, or it is out while new experiments may still be proposed.
    pub(super) fn llm_pending(&self) -> Result<bool, EngineError> {
        let Some(a) = self.agent.as_ref() else {
            return Ok(false);
        };
        if !a.deferred.is_empty() {
            return Ok(true);
        }
        let next = self.ledger.next_number(self.campaign.id)?;
        let under_budget = self.opts.max_experiments.is_none_or(|max| next < max);
        Ok(a.outage.is_some() && under_budget)
    }

    pub(super) fn out_of_budget(&mut self, e: CallError) {
        if let Some(a) = self.agent.as_mut()
            && !a.out_of_budget
        {
            a.out_of_budget = true;
            self.observer.report(Report::Note(format!(
                "{e}: running experiments finish, then the campaign stops"
            )));
        }
    }
}
