//! Successive halving on a fidelity parameter: candidates start at the smallest budget, the
//! best third of a bracket goes on, only full-budget runs are judged; a campaign killed with
//! SIGKILL and resumed promotes the same candidates as one never interrupted.

use std::collections::BTreeMap;
use std::process::Stdio;

use super::common::{TestLab, count, stderr};

/// val_loss = (x − 0.3)² + 1/epochs: the ranking by x is the same at every budget. The run
/// reports the budget it was given (`P_EPOCHS`, from `[params] apply = { env }`).
const RUN: &str = r#"#!/bin/sh
[ -n "$SLOW" ] && sleep "$SLOW"
awk -v x="${P_X:-0.9}" -v e="${P_EPOCHS:-9}" 'BEGIN { printf "epochs_seen: %d\nval_loss: %.6f\n", e, (x - 0.3) ^ 2 + 1 / e }'
"#;

fn lab(runner: &str) -> TestLab {
    let lab = TestLab::new();
    lab.write("run.sh", RUN);
    lab.write(
        "autolab.toml",
        &format!(
            r#"[task]
command = "sh run.sh"
editable = ["run.sh"]
timeout = "60s"

[metrics]
score = {{ val_loss = {{ goal = "minimize" }} }}

[params]
apply = {{ env = "P_" }}
sampler = "random"
x = {{ float = [0.0, 1.0] }}
epochs = {{ int = [1, 9], fidelity = true }}

[decide]
policy = "strict"

[runner]
parallel = 2
env_allow = ["SLOW"]
{runner}"#
        ),
    );
    lab.commit("lab");
    lab
}

/// Per candidate: x and the budgets its runs had, in order.
fn record(lab: &TestLab) -> BTreeMap<u32, (f64, Vec<i64>, String, String)> {
    let mut out = BTreeMap::new();
    for n in 1..=9u32 {
        let e = lab.json(&["show", &n.to_string(), "--json"]);
        let x = e["params"]["x"].as_f64().unwrap();
        assert_eq!(
            e["params"]["epochs"], 9,
            "the commit holds the full budget: {e}"
        );
        let budgets: Vec<i64> = e["run_list"]
            .as_array()
            .unwrap()
            .iter()
            // Runs an orchestrator's death interrupted were run again.
            .filter(|r| r["outcome"] != "lost" && r["outcome"] != "cancelled")
            .map(|r| {
                let b = r["budget"].as_f64().unwrap() as i64;
                // The run was given its budget.
                assert_eq!(r["metrics"]["epochs_seen"].as_f64(), Some(b as f64), "{e}");
                b
            })
            .collect();
        let verdict = e["verdict"].as_str().unwrap_or("").to_string();
        let reason = e["reason"].as_str().unwrap_or("").to_string();
        out.insert(n, (x, budgets, verdict, reason));
    }
    out
}

/// Candidates sorted from best to worst x.
fn by_x(r: &BTreeMap<u32, (f64, Vec<i64>, String, String)>) -> Vec<u32> {
    let mut v: Vec<u32> = r.keys().copied().collect();
    v.sort_by(|a, b| {
        let d = |n: &u32| (r[n].0 - 0.3).abs();
        d(a).total_cmp(&d(b)).then(a.cmp(b))
    });
    v
}

fn assert_halved(lab: &TestLab) -> Vec<(u32, Vec<i64>)> {
    let r = record(lab);
    let best = by_x(&r);
    for (n, (_, budgets, verdict, reason)) in &r {
        let rank = best.iter().position(|b| b == n).unwrap();
        let expected: Vec<i64> = match rank {
            0 => vec![1, 3, 9],
            1 | 2 => vec![1, 3],
            _ => vec![1],
        };
        assert_eq!(budgets, &expected, "#{n} (rank {rank}): {r:?}");
        if rank == 0 {
            // Judged at the full budget only: its score is the full-budget run's.
            assert!(verdict == "kept" || verdict == "discarded", "{r:?}");
            assert!(!reason.starts_with("halted"), "{reason}");
            let e = lab.json(&["show", &n.to_string(), "--json"]);
            let x = r[n].0;
            let full = (x - 0.3) * (x - 0.3) + 1.0 / 9.0;
            assert!((e["score"].as_f64().unwrap() - full).abs() < 1e-5, "{e}");
        } else {
            assert_eq!(verdict, "discarded", "#{n}");
            let at = if rank < 3 { "epochs=3" } else { "epochs=1" };
            assert!(
                reason.starts_with(&format!("halted at {at}: score ")),
                "{reason}"
            );
        }
    }
    r.into_iter().map(|(n, (_, b, _, _))| (n, b)).collect()
}

