//! The control inbox, read each turn of the loop: pause, resume, stop, cancel N and steering
//! notes written by other processes (`autolab pause` … from another terminal, the dashboard).
//! Each command is taken once and answered with the effect it had.

use autolab_core::control::{APPROVED, Command, Control};
use autolab_core::experiment::Verdict;
use serde_json::json;

use super::jobs::Work;
use super::{Driver, Report};
use crate::EngineError;

impl Driver<'_> {
    /// Commands written before this invocation held the lab waited for a run that was not
    /// there: they are answered as expired, never carried out late.
    pub(super) fn expire_old_controls(&mut self) -> Result<(), EngineError> {
        for c in self
            .books
            .ledger
            .controls()
            .waiting(self.books.campaign.id)?
        {
            if c.at < self.books.held_since {
                let effect = match c.command {
                    // `autolab steer` wrote the note itself: the next ideation reads it.
                    Command::Steer(_) => "noted in the steering notes (no run was live)",
                    _ => "expired: no run of the campaign was live to take it",
                };
                self.books.ledger.controls().take(c.id, effect)?;
            }
        }
        // A pause lasts as long as the run that took it: say so when that run ended paused.
        let last = self
            .books
            .ledger
            .controls()
            .recent(self.books.campaign.id, 50)?
            .into_iter()
            .rev()
            .find(|c| {
                let effect = c.effect.as_deref().unwrap_or("");
                (c.command == Command::Pause && effect.starts_with("paused"))
                    || (c.command == Command::Resume && effect.starts_with("resumed"))
            });
        // This run's start is the newest; the one before it is the run that may have ended paused.
        let starts = self
            .books
            .ledger
            .campaign_event_times(self.books.campaign.id, "run_started")?;
        let previous = starts.len().checked_sub(2).map(|i| starts[i]);
        if let Some(c) = last.filter(|c| {
            c.command == Command::Pause
                && previous.is_some_and(|p| c.taken_at.is_some_and(|t| t >= p))
        }) {
            self.books.observer.report(Report::Note(format!(
                "the campaign's last run ended paused (by {}); this run goes on",
                c.by
            )));
        }
        Ok(())
    }

    /// Takes the waiting commands, oldest first.
    pub(super) fn take_controls(&mut self) -> Result<(), EngineError> {
        for c in self
            .books
            .ledger
            .controls()
            .waiting(self.books.campaign.id)?
        {
            let effect = self.carry_out(&c)?;
            self.books.ledger.controls().take(c.id, &effect)?;
            self.books.ledger.campaign_event(
                self.books.campaign.id,
                "control",
                &json!({"id": c.id, "command": c.command, "by": c.by, "effect": effect}),
            )?;
            self.books.observer.report(Report::Note(format!(
                "{} (by {}): {effect}",
                c.command, c.by
            )));
        }
        Ok(())
    }

    fn carry_out(&mut self, c: &Control) -> Result<String, EngineError> {
        Ok(match &c.command {
            Command::Pause if self.user_pause.is_some() => "already paused".into(),
            Command::Pause => {
                self.user_pause = Some(c.by.clone());
                if self.jobs.slots.is_empty() {
                    "paused: nothing new starts until it is resumed".into()
                } else {
                    format!(
                        "paused: {} running experiment(s) finish and are judged; nothing new starts until it is resumed",
                        self.jobs.slots.len()
                    )
                }
            }
            Command::Resume => match self.user_pause.take() {
                Some(_) => "resumed".into(),
                // Paused by the loop itself: this run ends once its running experiments do.
                None if self.paused => "not paused by a command: the campaign is pausing on its own (crashes in a row or the LLM out too long); run it again to go on".into(),
                None => "not paused: nothing to resume".into(),
            },
            Command::Stop => {
                self.stop_asked = true;
                match self.jobs.slots.len() {
                    0 => "stopping: nothing was running".into(),
                    n => format!(
                        "stopping: {n} running experiment(s) are cancelled and run again when the campaign is resumed"
                    ),
                }
            }
            Command::Cancel(n) => self.cancel(*n, &format!("cancelled by {}", c.by))?,
            Command::Approve(n) => self.approve(*n, &c.by)?,
            Command::Reject(n) => self.reject(*n, &c.by)?,
            Command::Steer(_) => match &self.agent {
                Some(_) => "noted: the next ideation reads the steering notes".into(),
                None => "noted, but nothing reads it: this lab has no [agent]".into(),
            },
        })
    }

    /// Experiment `number` ends with verdict `cancelled`: at once when nothing runs it, once
    /// its run is killed otherwise. Nothing else is touched.
    fn cancel(&mut self, number: u32, reason: &str) -> Result<String, EngineError> {
        if number == 0 {
            return Ok("refused: the baseline is what every candidate is judged against; stop the campaign instead".into());
        }
        let Some(exp) = self
            .books
            .ledger
            .experiment(self.books.campaign.id, number)?
        else {
            return Ok(format!("refused: no experiment #{number:04}"));
        };
        if let Some(v) = exp.state.verdict() {
            return Ok(format!(
                "refused: #{number:04} was judged already ({})",
                v.as_str()
            ));
        }
        // Its run ended on its own and waits to be judged: the result stands.
        if self
            .jobs
            .queue
            .iter()
            .any(|w| matches!(w, Work::Decide(r, _) if *r == exp.row))
        {
            return Ok(format!(
                "refused: #{number:04}'s run has finished; it is being judged"
            ));
        }
        let reason = reason.to_string();
        if let Some(slot) = self.jobs.slots.get(&exp.row) {
            slot.cancel.store(true, std::sync::atomic::Ordering::SeqCst);
            self.jobs.cancelling.insert(exp.row, reason);
            return Ok(format!("cancelling #{number:04}: its run is killed"));
        }
        // A cluster job left by an earlier run, not waited for yet: it is still out there, so
        // it is waited for at once (beyond `parallel`: only to be killed) and killed.
        if let Some(pos) = self
            .jobs
            .queue
            .iter()
            .position(|w| matches!(w, Work::Attach(r, _) if *r == exp.row))
            && let Some(Work::Attach(row, run)) = self.jobs.queue.remove(pos)
        {
            let job = self
                .books
                .ledger
                .runs(row)?
                .into_iter()
                .find(|r| r.row == run)
                .and_then(|r| r.job);
            if let Some(j) = job {
                self.jobs.cancelling.insert(row, reason);
                let handle = autolab_runner::Handle::Job {
                    scheduler: j.scheduler,
                    id: j.id,
                };
                self.jobs.reattach(&mut self.books, row, run, handle)?;
                return Ok(format!(
                    "cancelling #{number:04}: its cluster job is killed"
                ));
            }
        }
        if let Some(agent) = self.agent.as_mut() {
            // Waiting for the LLM to come back, or for the campaign to go on: it is not
            // implemented (or fixed) later.
            agent.deferred.retain(|(r, _)| *r != exp.row);
            agent.pending_fixes.retain(|(r, _, _)| *r != exp.row);
            // A coder is writing in its worktree: the verdict (and the worktree's release)
            // wait until it is done.
            if agent.coding.contains(&exp.row) {
                self.jobs.cancelling.insert(exp.row, reason);
                return Ok(format!(
                    "cancelling #{number:04}: its code is being written; cancelled once the coder stops"
                ));
            }
        }
        self.jobs.drop_work(exp.row);
        self.books
            .verdict_without_run(exp.row, Verdict::Cancelled, &reason, None)?;
        Ok(format!("cancelled #{number:04}"))
    }

    /// Candidates approved in earlier runs of the campaign stay approved.
    pub(super) fn load_approvals(&mut self) -> Result<(), EngineError> {
        let books = &self.books;
        for n in books
            .ledger
            .campaign_event_numbers(books.campaign.id, APPROVED)?
        {
            if let Some(e) = books.ledger.experiment(books.campaign.id, n)? {
                self.jobs.approved.insert(e.row);
            }
        }
        Ok(())
    }

    /// Candidate `number` may run: at once if it waits, when its code is ready otherwise.
    fn approve(&mut self, number: u32, by: &str) -> Result<String, EngineError> {
        if !self.books.lab.config.decide.approve {
            return Ok(
                "refused: candidates here run without approval ([decide] approve is off)".into(),
            );
        }
        let books = &self.books;
        let Some(exp) = books.ledger.experiment(books.campaign.id, number)? else {
            return Ok(format!("refused: no experiment #{number:04}"));
        };
        if number == 0 {
            return Ok("refused: the baseline runs without approval".into());
        }
        if let Some(v) = exp.state.verdict() {
            return Ok(format!(
                "refused: #{number:04} was judged already ({})",
                v.as_str()
            ));
        }
        if !self.jobs.approved.insert(exp.row) {
            return Ok(format!("#{number:04} was approved already"));
        }
        books.ledger.campaign_event(
            books.campaign.id,
            APPROVED,
            &json!({"experiment": number, "by": by}),
        )?;
        if let Some(pos) = self.jobs.awaiting.iter().position(|r| *r == exp.row) {
            self.jobs.awaiting.remove(pos);
            self.jobs.queue.push_front(Work::Run(exp.row));
            return Ok(format!("approved #{number:04}: it runs next"));
        }
        Ok(format!(
            "approved #{number:04}: it runs once its code is ready"
        ))
    }

    /// Candidate `number` does not run: verdict `cancelled`, as `cancel` gives, unless it runs.
    fn reject(&mut self, number: u32, by: &str) -> Result<String, EngineError> {
        let books = &self.books;
        if let Some(exp) = books.ledger.experiment(books.campaign.id, number)?
            && self.jobs.slots.contains_key(&exp.row)
        {
            return Ok(format!(
                "refused: #{number:04} runs already; `cancel {number}` stops it"
            ));
        }
        let answer = self.cancel(number, &format!("rejected by {by}"))?;
        Ok(answer.replacen("cancelled", "rejected", 1))
    }
}
