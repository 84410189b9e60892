//! A campaign: the loop that proposes, implements, runs, judges and learns, until a budget ends
//! or it is stopped; restartable at any instant.

mod agent_context;
mod agent_flow;
mod api;
mod conclude;
mod controls;
mod decide;
mod drift;
mod execute;
mod finish;
mod fixes;
mod fresh_start;
mod lessons;
mod noise;
mod open;
mod outage;
mod pipeline;
mod reconcile;
mod worktrees;

use autolab_core::ids::{ExperimentId, RunId};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use autolab_core::experiment::{Experiment, Verdict};
use autolab_core::ledger::{Campaign, Ledger};
use autolab_runner::Runner;

use crate::EngineError;

use crate::coder::Coder;
use crate::lab::Lab;
use crate::proposer::Proposer;
pub use api::{Ending, Observer, Report, RunOptions, Summary};
pub use open::{Parts, cluster_config, run_campaign, run_campaign_with};

/// A piece of work the loop owes an experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    /// Implement (or re-implement) its change, then run it.
    Implement(ExperimentId),
    /// Its commit is ready: run it.
    Run(ExperimentId),
    /// A finished run awaits its verdict.
    Decide(ExperimentId, RunId),
    /// A cluster run started before a restart: wait for it again (experiment, run).
    Attach(ExperimentId, RunId),
}

enum SlotMsg {
    Started {
        run: RunId,
        handle: autolab_runner::Handle,
    },
    Done {
        exp: ExperimentId,
        run: RunId,
        output: Box<execute::RunOutput>,
    },
    IdeaReady(Box<crate::llm::strategist::IdeaOutcome>),
    LessonReady(Box<crate::llm::lessons::Written>),
    DigestReady(Box<crate::llm::lessons::Written>),
    CodeReady {
        exp: ExperimentId,
        outcome: Box<crate::llm::coder::CodeOutcome>,
        fix: bool,
    },
}

struct Slot {
    cancel: Arc<AtomicBool>,
    /// Reads the metric-producing run's output line by line as it is printed.
    stream: Option<Arc<autolab_core::metrics::StreamReader>>,
}

struct Driver<'a> {
    lab: &'a Lab,
    ledger: Ledger,
    campaign: Campaign,
    opts: &'a RunOptions,
    observer: &'a mut dyn Observer,
    runner: Arc<dyn Runner>,
    proposer: Option<Box<dyn Proposer>>,
    coder: Option<Box<dyn Coder>>,
    /// Running experiments by ledger row.
    slots: HashMap<ExperimentId, Slot>,
    queue: VecDeque<Work>,
    tx: mpsc::Sender<SlotMsg>,
    rx: mpsc::Receiver<SlotMsg>,
    /// How often each experiment was moved onto a newer incumbent.
    rebases: HashMap<ExperimentId, u32>,
    /// Crashed or timed-out verdicts in a row, in this invocation.
    consecutive_crashes: u32,
    paused: bool,
    /// The LLM path, when `[agent]` is configured and no proposer was plugged in.
    agent: Option<agent_flow::AgentRuntime>,
    parallel: usize,
    /// When this invocation started (for the share of `max_hours` used).
    started: Instant,
    /// When this invocation took the lab (ledger time): older commands were never for it.
    held_since: f64,
    /// Who paused the campaign (`autolab pause`), while it is paused.
    user_pause: Option<String>,
    /// A `stop` command was taken.
    stop_asked: bool,
    /// Experiments whose run is being killed for `cancel`, with the reason to record.
    cancelling: HashMap<ExperimentId, String>,
}

