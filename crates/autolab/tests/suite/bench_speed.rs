//! `autolab bench speed --quick` with autolab's three methods (Optuna needs pip and a
//! network): real campaigns on the synthetic learning-curve lab, a table row per method with
//! numbers, and the raw per-trial and per-run data in JSON.

use super::agent::python_or_skip;
use super::common::{TestLab, stderr, stdout};

#[test]
fn quick_speed_bench_measures_the_autolab_methods() {
    if !python_or_skip() {
        return;
    }
    let lab = TestLab::new();
    let json = lab.path().join("speed.json");
    let out = lab.autolab(&[
        "bench",
        "speed",
        "--quick",
        "--methods",
        "autolab,autolab-no-early-stop,autolab-halving",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "bench speed failed: {}", stderr(&out));
    let text = stdout(&out);
    // One row per method, every cell after the name a number (or reached/n).
    for name in [
        "autolab (early stop)",
        "autolab, no early stop",
        "autolab + halving",
    ] {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("no row for {name} in:\n{text}"));
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 10, "{row}");
        for (i, c) in cells.iter().enumerate().skip(1) {
            if i == 1 || i == 4 {
                assert!(c.ends_with("/1"), "reached/seeds: {row}");
            } else {
                assert!(c.parse::<f64>().is_ok(), "not a number: {c:?} in {row}");
            }
        }
    }
    assert!(
        text.contains("Early stopping: run-seconds to the target"),
        "{text}"
    );
    assert!(!text.contains("Optuna TPE"), "{text}");

    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3, "{doc}");
    for run in runs {
        let trials = run["trials"].as_array().unwrap();
        // The budget: 5 experiments, the baseline (3 runs at the default params) first.
        assert_eq!(trials.len(), 5, "{run}");
        let baseline = trials[0]["value"].as_f64().unwrap();
        assert!(
            (0.65..0.8).contains(&baseline),
            "baseline val_loss {baseline}"
        );
        // The optimizer found something better than the default within the budget.
        let best = run["best"].as_f64().unwrap();
        assert!(best < baseline - 0.05, "best {best} vs baseline {baseline}");
        // Two runs at a time: the runs' seconds add up to more than the wall time (not under
        // halving, whose last promotions run one candidate alone).
        let (run_secs, wall) = (
            run["run_secs_total"].as_f64().unwrap(),
            run["wall_total"].as_f64().unwrap(),
        );
        if run["method"] != "autolab-halving" {
            assert!(run_secs > wall, "run-s {run_secs} vs wall {wall}");
        }
        assert!(trials[0]["run_secs"].as_f64().unwrap() > 3.0 * 2.0, "{run}");
    }
    let no_stop = runs
        .iter()
        .find(|r| r["method"] == "autolab-no-early-stop")
        .unwrap();
    assert_eq!(no_stop["stopped"], 0, "{no_stop}");
    // Every run is listed, the baseline's three and each confirmation among them.
    let singles = no_stop["runs"].as_array().unwrap();
    assert!(singles.len() >= 3 + 4, "{no_stop}");
    let ends: Vec<f64> = singles.iter().map(|r| r["end"].as_f64().unwrap()).collect();
    assert!(
        ends.windows(2).all(|w| w[0] <= w[1]),
        "in the order they ended: {ends:?}"
    );
    // Halving: the 4 candidates of the budget's one bracket start at 3 of 30 steps; the
    // campaign ends with it, so the best goes on and the other 3 are halted (stopped).
    let halving = runs
        .iter()
        .find(|r| r["method"] == "autolab-halving")
        .unwrap();
    assert_eq!(halving["stopped"], 3, "{halving}");
    let secs: Vec<f64> = halving["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_secs"].as_f64().unwrap())
        .collect();
    let full = secs.iter().copied().fold(0.0, f64::max);
    let short = secs.iter().filter(|s| **s < full / 3.0).count();
    assert!(short >= 4, "4 runs at 3 steps of 30: {secs:?}");
}
