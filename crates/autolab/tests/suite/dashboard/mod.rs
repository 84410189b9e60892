//! `autolab serve`: the dashboard over HTTP and in a real headless Chromium, against live
//! campaigns (one with a fake LLM), while they run, after they are killed, and under attack.

mod browser;
pub(super) mod server;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use autolab_llm::fake::{FakeReply, FakeServer};
use browser::Browser;
use server::Served;

use super::common::*;

/// A lab whose runs print a `<script>` before their metric.
fn script_lab() -> TestLab {
    let lab = TestLab::new();
    lab.write(
        "run.sh",
        "echo '<script>alert(1)</script>'\necho 'step: 1 val_loss: 0.95'\necho 'step: 2 val_loss: 0.93'\necho \"val_loss: 0.$P_X\"\n",
    );
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"sh run.sh\"\n[metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n\
         [params]\napply = { env = \"P_\" }\nx = { int = [1, 9] }\n[decide]\npolicy = \"strict\"\n",
    );
    lab.commit("lab");
    lab
}

#[test]
fn beyond_loopback_every_request_needs_the_token_and_a_logged_script_stays_text() {
    let lab = script_lab();
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = Served::start(&lab, &["--host", "0.0.0.0"]);
    for path in ["/", "/experiment/1?tag=t", "/events", "/assets/app.js"] {
        assert_eq!(s.get(path).0, 401, "{path} without the token");
    }
    let wrong = format!("/?token={}x", s.token);
    assert_eq!(s.get(&wrong).0, 401);
    let (code, page) = s.get(&format!("/?token={}", s.token));
    assert_eq!(code, 200, "{page}");
    assert!(
        page.contains("Leaderboard") && page.contains("id=\"card-1\""),
        "{page}"
    );
    let (code, page) = s.get(&format!("/experiment/1?tag=t&token={}", s.token));
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)"), "{page}");
    assert!(
        !page.contains("<script>alert"),
        "a logged script is markup: {page}"
    );
    // A command needs the token too; with it, a campaign that is not live cannot take one.
    assert_eq!(s.control(&[("tag", "t"), ("command", "pause")]).0, 401);
    let (code, said) = s.control(&[
        ("tag", "t"),
        ("command", "pause"),
        ("token", &s.token),
        ("token", ""),
    ]);
    assert_eq!(
        code, 401,
        "the guard reads the query, header or cookie: {said}"
    );
}

