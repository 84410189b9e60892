//! `autolab pause`, `resume`, `stop` and `cancel N` from another process on a live campaign:
//! each goes through the ledger's inbox, is taken by the loop and answered with its effect.

use std::process::{Child, Stdio};
use std::time::Duration;

use super::common::*;

/// Candidates hold at gates the test opens: #1 runs until killed, #2 until `gate2` exists.
/// The lab is visible, read-only, to sandboxed runs.
fn gated_lab() -> TestLab {
    let lab = TestLab::new();
    lab.write(
        "run.sh",
        "n=${AUTOLAB_EXPERIMENT##*/}\n\
         if [ \"$n\" = 0001 ]; then sleep 1000; fi\n\
         if [ \"$n\" = 0002 ]; then while [ ! -e ../../../../gate2 ]; do sleep 0.05; done; fi\n\
         echo \"val_loss: 0.$n\"\n",
    );
    lab.write(".gitignore", "gate2\n");
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"sh run.sh\"\ntimeout = \"10m\"\n\
         [metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n\
         [params]\napply = { env = \"P_\" }\nx = { float = [0.0, 1.0] }\n\
         [decide]\npolicy = \"strict\"\n[runner]\nkill_grace = \"300ms\"\n",
    );
    lab.commit("lab");
    lab
}

fn spawn_run(lab: &TestLab, tag: &str, max: &str) -> Child {
    lab.cmd()
        .args(["run", "--tag", tag, "--max-experiments", max])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn running(n: u32) -> String {
    format!(
        "SELECT COUNT(*) FROM runs r JOIN experiments e ON r.experiment_id = e.id \
         WHERE e.number = {n} AND r.outcome = 'running' AND r.pid IS NOT NULL"
    )
}

fn state(lab: &TestLab, n: u32) -> String {
    lab.ledger()
        .query_row(
            "SELECT state FROM experiments WHERE number = ?1",
            [n],
            |r| r.get(0),
        )
        .unwrap()
}

fn said(out: &std::process::Output) -> String {
    format!("{}{}", stdout(out), stderr(out))
}

#[test]
fn cancel_pause_and_resume_act_on_a_live_campaign_and_nothing_else() {
    let lab = gated_lab();
    let child = spawn_run(&lab, "t", "4");
    lab.wait_for("#1 running", |c| count(c, &running(1)) == 1);

    // Refusals change nothing and fail.
    let base = lab.autolab(&["cancel", "0"]);
    assert!(!base.status.success(), "{}", said(&base));
    assert!(said(&base).contains("baseline"), "{}", said(&base));
    let none = lab.autolab(&["cancel", "9"]);
    assert!(!none.status.success() && said(&none).contains("no experiment #0009"));

    // cancel 1: its run is killed, its verdict is `cancelled`.
    let pid: i32 = lab
        .ledger()
        .query_row(
            "SELECT r.pid FROM runs r JOIN experiments e ON r.experiment_id = e.id WHERE e.number = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let out = lab.autolab(&["cancel", "1"]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("cancelling #0001"), "{}", said(&out));
    lab.wait_for("#1 cancelled", |c| {
        count(
            c,
            "SELECT COUNT(*) FROM experiments WHERE number = 1 AND verdict = 'cancelled'",
        ) == 1
    });
    assert!(!alive(pid), "the cancelled run's process is gone");
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["verdict"], "cancelled", "{one}");
    assert!(
        one["reason"]
            .as_str()
            .unwrap()
            .contains("via autolab cancel"),
        "{one}"
    );
    let again = lab.autolab(&["cancel", "1"]);
    assert!(!again.status.success() && said(&again).contains("judged already"));

    // The campaign went on: #2 runs (held at its gate). Pause while it runs.
    lab.wait_for("#2 running", |c| count(c, &running(2)) == 1);
    let out = lab.autolab(&["pause"]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("paused: 1 running"), "{}", said(&out));
    let status = lab.json(&["status", "--json"]);
    assert_eq!(status["orchestrator"], "paused", "{status}");
    assert!(
        status["paused_by"]
            .as_str()
            .unwrap()
            .contains("via autolab pause")
    );

    // #2 finishes and is judged while paused; nothing new starts.
    std::fs::write(lab.path().join("gate2"), "").unwrap();
    lab.wait_for("#2 judged", |c| {
        count(
            c,
            "SELECT COUNT(*) FROM experiments WHERE number = 2 AND verdict IS NOT NULL",
        ) == 1
    });
    // An answer to a second command comes a whole turn of the loop after #2's verdict.
    let out = lab.autolab(&["pause"]);
    assert!(said(&out).contains("already paused"), "{}", said(&out));
    assert_eq!(
        count(&lab.ledger(), "SELECT COUNT(*) FROM experiments"),
        3,
        "nothing new started while paused"
    );
    assert_eq!(state(&lab, 0), "kept");

    // Resume: the campaign goes on where it paused and reaches its budget.
    let out = lab.autolab(&["resume"]);
    assert!(said(&out).contains("resumed"), "{}", said(&out));
    let out = output_within(child, Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("budget reached"), "{}", stderr(&out));
    let conn = lab.ledger();
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM experiments"), 4);
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM experiments WHERE verdict = 'cancelled'"
        ),
        1,
        "only #1 was cancelled"
    );
    // #1 ran once and was never run again.
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM runs r JOIN experiments e ON r.experiment_id = e.id WHERE e.number = 1"
        ),
        1
    );
    // Each command is recorded with who and its effect.
    let taken = count(
        &conn,
        "SELECT COUNT(*) FROM controls WHERE taken_at IS NOT NULL AND effect IS NOT NULL AND by LIKE '%via autolab%'",
    );
    assert_eq!(
        taken, 7,
        "cancel 0, cancel 9, cancel 1 (twice), pause (twice), resume"
    );
    // The optimizer's history leaves the cancelled point out; results.tsv lists it as a discard.
    let tsv = lab.read("results.tsv");
    assert_eq!(tsv.lines().count(), 5, "{tsv}");
}

