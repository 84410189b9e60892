//! The supervisor and notifications end to end: a lab whose runs die of the same ImportError
//! pauses with a diagnosis naming it (by rules, and by a fake LLM reading the logs), shown by
//! `status`; a local receiver gets the news; a failing or silent receiver holds nothing up.

use std::sync::{Arc, Mutex};

use autolab_llm::fake::{FakeReply, FakeServer, Recorded};

use super::agent::{is_ideation, openai, python_or_skip};
use super::common::*;

/// Experiment #1 improves, every later one dies of a missing module (the baseline is fine).
const SCRIPT: &str = r#"#!/bin/sh
case "$AUTOLAB_EXPERIMENT" in
  */0000) echo "val_loss: 0.5" ;;
  */0001) echo "val_loss: 0.3" ;;
  *) echo "loading data"; exec python3 -c "import autolab_missing_mod" ;;
esac
"#;

fn failing_lab(extra_toml: &str) -> TestLab {
    let lab = TestLab::new();
    lab.write("run.sh", SCRIPT);
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ncommand = \"sh run.sh\"\neditable = [\"run.sh\"]\ntimeout = \"30s\"\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n\
             [params]\napply = {{ env = \"P_\" }}\nx = {{ choice = [\"a\"] }}\n{extra_toml}\n"
        ),
    );
    lab.commit("lab");
    lab
}

