//! A campaign: the loop that proposes, implements, runs, judges and learns, until a budget ends
//! or it is stopped; restartable at any instant.

mod agent_context;
mod agent_flow;
mod api;
mod books;
mod coding;
mod conclude;
mod controls;
mod decide;
mod drift;
mod execute;
mod finish;
mod fresh_start;
mod halving;
mod jobs;
mod launch;
mod lessons;
mod noise;
mod open;
mod outage;
mod pipeline;
mod projects;
mod reconcile;
mod supervise;
mod worktrees;

use autolab_core::ids::{ExperimentId, RunId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use autolab_core::experiment::Verdict;

use crate::EngineError;

pub use api::{Ending, Observer, Report, RunOptions, Summary};
use books::Books;
use decide::Verdicts;
pub use drift::refuse_defining_changes;
use jobs::{Jobs, SlotMsg, Work};
pub(crate) use launch::sandbox_for;
pub use open::{Parts, cluster_config, run_campaign, run_campaign_with};
use pipeline::Sources;

/// A campaign's parts, and the loop's own state: whether it is paused or stopping, and the
/// crash streak. Each part has one job ([`Books`]: the record, where verdicts land; [`Jobs`]:
/// the queue and the slots; [`Sources`]: proposer and coder; the agent: the LLM path); the
/// loop passes each step the parts it touches.
struct Driver<'a> {
    books: Books<'a>,
    jobs: Jobs,
    sources: Sources,
    /// The LLM path, when `[agent]` is configured and no proposer was plugged in.
    agent: Option<agent_flow::AgentRuntime>,
    /// Projects mode's part (`[task] mode = "projects"`), with the agent.
    projects: Option<projects::ProjectRuntime>,
    /// How often each experiment was moved onto a newer incumbent.
    rebases: HashMap<ExperimentId, u32>,
    /// Crashed or timed-out verdicts in a row, in this invocation.
    consecutive_crashes: u32,
    paused: bool,
    /// Who paused the campaign (`autolab pause`), while it is paused.
    user_pause: Option<String>,
    /// A `stop` command was taken.
    stop_asked: bool,
    /// Every thread that could answer the loop is gone.
    disconnected: bool,
    /// The supervisor: the failure streak, its diagnosis, the notifications.
    watch: supervise::Watch,
}

