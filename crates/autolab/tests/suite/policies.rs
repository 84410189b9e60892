//! The noise-aware policy and early stopping, end to end.

use super::common::*;

/// val_loss = 0.5 (minus 0.2 in mode `better`) plus seed-dependent noise of ±0.01.
const NOISY: &str = r#"#!/bin/sh
noise=$(awk -v s="$AUTOLAB_SEED" 'BEGIN { printf "%.4f", ((s * 7919) % 21 - 10) / 1000 }')
base=0.5
[ "$P_MODE" = better ] && base=0.3
awk -v b="$base" -v n="$noise" 'BEGIN { printf "val_loss: %.6f\n", b + n }'
"#;

fn noisy_lab(modes: &str) -> TestLab {
    let lab = TestLab::new();
    lab.write("run.sh", NOISY);
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ncommand = \"sh run.sh\"\neditable = [\"run.sh\"]\n[metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n[params]\napply = {{ env = \"P_\" }}\nsampler = \"random\"\nmode = {{ choice = [{modes}] }}\n[decide]\npolicy = \"noise-aware\"\nrepeats = 4\n"
        ),
    );
    lab.commit("lab");
    lab
}

#[test]
fn noise_aware_measures_the_noise_then_keeps_a_clear_gain_with_its_statistics() {
    let lab = noisy_lab("\"better\"");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let base = lab.json(&["show", "0", "--json"]);
    assert_eq!(base["runs"], 4, "the baseline runs `repeats` times");
    let seeds: Vec<u64> = base["run_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, [0, 1, 2, 3], "each with its own AUTOLAB_SEED");
    assert!(base["stats"]["noise_runs"]["sd"].as_f64().unwrap() > 0.0);

    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["verdict"], "kept", "{one}");
    let st = &one["stats"];
    assert_eq!(st["test"], "welch-one-sided");
    assert_eq!(st["incumbent"]["n"], 4);
    assert!(st["p"].as_f64().unwrap() < 0.05 / 3.0);
    assert!((st["gain"].as_f64().unwrap() - 0.2).abs() < 0.03, "{st}");
    let text = stdout(&lab.autolab(&["show", "1"]));
    assert!(
        text.contains("test       welch-one-sided at confidence 0.95"),
        "{text}"
    );
    assert!(text.contains("incumbent  #0 n 4"), "{text}");
}

#[test]
fn remeasure_runs_a_new_incumbent_until_it_has_repeats_runs() {
    let lab = noisy_lab("\"better\"");
    let toml = std::fs::read_to_string(lab.path().join("autolab.toml")).unwrap();
    lab.write("autolab.toml", &format!("{toml}remeasure = true\n"));
    lab.commit("remeasure");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["verdict"], "kept", "{one}");
    assert_eq!(
        one["runs"], 4,
        "kept only once it has `repeats` runs: {one}"
    );
    let seeds: Vec<u64> = one["run_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seed"].as_u64().unwrap())
        .collect();
    let mut distinct = seeds.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "each run its own seed: {seeds:?}");
    // The next candidate is judged against the re-measured incumbent.
    let two = lab.json(&["show", "2", "--json"]);
    assert_eq!(two["stats"]["incumbent"]["n"], 4, "{two}");
    assert_eq!(
        two["verdict"], "discarded",
        "the same change is no gain: {two}"
    );
}

#[test]
fn noise_aware_rejects_a_change_that_only_moves_the_noise() {
    let lab = noisy_lab("\"same\"");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "6"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = lab.json(&["results", "--format", "json"]);
    let candidates = &rows.as_array().unwrap()[1..];
    assert_eq!(candidates.len(), 5, "the candidates ran: {rows}");
    for r in candidates {
        assert_eq!(r["verdict"], "discarded", "{r}");
    }
}

#[test]
fn a_crash_only_campaign_keeps_nothing_and_divides_by_nothing() {
    // Three identical crashes would pause it: the supervisor is off here.
    let lab = TestLab::with_mode(
        "crash",
        "[decide]\npolicy = \"noise-aware\"\n[supervisor]\nidentical_failures = 0\n",
    );
    assert!(
        lab.autolab(&["run", "--tag", "t", "--max-experiments", "4"])
            .status
            .success()
    );
    let rows = lab.json(&["results", "--format", "json"]);
    let candidates = &rows.as_array().unwrap()[1..];
    assert!(!candidates.is_empty(), "candidates ran: {rows}");
    for r in candidates {
        assert_eq!(r["verdict"], "crashed");
    }
}