#[test]
fn on_loopback_pages_are_open_and_controls_still_need_the_token() {
    let lab = script_lab();
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = Served::start(&lab, &[]);
    let (code, page) = s.get("/");
    assert_eq!(code, 200);
    assert!(page.contains("Controls need the token"), "{page}");
    assert!(
        !page.contains(&s.token),
        "the token never reaches a page without it"
    );
    let (code, said) = s.control(&[("tag", "t"), ("command", "pause")]);
    assert_eq!(code, 403, "{said}");
    let (code, said) = s.control(&[("tag", "t"), ("command", "pause"), ("token", &s.token)]);
    assert_eq!(code, 409, "{said}");
    assert!(said.contains("no run of campaign `t` is live"), "{said}");
    let (code, said) = s.control(&[
        ("tag", "t"),
        ("command", "cancel"),
        ("arg", "x"),
        ("token", &s.token),
    ]);
    assert_eq!(code, 400, "{said}");
    // A steering note is written even with no run live; the next ideation reads it.
    let (code, said) = s.control(&[
        ("tag", "t"),
        ("command", "steer"),
        ("arg", "try small x"),
        ("token", &s.token),
    ]);
    assert_eq!(code, 200, "{said}");
    assert!(lab.read(".autolab/steering.md").contains("- try small x"));
    // A note is one line of at most 2,000 characters: no separator forges a second note.
    let long = "x".repeat(2001);
    let (code, said) = s.control(&[
        ("tag", "t"),
        ("command", "steer"),
        ("arg", &long),
        ("token", &s.token),
    ]);
    assert_eq!(code, 413, "{said}");
    let forged = "a\u{2028}- forged note\r\n- another";
    let (code, said) = s.control(&[
        ("tag", "t"),
        ("command", "steer"),
        ("arg", forged),
        ("token", &s.token),
    ]);
    assert_eq!(code, 200, "{said}");
    let notes = lab.read(".autolab/steering.md");
    assert_eq!(notes.lines().count(), 2, "{notes}");
    assert!(notes.lines().all(|l| l.starts_with("- ")), "{notes}");

    // Two campaigns side by side.
    let out = lab.autolab(&["run", "--tag", "u", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (_, page) = s.get("/?tag=t&compare=u");
    assert!(page.contains("compared with u"), "{page}");
    assert_eq!(page.matches("class=\"plot\"").count(), 2, "two plots");
    let (_, page) = s.get("/?tag=t&compare=nope");
    assert!(
        !page.contains("compared with"),
        "an unknown campaign is not compared"
    );

    let ro = Served::start(&lab, &["--read-only"]);
    let (_, page) = ro.get("/");
    assert!(page.contains("read-only dashboard"), "{page}");
    let (code, _) = ro.control(&[("tag", "t"), ("command", "pause"), ("token", &ro.token)]);
    assert_eq!(code, 403);
}

#[test]
fn a_reconnecting_page_gets_the_events_it_missed() {
    let lab = script_lab();
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = Served::start(&lab, &[]);
    let first: i64 = lab
        .ledger()
        .query_row("SELECT MIN(id) FROM events", [], |r| r.get(0))
        .unwrap();
    let mut r = s
        .http
        .get(&format!("{}/events", s.base))
        .header("Last-Event-ID", first.to_string())
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut lines = BufReader::new(r.body_mut().as_reader()).lines();
    let mut ids = Vec::new();
    while ids.len() < 3 {
        let line = lines.next().expect("the stream goes on").unwrap();
        if let Some(id) = line.strip_prefix("id: ") {
            ids.push(id.parse::<i64>().unwrap());
        }
    }
    assert_eq!(
        ids,
        [first + 1, first + 2, first + 3],
        "replayed in order, after the last seen"
    );
}

const IDEA: &str = r#"{"ideas": [{"title": "Idea NUMBER", "hypothesis": "a smaller number is better", "plan": "write 0.25", "files": ["val.txt"], "expected_effect": "-0.25", "risk": "low"}]}"#;
const EDIT: &str = "val.txt\n```\n<<<<<<< SEARCH\n0.5\n=======\n0.25\n>>>>>>> REPLACE\n```\n";

fn openai(text: &str) -> FakeReply {
    FakeReply::OpenAi {
        text: text.into(),
        prompt_tokens: 100,
        completion_tokens: 10,
    }
}

/// An LLM lab whose candidates hold at gates: #1 runs until killed, #2 until `gate2` exists;
/// the others print a `<script>` and a worse score than the baseline's, so every candidate's
/// edit applies to the unchanged incumbent.
fn gated_llm_lab(server: &FakeServer) -> TestLab {
    let lab = TestLab::new();
    lab.write("val.txt", "0.5\n");
    lab.write(
        "run.sh",
        "n=${AUTOLAB_EXPERIMENT##*/}\n\
         if [ \"$n\" = 0001 ]; then sleep 1000; fi\n\
         if [ \"$n\" = 0002 ]; then while [ ! -e ../../../../gate2 ]; do sleep 0.05; done; fi\n\
         if [ \"$n\" = 0000 ]; then echo 'val_loss: 0.5'; else echo '<script>alert(1)</script>'; echo 'val_loss: 0.9'; fi\n",
    );
    lab.write(".gitignore", "gate2\n");
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ngoal = \"Lower val_loss.\"\ncommand = \"sh run.sh\"\neditable = [\"val.txt\"]\ntimeout = \"10m\"\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n[decide]\npolicy = \"strict\"\n\
             [runner]\nkill_grace = \"300ms\"\n\
             [agent]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nideas_per_call = 1\n",
            server.url()
        ),
    );
    lab.commit("lab");
    lab
}

