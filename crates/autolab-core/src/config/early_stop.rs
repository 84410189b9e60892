//! `[early_stop]`: stop runs whose learning curve is clearly worse than the incumbent's.

use serde::Deserialize;

use super::Metrics;

type Problem = (String, String, Option<String>);

/// Stop a run whose learning curve is clearly worse than the incumbent's at the same step.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStop {
    /// The streamed metric compared (default: the primary metric).
    pub metric: String,
    /// The progress key in the same lines (default `step`).
    pub step: String,
    /// Relative margin: worse by more than this fraction of the incumbent's value.
    pub margin: f64,
    /// Consecutive worse checkpoints before stopping.
    pub patience: u32,
    /// No stopping before this step.
    pub min_step: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEarlyStop {
    #[serde(default)]
    metric: Option<String>,
    #[serde(default)]
    step: Option<String>,
    #[serde(default)]
    margin: Option<f64>,
    #[serde(default)]
    patience: Option<i64>,
    #[serde(default)]
    min_step: Option<f64>,
}

pub(super) fn validate(e: RawEarlyStop, metrics: &Metrics) -> Result<EarlyStop, Problem> {
    let metric = e.metric.unwrap_or_else(|| metrics.primary.clone());
    if !metrics.score.contains_key(&metric) {
        return Err((
            "metric".into(),
            format!("`{metric}` is not a scored metric"),
            Some("early stopping compares a scored metric's streamed values".into()),
        ));
    }
    let margin = e.margin.unwrap_or(0.1);
    if !(margin.is_finite() && margin >= 0.0) {
        return Err((
            "margin".into(),
            "`margin` must be a number ≥ 0 (a fraction, e.g. 0.1)".into(),
            None,
        ));
    }
    let patience = e.patience.unwrap_or(3);
    if !(1..=1000).contains(&patience) {
        return Err((
            "patience".into(),
            format!("`patience = {patience}` must be between 1 and 1000"),
            None,
        ));
    }
    Ok(EarlyStop {
        metric,
        step: e.step.unwrap_or_else(|| "step".into()),
        margin,
        patience: patience as u32,
        min_step: e.min_step.unwrap_or(0.0),
    })
}