impl Driver<'_> {
    fn main_loop(&mut self, stop: &AtomicBool) -> Result<Summary, EngineError> {
        let started = self.started;
        let deadline = self
            .opts
            .max_hours
            .map(|h| started + Duration::from_secs_f64(h * 3600.0));
        let mut ending = Ending::Budget;
        let mut last_beat = Instant::now();
        loop {
            self.take_controls()?;
            // Decisions first: they may move the incumbent that new work starts from,
            // or pause the campaign (a crash streak) before anything new starts.
            while let Some(pos) = self
                .queue
                .iter()
                .position(|w| matches!(w, Work::Decide(..)))
            {
                if let Some(Work::Decide(exp, run)) = self.queue.remove(pos) {
                    self.decide(exp, run)?;
                }
            }
            if stop.load(Ordering::SeqCst) || self.stop_asked {
                ending = Ending::Stopped;
                for slot in self.slots.values() {
                    slot.cancel.store(true, Ordering::SeqCst);
                }
            } else if self.paused && ending == Ending::Budget {
                ending = Ending::Paused;
                // Failed ideations said so when they paused the campaign.
                if self.consecutive_crashes >= self.lab.config.runner.max_consecutive_crashes {
                    self.observer.report(Report::Note(format!(
                        "{} crashed experiments in a row: pausing (finishing running ones)",
                        self.consecutive_crashes
                    )));
                }
            } else if deadline.is_some_and(|d| Instant::now() >= d) && ending == Ending::Budget {
                ending = Ending::Time;
                self.observer.report(Report::Note(
                    "time budget reached: finishing running experiments".into(),
                ));
            }
            if ending == Ending::Budget && self.agent.as_ref().is_some_and(|a| a.out_of_budget) {
                ending = Ending::Spent;
            }
            let waiting_resume = ending == Ending::Budget && self.user_pause.is_some();
            if ending == Ending::Budget && !waiting_resume {
                self.fill_slots()?;
                self.launch_prep()?;
            }
            // Lessons being written count: the campaign ends with its playbook complete.
            let prep = self
                .agent
                .as_ref()
                .map_or(0, |a| a.prep_in_flight + a.lessons_in_flight);
            if self.slots.is_empty() && (prep == 0 || ending != Ending::Budget) && !waiting_resume {
                let runnable = self.queue.iter().any(|w| !matches!(w, Work::Decide(..)));
                let waiting_llm = self.llm_pending()?;
                let more =
                    ending == Ending::Budget && (runnable || waiting_llm || self.may_propose()?);
                // Out of ideas with nothing left to run: a pause (resumable), not a budget end.
                let exhausted = self.agent.as_ref().is_some_and(|a| a.ideas_exhausted);
                if exhausted && ending == Ending::Budget && !runnable && !waiting_llm {
                    ending = Ending::Paused;
                    break;
                }
                if !more {
                    break;
                }
                if self.baseline_pending()? && self.queue.is_empty() {
                    break;
                }
                if self.agent.is_none() || runnable {
                    continue;
                }
                if !waiting_llm {
                    // The agent has nothing in flight and nothing queued: it is out of ideas.
                    let next = self.ledger.next_number(self.campaign.id)?;
                    if next > 0 && !self.queue.is_empty() {
                        continue;
                    }
                    break;
                }
                // Otherwise wait below for the LLM's next try.
            }
            match self.rx.recv_timeout(Duration::from_millis(200)) {
                Ok(SlotMsg::Started { run, handle }) => match handle {
                    autolab_runner::Handle::Pid(pid) => {
                        self.ledger.set_run_pid(run, i64::from(pid))?
                    }
                    autolab_runner::Handle::Job { scheduler, id } => self
                        .ledger
                        .set_run_job(run, &autolab_core::experiment::JobRef { scheduler, id })?,
                },
                Ok(SlotMsg::Done { exp, run, output }) => {
                    let stream = self.slots.remove(&exp).and_then(|s| s.stream);
                    self.finish_run(exp, run, *output, stream)?;
                }
                Ok(SlotMsg::IdeaReady(outcome)) => self.idea_ready(*outcome)?,
                Ok(SlotMsg::LessonReady(w)) => self.lesson_ready(*w)?,
                Ok(SlotMsg::DigestReady(w)) => self.digest_ready(*w)?,
                Ok(SlotMsg::CodeReady { exp, outcome, fix }) => {
                    self.code_ready(exp, *outcome, fix)?
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if last_beat.elapsed() > Duration::from_secs(5) {
                self.ledger.heartbeat(self.campaign.id)?;
                last_beat = Instant::now();
            }
        }
        self.ledger.heartbeat(self.campaign.id)?;
        self.worktrees().drop_spares()?;
        self.write_results()?;
        // A clean end, so `status` can tell it from a crash.
        self.ledger.campaign_event(
            self.campaign.id,
            "run_ended",
            &serde_json::json!({ "ending": format!("{ending:?}").to_lowercase() }),
        )?;
        let campaign = self
            .ledger
            .campaign(&self.campaign.tag)?
            .unwrap_or_else(|| self.campaign.clone());
        let incumbent = match campaign.incumbent {
            Some(n) => self.ledger.experiment(campaign.id, n)?,
            None => None,
        };
        let baseline_score = self
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

    /// Whether a new experiment may still be proposed under the experiment budget.
    fn may_propose(&self) -> Result<bool, EngineError> {
        let next = self.ledger.next_number(self.campaign.id)?;
        let under_budget = self.opts.max_experiments.is_none_or(|max| next < max);
        Ok(under_budget && (next == 0 || self.proposer.is_some()))
    }

    /// True while the baseline has no verdict yet (candidates wait for it).
    fn baseline_pending(&self) -> Result<bool, EngineError> {
        Ok(self
            .ledger
            .experiment(self.campaign.id, 0)?
            .is_none_or(|e| !e.state.is_final()))
    }

    fn fill_slots(&mut self) -> Result<(), EngineError> {
        while self.slots.len() < self.parallel {
            let work = match self.queue.pop_front() {
                Some(w) => w,
                None => {
                    if !self.may_propose()? {
                        return Ok(());
                    }
                    let next = self.ledger.next_number(self.campaign.id)?;
                    if next > 0 && self.agent.is_some() {
                        // The LLM path proposes through jobs (launch_prep).
                        return Ok(());
                    }
                    if next > 0 && self.baseline_pending()? {
                        // Candidates are judged against the baseline: wait for its verdict.
                        return Ok(());
                    }
                    match self.propose(next)? {
                        Some(row) => Work::Implement(row),
                        None => return Ok(()),
                    }
                }
            };
            match work {
                Work::Implement(row) => {
                    if self.implement(row)? {
                        self.start_run(row)?;
                    }
                }
                Work::Run(row) => {
                    // Candidates prepared while the baseline runs wait for its verdict.
                    if self.baseline_pending()? && self.ledger.experiment_by_row(row)?.number > 0 {
                        self.queue.push_front(Work::Run(row));
                        return Ok(());
                    }
                    self.start_run(row)?
                }
                Work::Decide(exp, run) => self.decide(exp, run)?,
                Work::Attach(exp, run) => {
                    let job = self
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
                            self.reattach(exp, run, handle)?
                        }
                        None => self.queue.push_back(Work::Run(exp)),
                    }
                }
            }
        }
        Ok(())
    }

    fn report_verdict(&mut self, row: ExperimentId) -> Result<(), EngineError> {
        let experiment = self.ledger.experiment_by_row(row)?;
        let campaign = self.ledger.campaign(&self.campaign.tag)?;
        let best = match campaign.and_then(|c| c.incumbent) {
            Some(n) => self
                .ledger
                .experiment(self.campaign.id, n)?
                .and_then(|e| e.score),
            None => None,
        };
        match experiment.verdict {
            Some(Verdict::Crashed | Verdict::Timeout) => self.consecutive_crashes += 1,
            // Somebody's decision, not the code's: the streak neither grows nor ends.
            Some(Verdict::Cancelled) | None => {}
            Some(_) => self.consecutive_crashes = 0,
        }
        if self.consecutive_crashes >= self.lab.config.runner.max_consecutive_crashes {
            self.paused = true;
        }
        self.write_playbook()?;
        self.launch_lessons()?;
        let primary = experiment
            .metrics
            .get(&self.lab.config.metrics.primary)
            .copied();
        let run_secs = self
            .ledger
            .runs(row)?
            .iter()
            .filter_map(|r| r.ended_at.map(|end| (end - r.started_at).max(0.0)))
            .sum();
        self.observer.report(Report::Verdict {
            experiment: Box::new(experiment),
            best,
            primary,
            run_secs,
        });
        Ok(())
    }

    fn incumbent(&self) -> Result<Option<Experiment>, EngineError> {
        let c = self.ledger.campaign(&self.campaign.tag)?;
        Ok(match c.and_then(|c| c.incumbent) {
            Some(n) => self.ledger.experiment(self.campaign.id, n)?,
            None => None,
        })
    }

    /// The commit new experiments start from.
    fn incumbent_commit(&self) -> Result<String, EngineError> {
        Ok(self
            .incumbent()?
            .and_then(|e| e.commit)
            .unwrap_or_else(|| self.campaign.base_commit.clone()))
    }

    /// The campaign's worktrees, one spare kept per slot.
    fn worktrees(&self) -> worktrees::Worktrees<'_> {
        worktrees::Worktrees {
            lab: self.lab,
            tag: self.campaign.tag.clone(),
            keep: self.parallel,
        }
    }

    fn experiment_name(&self, number: u32) -> String {
        format!("{}/{number:04}", self.campaign.tag)
    }
}
