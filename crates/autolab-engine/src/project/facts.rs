//! A project's facts in the shape of `autolab report`'s, so its paper is written by the same
//! machinery: the baseline (run 0), each run that scored (in order, with its gain over the
//! baseline), the best run and its gain.

use autolab_core::config::Goal;
use serde_json::{Value, json};

use super::RunSummary;

pub fn report(
    primary: &str,
    goal: Goal,
    baseline: Option<&RunSummary>,
    runs: &[RunSummary],
) -> Value {
    let gain = |b: f64, x: f64| match goal {
        Goal::Minimize => b - x,
        Goal::Maximize => x - b,
    };
    let base = baseline.and_then(|b| b.score);
    let scored: Vec<&RunSummary> = runs.iter().filter(|r| r.score.is_some()).collect();
    let best = scored.iter().copied().max_by(|a, b| {
        let (x, y) = (a.score.unwrap_or(0.0), b.score.unwrap_or(0.0));
        match goal {
            Goal::Minimize => y.total_cmp(&x),
            Goal::Maximize => x.total_cmp(&y),
        }
    });
    let kept: Vec<Value> = scored
        .iter()
        .map(|r| {
            json!({
                "id": r.experiment,
                "title": r.title,
                "score": r.score,
                "gain": base.zip(r.score).map(|(b, x)| gain(b, x)),
                "runs": 1,
                "lines": [r.lines.0, r.lines.1],
            })
        })
        .collect();
    let failed = runs.len() - scored.len();
    json!({
        "primary": primary,
        "direction": goal.as_str(),
        "baseline": baseline.map(|b| json!({"id": b.experiment, "score": b.score})),
        "best": best.map(|b| json!({"id": b.experiment, "title": b.title, "score": b.score})),
        "gain": match (base, best.and_then(|b| b.score)) {
            (Some(b), Some(x)) => json!({
                "value": gain(b, x),
                "relative": (b != 0.0).then(|| gain(b, x) / b.abs()),
            }),
            _ => Value::Null,
        },
        "experiments": runs.len(),
        "counts": {"runs": runs.len(), "failed": failed},
        "kept": kept,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(index: u32, score: Option<f64>) -> RunSummary {
        RunSummary {
            index,
            experiment: index + 10,
            title: format!("run {index}"),
            verdict: if score.is_some() { "kept" } else { "crashed" }.into(),
            score,
            metrics: json!({}),
            reason: None,
            lines: (1, 0),
        }
    }

    #[test]
    fn the_best_run_and_each_runs_gain_over_the_baseline() {
        let base = run(0, Some(10.0));
        let r = report(
            "loss",
            Goal::Minimize,
            Some(&base),
            &[run(1, Some(8.0)), run(2, None), run(3, Some(9.0))],
        );
        assert_eq!(r["best"]["id"], 11);
        assert_eq!(r["gain"]["value"], 2.0);
        assert_eq!(r["gain"]["relative"], 0.2);
        assert_eq!(r["kept"].as_array().unwrap().len(), 2);
        assert_eq!(r["kept"][1]["gain"], 1.0);
        assert_eq!(r["counts"]["failed"], 1);
        let f = crate::writeup::facts::Facts::from_report(&r);
        assert_eq!(f.get("best.loss").unwrap().value, 8.0);
        // Maximizing, the best is the highest and gains count up.
        let r = report(
            "acc",
            Goal::Maximize,
            Some(&base),
            &[run(1, Some(8.0)), run(2, Some(12.0))],
        );
        assert_eq!(r["best"]["id"], 12);
        assert_eq!(r["gain"]["value"], 2.0);
        assert_eq!(r["kept"][0]["gain"], -2.0);
    }
}
