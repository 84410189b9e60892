//! `[early_stop]`: stop runs whose learning curve is clearly worse than the incumbent's, or
//! than the median (a percentile) of the completed runs at the same step.

use serde::Deserialize;

use super::{Goal, Metrics};

type Problem = (String, String, Option<String>);

/// What a run's curve is compared with at each step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopRule {
    /// The incumbent's curve.
    Incumbent,
    /// The `p`-th percentile, counted from the best side, of the completed runs' values at the
    /// same step (`p = 50`: the median; Optuna's MedianPruner / PercentilePruner).
    Percentile(f64),
}

/// Stop a run whose learning curve is clearly worse than its reference at the same step.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStop {
    /// The streamed metric compared (default: the primary metric); any metric the run prints
    /// beside `step`, scored or not.
    pub metric: String,
    /// Which way `metric` is better (default: its score's goal).
    pub goal: Goal,
    /// The progress key in the same lines (default `step`).
    pub step: String,
    /// What the curve is compared with.
    pub rule: StopRule,
    /// Relative margin: worse by more than this fraction of the reference's value.
    pub margin: f64,
    /// Consecutive worse checkpoints before stopping.
    pub patience: u32,
    /// No stopping before this step.
    pub min_step: f64,
    /// The percentile rules judge a step only when this many completed runs reached it.
    pub min_runs: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEarlyStop {
    #[serde(default)]
    metric: Option<String>,
    #[serde(default)]
    goal: Option<Goal>,
    #[serde(default)]
    step: Option<String>,
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    percentile: Option<f64>,
    #[serde(default)]
    margin: Option<f64>,
    #[serde(default)]
    patience: Option<i64>,
    #[serde(default)]
    min_step: Option<f64>,
    #[serde(default)]
    min_runs: Option<i64>,
}

fn rule(e: &RawEarlyStop) -> Result<StopRule, Problem> {
    let name = e.rule.as_deref().unwrap_or(if e.percentile.is_some() {
        "percentile"
    } else {
        "incumbent"
    });
    let p = e.percentile.unwrap_or(50.0);
    if !(p.is_finite() && (0.0..=100.0).contains(&p)) {
        return Err((
            "percentile".into(),
            format!("`percentile = {p}` must be between 0 and 100"),
            Some("50 is the median; 25 stops every run outside the best quarter".into()),
        ));
    }
    match name {
        "incumbent" if e.percentile.is_some() => Err((
            "percentile".into(),
            "`percentile` is for `rule = \"percentile\"` or `\"median\"`".into(),
            None,
        )),
        "incumbent" => Ok(StopRule::Incumbent),
        "median" if e.percentile.is_some_and(|p| p != 50.0) => Err((
            "percentile".into(),
            format!("`rule = \"median\"` is the 50th percentile, not the {p}th"),
            Some("write `rule = \"percentile\"` with it".into()),
        )),
        "median" => Ok(StopRule::Percentile(50.0)),
        "percentile" => Ok(StopRule::Percentile(p)),
        other => Err((
            "rule".into(),
            format!("unknown rule `{other}`"),
            Some("one of \"incumbent\", \"median\", \"percentile\"".into()),
        )),
    }
}

pub(super) fn validate(e: RawEarlyStop, metrics: &Metrics) -> Result<EarlyStop, Problem> {
    let rule = rule(&e)?;
    let metric = e.metric.unwrap_or_else(|| metrics.primary.clone());
    let step = e.step.clone().unwrap_or_else(|| "step".into());
    if step.trim().is_empty() || step.chars().any(char::is_whitespace) {
        return Err((
            "step".into(),
            format!("`step = \"{step}\"` is not a key a line can carry"),
            Some("the progress key printed beside the metric, e.g. \"step\" or \"epoch\"".into()),
        ));
    }
    if metric.trim().is_empty() || metric == step {
        return Err((
            "metric".into(),
            format!("`metric = \"{metric}\"` is not a metric (`{step}` is the progress key)"),
            Some("name a metric the run prints beside its step, e.g. \"train_loss\"".into()),
        ));
    }
    let goal = match (e.goal, metrics.score.get(&metric)) {
        (Some(g), _) => g,
        (None, Some(s)) => s.goal,
        (None, None) => {
            return Err((
                "metric".into(),
                format!("`{metric}` is not a scored metric, so its direction is unknown"),
                Some(format!(
                    "add `goal = \"minimize\"` (or \"maximize\") to [early_stop] for `{metric}`"
                )),
            ));
        }
    };
    let margin = e.margin.unwrap_or(match rule {
        StopRule::Incumbent => 0.1,
        StopRule::Percentile(_) => 0.0,
    });
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
    let min_runs = e.min_runs.unwrap_or(3);
    if !(1..=10_000).contains(&min_runs) {
        return Err((
            "min_runs".into(),
            format!("`min_runs = {min_runs}` must be between 1 and 10000"),
            None,
        ));
    }
    let min_step = e.min_step.unwrap_or(0.0);
    if !min_step.is_finite() {
        return Err((
            "min_step".into(),
            "`min_step` must be a finite number".into(),
            None,
        ));
    }
    Ok(EarlyStop {
        metric,
        goal,
        step,
        rule,
        margin,
        patience: patience as u32,
        min_step,
        min_runs: min_runs as u32,
    })
}