fn screenshots() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/dashboard-screenshots")
}

/// A campaign run in the background, killed if the test ends early (a failing assertion).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_run(lab: &TestLab, max: &str) -> Running {
    Running(
        lab.cmd()
            .args(["run", "--tag", "t", "--max-experiments", max])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn verdict(lab: &TestLab, n: u32) -> Option<String> {
    lab.ledger()
        .query_row(
            "SELECT verdict FROM experiments WHERE number = ?1",
            [n],
            |r| r.get(0),
        )
        .unwrap_or(None)
}

#[test]
fn a_live_campaign_in_a_browser_moves_cards_plots_points_and_takes_commands_from_the_page() {
    let Some(b) = Browser::start() else { return };
    let ideas = Arc::new(AtomicUsize::new(0));
    let n = ideas.clone();
    let server = FakeServer::from_fn(move |r| {
        if r.body.contains("Propose ") {
            let k = n.fetch_add(1, Ordering::SeqCst);
            openai(&IDEA.replace("NUMBER", &k.to_string()))
        } else if r.body.contains("Write ONE lesson") {
            openai("A lesson.")
        } else {
            openai(EDIT)
        }
    });
    let lab = gated_llm_lab(&server);
    let mut run = spawn_run(&lab, "30");
    let s = Served::start(&lab, &["--tag", "t"]);
    b.goto(&s.url("/"));
    // Marks this page: a reload would lose it.
    b.script("window.autolabMark = 'same page'; return null;");

    // #1 shows up running, without a reload.
    b.wait(r#".column[data-column="running"] #card-1"#, |t| {
        t.contains("#0001")
    });
    let points = |b: &Browser| -> u64 {
        b.script("return Number(document.querySelector('svg.plot').dataset.points)")
            .as_u64()
            .unwrap_or(0)
    };
    let before = points(&b);
    assert!(before >= 1, "the baseline's point");

    // Cancel #1 from the page: its run is killed and its verdict is `cancelled`.
    b.click("#cancel-1");
    b.wait(r#".column[data-column="judged"] #card-1"#, |t| {
        t.contains("cancelled")
    });
    assert_eq!(verdict(&lab, 1).as_deref(), Some("cancelled"));

    // Pause while #2 runs: it finishes and is judged; the plot gains its point.
    b.wait(r#".column[data-column="running"] #card-2"#, |_| true);
    b.click("#pause");
    b.wait("#orchestrator", |t| t == "paused");
    std::fs::write(lab.path().join("gate2"), "").unwrap();
    b.wait(r#".column[data-column="judged"] #card-2"#, |t| {
        t.contains("discarded")
    });
    let start = std::time::Instant::now();
    while points(&b) <= before {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "the plot never gained #2's point"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let started = lab
        .ledger()
        .query_row("SELECT COUNT(*) FROM runs", [], |r| r.get::<_, i64>(0))
        .unwrap();
    b.screenshot(&screenshots().join("overview.png"));

    // A steering note typed in the page reaches the next ideation after the resume.
    b.type_into("#steer-text", "prefer values near zero");
    b.click("#steer");
    b.wait("#control-answer", |t| t.contains("steer"));
    b.wait("#steering", |t| t.contains("prefer values near zero"));
    assert_eq!(
        lab.ledger()
            .query_row("SELECT COUNT(*) FROM runs", [], |r| r.get::<_, i64>(0))
            .unwrap(),
        started,
        "nothing started while paused"
    );
    b.click("#resume");
    b.wait("#orchestrator", |t| t == "running");
    let start = std::time::Instant::now();
    while !server
        .requests()
        .iter()
        .any(|r| r.body.contains("Propose ") && r.body.contains("prefer values near zero"))
    {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "no ideation read the note"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mark = b.script("return window.autolabMark || null");
    assert_eq!(mark, "same page", "the page was never reloaded");
    b.screenshot(&screenshots().join("board.png"));

    // The experiment page: a logged `<script>` is text, not markup.
    b.goto(&s.url("/experiment/2?tag=t"));
    let log = b.wait("#log", |t| t.contains("<script>alert(1)</script>"));
    let _ = log;
    assert_eq!(
        b.script("return document.querySelectorAll('pre script').length"),
        0
    );
    b.screenshot(&screenshots().join("experiment.png"));

    // kill -9 the campaign: a page opened after shows the orchestrator stale, the ledger's state.
    let _ = std::process::Command::new("kill")
        .args(["-9", &run.0.id().to_string()])
        .status();
    let _ = run.0.wait();
    b.goto(&s.url("/"));
    b.wait("#orchestrator", |t| t == "stale");
    b.wait(r#".column[data-column="judged"] #card-2"#, |t| {
        t.contains("discarded")
    });
}

