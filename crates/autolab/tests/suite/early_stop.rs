//! Early stopping on a streamed metric that is not scored (`train_loss` beside `step`, the
//! score being the final `val_loss`), judged against the median of the completed runs, with
//! the baseline's seed-to-seed spread sparing a run within the noise.

use super::common::{TestLab, count, stderr};

/// The baseline prints `train_loss` = 1/i, shifted by −0.1, 0 or +0.1 with its seed (so the
/// baseline's three runs spread by 0.1 sd); mode `slow` falls far slower, mode `near` runs
/// 0.12 above the baseline's middle seed — within two sd of the median; mode `confirm` runs
/// like the baseline with the campaign's first seed and like `slow` with any other.
const CURVES: &str = r#"#!/bin/sh
shift=$(awk -v s="$AUTOLAB_SEED" 'BEGIN { printf "%.2f", (s % 3 - 1) / 10 }')
i=1
while [ $i -le 30 ]; do
  case "$P_MODE" in
    slow) v=$(awk -v i=$i 'BEGIN { printf "%.4f", 2 - i / 100 }'); [ -n "$SLOW_SLEEP" ] && sleep "$SLOW_SLEEP" ;;
    near) v=$(awk -v i=$i 'BEGIN { printf "%.4f", 1 / i + 0.12 }') ;;
    confirm) if [ "$AUTOLAB_SEED" = 0 ]; then v=$(awk -v i=$i 'BEGIN { printf "%.4f", 1 / i }')
             else v=$(awk -v i=$i 'BEGIN { printf "%.4f", 2 - i / 100 }'); fi ;;
    *) v=$(awk -v i=$i -v d="$shift" 'BEGIN { printf "%.4f", 1 / i + d }') ;;
  esac
  echo "step: $i train_loss: $v"
  i=$((i + 1))
done
if [ "$P_MODE" = confirm ]; then echo "val_loss: 0.3"
else awk -v d="$shift" 'BEGIN { printf "val_loss: %.2f\n", 0.5 + d }'; fi
"#;

fn lab(mode: &str) -> TestLab {
    lab_with(mode, "")
}

fn lab_with(mode: &str, runner: &str) -> TestLab {
    let lab = TestLab::new();
    lab.write("run.sh", CURVES);
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
mode = {{ choice = ["{mode}"] }}

[decide]
policy = "noise-aware"
repeats = 3

[early_stop]
metric = "train_loss"
goal = "minimize"
rule = "median"
min_runs = 3
patience = 2
{runner}"#
        ),
    );
    lab.commit("lab");
    lab
}

#[test]
fn a_clearly_worse_run_is_stopped_on_an_unscored_metric_by_the_median_rule() {
    let lab = lab("slow");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["run_list"][0]["outcome"], "stopped", "{one}");
    let reason = one["reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "early-stopped at step 2: train_loss 1.98 vs median of 3 completed runs 0.5"
        ),
        "{reason}"
    );
    let log =
        std::fs::read_to_string(lab.path().join(".autolab/runs/t/0001/0/stdout.log")).unwrap();
    assert!(!log.contains("step: 30 "), "the run went on: {log}");
    // Every run's stream is in the ledger: the baseline's 3 × 30 points, the stopped run's few.
    let db = lab.ledger();
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM curves c JOIN runs r ON r.id = c.run_id JOIN experiments e ON e.id = r.experiment_id WHERE e.number = 0 AND c.metric = 'train_loss'"
        ),
        90
    );
    let stopped = count(
        &db,
        "SELECT COUNT(*) FROM curves c JOIN runs r ON r.id = c.run_id JOIN experiments e ON e.id = r.experiment_id WHERE e.number = 1 AND c.metric = 'train_loss'",
    );
    assert!((2..30).contains(&stopped), "{stopped} points");
    // The report's learning curves read those rows: with the logs gone, they are still drawn,
    // one line per baseline run.
    for k in 0..3 {
        std::fs::remove_file(
            lab.path()
                .join(format!(".autolab/runs/t/0000/{k}/stdout.log")),
        )
        .unwrap();
    }
    let d = lab.path().join("report").to_string_lossy().into_owned();
    let out = lab.autolab(&["report", "-o", &d]);
    assert!(out.status.success(), "{}", stderr(&out));
    let svg = lab.read("report/curves-0.svg");
    assert_eq!(svg.matches("class=\"curve c").count(), 3, "{svg}");
    assert!(svg.contains("train_loss"), "{svg}");
}

#[test]
fn a_run_within_the_baseline_noise_of_the_median_is_spared() {
    let lab = lab("near");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["run_list"][0]["outcome"], "exited", "{one}");
    let log =
        std::fs::read_to_string(lab.path().join(".autolab/runs/t/0001/0/stdout.log")).unwrap();
    assert!(log.contains("step: 30 "), "{log}");
}

#[test]
fn an_unscored_metric_needs_its_direction() {
    let lab = lab("slow");
    let toml = std::fs::read_to_string(lab.path().join("autolab.toml")).unwrap();
    lab.write(
        "autolab.toml",
        &toml.replace("goal = \"minimize\"\nrule", "rule"),
    );
    lab.commit("no goal");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "1"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("early_stop.metric") && err.contains("add `goal = \"minimize\"`"),
        "{err}"
    );
}

#[test]
fn the_median_rule_stops_a_slurm_job() {
    let Some(conf) = super::cluster::slurm() else {
        return;
    };
    // The slow candidate sleeps between steps (30 s in all): only a stop ends it early.
    let lab = lab_with(
        "slow",
        "[runner]\nkind = \"slurm\"\npoll_interval = \"200ms\"\nenv_allow = [\"SLOW_SLEEP\"]\n",
    );
    let out = lab
        .cmd()
        .args(["run", "--tag", "t", "--max-experiments", "2"])
        .env("SLURM_CONF", &conf)
        .env("SLOW_SLEEP", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["run_list"][0]["outcome"], "stopped", "{one}");
    assert!(
        one["run_list"][0]["job"].to_string().contains("slurm"),
        "{one}"
    );
    let reason = one["reason"].as_str().unwrap();
    assert!(
        reason.contains("train_loss") && reason.contains("vs median of 3 completed runs"),
        "{reason}"
    );
    let log =
        std::fs::read_to_string(lab.path().join(".autolab/runs/t/0001/0/stdout.log")).unwrap();
    assert!(!log.contains("step: 30 "), "the job went on: {log}");
}

#[test]
fn a_confirmation_run_is_not_stopped_early() {
    // The candidate's first run is fine and far better (0.3 vs 0.5 ± 0.1): it is confirmed
    // with more runs, whose curves (seeds ≠ 0) look hopeless. They run to their end.
    let lab = lab("confirm");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let one = lab.json(&["show", "1", "--json"]);
    let runs = one["run_list"].as_array().unwrap();
    assert!(runs.len() >= 2, "no confirmation run: {one}");
    for r in runs {
        assert_eq!(r["outcome"], "exited", "{one}");
    }
}
