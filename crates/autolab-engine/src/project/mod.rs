//! AI-Scientist's way of working (`[task] mode = "projects"`): each idea is a project of up to
//! `runs_per_idea` runs from the base commit. After each run the planner ([`plan`]) reads the
//! results so far and writes the run's notes and the next change (or ends the project); at the
//! end the project's directory gets AI-Scientist's layout ([`layout`]: the code, `run_0` …
//! `run_k`, `notes.txt`, the plots), then its paper and review ([`write`]). The campaign side
//! (when each step starts, what the ledger records) is `campaign::projects`.

pub mod facts;
pub mod layout;
pub mod plan;
pub mod write;

/// One run of a project as the planner and the paper see it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    /// 1, 2, … (0 is the baseline).
    pub index: u32,
    /// The experiment's number in the campaign.
    pub experiment: u32,
    pub title: String,
    pub verdict: String,
    pub score: Option<f64>,
    pub metrics: serde_json::Value,
    pub reason: Option<String>,
    /// Lines added and removed by its change.
    pub lines: (u64, u64),
}