#[test]
fn candidates_wait_for_approval_and_the_page_approves_or_rejects_them() {
    let lab = TestLab::new();
    lab.write("run.sh", "echo \"val_loss: 0.$P_X\"\n");
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"sh run.sh\"\n[metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n\
         [params]\napply = { env = \"P_\" }\nx = { int = [1, 9] }\n[decide]\npolicy = \"strict\"\napprove = true\n",
    );
    lab.commit("lab");
    let mut run = spawn_run(&lab, "3");
    let s = Served::start(&lab, &["--tag", "t"]);
    let awaiting = |n: u32| {
        move |c: &rusqlite::Connection| {
            count(
                c,
                &format!(
                    "SELECT COUNT(*) FROM events WHERE kind = 'awaiting-approval' AND detail LIKE '%\"experiment\":{n}%'"
                ),
            ) == 1
        }
    };
    lab.wait_for("#1 to wait for approval", awaiting(1));
    let status = lab.autolab(&["status"]);
    let said = stdout(&status);
    assert!(
        said.contains("#0001 waits for approval") && said.contains("`autolab approve 1`"),
        "{said}"
    );
    let (_, page) = s.get(&format!("/?token={}", s.token));
    assert!(
        page.contains("id=\"approve-1\"") && page.contains("waits for approval"),
        "{page}"
    );
    assert_eq!(
        count(&lab.ledger(), "SELECT COUNT(*) FROM runs"),
        1,
        "only the baseline ran"
    );
    let (code, said) = s.control(&[
        ("tag", "t"),
        ("command", "approve"),
        ("arg", "1"),
        ("token", &s.token),
    ]);
    assert_eq!(code, 200, "{said}");
    lab.wait_for("#1 judged", |c| {
        count(
            c,
            "SELECT COUNT(*) FROM experiments WHERE number = 1 AND verdict IS NOT NULL",
        ) == 1
    });
    lab.wait_for("#2 to wait for approval", awaiting(2));
    let (code, said) = s.control(&[
        ("tag", "t"),
        ("command", "reject"),
        ("arg", "2"),
        ("token", &s.token),
    ]);
    assert_eq!(code, 200, "{said}");
    let out = output_within(
        std::mem::replace(
            &mut run.0,
            std::process::Command::new("true").spawn().unwrap(),
        ),
        std::time::Duration::from_secs(60),
    );
    assert!(out.status.success());
    assert_eq!(verdict(&lab, 2).as_deref(), Some("cancelled"));
    let two = lab.json(&["show", "2", "--json"]);
    assert!(
        two["reason"]
            .as_str()
            .unwrap()
            .starts_with("rejected by the dashboard"),
        "{two}"
    );
    assert_eq!(two["runs"], 0, "a rejected candidate never ran");
}
