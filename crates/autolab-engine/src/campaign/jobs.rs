//! Work and the runs in flight: the queue of what each experiment is owed, the slots running
//! experiments, the runner they run on and the channel their threads (and the LLM's) answer
//! on. It knows nothing of verdicts: what a finished run means is the judge's.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, mpsc};

use autolab_core::experiment::Verdict;
use autolab_core::ids::{ExperimentId, RunId};
use autolab_runner::Runner;

use super::Report;
use super::books::Books;
use super::execute::RunOutput;
use crate::EngineError;

/// A piece of work the loop owes an experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Work {
    /// Implement (or re-implement) its change, then run it.
    Implement(ExperimentId),
    /// Its commit is ready: run it.
    Run(ExperimentId),
    /// A finished run awaits its verdict.
    Decide(ExperimentId, RunId),
    /// A cluster run started before a restart: wait for it again (experiment, run).
    Attach(ExperimentId, RunId),
}

impl Work {
    /// The experiment the work is for.
    pub fn row(&self) -> ExperimentId {
        match *self {
            Work::Implement(r) | Work::Run(r) | Work::Decide(r, _) | Work::Attach(r, _) => r,
        }
    }
}

/// What slot and LLM threads send back to the loop.
pub(super) enum SlotMsg {
    Started {
        run: RunId,
        handle: autolab_runner::Handle,
    },
    Done {
        exp: ExperimentId,
        run: RunId,
        output: Box<RunOutput>,
    },
    IdeaReady(Box<crate::llm::strategist::IdeaOutcome>),
    LessonReady(Box<crate::llm::lessons::Written>),
    DigestReady(Box<crate::llm::lessons::Written>),
    CodeReady {
        exp: ExperimentId,
        outcome: Box<crate::llm::coder::CodeOutcome>,
        fix: bool,
    },
    /// A project's planner answered (projects mode).
    PlanReady(Box<crate::project::plan::PlanOutcome>),
    /// A project's plots, paper and review are done (projects mode).
    ProjectWritten(Box<crate::project::write::Written>),
}

/// One running experiment.
pub(super) struct Slot {
    pub cancel: Arc<AtomicBool>,
    /// Reads the metric-producing run's output line by line as it is printed.
    pub stream: Option<Arc<autolab_core::metrics::StreamReader>>,
}

pub(super) struct Jobs {
    pub runner: Arc<dyn Runner>,
    /// Running experiments by ledger row.
    pub slots: HashMap<ExperimentId, Slot>,
    pub queue: VecDeque<Work>,
    pub tx: mpsc::Sender<SlotMsg>,
    pub rx: mpsc::Receiver<SlotMsg>,
    /// Experiments run at once.
    pub parallel: usize,
    /// Experiments whose run (or coder) is being stopped for `cancel`, with the reason to record.
    pub cancelling: HashMap<ExperimentId, String>,
    /// With `[decide] approve`: implemented candidates waiting to be approved, oldest first.
    pub awaiting: Vec<ExperimentId>,
    /// Candidates approved to run (from the ledger's `approved` events and this run's commands).
    pub approved: std::collections::HashSet<ExperimentId>,
}

impl Jobs {
    pub fn new(runner: Arc<dyn Runner>, parallel: usize) -> Jobs {
        let (tx, rx) = mpsc::channel();
        Jobs {
            runner,
            slots: HashMap::new(),
            queue: VecDeque::new(),
            tx,
            rx,
            parallel: parallel.max(1),
            cancelling: HashMap::new(),
            awaiting: Vec::new(),
            approved: Default::default(),
        }
    }

    /// Drops whatever the queue owes experiment `row`.
    pub fn drop_work(&mut self, row: ExperimentId) {
        self.queue.retain(|w| w.row() != row);
        self.awaiting.retain(|r| *r != row);
    }

    /// Whether work other than verdicts waits in the queue.
    pub fn runnable(&self) -> bool {
        self.queue.iter().any(|w| !matches!(w, Work::Decide(..)))
    }

    /// Commits waiting for a slot.
    pub fn ready(&self) -> usize {
        self.queue
            .iter()
            .filter(|w| matches!(w, Work::Run(_)))
            .count()
    }

    /// When experiment `row` was being cancelled, it gets its verdict now (its run ended,
    /// killed or not, or its coder stopped); true if so.
    pub fn conclude_cancelled(
        &mut self,
        books: &mut Books<'_>,
        row: ExperimentId,
    ) -> Result<bool, EngineError> {
        let Some(reason) = self.cancelling.remove(&row) else {
            return Ok(false);
        };
        self.drop_work(row);
        books.verdict_without_run(row, Verdict::Cancelled, &reason, None)?;
        Ok(true)
    }

    /// Refills free slots with candidates whose commit is ready, before the verdicts due are
    /// reached: a slot waits for its own next run, not for every other slot's verdict (with
    /// four runs ending together the fourth slot sat out three verdicts' git work). Only when
    /// every verdict due is of a run that scored: a crash may end a crash streak, and then
    /// nothing new may start.
    /// (The loop calls it only while nothing holds new work back: no pause, no stop.)
    pub fn start_ready(&mut self, books: &mut Books<'_>) -> Result<(), EngineError> {
        for w in &self.queue {
            if let Work::Decide(exp, run) = w {
                let config = &books.lab.config;
                let clean = books
                    .ledger
                    .runs(*exp)?
                    .iter()
                    .find(|r| r.row == *run)
                    .is_some_and(|r| {
                        matches!(
                            crate::judge::run::call(r, &config.metrics.score, config.task.timeout),
                            crate::judge::run::RunCall::Scored(_)
                        )
                    });
                if !clean {
                    return Ok(());
                }
            }
        }
        while self.slots.len() < self.parallel {
            let Some(pos) = self.queue.iter().position(|w| matches!(w, Work::Run(_))) else {
                return Ok(());
            };
            let Some(Work::Run(row)) = self.queue.remove(pos) else {
                return Ok(());
            };
            if books.baseline_pending()? && books.ledger.experiment_by_row(row)?.number > 0 {
                self.queue.insert(pos, Work::Run(row));
                return Ok(());
            }
            self.run_or_await(books, row)?;
        }
        Ok(())
    }

    /// Starts experiment `row`'s run, unless candidates need approval (`[decide] approve`) and
    /// it has none: then it waits for `approve N` / `reject N`.
    pub fn run_or_await(
        &mut self,
        books: &mut Books<'_>,
        row: ExperimentId,
    ) -> Result<(), EngineError> {
        let gated = books.lab.config.decide.approve && !self.approved.contains(&row);
        if !gated {
            return self.start_run(books, row);
        }
        let number = books.ledger.experiment_by_row(row)?.number;
        if number == 0 || self.awaiting.contains(&row) {
            return if number == 0 {
                self.start_run(books, row)
            } else {
                Ok(())
            };
        }
        self.awaiting.push(row);
        books.ledger.campaign_event(
            books.campaign.id,
            autolab_core::control::AWAITING_APPROVAL,
            &serde_json::json!({ "experiment": number }),
        )?;
        books.observer.report(Report::Note(format!(
            "#{number:04} waits for approval: `autolab approve {number}` or `autolab reject {number}` (or the dashboard)"
        )));
        Ok(())
    }
}