fn diagnoses(lab: &TestLab) -> Vec<serde_json::Value> {
    let conn = lab.ledger();
    let mut stmt = conn
        .prepare("SELECT detail FROM events WHERE kind = 'diagnosis' ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
        .collect()
}

fn events(server: &FakeServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .filter_map(|r| r.json())
        .map(|j| j["event"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn identical_import_errors_pause_the_campaign_with_a_diagnosis_and_the_news_goes_out() {
    if !python_or_skip() {
        return;
    }
    let hook = FakeServer::from_fn(|_| FakeReply::status(200, "ok"));
    let lab = failing_lab(&format!("[notify]\nwebhook = \"{}/hook\"\n", hook.url()));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "20"]);
    assert_eq!(out.status.code(), Some(1), "paused: {}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("supervisor: all 3 runs crashed with: ModuleNotFoundError: No module named 'autolab_missing_mod'"),
        "{err}"
    );
    // Three identical failures, not the budget of twenty nor the streak of five.
    let exps = count(&lab.ledger(), "SELECT COUNT(*) FROM experiments");
    assert_eq!(exps, 5, "#0, #1 kept, #2–#4 crashed: {err}");
    let d = &diagnoses(&lab)[0];
    assert_eq!(d["trigger"], "identical_failures");
    assert_eq!(d["by"], "rules");
    assert_eq!(d["experiments"], serde_json::json!([2, 3, 4]));
    assert!(
        d["advice"]
            .as_str()
            .unwrap()
            .contains("`pip install autolab_missing_mod`"),
        "{d}"
    );
    let status = stdout(&lab.autolab(&["status", "--tag", "t"]));
    assert!(status.starts_with("campaign   t  (paused)"), "{status}");
    assert!(
        status.contains("diagnosis  all 3 runs crashed with: ModuleNotFoundError: No module named 'autolab_missing_mod'"),
        "{status}"
    );
    assert!(
        status.contains("advice     the environment the runs execute in lacks"),
        "{status}"
    );
    // The dashboard shows it too (escaped: the error line quotes the module name).
    let served = super::dashboard::server::Served::start(&lab, &[]);
    let (code, page) = served.get("/");
    assert_eq!(code, 200);
    assert!(page.contains("id=\"diagnosis\""), "{page}");
    assert!(
        page.contains("No module named &#x27;autolab_missing_mod&#x27;"),
        "{page}"
    );
    // The receiver got the new best, the streak, the pause and the end, in order.
    assert_eq!(
        events(&hook),
        ["new_best", "crash_streak", "paused", "finished"],
        "{:?}",
        hook.requests()
    );
    let first = hook.requests()[0].json().unwrap();
    assert_eq!(first["data"]["experiment"], 1);
    assert_eq!(
        first["text"],
        "autolab [t] new best #1 \"x=a\": val_loss 0.3 (baseline 0.5)"
    );
    let paused = hook.requests()[2].json().unwrap();
    assert!(
        paused["text"]
            .as_str()
            .unwrap()
            .contains("No module named 'autolab_missing_mod'"),
        "{paused}"
    );
    assert_eq!(paused["data"]["diagnosis"]["trigger"], "identical_failures");
}

#[test]
fn the_crash_streak_pauses_with_a_diagnosis_when_identical_failures_is_off() {
    if !python_or_skip() {
        return;
    }
    let lab = failing_lab(
        "[runner]\nmax_consecutive_crashes = 4\n[supervisor]\nidentical_failures = 0\n",
    );
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "20"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(count(&lab.ledger(), "SELECT COUNT(*) FROM experiments"), 6);
    let d = &diagnoses(&lab)[0];
    assert_eq!(d["trigger"], "crash_streak");
    assert_eq!(
        d["cause"],
        "all 4 runs crashed with: ModuleNotFoundError: No module named 'autolab_missing_mod'"
    );
}

#[test]
fn a_receiver_that_fails_or_never_answers_holds_nothing_up_and_failures_are_recorded() {
    if !python_or_skip() {
        return;
    }
    // Answers 500 to everything: each event tried once (retries = 0), each failure recorded.
    let failing = FakeServer::from_fn(|_| FakeReply::status(500, "down"));
    let lab = failing_lab(&format!(
        "[notify]\nwebhook = \"{}\"\nretries = 0\n",
        failing.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "20"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(count(&lab.ledger(), "SELECT COUNT(*) FROM experiments"), 5);
    let conn = lab.ledger();
    let mut stmt = conn
        .prepare("SELECT detail FROM events WHERE kind = 'notify-failed' ORDER BY id")
        .unwrap();
    let failed: Vec<serde_json::Value> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
        .collect();
    let kinds: Vec<&str> = failed
        .iter()
        .map(|f| f["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["new_best", "crash_streak", "paused", "finished"]);
    assert_eq!(failed[0]["why"], "HTTP 500");

    // Never answers: the campaign runs all the same and its end waits one timeout at most.
    let gate = Arc::new(Mutex::new(()));
    let held = gate.lock().unwrap();
    let g = Arc::clone(&gate);
    let silent = FakeServer::from_fn(move |_| {
        let _wait = g.lock();
        FakeReply::status(200, "ok")
    });
    let lab = failing_lab(&format!(
        "[notify]\nwebhook = \"{}\"\ntimeout_secs = 1\nretries = 0\n",
        silent.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "20"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(count(&lab.ledger(), "SELECT COUNT(*) FROM experiments"), 5);
    assert!(
        stderr(&out).contains("notification(s) given up at the end"),
        "{}",
        stderr(&out)
    );
    // What was given up is recorded, each event once at most.
    let given_up = count(
        &lab.ledger(),
        "SELECT COUNT(*) FROM events WHERE kind = 'notify-failed'",
    );
    assert!((1..=4).contains(&given_up), "{given_up}");
    drop(held);
}

fn is_diagnosis(r: &Recorded) -> bool {
    r.body
        .contains("You supervise an automated research campaign")
}

#[test]
fn with_an_llm_its_reading_of_the_logs_is_the_diagnosis_shown() {
    if !python_or_skip() {
        return;
    }
    let ideas = Arc::new(Mutex::new(0u32));
    let edit = "run.sh\n```\n<<<<<<< SEARCH\necho \"val_loss: $(cat val.txt)\"\n=======\npython3 -c \"import autolab_missing_mod\"\n>>>>>>> REPLACE\n```\n";
    let server = FakeServer::from_fn(move |r| {
        if is_diagnosis(r) {
            openai(
                "{\"cause\": \"LLM: every run imports autolab_missing_mod, which is not installed\", \"advice\": \"install it in the runs' environment\"}",
            )
        } else if is_ideation(r) {
            let mut n = ideas.lock().unwrap();
            *n += 1;
            openai(&format!(
                r#"{{"ideas": [{{"title": "Idea number {n}", "hypothesis": "h{n}", "plan": "p", "files": ["run.sh"], "expected_effect": "-0.1", "risk": "low"}}]}}"#
            ))
        } else {
            openai(edit)
        }
    });
    let lab = super::agent::shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nfix_attempts = 0\nlessons = \"template\"\n",
        server.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "20"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let all = diagnoses(&lab);
    assert_eq!(
        all.len(),
        2,
        "the rules' diagnosis, then the LLM's: {all:?}"
    );
    assert_eq!(all[0]["by"], "rules");
    assert_eq!(all[1]["by"], "llm");
    assert_eq!(all[1]["experiments"], all[0]["experiments"]);
    let asked = server.requests().into_iter().find(is_diagnosis).unwrap();
    assert!(
        asked.body.contains("No module named 'autolab_missing_mod'"),
        "the LLM reads the logs: {}",
        asked.body
    );
    let status = stdout(&lab.autolab(&["status", "--tag", "t"]));
    assert!(
        status.contains(
            "diagnosis  LLM: every run imports autolab_missing_mod, which is not installed (LLM)"
        ),
        "{status}"
    );
    // The call is in the ledger under the supervisor's role.
    assert_eq!(
        count(
            &lab.ledger(),
            "SELECT COUNT(*) FROM transcripts WHERE role = 'supervisor'"
        ),
        1
    );
}

#[test]
fn a_disk_under_its_floor_pauses_the_campaign_before_anything_runs() {
    let lab = failing_lab("[supervisor]\nmin_free_disk_mb = 1000000000\n");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "5"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(count(&lab.ledger(), "SELECT COUNT(*) FROM runs"), 0);
    let d = &diagnoses(&lab)[0];
    assert_eq!(d["trigger"], "disk_low");
    let status = stdout(&lab.autolab(&["status", "--tag", "t"]));
    assert!(
        status.contains("diagnosis  the disk holding the lab is nearly full"),
        "{status}"
    );
    // Turned off, the same lab runs.
    let toml = lab.read("autolab.toml").replace("1000000000", "0");
    lab.write("autolab.toml", &toml);
    lab.commit("watch off");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn an_environment_error_is_not_sent_back_to_the_coder_again_and_again() {
    if !python_or_skip() {
        return;
    }
    let ideas = Arc::new(Mutex::new(0u32));
    let edit = "run.sh\n```\n<<<<<<< SEARCH\necho \"val_loss: $(cat val.txt)\"\n=======\npython3 -c \"import autolab_missing_mod\"\n>>>>>>> REPLACE\n```\n";
    let fix = "run.sh\n```\n<<<<<<< SEARCH\npython3 -c \"import autolab_missing_mod\"\n=======\n# a fix attempt\npython3 -c \"import autolab_missing_mod\"\n>>>>>>> REPLACE\n```\n";
    let server = FakeServer::from_fn(move |r| {
        if is_diagnosis(r) {
            openai("{\"cause\": \"missing module\"}")
        } else if is_ideation(r) {
            let mut n = ideas.lock().unwrap();
            *n += 1;
            openai(&format!(
                r#"{{"ideas": [{{"title": "Idea number {n}", "hypothesis": "h{n}", "plan": "p", "files": ["run.sh"], "expected_effect": "-0.1", "risk": "low"}}]}}"#
            ))
        } else if super::agent::is_fix(r) {
            openai(fix)
        } else {
            openai(edit)
        }
    });
    let lab = super::agent::shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nfix_attempts = 3\nlessons = \"template\"\n[explore]\nauto = false\n",
        server.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "20"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // #1 gets two fixes; its third identical failure, and every later one, gets none.
    let fixes = server
        .requests()
        .iter()
        .filter(|r| super::agent::is_fix(r))
        .count();
    assert_eq!(fixes, 2, "{}", stderr(&out));
    let runs = count(&lab.ledger(), "SELECT COUNT(*) FROM runs");
    assert_eq!(runs, 1 + 3 + 1 + 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the same error as the runs before it; no fix asked for"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_campaign_that_stops_on_an_error_still_says_it_finished() {
    let hook = FakeServer::from_fn(|_| FakeReply::status(200, "ok"));
    let lab = TestLab::new();
    lab.write("run.sh", "echo 'no such thing' >&2; exit 4\n");
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ncommand = \"sh run.sh\"\neditable = [\"run.sh\"]\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n\
             [params]\napply = {{ env = \"P_\" }}\nx = {{ choice = [\"a\"] }}\n\
             [notify]\nwebhook = \"{}\"\n",
            hook.url()
        ),
    );
    lab.commit("lab");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let events: Vec<serde_json::Value> = hook.requests().iter().filter_map(|r| r.json()).collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"], "finished");
    assert_eq!(events[0]["data"]["ending"], "error");
    assert!(
        events[0]["text"]
            .as_str()
            .unwrap()
            .contains("the baseline (experiment #0) crashed"),
        "{}",
        events[0]
    );
}

#[test]
fn slots_idle_while_candidates_wait_for_approval_are_said_and_sent() {
    let receiver = FakeServer::start(vec![]);
    let lab = failing_lab(&format!(
        "[decide]\napprove = true\n[supervisor]\nidle_after = \"1s\"\n[notify]\nwebhook = \"{}\"\n",
        receiver.url()
    ));
    let child = lab
        .cmd()
        .args(["run", "--tag", "t", "--max-experiments", "3"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    lab.wait_for("the idle slot said", |c| {
        count(c, "SELECT COUNT(*) FROM events WHERE kind = 'idle-slots'") == 1
    });
    let out = lab.autolab(&["stop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = output_within(child, std::time::Duration::from_secs(60));
    assert!(
        stderr(&out).contains("supervisor: 1 of 1 slot(s) idle for "),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("while 1 candidate(s) wait for approval: `autolab approve N`"),
        "{}",
        stderr(&out)
    );
    assert!(
        events(&receiver).contains(&"waiting".to_string()),
        "{:?}",
        events(&receiver)
    );
    // Said once for one wait, not every heartbeat.
    assert_eq!(
        count(
            &lab.ledger(),
            "SELECT COUNT(*) FROM events WHERE kind = 'idle-slots'"
        ),
        1
    );
}

#[test]
fn an_llm_spending_faster_than_the_time_budget_allows_pauses_the_campaign() {
    // Each call costs $0.11 (1000 + 100 tokens at $100 per million): five spend max_usd.
    let codes = std::sync::atomic::AtomicUsize::new(0);
    let server = FakeServer::from_fn(move |r| {
        if is_ideation(r) {
            openai(&super::learning::distinct_ideas(0, 5))
        } else {
            let k = codes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            openai(&format!(
                "notes.txt\n```\n<<<<<<< SEARCH\n# end\n=======\n# {k}\n# end\n>>>>>>> REPLACE\n```\n"
            ))
        }
    });
    let lab = TestLab::new();
    lab.write("notes.txt", "# end\n");
    lab.write("run.sh", "sleep 3\necho 'val_loss: 0.5'\n");
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ncommand = \"sh run.sh\"\neditable = [\"notes.txt\"]\nprotected = [\"run.sh\"]\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n[decide]\npolicy = \"strict\"\n\
             [agent]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nprice = [100.0, 100.0]\nmax_usd = 0.55\nlessons = \"template\"\n\
             [explore]\nauto = false\n",
            server.url()
        ),
    );
    lab.commit("lab");
    // 36 seconds: after the first tenth, $0.33 in ~5 s leaves $0.22 for ~3 s more, with
    // ~30 s to go.
    let out = lab.autolab(&["run", "--tag", "t", "--max-hours", "0.01"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let d = &diagnoses(&lab)[0];
    assert_eq!(d["trigger"], "cost_burn", "{d}");
    assert!(
        d["cause"].as_str().unwrap().contains("while max_hours has"),
        "{d}"
    );
    assert!(
        stderr(&out).contains("supervisor: the LLM spends $"),
        "{}",
        stderr(&out)
    );
    // Paused before the money ran out.
    let spent: f64 = lab
        .ledger()
        .query_row("SELECT SUM(cost_usd) FROM transcripts", [], |r| r.get(0))
        .unwrap();
    assert!(spent < 0.55, "{spent}");
    let status = stdout(&lab.autolab(&["status", "--tag", "t"]));
    assert!(status.contains("diagnosis  the LLM spends"), "{status}");
}
