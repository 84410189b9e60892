//! `autolab run` killed with SIGKILL at many instants and restarted: nothing lost, nothing
//! duplicated, git and results.tsv agree with the ledger, nothing left behind.

use std::process::Stdio;

use super::common::*;

const EXPERIMENTS: i64 = 10;

type Condition = Box<dyn Fn(&rusqlite::Connection) -> bool>;

fn slow_lab() -> TestLab {
    let lab = TestLab::new();
    lab.write("params.json", "{\"x\": 0.9}\n");
    lab.write(
        "run.sh",
        "sleep 1000 &\nsleep 0.2\nx=$(sed -n 's/.*\"x\": *\\([0-9.e-]*\\).*/\\1/p' params.json)\necho \"val_loss: $x\"\n",
    );
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"sh run.sh\"\neditable = [\"params.json\"]\n[metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n[params]\napply = { json = \"params.json\" }\nx = { float = [0.0, 1.0] }\n[runner]\nparallel = 2\n",
    );
    lab.commit("lab");
    lab
}

fn run_args() -> Vec<String> {
    [
        "run",
        "--tag",
        "t",
        "--max-experiments",
        &EXPERIMENTS.to_string(),
        "--seed",
        "11",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn sigkill_at_many_instants_then_resume_loses_and_duplicates_nothing() {
    let lab = slow_lab();
    // Kill points: while runs are going (by runs started) and right after verdicts land.
    let conditions: Vec<(&str, Condition)> = vec![
        (
            "first run started",
            Box::new(|c| count(c, "SELECT COUNT(*) FROM runs") >= 1),
        ),
        (
            "baseline judged",
            Box::new(|c| {
                count(
                    c,
                    "SELECT COUNT(*) FROM experiments WHERE verdict IS NOT NULL",
                ) >= 1
            }),
        ),
        (
            "two runs live",
            Box::new(|c| count(c, "SELECT COUNT(*) FROM runs WHERE outcome = 'running'") >= 2),
        ),
        (
            "a proposal recorded",
            Box::new(|c| {
                count(
                    c,
                    "SELECT COUNT(*) FROM experiments WHERE state IN ('proposed','implementing')",
                ) >= 1
            }),
        ),
        (
            "4 verdicts",
            Box::new(|c| {
                count(
                    c,
                    "SELECT COUNT(*) FROM experiments WHERE verdict IS NOT NULL",
                ) >= 4
            }),
        ),
        (
            "7 runs",
            Box::new(|c| count(c, "SELECT COUNT(*) FROM runs") >= 7),
        ),
        (
            "6 verdicts",
            Box::new(|c| {
                count(
                    c,
                    "SELECT COUNT(*) FROM experiments WHERE verdict IS NOT NULL",
                ) >= 6
            }),
        ),
    ];
    let mut kills = 0;
    for (what, cond) in &conditions {
        let done = lab.path().join(".autolab/ledger.db").exists()
            && count(
                &lab.ledger(),
                "SELECT COUNT(*) FROM experiments WHERE verdict IS NOT NULL",
            ) >= EXPERIMENTS;
        if done {
            break;
        }
        let mut child = lab
            .cmd()
            .args(run_args())
            .stderr(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "run ended with {status} before `{what}`");
                break;
            }
            if let Ok(conn) = rusqlite::Connection::open(lab.path().join(".autolab/ledger.db"))
                && cond(&conn)
            {
                child.kill().unwrap();
                child.wait().unwrap();
                kills += 1;
                break;
            }
            assert!(std::time::Instant::now() < deadline, "waiting for `{what}`");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    assert!(kills >= 4, "only {kills} kills landed");
    let out = lab.autolab(&run_args().iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", stderr(&out));

    assert_consistent(&lab, EXPERIMENTS);
}

/// After a campaign is done: every experiment once with one verdict, git and results.tsv agree
/// with the ledger, nothing left behind.
pub fn assert_consistent(lab: &TestLab, experiments: i64) {
    assert_consistent_tag(lab, experiments, "t");
}

pub fn assert_consistent_tag(lab: &TestLab, experiments: i64, tag: &str) {
    let conn = lab.ledger();
    // Every experiment exists once and has exactly one verdict.
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM experiments"),
        experiments
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(DISTINCT number) FROM experiments"),
        experiments
    );
    assert_eq!(
        count(&conn, "SELECT MAX(number) FROM experiments"),
        experiments - 1
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM experiments WHERE verdict IS NULL"
        ),
        0
    );
    let final_events = count(
        &conn,
        "SELECT COUNT(*) FROM events WHERE kind = 'transition' AND to_state IN ('kept','discarded','crashed','timeout','invalid')",
    );
    assert_eq!(
        final_events, experiments,
        "some experiment got more than one verdict"
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM runs WHERE outcome = 'running'"),
        0
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM experiments WHERE verdict = 'crashed'"
        ),
        0,
        "interrupted runs must not become crashes"
    );

    // The incumbent branch is the best kept commit.
    let (best_commit, best_number): (String, i64) = conn
        .query_row("SELECT commit_sha, number FROM experiments WHERE verdict = 'kept' ORDER BY score ASC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert_eq!(
        lab.git(&["rev-parse", &format!("autolab/{tag}")]).trim(),
        best_commit
    );
    let status = lab.json(&["status", "--json"]);
    assert_eq!(status["incumbent"]["id"], best_number);

    // results.tsv equals the ledger.
    let rows = lab.json(&["results", "--format", "json"]);
    let tsv = lab.read("results.tsv");
    assert_eq!(tsv.lines().count() as i64, experiments + 1);
    for (line, r) in tsv.lines().skip(1).zip(rows.as_array().unwrap()) {
        assert!(
            line.starts_with(&r["commit"].as_str().unwrap()[..7]),
            "{line} vs {r}"
        );
        assert!(line.ends_with(r["title"].as_str().unwrap()));
    }
    assert_eq!(stdout(&lab.autolab(&["results", "--format", "tsv"])), tsv);

    // Nothing left behind: worktrees, experiment branches, git locks, processes.
    assert!(
        lab.extra_worktrees().is_empty(),
        "{:?}",
        lab.extra_worktrees()
    );
    assert_eq!(lab.git(&["branch", "--list", "autolab-exp/*"]), "");
    let locks = std::process::Command::new("find")
        .arg(lab.path().join(".git"))
        .args(["-name", "*.lock"])
        .output()
        .unwrap();
    assert_eq!(stdout(&locks), "", "git lock files left");
    assert_eq!(leftovers(lab), Vec::<i32>::new());
}