impl<'a> Driver<'a> {
    fn main_loop(&mut self, stop: &AtomicBool) -> Result<Summary, EngineError> {
        if let (Some(p), Some(a)) = (self.projects.as_mut(), self.agent.as_mut()) {
            p.resume(&mut self.books, &mut self.jobs, a)?;
        }
        let started = self.books.started;
        let deadline = self
            .books
            .opts
            .max_hours
            .map(|h| started + Duration::from_secs_f64(h * 3600.0));
        let mut ending = Ending::Budget;
        let mut last_beat = Instant::now();
        self.supervise_beat()?;
        loop {
            self.take_controls()?;
            self.settle()?;
            if let (Some(p), Some(a)) = (self.projects.as_mut(), self.agent.as_mut())
                && a.prep_in_flight == 0
                && !self.paused
                && self.user_pause.is_none()
                && self.jobs.slots.is_empty()
                && self.jobs.queue.is_empty()
            {
                p.resume(&mut self.books, &mut self.jobs, a)?;
            }
            let time_left = deadline.is_none_or(|d| Instant::now() < d);
            if ending == Ending::Budget && time_left && !stop.load(Ordering::SeqCst) {
                let held = self.paused || self.user_pause.is_some() || self.stop_asked;
                if !held {
                    self.jobs.start_ready(&mut self.books)?;
                }
            }
            // Then decisions: they may move the incumbent that new work starts from, or
            // pause the campaign (a crash streak) before anything new starts.
            while let Some(pos) = self
                .jobs
                .queue
                .iter()
                .position(|w| matches!(w, Work::Decide(..)))
            {
                if let Some(Work::Decide(exp, run)) = self.jobs.queue.remove(pos) {
                    self.decide(exp, run)?;
                }
            }
            if stop.load(Ordering::SeqCst) || self.stop_asked {
                ending = Ending::Stopped;
                for slot in self.jobs.slots.values() {
                    slot.cancel.store(true, Ordering::SeqCst);
                }
            } else if self.paused && ending == Ending::Budget {
                // The supervisor (and failed ideations) said why when they paused it.
                ending = Ending::Paused;
            } else if deadline.is_some_and(|d| Instant::now() >= d) && ending == Ending::Budget {
                ending = Ending::Time;
                self.books.observer.report(Report::Note(
                    "time budget reached: finishing running experiments".into(),
                ));
            }
            if ending == Ending::Budget && self.agent.as_ref().is_some_and(|a| a.out_of_budget) {
                ending = Ending::Spent;
            }
            // A pause waits for `resume` while there is something left to do; with the budget
            // spent and nothing queued or running there is nothing to resume: the campaign ends.
            let waiting_resume = ending == Ending::Budget
                && self.user_pause.is_some()
                && (!self.jobs.slots.is_empty() || self.work_left()?);
            if ending == Ending::Budget && !waiting_resume {
                self.fill_slots()?;
                self.settle()?;
                if let Some(agent) = self.agent.as_mut() {
                    agent.launch_prep(
                        &mut self.books,
                        &mut self.jobs,
                        self.paused || self.user_pause.is_some(),
                    )?;
                }
                self.settle()?;
            }
            // Lessons being written count: the campaign ends with its playbook complete.
            let prep = self
                .agent
                .as_ref()
                .map_or(0, |a| a.prep_in_flight + a.lessons_in_flight);
            if self.jobs.slots.is_empty()
                && (prep == 0 || ending != Ending::Budget)
                && !waiting_resume
            {
                // The experiment budget is spent: brackets still open are decided as they are.
                if ending == Ending::Budget && !self.may_propose()? {
                    halving::sweep(&mut self.books, &mut self.jobs)?;
                    self.settle()?;
                }
                let runnable = self.jobs.runnable();
                let waiting_llm = match &self.agent {
                    Some(a) => a.llm_pending(&self.books)?,
                    None => false,
                };
                let awaiting = !self.jobs.awaiting.is_empty();
                let more = ending == Ending::Budget
                    && (runnable || waiting_llm || awaiting || self.may_propose()?);
                // Out of ideas with nothing left to run: a pause (resumable), not a budget end.
                let exhausted = self.agent.as_ref().is_some_and(|a| a.ideas_exhausted);
                if exhausted && ending == Ending::Budget && !runnable && !waiting_llm && !awaiting {
                    ending = Ending::Paused;
                    break;
                }
                if !more {
                    break;
                }
                if self.books.baseline_pending()? && self.jobs.queue.is_empty() {
                    break;
                }
                if runnable {
                    continue;
                }
                if awaiting {
                    // Candidates wait for approval: wait below for the command.
                } else if self.agent.is_none() {
                    continue;
                } else if !waiting_llm {
                    // The agent has nothing in flight and nothing queued: it is out of ideas.
                    let next = self.books.ledger.next_number(self.books.campaign.id)?;
                    if next > 0 && !self.jobs.queue.is_empty() {
                        continue;
                    }
                    break;
                }
                // Otherwise wait below for the LLM's next try.
            }
            let msg = self.jobs.rx.recv_timeout(Duration::from_millis(200));
            self.answer(msg)?;
            self.settle()?;
            if last_beat.elapsed() > Duration::from_secs(5) {
                self.books.ledger.heartbeat(self.books.campaign.id)?;
                self.supervise_beat()?;
                last_beat = Instant::now();
            }
            if self.disconnected {
                break;
            }
        }
        self.end(ending)
    }