/// A run prints a falling curve; mode `slow` falls far slower and would take long.
const CURVES: &str = r#"#!/bin/sh
i=1
while [ $i -le 40 ]; do
  if [ "$P_MODE" = slow ]; then v=$(awk -v i=$i 'BEGIN { printf "%.4f", 2 - i / 100 }'); sleep 0.05
  elif [ "$P_MODE" = fast ]; then v=$(awk -v i=$i 'BEGIN { printf "%.4f", 0.5 / i }')
  else v=$(awk -v i=$i 'BEGIN { printf "%.4f", 1 / i }'); fi
  echo "step: $i val_loss: $v"
  i=$((i + 1))
done
echo "val_loss: $v"
"#;

fn curve_lab(mode: &str) -> TestLab {
    let lab = TestLab::new();
    lab.write("run.sh", CURVES);
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ncommand = \"sh run.sh\"\neditable = [\"run.sh\"]\ntimeout = \"60s\"\n[metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n[params]\napply = {{ env = \"P_\" }}\nmode = {{ choice = [\"{mode}\"] }}\n[decide]\npolicy = \"strict\"\n[early_stop]\nmargin = 0.2\npatience = 3\n"
        ),
    );
    lab.commit("lab");
    lab
}

#[test]
fn early_stopping_stops_a_clearly_worse_curve() {
    let lab = curve_lab("slow");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["verdict"], "discarded", "{one}");
    assert!(
        one["reason"]
            .as_str()
            .unwrap()
            .starts_with("early-stopped at step 3"),
        "{one}"
    );
    assert_eq!(one["run_list"][0]["outcome"], "stopped");
    let log =
        std::fs::read_to_string(lab.path().join(".autolab/runs/t/0001/0/stdout.log")).unwrap();
    assert!(
        !log.contains("step: 40"),
        "the run should have been stopped early"
    );
}

#[test]
fn early_stopping_spares_a_better_curve() {
    let lab = curve_lab("fast");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["verdict"], "kept", "{one}");
    assert_eq!(one["run_list"][0]["outcome"], "exited");
}

/// A lab whose run.sh carries dead code; the coder's edit deletes it and changes nothing else.
fn dead_code_lab(extra: &str) -> (TestLab, autolab_llm::fake::FakeServer) {
    use super::agent::{IDEA_VAL, is_ideation, openai};
    let delete = "run.sh\n```\n<<<<<<< SEARCH\nunused_a() { echo never; }\nunused_b() { echo never; }\n=======\n>>>>>>> REPLACE\n```\n";
    let server = autolab_llm::fake::FakeServer::from_fn(move |r| {
        if is_ideation(r) {
            openai(IDEA_VAL)
        } else {
            openai(delete)
        }
    });
    let lab = super::agent::shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nlessons = \"template\"\n[explore]\nauto = false\n{extra}",
        server.url()
    ));
    lab.write(
        "run.sh",
        "echo \"val_loss: $(cat val.txt)\"\nunused_a() { echo never; }\nunused_b() { echo never; }\n",
    );
    lab.commit("dead code");
    (lab, server)
}

#[test]
fn deleting_dead_code_at_an_equal_score_is_kept_as_simplified() {
    let (lab, _server) = dead_code_lab("");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["verdict"], "simplified", "{one}");
    assert_eq!(
        one["reason"],
        "score 0.500000 is not worse than #0 (0.500000) with 2 line(s) fewer"
    );
    // It is the incumbent: the branch holds it and results.tsv says keep.
    let status = lab.json(&["status", "--tag", "t", "--json"]);
    assert_eq!(status["incumbent"]["id"], 1, "{status}");
    assert_eq!(status["counts"]["simplified"], 1);
    assert_eq!(
        lab.git(&["rev-parse", "autolab/t"]).trim(),
        one["commit"].as_str().unwrap()
    );
    assert!(
        lab.read("results.tsv").contains("\tkeep\t"),
        "{}",
        lab.read("results.tsv")
    );
}

#[test]
fn without_the_simplicity_rule_a_shorter_tie_is_discarded() {
    let (lab, _server) = dead_code_lab("[decide]\nsimplicity = false\n");
    // shell_lab's [decide] is already there: the key goes into it.
    let toml = lab
        .read("autolab.toml")
        .replace("[decide]\nsimplicity = false\n", "")
        .replace(
            "policy = \"strict\"\n",
            "policy = \"strict\"\nsimplicity = false\n",
        );
    lab.write("autolab.toml", &toml);
    lab.commit("no simplicity");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["verdict"], "discarded", "{one}");
}
