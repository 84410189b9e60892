//! Experiments that misbehave get the right verdict, with the reason and log kept.

use super::common::*;

/// Runs a 2-experiment campaign (baseline + one candidate in `mode`) and returns experiment 1.
fn candidate(mode: &str) -> (TestLab, serde_json::Value) {
    let lab = TestLab::with_mode(mode, "");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = lab.json(&["results", "--format", "json"]);
    assert_eq!(rows.as_array().unwrap().len(), 2);
    assert_eq!(rows[0]["verdict"], "kept");
    let one = rows[1].clone();
    (lab, one)
}

/// A program missing from the command's first word is refused before the campaign starts
/// (`first_contact::run_refuses_a_missing_program_before_creating_anything`); one the shell
/// fails to find later still crashes the baseline, clearly.
#[test]
fn a_command_that_does_not_exist_fails_the_baseline_clearly() {
    let lab = TestLab::new();
    lab.write("autolab.toml", "[task]\ncommand = \"sh -c no-such-program-xyz\"\n[metrics]\nscore = { l = { goal = \"minimize\" } }\n");
    lab.commit("x");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("baseline (experiment #0) crashed: exit code 127"),
        "{err}"
    );
    assert!(
        err.contains("not found"),
        "the log tail should be shown: {err}"
    );
    let rows = lab.json(&["results", "--format", "json"]);
    assert_eq!(
        rows.as_array().unwrap().len(),
        1,
        "no candidate runs after a failed baseline"
    );
    assert_eq!(rows[0]["verdict"], "crashed");
    // Running again says the same and does not run anything new.
    let again = lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        lab.json(&["results", "--format", "json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_non_zero_exit_is_crashed_with_its_log_tail() {
    let (lab, one) = candidate("crash");
    assert_eq!(one["verdict"], "crashed");
    assert_eq!(one["reason"], "exit code 3");
    let show = lab.json(&["show", "1", "--json"]);
    let tail = show["run_list"][0]["log_tail"].as_str().unwrap();
    assert!(tail.contains("boom: something broke"), "{tail}");
    let tsv = lab.read("results.tsv");
    assert!(
        tsv.lines()
            .nth(2)
            .unwrap()
            .contains("\t0.000000\t0.0\tcrash\tmode=crash"),
        "{tsv}"
    );
}

#[test]
fn a_run_that_hangs_and_ignores_sigterm_times_out() {
    let (_lab, one) = candidate("hang");
    assert_eq!(one["verdict"], "timeout");
    assert!(
        one["reason"]
            .as_str()
            .unwrap()
            .contains("timed out after 3.0s"),
        "{one}"
    );
}

#[test]
fn a_background_child_is_killed_when_the_command_ends() {
    let (lab, one) = candidate("bg");
    assert_eq!(one["verdict"], "kept");
    assert!(lab.path().join(".autolab/runs/t/0001/0/bg.pid").exists());
    assert_eq!(
        leftovers(&lab),
        Vec::<i32>::new(),
        "a background child outlived its run"
    );
}

#[test]
fn a_run_printing_no_metric_is_crashed() {
    let (_lab, one) = candidate("nometric");
    assert_eq!(one["verdict"], "crashed");
    assert_eq!(
        one["reason"],
        "metric `val_loss` was not reported; the run printed no metric"
    );
}

#[test]
fn a_nan_metric_is_crashed() {
    let (_lab, one) = candidate("nan");
    assert_eq!(one["verdict"], "crashed");
    assert_eq!(one["reason"], "metric `val_loss` is NaN");
}

#[test]
fn a_candidate_touching_a_protected_file_is_invalid_and_never_runs() {
    let lab = TestLab::new();
    lab.write(
        "run.sh",
        "cat marker 2>/dev/null; echo ran >> \"$AUTOLAB_RUN_DIR/ran\"; echo 'val_loss: 0.5'\n",
    );
    lab.write("params.json", "{\"lr\": 0.1}\n");
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"sh run.sh\"\neditable = [\"*.json\"]\nprotected = [\"params.json\"]\n[metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n[params]\napply = { json = \"params.json\" }\nlr = { float = [0.0, 1.0] }\n",
    );
    lab.commit("x");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = lab.json(&["results", "--format", "json"]);
    for r in &rows.as_array().unwrap()[1..] {
        assert_eq!(r["verdict"], "invalid", "{r}");
        assert_eq!(r["reason"], "changes protected file(s): params.json");
        assert_eq!(r["runs"], 0);
    }
    // Only the baseline ran (its noise-measuring repeats included).
    let baseline_runs = rows[0]["runs"].as_u64().unwrap();
    assert_eq!(
        baseline_runs, 3,
        "noise-aware measures the baseline 3 times by default"
    );
    let ran = std::process::Command::new("find")
        .arg(lab.path().join(".autolab/runs"))
        .args(["-name", "ran"])
        .output()
        .unwrap();
    assert_eq!(
        stdout(&ran).lines().count() as u64,
        baseline_runs,
        "{}",
        stdout(&ran)
    );
    assert!(
        stdout(&ran).lines().all(|l| l.contains("/0000/")),
        "only the baseline ran"
    );
    // The invalid commits stay reachable under archive refs.
    let refs = lab.git(&[
        "for-each-ref",
        "--format=%(refname)",
        "refs/autolab/t/archive/",
    ]);
    assert_eq!(refs.lines().count(), 2, "{refs}");
}

#[test]
fn the_users_dirty_checkout_is_never_touched() {
    let lab = TestLab::with_mode("better", "");
    lab.git(&["checkout", "--quiet", "-b", "my-work"]);
    lab.write("run.sh", &format!("{MODES}\n# my uncommitted edit\n"));
    lab.write("notes.txt", "untracked notes\n");
    let status_before = lab.git(&["status", "--porcelain"]);
    let head_before = lab.git(&["rev-parse", "HEAD"]);
    let run_sh = lab.read("run.sh");

    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));

    assert_eq!(lab.git(&["status", "--porcelain"]), status_before);
    assert_eq!(lab.git(&["rev-parse", "HEAD"]), head_before);
    assert_eq!(lab.git(&["branch", "--show-current"]).trim(), "my-work");
    assert_eq!(lab.read("run.sh"), run_sh);
    assert_eq!(lab.read("notes.txt"), "untracked notes\n");
    // The campaign's line grew on its own branch, from the committed state.
    let kept = lab.git(&["rev-list", "--count", "autolab/t"]);
    assert!(kept.trim().parse::<u32>().unwrap() >= 2);
}
