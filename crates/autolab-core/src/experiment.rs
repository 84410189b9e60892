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
    /// Kept for being simpler: within noise of the incumbent, with fewer lines.
    Simplified,
    Discarded,
    Crashed,
    Timeout,
    Invalid,
    Cancelled,
}

impl State {
    pub const ALL: [State; 13] = [
        State::Proposed,
        State::Implementing,
        State::Queued,
        State::Running,
        State::Evaluating,
        State::Confirming,
        State::Kept,
        State::Simplified,
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
            State::Simplified => "simplified",
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
            State::Simplified => Some(Verdict::Simplified),
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

    /// Whether the experiment became the incumbent (`kept` or `simplified`).
    pub fn keeps(self) -> bool {
        self.verdict().is_some_and(Verdict::keeps)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Kept,
    /// Kept for being simpler: within noise of the incumbent, with fewer lines.
    Simplified,
    Discarded,
    Crashed,
    Timeout,
    Invalid,
    /// Cancelled by somebody (`autolab cancel N`) before it was judged.
    Cancelled,
}

impl Verdict {
    pub const ALL: [Verdict; 7] = [
        Verdict::Kept,
        Verdict::Simplified,
        Verdict::Discarded,
        Verdict::Crashed,
        Verdict::Timeout,
        Verdict::Invalid,
        Verdict::Cancelled,
    ];

    pub fn state(self) -> State {
        match self {
            Verdict::Kept => State::Kept,
            Verdict::Simplified => State::Simplified,
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

    /// Whether the verdict makes the experiment the incumbent (`kept` or `simplified`).
    pub fn keeps(self) -> bool {
        matches!(self, Verdict::Kept | Verdict::Simplified)
    }

    /// The status word autoresearch's results.tsv uses.
    pub fn tsv_status(self) -> &'static str {
        match self {
            Verdict::Kept | Verdict::Simplified => "keep",
            Verdict::Discarded | Verdict::Invalid | Verdict::Cancelled => "discard",
            Verdict::Crashed | Verdict::Timeout => "crash",
        }
    }
}

/// Who proposed an experiment (stored by name: `baseline`, `optimizer`, `llm`, or the name a
/// plugged-in proposer gives itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProposerKind {
    /// The campaign's first run: the code as it is.
    Baseline,
    /// The built-in optimizer over `[params]`.
    Optimizer,
    /// The LLM strategist's experts.
    Llm,
    /// A proposer plugged in through the engine's API, by its name.
    Plugged(String),
}

impl ProposerKind {
    pub fn as_str(&self) -> &str {
        match self {
            ProposerKind::Baseline => "baseline",
            ProposerKind::Optimizer => "optimizer",
            ProposerKind::Llm => "llm",
            ProposerKind::Plugged(name) => name,
        }
    }
}

impl From<&str> for ProposerKind {
    fn from(name: &str) -> ProposerKind {
        match name {
            "baseline" => ProposerKind::Baseline,
            "optimizer" => ProposerKind::Optimizer,
            "llm" => ProposerKind::Llm,
            other => ProposerKind::Plugged(other.to_string()),
        }
    }
}

impl From<&ProposerKind> for ProposerKind {
    fn from(kind: &ProposerKind) -> ProposerKind {
        kind.clone()
    }
}

impl From<String> for ProposerKind {
    fn from(name: String) -> ProposerKind {
        ProposerKind::from(name.as_str())
    }
}

impl std::fmt::Display for ProposerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ProposerKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One candidate of a campaign, as the ledger holds it.
#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    /// The row id in the ledger.
    #[serde(skip)]
    pub row: crate::ids::ExperimentId,
    /// 0 for the baseline, then 1, 2, … within the campaign.
    pub number: u32,
    pub state: State,
    pub verdict: Option<Verdict>,
    pub reason: Option<String>,
    pub score: Option<f64>,
    pub metrics: IndexMap<String, f64>,
    pub commit: Option<String>,
    pub parent: String,
    pub proposer: ProposerKind,
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

    pub const ALL: [RunOutcome; 9] = [
        RunOutcome::Running,
        RunOutcome::Exited,
        RunOutcome::Failed,
        RunOutcome::Timeout,
        RunOutcome::Cancelled,
        RunOutcome::Lost,
        RunOutcome::Stopped,
        RunOutcome::OverBudget,
        RunOutcome::Tampered,
    ];

    /// The outcome a ledger row holds; none for text no outcome has.
    pub fn parse(s: &str) -> Option<RunOutcome> {
        RunOutcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Run {
    #[serde(skip)]
    pub row: crate::ids::RunId,
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
    /// The cluster job that ran it, if any.
    pub job: Option<JobRef>,
    /// Its budget under successive halving (the fidelity parameter's value), if any.
    pub budget: Option<f64>,
}

/// A cluster job: its scheduler (`slurm`, `lsf`) and its id there; stored as `scheduler:id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRef {
    pub scheduler: String,
    pub id: String,
}

impl JobRef {
    /// The job a ledger row holds (`scheduler:id`, both parts non-empty).
    pub fn parse(s: &str) -> Option<JobRef> {
        let (scheduler, id) = s.split_once(':')?;
        let word = |p: &str| !p.is_empty() && !p.contains(char::is_whitespace);
        (word(scheduler) && word(id)).then(|| JobRef {
            scheduler: scheduler.to_string(),
            id: id.to_string(),
        })
    }
}

impl std::fmt::Display for JobRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.scheduler, self.id)
    }
}

impl Serialize for JobRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_reads_back_as_stored_and_malformed_text_is_none() {
        let j = JobRef::parse("slurm:123").unwrap();
        assert_eq!((j.scheduler.as_str(), j.id.as_str()), ("slurm", "123"));
        assert_eq!(j.to_string(), "slurm:123");
        for bad in ["slurm", ":1", "lsf:", "sl urm:1", ""] {
            assert_eq!(JobRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_state_and_outcome_reads_back_and_unknown_text_is_none() {
        for st in State::ALL {
            assert_eq!(State::parse(st.as_str()), Some(st));
        }
        for o in RunOutcome::ALL {
            assert_eq!(RunOutcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(State::parse("limbo"), None);
        assert_eq!(RunOutcome::parse("exploded"), None);
    }
}
