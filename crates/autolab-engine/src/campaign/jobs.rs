//! Work and the runs in flight: the queue of what each experiment is owed, the slots running
//! experiments, the runner they run on and the channel their threads (and the LLM's) answer
//! on. It knows nothing of verdicts: what a finished run means is the judge's.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, mpsc};

use autolab_core::experiment::Verdict;
use autolab_core::ids::{ExperimentId, RunId};
use autolab_runner::Runner;

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
}