#[test]
fn the_best_third_is_promoted_and_only_the_full_budget_is_judged() {
    let lab = lab("");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "10"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_halved(&lab);
    // The progress line says why a halted candidate has no score.
    let progress = stderr(&out);
    assert!(
        progress
            .lines()
            .any(|l| l.contains(" discarded ") && l.contains("(halted at epochs=1: score ")),
        "{progress}"
    );
    // The baseline ran at the full budget, like every judged run.
    let base = lab.json(&["show", "0", "--json"]);
    for r in base["run_list"].as_array().unwrap() {
        assert_eq!(
            (r["budget"].as_f64(), r["metrics"]["epochs_seen"].as_f64()),
            (Some(9.0), Some(9.0)),
            "{base}"
        );
    }
    // `show` says each run's budget.
    let text = String::from_utf8_lossy(&lab.autolab(&["show", "1"]).stdout).into_owned();
    assert!(text.contains("run 0 seed 0 budget 1 exited"), "{text}");
    // results.tsv has a row per experiment, the halted ones without a score.
    let tsv = lab.read("results.tsv");
    assert_eq!(tsv.lines().count(), 11, "{tsv}");
    // The report's gain rests on the runs the verdict was judged on: the kept candidate's one
    // full-budget run, not its runs at budgets 1 and 3.
    let d = lab.path().join("report").to_string_lossy().into_owned();
    let out = lab.autolab(&["report", "--tag", "t", "--format", "json", "-o", &d]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&lab.read("report/report.json")).unwrap();
    let gain = &report["gain"];
    assert_eq!(gain["runs"]["best"], 1, "{report}");
    let score = |k: &str| report[k]["score"].as_f64().unwrap();
    assert!(
        (gain["value"].as_f64().unwrap() - (score("baseline") - score("best"))).abs() < 1e-9,
        "{report}"
    );
}

#[test]
fn a_killed_and_resumed_campaign_promotes_the_same_candidates() {
    let whole = lab("");
    let out = whole.autolab(&["run", "--tag", "t", "--max-experiments", "10"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = assert_halved(&whole);

    let lab = lab("");
    let args = ["run", "--tag", "t", "--max-experiments", "10"];
    // Killed twice: once among the first rung's runs, once after the first promotion.
    for runs in [4, 11] {
        let mut child = lab
            .cmd()
            .args(args)
            .env("SLOW", "0.3")
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        lab.wait_for(&format!("{runs} runs recorded"), |c| {
            count(c, "SELECT COUNT(*) FROM runs") >= runs
        });
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let out = lab.autolab(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(assert_halved(&lab), expected);
}

#[test]
fn a_fidelity_is_refused_where_it_cannot_be_halved() {
    let lab = lab("");
    let toml = lab.read("autolab.toml");
    lab.write(
        "autolab.toml",
        &toml.replace(
            "int = [1, 9], fidelity = true",
            "int = [5, 9], fidelity = true",
        ),
    );
    lab.commit("narrow");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("params.epochs") && err.contains("holds no smaller rung"),
        "{err}"
    );
}

#[test]
fn halving_works_on_slurm() {
    let Some(conf) = super::cluster::slurm() else {
        return;
    };
    let lab = lab("kind = \"slurm\"\npoll_interval = \"200ms\"\n");
    let out = lab
        .cmd()
        .args(["run", "--tag", "t", "--max-experiments", "10"])
        .env("SLURM_CONF", &conf)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_halved(&lab);
    let e = lab.json(&["show", "1", "--json"]);
    assert!(e["run_list"][0]["job"].to_string().contains("slurm"), "{e}");
}

/// A run that rewrites its params file (here: to the best x) changes nothing for the next
/// run of its experiment: each run starts from the experiment's commit.
#[test]
fn a_run_rewriting_its_params_file_does_not_change_the_next_rung() {
    let lab = TestLab::new();
    lab.write("params.json", "{\"x\": 0.9, \"epochs\": 9}\n");
    lab.write(
        "run.sh",
        r#"x=$(sed -n 's/.*"x": *\([0-9.e-]*\).*/\1/p' params.json)
e=$(sed -n 's/.*"epochs": *\([0-9]*\).*/\1/p' params.json)
echo "x_seen: $x"
awk -v x="$x" -v e="$e" 'BEGIN { printf "epochs_seen: %d\nval_loss: %.6f\n", e, (x - 0.3) ^ 2 + 1 / e }'
printf '{"x": 0.3, "epochs": %s}\n' "$e" > params.json
"#,
    );
    lab.write(
        "autolab.toml",
        r#"[task]
command = "sh run.sh"
editable = ["params.json"]
timeout = "60s"

[metrics]
score = { val_loss = { goal = "minimize" } }

[params]
apply = { json = "params.json" }
sampler = "random"
x = { float = [0.0, 1.0] }
epochs = { int = [1, 9], fidelity = true }

[decide]
policy = "strict"
"#,
    );
    lab.commit("lab");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "10"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut promoted = 0;
    for n in 1..=9 {
        let e = lab.json(&["show", &n.to_string(), "--json"]);
        let x = e["params"]["x"].as_f64().unwrap();
        for r in e["run_list"].as_array().unwrap() {
            assert_eq!(r["metrics"]["x_seen"].as_f64(), Some(x), "{e}");
            assert_eq!(
                r["metrics"]["epochs_seen"].as_f64(),
                r["budget"].as_f64(),
                "{e}"
            );
        }
        promoted += usize::from(e["run_list"].as_array().unwrap().len() > 1);
    }
    assert_eq!(promoted, 3);
}
