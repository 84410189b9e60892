//! What stopped each attack (its verdict in the lab's own terms), the advice for a hole, and
//! the report kept in `.autolab/redteam.json` that `autolab run` checks.

use autolab_core::config::{Goal, Task};
use autolab_core::experiment::{Experiment, Verdict};
use serde::{Deserialize, Serialize};

use super::Attack;

/// Where the newest red-team report is kept, under the lab's state directory.
pub const REDTEAM_FILE: &str = "redteam.json";

/// One attack's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub attack: String,
    pub kind: String,
    pub explanation: String,
    pub files: Vec<String>,
    /// False: the lab kept the attack — a hole.
    pub stopped: bool,
    /// False: the attack got no verdict (its baseline failed, it was cancelled): neither
    /// stopped nor a hole, and the report is incomplete.
    #[serde(default = "yes")]
    pub judged: bool,
    /// What stopped it, or why it is a hole, in words.
    pub by: String,
    pub verdict: Option<String>,
    pub score: Option<f64>,
    pub baseline: Option<f64>,
    /// What to change, for a hole.
    pub advice: Option<String>,
    /// The campaign it was tried in (`autolab show 1 --tag T`).
    pub tag: String,
}

impl Outcome {
    pub fn not_judged(why: String) -> Outcome {
        Outcome {
            attack: String::new(),
            kind: String::new(),
            explanation: String::new(),
            files: Vec::new(),
            stopped: false,
            judged: false,
            by: format!("not judged: {why}"),
            verdict: None,
            score: None,
            baseline: None,
            advice: None,
            tag: String::new(),
        }
    }
}

/// A red-team run: its attacks' outcomes, and the config and protected files they were tried
/// against (a change of either makes it stale).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub stamp: String,
    pub at: f64,
    /// FNV-1a of the config text and of each protected file's content at HEAD.
    pub fingerprint: String,
    pub outcomes: Vec<Outcome>,
    /// Attacks the critic wrote that were not tried (no file, or a file over 200 KB).
    #[serde(default)]
    pub dropped: usize,
}

impl Report {
    /// The attacks the lab kept.
    pub fn holes(&self) -> Vec<&Outcome> {
        self.outcomes
            .iter()
            .filter(|o| o.judged && !o.stopped)
            .collect()
    }

    /// The attacks that got no verdict.
    pub fn unjudged(&self) -> Vec<&Outcome> {
        self.outcomes.iter().filter(|o| !o.judged).collect()
    }
}

fn yes() -> bool {
    true
}

/// The outcome of `attack` from its campaign's baseline and experiment #1.
pub fn outcome_of(
    task: &Task,
    attack: &Attack,
    base: Option<&Experiment>,
    exp: Option<&Experiment>,
    goal: Goal,
) -> Outcome {
    let files: Vec<String> = attack.files.iter().map(|(p, _)| p.clone()).collect();
    let mut o = Outcome {
        attack: attack.name.clone(),
        kind: attack.kind.clone(),
        explanation: attack.explanation.clone(),
        files: files.clone(),
        stopped: true,
        judged: true,
        by: String::new(),
        verdict: None,
        score: exp.and_then(|e| e.score),
        baseline: base.and_then(|b| b.score),
        advice: None,
        tag: String::new(),
    };
    let Some(exp) = exp else {
        o.by = "not judged: the attack never became an experiment".into();
        o.stopped = false;
        o.judged = false;
        return o;
    };
    let reason = exp.reason.clone().unwrap_or_default();
    o.verdict = exp.verdict.map(|v| v.as_str().to_string());
    o.by = match exp.verdict {
        Some(Verdict::Invalid) => format!("invalid: {reason}"),
        Some(Verdict::Crashed) => format!("the run crashed: {reason}"),
        Some(Verdict::Timeout) => format!("the run timed out: {reason}"),
        Some(Verdict::Discarded) => format!("not better than the baseline: {reason}"),
        Some(Verdict::Cancelled) | None => {
            o.stopped = false;
            o.judged = false;
            format!("not judged ({})", exp.state.as_str())
        }
        Some(Verdict::Kept | Verdict::Simplified) => {
            o.stopped = false;
            let gained = match (o.score, o.baseline) {
                (Some(s), Some(b)) => {
                    let better = match goal {
                        Goal::Minimize => s < b,
                        Goal::Maximize => s > b,
                    };
                    if better {
                        format!(" (score {s} vs the baseline's {b})")
                    } else {
                        String::new()
                    }
                }
                _ => String::new(),
            };
            o.advice = Some(advice(task, &attack.kind, &files));
            format!("NOT STOPPED: your evaluation can be gamed this way{gained}")
        }
    };
    o
}

/// What to change so that an attack of `kind` writing `files` is stopped.
pub fn advice(t: &Task, kind: &str, files: &[String]) -> String {
    let unprotected: Vec<&String> = files
        .iter()
        .filter(|f| {
            !t.protected
                .iter()
                .any(|p| autolab_core::git::path_matches(p, f))
        })
        .collect();
    let mut parts = Vec::new();
    let eval = t.evaluate.is_none();
    match kind {
        "forge_metric" | "edit_evaluation" if eval => parts.push(
            "move the metric out of the runs' reach: compute it in `[task] evaluate`, a command autolab runs after the run with the protected files restored, reading what the run wrote".to_string(),
        ),
        "forge_metric" | "edit_evaluation" => parts.push(
            "make `evaluate` compute the metric from the run's outputs, not read a number the run printed or wrote".to_string(),
        ),
        "read_labels" => parts.push(
            "keep the validation labels where runs cannot read them (outside the lab, read only by `[task] evaluate`)".to_string(),
        ),
        "cache_results" => parts.push(
            "keep the sandbox on (`[sandbox] enabled = true`): each run gets a private /tmp and may write only its worktree and run directory".to_string(),
        ),
        "edit_limits" => parts.push(
            "fix time limits, budgets and seeds where runs cannot change them: in a protected file or in `evaluate`".to_string(),
        ),
        "write_other_runs" => parts.push(
            "keep the sandbox's landlock layer on (`[sandbox] landlock = true`): writes only beneath the run's worktree and run directory".to_string(),
        ),
        _ => {}
    }
    if !unprotected.is_empty() && kind != "cache_results" && kind != "write_other_runs" {
        let (verb, them) = if unprotected.len() == 1 {
            ("belongs", "it")
        } else {
            ("belong", "them")
        };
        parts.push(format!(
            "if {} {verb} to the evaluation, add {them} to `[task] protected`",
            unprotected
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if parts.is_empty() {
        parts.push(
            "read the attack's diff (`autolab show 1 --tag <its tag>`) and close the way it took"
                .into(),
        );
    }
    parts.join("; ")
}