#[test]
fn a_stale_git_lock_and_a_worktree_deleted_by_hand_are_repaired() {
    let lab = slow_lab();
    let mut child = lab
        .cmd()
        .args(run_args())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    lab.wait_for("2 runs live", |c| {
        count(
            c,
            "SELECT COUNT(*) FROM runs WHERE outcome = 'running' AND pid IS NOT NULL",
        ) >= 2
    });
    child.kill().unwrap();
    child.wait().unwrap();
    // Simulate the mess a crash can leave, and a user tidying up by hand.
    let wt_root = lab.path().join(".autolab/worktrees/t");
    let victim = std::fs::read_dir(&wt_root)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    std::fs::remove_dir_all(&victim).unwrap();
    let admin = std::fs::read_dir(lab.path().join(".git/worktrees"))
        .unwrap()
        .flatten()
        .next()
        .map(|e| e.path());
    if let Some(admin) = admin {
        std::fs::write(admin.join("index.lock"), "").unwrap();
    }
    std::fs::create_dir_all(lab.path().join(".git/refs/heads/autolab")).unwrap();
    std::fs::write(lab.path().join(".git/refs/heads/autolab/t.lock"), "").unwrap();

    let out = lab.autolab(&run_args().iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("stale git lock"), "{}", stderr(&out));
    let conn = lab.ledger();
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM experiments WHERE verdict IS NOT NULL"
        ),
        EXPERIMENTS
    );
    assert!(lab.extra_worktrees().is_empty());
    assert_eq!(leftovers(&lab), Vec::<i32>::new());
}

#[test]
fn chaos_two_dozen_sigkills_at_random_instants() {
    const N: i64 = 40;
    let lab = slow_lab();
    let toml = lab
        .read("autolab.toml")
        .replace("[runner]", "[decide]\npolicy = \"noise-aware\"\n[runner]");
    lab.write("autolab.toml", &toml);
    lab.write(
        "run.sh",
        &lab.read("run.sh").replace("sleep 0.2", "sleep 0.05"),
    );
    lab.commit("faster");
    let args = [
        "run",
        "--tag",
        "chaos",
        "--max-experiments",
        "40",
        "--seed",
        "3",
    ];
    // A fixed pseudo-random sequence of kill instants, 5 to 300 ms after each start.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut kills = 0;
    for _ in 0..80 {
        if kills >= 24 {
            break;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let delay = std::time::Duration::from_millis(5 + x % 300);
        let mut child = lab
            .cmd()
            .args(args)
            .stderr(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills >= 20, "only {kills} kills landed mid-run");
    let out = lab.autolab(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let conn = lab.ledger();
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM campaigns"), 1);
    drop(conn);
    assert_consistent_tag(&lab, N, "chaos");
}
