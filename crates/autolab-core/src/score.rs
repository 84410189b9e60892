//! The unified score (DESIGN.md "Words"): one number per experiment and its direction.

use indexmap::IndexMap;

use crate::config::{Goal, ScoreSpec};

/// One goal when all scored metrics share it; mixed goals are maximized.
pub fn score_goal(specs: &IndexMap<String, ScoreSpec>) -> Goal {
    let mut goals = specs.values().map(|s| s.goal);
    match goals.next() {
        Some(first) if goals.all(|g| g == first) => first,
        Some(_) => Goal::Maximize,
        None => Goal::Minimize,
    }
}

/// Why no score could be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScoreError {
    #[error("metric `{0}` was not reported")]
    Missing(String),
    #[error("metric `{0}` is {1}")]
    NotFinite(String, f64),
}

/// The weighted mean of the scored metrics (minimized ones negated when goals are mixed).
pub fn score(
    values: &IndexMap<String, f64>,
    specs: &IndexMap<String, ScoreSpec>,
) -> Result<f64, ScoreError> {
    let goal = score_goal(specs);
    let mut sum = 0.0;
    let mut weights = 0.0;
    for (name, spec) in specs {
        let v = *values
            .get(name)
            .ok_or_else(|| ScoreError::Missing(name.clone()))?;
        if !v.is_finite() {
            return Err(ScoreError::NotFinite(name.clone(), v));
        }
        let signed = if spec.goal != goal { -v } else { v };
        sum += spec.weight * signed;
        weights += spec.weight;
    }
    Ok(sum / weights)
}

/// Whether `candidate` beats `incumbent` by more than `min_delta` in the direction of `goal`.
pub fn strictly_better(candidate: f64, incumbent: f64, goal: Goal, min_delta: f64) -> bool {
    match goal {
        Goal::Minimize => candidate < incumbent - min_delta,
        Goal::Maximize => candidate > incumbent + min_delta,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(goal: Goal, weight: f64) -> ScoreSpec {
        ScoreSpec { weight, goal }
    }

    #[test]
    fn single_metric_is_the_score() {
        let specs = IndexMap::from([("loss".to_string(), spec(Goal::Minimize, 2.0))]);
        let values = IndexMap::from([("loss".to_string(), 0.25)]);
        assert_eq!(score(&values, &specs), Ok(0.25));
        assert_eq!(score_goal(&specs), Goal::Minimize);
    }

    #[test]
    fn mixed_goals_negate_minimized_metrics_and_maximize() {
        let specs = IndexMap::from([
            ("acc".to_string(), spec(Goal::Maximize, 3.0)),
            ("loss".to_string(), spec(Goal::Minimize, 1.0)),
        ]);
        let values = IndexMap::from([("acc".to_string(), 0.9), ("loss".to_string(), 0.5)]);
        assert_eq!(score_goal(&specs), Goal::Maximize);
        let s = score(&values, &specs).unwrap();
        assert!((s - (3.0 * 0.9 - 0.5) / 4.0).abs() < 1e-12);
    }

    #[test]
    fn missing_and_nan_metrics_have_no_score() {
        let specs = IndexMap::from([("loss".to_string(), spec(Goal::Minimize, 1.0))]);
        assert_eq!(
            score(&IndexMap::new(), &specs),
            Err(ScoreError::Missing("loss".into()))
        );
        let nan = IndexMap::from([("loss".to_string(), f64::NAN)]);
        assert!(matches!(
            score(&nan, &specs),
            Err(ScoreError::NotFinite(..))
        ));
    }

    #[test]
    fn strictly_better_respects_direction_and_delta() {
        assert!(strictly_better(0.4, 0.5, Goal::Minimize, 0.0));
        assert!(!strictly_better(0.5, 0.5, Goal::Minimize, 0.0));
        assert!(!strictly_better(0.45, 0.5, Goal::Minimize, 0.1));
        assert!(strictly_better(0.6, 0.5, Goal::Maximize, 0.0));
    }
}
