//! One `autolab run` per lab while it lives, and not after it died.

use super::common::*;

/// A lab whose baseline blocks until the file `go` appears in the lab root.
pub(super) fn blocking_lab() -> TestLab {
    let lab = TestLab::new();
    lab.write(
        "run.sh",
        "while [ ! -f ../../../../go ]; do sleep 0.05; done; echo 'val_loss: 0.5'\n",
    );
    lab.write("autolab.toml", "[task]\ncommand = \"sh run.sh\"\ntimeout = \"60s\"\n[metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n[decide]\npolicy = \"strict\"\n");
    lab.commit("x");
    lab
}

#[test]
fn a_second_run_is_refused_while_one_is_live_and_allowed_after_it_died() {
    let lab = blocking_lab();
    let mut first = spawn_until_running(&lab, &["run", "--tag", "t", "--max-experiments", "1"]);

    let second = lab.autolab(&["run", "--tag", "t", "--max-experiments", "1"]);
    assert_eq!(second.status.code(), Some(1));
    let err = stderr(&second);
    assert!(
        err.contains("another `autolab run` is live on this lab"),
        "{err}"
    );
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    let status = lab.json(&["status", "--json"]);
    assert_eq!(status["orchestrator"], "running");
    assert_eq!(status["running"], serde_json::json!([0]));

    first.kill().unwrap(); // SIGKILL: no cleanup at all
    first.wait().unwrap();
    let status = lab.json(&["status", "--json"]);
    assert_eq!(status["orchestrator"], "stale", "{status}");

    lab.write("go", "");
    let third = lab.autolab(&["run", "--tag", "t", "--max-experiments", "1"]);
    assert!(third.status.success(), "{}", stderr(&third));
    let rows = lab.json(&["results", "--format", "json"]);
    assert_eq!(rows[0]["verdict"], "kept");
    assert_eq!(
        rows[0]["runs"], 2,
        "the interrupted run is recorded, and one more ran"
    );
}

#[test]
fn sigterm_stops_cleanly_recording_cancelled_runs() {
    let lab = blocking_lab();
    let mut first = spawn_until_running(&lab, &["run", "--tag", "t", "--max-experiments", "1"]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = first.wait().unwrap();
    assert!(status.success(), "a clean stop exits 0");
    let conn = lab.ledger();
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM runs WHERE outcome = 'cancelled'"
        ),
        1
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM experiments WHERE state = 'queued'"
        ),
        1
    );
    let pid: i64 = conn
        .query_row("SELECT pid FROM runs", [], |r| r.get(0))
        .unwrap();
    assert!(!alive(pid as i32), "the run's process survived the stop");
}
