//! `autolab status`: where a campaign stands, the same in words and in JSON.

use super::common::*;
use super::concurrency::blocking_lab;

#[test]
fn status_shows_elapsed_budget_and_open_experiments_alike_in_words_and_json() {
    let lab = blocking_lab();
    let mut run = spawn_until_running(&lab, &["run", "--tag", "t", "--max-experiments", "3"]);
    let live = lab.json(&["status", "--json"]);
    assert_eq!(live["orchestrator"], "running", "{live}");
    assert_eq!(live["budget"]["max_experiments"], 3, "{live}");
    assert_eq!(live["budget"]["experiments_left"], 2, "{live}");
    assert!(live["elapsed_secs"].as_f64().unwrap() >= 0.0);
    assert_eq!(live["open"][0]["id"], 0, "{live}");
    assert!(
        live["open"][0]["running_secs"].as_f64().is_some(),
        "a running experiment says for how long: {live}"
    );
    let words = stdout(&lab.autolab(&["status"]));
    assert!(
        words.contains("budget     2 of 3 experiments left"),
        "{words}"
    );
    assert!(words.contains("open       #0000 running"), "{words}");

    run.kill().unwrap(); // SIGKILL: the open experiment stays open
    run.wait().unwrap();
    let stale = lab.json(&["status", "--json"]);
    assert_eq!(stale["orchestrator"], "stale", "{stale}");
    let ids: Vec<u64> = stale["open"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [0]);
    let words = stdout(&lab.autolab(&["status"]));
    assert!(
        words
            .contains("open       #0000 running (interrupted: `autolab run --tag t` resumes them)"),
        "the words say what the JSON says: {words}"
    );
}

#[test]
fn status_all_lists_every_campaign() {
    let lab = TestLab::with_mode("better", "[decide]\npolicy = \"strict\"\n");
    for tag in ["a", "b"] {
        let out = lab.autolab(&["run", "--tag", tag, "--max-experiments", "1"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let all = lab.json(&["status", "--all", "--json"]);
    let tags: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["a", "b"]);
    let words = stdout(&lab.autolab(&["status", "--all"]));
    assert!(
        words.contains("campaign   a") && words.contains("campaign   b"),
        "{words}"
    );
    assert!(
        words.contains("budget     0 of 1 experiments left"),
        "{words}"
    );
}

#[test]
fn a_run_lost_to_a_crash_is_rerun_with_its_own_seed() {
    let lab = blocking_lab();
    let mut run = spawn_until_running(&lab, &["run", "--tag", "t", "--max-experiments", "1"]);
    run.kill().unwrap();
    run.wait().unwrap();
    lab.write("go", "");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let conn = lab.ledger();
    let mut stmt = conn
        .prepare("SELECT outcome, seed FROM runs ORDER BY id")
        .unwrap();
    let runs: Vec<(String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_ne!(runs[0].0, "exited", "{runs:?}");
    assert_eq!(
        runs[0].1, runs[1].1,
        "the re-run keeps the lost run's seed: {runs:?}"
    );
}

#[test]
fn steering_a_lab_without_an_llm_says_nothing_reads_it() {
    let lab = TestLab::with_mode("better", "");
    let out = lab.autolab(&["steer", "try smaller learning rates"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("nothing reads it now"),
        "{}",
        stderr(&out)
    );
}
