//! `[decide]`: the verdict policy and its statistics.

use serde::Deserialize;

type Problem = (String, String, Option<String>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Keep iff strictly better, on one run (autoresearch).
    Strict,
    /// Keep only a gain that clears the measured noise by a one-sided Welch test.
    NoiseAware,
}

#[derive(Debug, Clone)]
pub struct Decide {
    pub policy: Policy,
    pub min_delta: f64,
    /// Runs of the baseline (with different seeds) that measure the noise floor.
    pub repeats: u32,
    /// Confidence of the one-sided test, e.g. 0.95.
    pub confidence: f64,
    /// Extra runs a promising-but-uncertain candidate may get before its verdict.
    pub max_confirm: u32,
    /// Whether a newly kept incumbent is run again until it has `repeats` runs.
    pub remeasure: bool,
    /// Candidates wait, once implemented, until somebody approves them (`autolab approve N`,
    /// the dashboard) or rejects them.
    pub approve: bool,
    /// autoresearch's simplicity rule: a candidate not worse than the incumbent that removes
    /// lines is kept, with verdict `simplified`.
    pub simplicity: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDecide {
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    min_delta: Option<f64>,
    #[serde(default)]
    repeats: Option<i64>,
    #[serde(default)]
    confidence: Option<f64>,
    #[serde(default)]
    max_confirm: Option<i64>,
    #[serde(default)]
    remeasure: Option<bool>,
    #[serde(default)]
    approve: Option<bool>,
    #[serde(default)]
    simplicity: Option<bool>,
}

pub(super) fn validate(d: RawDecide) -> Result<Decide, Problem> {
    let policy = match d.policy.as_deref() {
        None | Some("noise-aware") => Policy::NoiseAware,
        Some("strict") => Policy::Strict,
        Some(other) => {
            return Err((
                "policy".into(),
                format!("unknown policy `{other}`"),
                Some("valid policies: noise-aware (default), strict".into()),
            ));
        }
    };
    let min_delta = d.min_delta.unwrap_or(0.0);
    if !(min_delta.is_finite() && min_delta >= 0.0) {
        return Err((
            "min_delta".into(),
            "`min_delta` must be a number ≥ 0".into(),
            None,
        ));
    }
    let repeats = d.repeats.unwrap_or(3);
    if !(1..=100).contains(&repeats) {
        return Err((
            "repeats".into(),
            format!("`repeats = {repeats}` is out of range"),
            Some("the baseline runs `repeats` times (1 to 100) to measure the noise; 3 to 5 is typical".into()),
        ));
    }
    let confidence = d.confidence.unwrap_or(0.95);
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err((
            "confidence".into(),
            format!("`confidence = {confidence}` must be strictly between 0 and 1"),
            Some("e.g. 0.95".into()),
        ));
    }
    let max_confirm = d.max_confirm.unwrap_or(2);
    if !(0..=20).contains(&max_confirm) {
        return Err((
            "max_confirm".into(),
            format!("`max_confirm = {max_confirm}` is out of range (0 to 20)"),
            None,
        ));
    }
    Ok(Decide {
        policy,
        min_delta,
        repeats: repeats as u32,
        confidence,
        max_confirm: max_confirm as u32,
        remeasure: d.remeasure.unwrap_or(false),
        approve: d.approve.unwrap_or(false),
        simplicity: d.simplicity.unwrap_or(true),
    })
}
