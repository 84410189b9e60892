//! `autolab bench speed --quick` with autolab's two methods (Optuna needs pip and a network):
//! real campaigns on the synthetic learning-curve lab, a table row per method with numbers,
//! and the raw per-run data in JSON.

use super::agent::python_or_skip;
use super::common::{TestLab, stderr, stdout};

#[test]
fn quick_speed_bench_measures_both_autolab_methods() {
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
        "autolab,autolab-no-early-stop",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "bench speed failed: {}", stderr(&out));
    let text = stdout(&out);
    // One row per method, every cell after the name a number (or reached/n).
    for name in ["autolab (early stop)", "autolab, no early stop"] {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("no row for {name} in:\n{text}"));
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells.len(), 8, "{row}");
        assert!(cells[1].contains("/1"), "reached/seeds: {row}");
        for c in &cells[2..] {
            assert!(c.parse::<f64>().is_ok(), "not a number: {c:?} in {row}");
        }
    }
    assert!(
        text.contains("Early stopping: run-seconds to the target"),
        "{text}"
    );
    assert!(!text.contains("Optuna TPE"), "{text}");

    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{doc}");
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
        // Two runs at a time: the runs' seconds add up to more than the wall time.
        let (run_secs, wall) = (
            run["run_secs_total"].as_f64().unwrap(),
            run["wall_total"].as_f64().unwrap(),
        );
        assert!(run_secs > wall, "run-s {run_secs} vs wall {wall}");
        assert!(trials[0]["run_secs"].as_f64().unwrap() > 3.0 * 2.0, "{run}");
    }
    let no_stop = runs
        .iter()
        .find(|r| r["method"] == "autolab-no-early-stop")
        .unwrap();
    assert_eq!(no_stop["stopped"], 0, "{no_stop}");
}