    /// What a slot or LLM thread sent, taken by the part it is for.
    fn answer(&mut self, msg: Result<SlotMsg, mpsc::RecvTimeoutError>) -> Result<(), EngineError> {
        let (books, jobs) = (&mut self.books, &mut self.jobs);
        match msg {
            Ok(SlotMsg::Started { run, handle }) => match handle {
                autolab_runner::Handle::Pid(pid) => {
                    books.ledger.set_run_pid(run, i64::from(pid))?
                }
                autolab_runner::Handle::Job { scheduler, id } => books
                    .ledger
                    .set_run_job(run, &autolab_core::experiment::JobRef { scheduler, id })?,
            },
            Ok(SlotMsg::Done { exp, run, output }) => jobs.finish_run(books, exp, run, *output)?,
            Ok(SlotMsg::IdeaReady(outcome)) => {
                if let Some(a) = self.agent.as_mut() {
                    a.idea_ready(books, jobs, *outcome)?
                }
            }
            Ok(SlotMsg::LessonReady(w)) => {
                if let Some(a) = self.agent.as_mut() {
                    a.lesson_ready(books, jobs, *w)?
                }
            }
            Ok(SlotMsg::DigestReady(w)) => {
                if let Some(a) = self.agent.as_mut() {
                    a.digest_ready(books, jobs, *w)?
                }
            }
            Ok(SlotMsg::CodeReady { exp, outcome, fix }) => {
                if let Some(a) = self.agent.as_mut() {
                    a.code_ready(books, jobs, exp, *outcome, fix)?
                }
            }
            Ok(SlotMsg::PlanReady(out)) => {
                if let (Some(p), Some(a)) = (self.projects.as_mut(), self.agent.as_mut()) {
                    p.plan_ready(books, jobs, a, *out)?
                }
            }
            Ok(SlotMsg::ProjectWritten(w)) => {
                if let (Some(p), Some(a)) = (self.projects.as_mut(), self.agent.as_mut()) {
                    p.written(books, a, *w)?
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => self.disconnected = true,
        }
        Ok(())
    }

    /// The campaign's last words: spares go, results.tsv is rewritten, a clean end recorded.
    fn end(&mut self, ending: Ending) -> Result<Summary, EngineError> {
        self.supervise_end(ending)?;
        let books = &mut self.books;
        books.ledger.heartbeat(books.campaign.id)?;
        books.worktrees().drop_spares()?;
        books.write_results()?;
        // A clean end, so `status` can tell it from a crash.
        books.ledger.campaign_event(
            books.campaign.id,
            "run_ended",
            &serde_json::json!({ "ending": format!("{ending:?}").to_lowercase() }),
        )?;
        let campaign = books
            .ledger
            .campaign(&books.campaign.tag)?
            .unwrap_or_else(|| books.campaign.clone());
        let incumbent = match campaign.incumbent {
            Some(n) => books.ledger.experiment(campaign.id, n)?,
            None => None,
        };
        let baseline_score = books
            .ledger
            .experiment(campaign.id, 0)?
            .and_then(|e| e.score);
        Ok(Summary {
            ending,
            tag: campaign.tag,
            incumbent,
            baseline_score,
        })
    }

    /// Whether anything may still start: queued work, an experiment waiting for the LLM, or a
    /// new proposal under the experiment budget.
    fn work_left(&self) -> Result<bool, EngineError> {
        let runnable = self.jobs.runnable();
        let waiting_llm = match &self.agent {
            Some(a) => a.llm_pending(&self.books)? || a.prep_in_flight > 0,
            None => false,
        };
        // The LLM's experts may still propose: ideas wait, or more may be asked for.
        // Projects mode: no new idea once `max_ideas` projects exist.
        let ideas_full = match self
            .books
            .lab
            .config
            .projects
            .as_ref()
            .and_then(|p| p.max_ideas)
        {
            Some(max) => {
                self.books
                    .ledger
                    .projects()
                    .list(self.books.campaign.id)?
                    .len() as u32
                    >= max
            }
            None => false,
        };
        let ideas_left = !ideas_full
            && self
                .agent
                .as_ref()
                .is_some_and(|a| !a.backlog.is_empty() || (!a.ideas_exhausted && !a.out_of_budget))
            && self.books.under_budget()?;
        Ok(runnable
            || waiting_llm
            || ideas_left
            || !self.jobs.awaiting.is_empty()
            || self.may_propose()?)
    }

    /// Whether a new experiment may still be proposed under the experiment budget.
    fn may_propose(&self) -> Result<bool, EngineError> {
        let next = self.books.ledger.next_number(self.books.campaign.id)?;
        Ok(self.books.under_budget()? && (next == 0 || self.sources.proposer.is_some()))
    }

    /// The parts a verdict touches.
    fn verdicts(&mut self) -> Verdicts<'_, 'a> {
        Verdicts {
            books: &mut self.books,
            jobs: &mut self.jobs,
            rebases: &mut self.rebases,
            sources: &self.sources,
            agent: self.agent.as_mut(),
            paused: self.paused || self.user_pause.is_some(),
        }
    }

    /// Judges experiment `row` by its run `run`; its verdict is reported even when the verdict
    /// ends the campaign (a failed baseline).
    fn decide(&mut self, row: ExperimentId, run: RunId) -> Result<(), EngineError> {
        let decided = self.verdicts().decide(row, run);
        self.settle()?;
        decided?;
        halving::after_verdict(&mut self.books, &mut self.jobs, row)?;
        self.settle()
    }

    fn fill_slots(&mut self) -> Result<(), EngineError> {
        while self.jobs.slots.len() < self.jobs.parallel {
            let work = match self.jobs.queue.pop_front() {
                Some(w) => w,
                None => {
                    if !self.may_propose()? {
                        return Ok(());
                    }
                    // No more candidates than slots wait for approval.
                    if self.jobs.awaiting.len() >= self.jobs.parallel {
                        return Ok(());
                    }
                    let next = self.books.ledger.next_number(self.books.campaign.id)?;
                    if next > 0 && self.agent.is_some() {
                        // The LLM path proposes through jobs (launch_prep).
                        return Ok(());
                    }
                    if next > 0 && self.books.baseline_pending()? {
                        // Candidates are judged against the baseline: wait for its verdict.
                        return Ok(());
                    }
                    match self.sources.propose(&mut self.books, next)? {
                        Some(row) => Work::Implement(row),
                        None => return Ok(()),
                    }
                }
            };
            match work {
                Work::Implement(row) => {
                    let ready = self.sources.implement(
                        &mut self.books,
                        &mut self.jobs,
                        self.agent.as_mut(),
                        row,
                    )?;
                    if ready {
                        self.jobs.run_or_await(&mut self.books, row)?;
                    }
                }
                Work::Run(row) => {
                    // Candidates prepared while the baseline runs wait for its verdict.
                    if self.books.baseline_pending()?
                        && self.books.ledger.experiment_by_row(row)?.number > 0
                    {
                        self.jobs.queue.push_front(Work::Run(row));
                        return Ok(());
                    }
                    self.jobs.run_or_await(&mut self.books, row)?
                }
                Work::Decide(exp, run) => self.decide(exp, run)?,
                Work::Attach(exp, run) => {
                    let job = self
                        .books
                        .ledger
                        .runs(exp)?
                        .into_iter()
                        .find(|r| r.row == run)
                        .and_then(|r| r.job);
                    match job {
                        Some(j) => {
                            let handle = autolab_runner::Handle::Job {
                                scheduler: j.scheduler,
                                id: j.id,
                            };
                            self.jobs.reattach(&mut self.books, exp, run, handle)?
                        }
                        None => self.jobs.queue.push_back(Work::Run(exp)),
                    }
                }
            }
        }
        Ok(())
    }

    /// Reports the verdicts the last step reached (the crash streak, the playbook, the next
    /// lesson, the observer) and takes the agent's request to pause.
    fn settle(&mut self) -> Result<(), EngineError> {
        if self
            .agent
            .as_mut()
            .is_some_and(|a| std::mem::take(&mut a.pause_asked))
        {
            self.paused = true;
        }
        while !self.books.concluded.is_empty() {
            let row = self.books.concluded.remove(0);
            self.report_verdict(row)?;
        }
        Ok(())
    }

    fn report_verdict(&mut self, row: ExperimentId) -> Result<(), EngineError> {
        let books = &mut self.books;
        let experiment = books.ledger.experiment_by_row(row)?;
        let best = books.incumbent()?.and_then(|e| e.score);
        match experiment.verdict {
            Some(Verdict::Crashed | Verdict::Timeout) => self.consecutive_crashes += 1,
            // Somebody's decision, not the code's: the streak neither grows nor ends.
            Some(Verdict::Cancelled) | None => {}
            Some(_) => self.consecutive_crashes = 0,
        }
        if self.consecutive_crashes >= books.lab.config.runner.max_consecutive_crashes {
            self.paused = true;
        }
        self.supervise_verdict(&experiment)?;
        let books = &mut self.books;
        if let Some(agent) = self.agent.as_mut() {
            books.write_playbook(agent)?;
            agent.launch_lessons(books, &mut self.jobs)?;
            if let Some(p) = self.projects.as_mut() {
                let held = self.paused || self.user_pause.is_some();
                p.after_verdict(books, &mut self.jobs, agent, row, held)?;
            }
        }
        let primary = experiment
            .metrics
            .get(&books.lab.config.metrics.primary)
            .copied();
        let run_secs = books
            .ledger
            .runs(row)?
            .iter()
            .filter_map(|r| r.ended_at.map(|end| (end - r.started_at).max(0.0)))
            .sum();
        books.observer.report(Report::Verdict {
            experiment: Box::new(experiment),
            best,
            primary,
            run_secs,
        });
        self.say_pending();
        Ok(())
    }
}
