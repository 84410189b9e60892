//! Domain types: lifecycle states, verdicts, experiments and runs.

use indexmap::IndexMap;
use serde::Serialize;

/// Where an experiment is in its lifecycle (DESIGN.md "Lifecycle").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Proposed,
    Implementing,
    Queued,
    Running,
    Evaluating,
    Confirming,
    Kept,
    Discarded,
    Crashed,
    Timeout,
    Invalid,
    Cancelled,
}

impl State {
    pub const ALL: [State; 12] = [
        State::Proposed,
        State::Implementing,
        State::Queued,
        State::Running,
        State::Evaluating,
        State::Confirming,
        State::Kept,
        State::Discarded,
        State::Crashed,
        State::Timeout,
        State::Invalid,
        State::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Proposed => "proposed",
            State::Implementing => "implementing",
            State::Queued => "queued",
            State::Running => "running",
            State::Evaluating => "evaluating",
            State::Confirming => "confirming",
            State::Kept => "kept",
            State::Discarded => "discarded",
            State::Crashed => "crashed",
            State::Timeout => "timeout",
            State::Invalid => "invalid",
            State::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The verdict this state is, if it is a final one.
    pub fn verdict(self) -> Option<Verdict> {
        match self {
            State::Kept => Some(Verdict::Kept),
            State::Discarded => Some(Verdict::Discarded),
            State::Crashed => Some(Verdict::Crashed),
            State::Timeout => Some(Verdict::Timeout),
            State::Invalid => Some(Verdict::Invalid),
            State::Cancelled => Some(Verdict::Cancelled),
            _ => None,
        }
    }

    pub fn is_final(self) -> bool {
        self.verdict().is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Kept,
    Discarded,
    Crashed,
    Timeout,
    Invalid,
    /// Cancelled by somebody (`autolab cancel N`) before it was judged.
    Cancelled,
}

impl Verdict {
    pub const ALL: [Verdict; 6] = [
        Verdict::Kept,
        Verdict::Discarded,
        Verdict::Crashed,
        Verdict::Timeout,
        Verdict::Invalid,
        Verdict::Cancelled,
    ];

    pub fn state(self) -> State {
        match self {
            Verdict::Kept => State::Kept,
            Verdict::Discarded => State::Discarded,
            Verdict::Crashed => State::Crashed,
            Verdict::Timeout => State::Timeout,
            Verdict::Invalid => State::Invalid,
            Verdict::Cancelled => State::Cancelled,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.state().as_str()
    }

    /// The status word autoresearch's results.tsv uses.
    pub fn tsv_status(self) -> &'static str {
        match self {
            Verdict::Kept => "keep",
            Verdict::Discarded | Verdict::Invalid | Verdict::Cancelled => "discard",
            Verdict::Crashed | Verdict::Timeout => "crash",
        }
    }
}

/// One candidate of a campaign, as the ledger holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    /// The row id in the ledger.
    #[serde(skip)]
    pub row: i64,
    /// 0 for the baseline, then 1, 2, … within the campaign.
    pub number: u32,
    pub state: State,
    pub verdict: Option<Verdict>,
    pub reason: Option<String>,
    pub score: Option<f64>,
    pub metrics: IndexMap<String, f64>,
    pub commit: Option<String>,
    pub parent: String,
    pub proposer: String,
    pub title: String,
    pub params: Option<serde_json::Value>,
    pub lines_added: u64,
    pub lines_removed: u64,
    pub finalized: bool,
    pub created_at: f64,
    pub updated_at: f64,
    /// The statistics the verdict rests on (noise-aware policy).
    pub stats: Option<serde_json::Value>,
}

/// How one execution of the lab's command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOutcome {
    Running,
    Exited,
    Failed,
    Timeout,
    Cancelled,
    Lost,
    /// Stopped by autolab before its end (early stopping).
    Stopped,
    /// Killed for writing more than the disk budget.
    OverBudget,
    /// Changed a protected file while it ran.
    Tampered,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Running => "running",
            RunOutcome::Exited => "exited",
            RunOutcome::Failed => "failed",
            RunOutcome::Timeout => "timeout",
            RunOutcome::Cancelled => "cancelled",
            RunOutcome::Lost => "lost",
            RunOutcome::Stopped => "stopped",
            RunOutcome::OverBudget => "over-budget",
            RunOutcome::Tampered => "tampered",
        }
    }

    /// Whether the run ended and recorded how (its verdict can be decided from the ledger).
    pub fn is_recorded_end(self) -> bool {
        !matches!(
            self,
            RunOutcome::Running | RunOutcome::Cancelled | RunOutcome::Lost
        )
    }

    pub fn parse(s: &str) -> RunOutcome {
        match s {
            "exited" => RunOutcome::Exited,
            "failed" => RunOutcome::Failed,
            "timeout" => RunOutcome::Timeout,
            "cancelled" => RunOutcome::Cancelled,
            "lost" => RunOutcome::Lost,
            "stopped" => RunOutcome::Stopped,
            "over-budget" => RunOutcome::OverBudget,
            "tampered" => RunOutcome::Tampered,
            _ => RunOutcome::Running,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    #[serde(skip)]
    pub row: i64,
    pub index: u32,
    pub seed: u64,
    pub outcome: RunOutcome,
    pub exit_code: Option<i32>,
    pub pid: Option<i64>,
    pub run_dir: String,
    pub started_at: f64,
    pub ended_at: Option<f64>,
    pub metrics: IndexMap<String, f64>,
    pub log_tail: Option<String>,
    /// The commit this run executed.
    pub commit: Option<String>,
    /// Why autolab ended the run, when it did (e.g. early stopping).
    pub note: Option<String>,
    /// The sandbox layers of this run and whether each was active.
    pub sandbox: Option<serde_json::Value>,
    /// The cluster job (`scheduler:id`) that ran it, if any.
    pub job: Option<String>,
}