#[test]
fn stop_from_another_terminal_ends_the_run_and_the_next_run_goes_on() {
    let lab = gated_lab();
    let child = spawn_run(&lab, "s", "3");
    lab.wait_for("#1 running", |c| count(c, &running(1)) == 1);
    // A row no command can be read from (written by hand) is refused; the run goes on.
    lab.ledger()
        .execute(
            "INSERT INTO controls (campaign_id, command, arg, by, at) VALUES (1, 'cancel', 'abc', 'x', 1e12)",
            [],
        )
        .unwrap();
    lab.wait_for("the bad row refused", |c| {
        count(c, "SELECT COUNT(*) FROM controls WHERE effect LIKE 'refused: unreadable: `cancel` needs an experiment number, found `abc`'") == 1
    });
    let out = lab.autolab(&["stop", "--tag", "s"]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("stopping: 1 running"), "{}", said(&out));
    let out = output_within(child, Duration::from_secs(60));
    assert!(stderr(&out).contains("stopped"), "{}", stderr(&out));
    // Stopped, not cancelled: #1 waits to run again.
    assert_eq!(state(&lab, 1), "queued");
    assert!(leftovers(&lab).is_empty(), "{:?}", leftovers(&lab));

    // With no run live, commands are refused and write nothing.
    let out = lab.autolab(&["pause"]);
    assert!(!out.status.success());
    assert!(said(&out).contains("not running"), "{}", said(&out));
    assert!(said(&out).contains("autolab run --tag s"), "{}", said(&out));
    let out = lab.autolab(&["stop"]);
    assert!(!out.status.success());
    assert!(said(&out).contains("nothing to stop"), "{}", said(&out));
    assert_eq!(
        count(
            &lab.ledger(),
            "SELECT COUNT(*) FROM controls WHERE command = 'pause'"
        ),
        0
    );
}

#[test]
fn cancel_while_the_llm_writes_the_code_waits_for_the_coder_and_never_runs_it() {
    use autolab_llm::fake::FakeServer;

    use super::agent::{EDIT_VAL, is_ideation, is_lesson, openai, shell_lab};
    use super::learning::distinct_idea;

    let db = std::sync::Arc::new(std::sync::Mutex::new(None::<std::path::PathBuf>));
    let seen = db.clone();
    let codings = std::sync::atomic::AtomicUsize::new(0);
    let ideations = std::sync::atomic::AtomicUsize::new(0);
    let server = FakeServer::from_fn(move |r| {
        use std::sync::atomic::Ordering;
        if is_ideation(r) {
            return openai(&distinct_idea(ideations.fetch_add(1, Ordering::SeqCst) + 1));
        }
        if is_lesson(r) {
            return openai("A lesson.");
        }
        // The first coding call: #1 is cancelled while its code is being written, and the
        // coder answers only once the campaign has taken the command.
        if codings.fetch_add(1, Ordering::SeqCst) == 0
            && let Some(path) = seen.lock().unwrap().clone()
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute(
                "INSERT INTO controls (campaign_id, command, arg, by, at) VALUES (1, 'cancel', '1', 'test', strftime('%s','now') + 0.0 + 1e9)",
                [],
            )
            .unwrap();
            while count(
                &conn,
                "SELECT COUNT(*) FROM controls WHERE taken_at IS NOT NULL",
            ) == 0
            {
                std::thread::park_timeout(Duration::from_millis(20));
            }
        }
        openai(EDIT_VAL)
    });
    let lab = shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nmax_retries = 0\n[explore]\nauto = false\n",
        server.url()
    ));
    *db.lock().unwrap() = Some(lab.path().join(".autolab/ledger.db"));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let conn = lab.ledger();
    let effect: String = conn
        .query_row("SELECT effect FROM controls", [], |r| r.get(0))
        .unwrap();
    assert!(effect.contains("its code is being written"), "{effect}");
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["verdict"], "cancelled", "{one}");
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM runs r JOIN experiments e ON r.experiment_id = e.id WHERE e.number = 1"
        ),
        0,
        "the cancelled experiment never ran"
    );
    assert!(
        lab.extra_worktrees().is_empty(),
        "{:?}",
        lab.extra_worktrees()
    );
}
