use std::sync::{Arc, Mutex};

use autolab_core::config::{NOTIFY_EVENTS, Notify};
use autolab_llm::fake::{FakeReply, FakeServer};
use serde_json::json;

use super::*;

fn cfg() -> Notify {
    Notify {
        webhook: None,
        command: None,
        ntfy: None,
        events: NOTIFY_EVENTS.iter().map(|e| e.to_string()).collect(),
        retries: 0,
        timeout_secs: 5,
    }
}

fn event(kind: &str) -> Event {
    Event {
        kind: kind.into(),
        tag: "nov30".into(),
        text: "new best #3: val_loss 0.91".into(),
        data: json!({"experiment": 3}),
    }
}

#[test]
fn a_webhook_gets_the_event_as_json_with_a_slack_text() {
    let server = FakeServer::start(vec![FakeReply::status(200, "ok")]);
    let c = Notify {
        webhook: Some(format!("{}/hook", server.url())),
        ..cfg()
    };
    assert_eq!(deliver(&c, &[], &event("new_best")), vec![]);
    let got = server.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].path, "/hook");
    let body = got[0].json().unwrap();
    assert_eq!(body["event"], "new_best");
    assert_eq!(body["campaign"], "nov30");
    assert_eq!(body["text"], "autolab [nov30] new best #3: val_loss 0.91");
    assert_eq!(body["data"]["experiment"], 3);
}

#[test]
fn ntfy_gets_the_text_with_a_title() {
    let server = FakeServer::start(vec![FakeReply::status(200, "{}")]);
    let c = Notify {
        ntfy: Some(format!("{}/my-topic", server.url())),
        ..cfg()
    };
    assert_eq!(deliver(&c, &[], &event("paused")), vec![]);
    let got = server.requests();
    assert_eq!(got[0].path, "/my-topic");
    assert_eq!(got[0].body, "autolab [nov30] new best #3: val_loss 0.91");
    assert_eq!(got[0].header("title"), Some("autolab: paused"));
}

#[test]
fn a_command_reads_the_event_on_its_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("got.json");
    let c = Notify {
        command: Some(format!("cat > '{}'", out.display())),
        ..cfg()
    };
    assert_eq!(deliver(&c, &[], &event("finished")), vec![]);
    let got: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(got["event"], "finished");
    assert_eq!(got["data"]["experiment"], 3);
}

#[test]
fn a_failing_destination_is_retried_then_reported_and_the_others_still_get_it() {
    let failing = FakeServer::from_fn(|_| FakeReply::status(500, "down"));
    let fine = FakeServer::start(vec![FakeReply::status(204, "")]);
    let c = Notify {
        webhook: Some(failing.url()),
        ntfy: Some(fine.url()),
        command: Some("echo broken >&2; exit 3".into()),
        retries: 2,
        ..cfg()
    };
    let failed = deliver(&c, &[], &event("crash_streak"));
    assert_eq!(failing.requests().len(), 3, "one try and two retries");
    assert_eq!(fine.requests().len(), 1);
    assert_eq!(
        failed,
        vec![
            Undelivered {
                kind: "crash_streak".into(),
                destination: format!("webhook {}", failing.url()),
                why: "HTTP 500".into(),
            },
            Undelivered {
                kind: "crash_streak".into(),
                destination: "command `echo broken >&2; exit 3`".into(),
                why: "exit code 3: broken".into(),
            },
        ]
    );
}

#[test]
fn a_command_that_hangs_is_killed_after_its_timeout() {
    let c = Notify {
        command: Some("sleep 600".into()),
        timeout_secs: 1,
        ..cfg()
    };
    let failed = deliver(&c, &[], &event("finished"));
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].why, "did not end within 1 s");
}

#[test]
fn only_the_configured_events_are_sent() {
    let server = FakeServer::from_fn(|_| FakeReply::status(200, "ok"));
    let c = Notify {
        webhook: Some(server.url()),
        events: vec!["paused".into()],
        ..cfg()
    };
    let mut n = Notifier::start(&c, "t", vec![]);
    n.send("new_best", "x", json!({}));
    n.send("paused", "y", json!({}));
    assert_eq!(n.finish(), vec![]);
    let got = server.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json().unwrap()["event"], "paused");
}

#[test]
fn a_receiver_that_never_answers_holds_neither_send_nor_the_end_past_its_timeout() {
    // The receiver holds every request until the test lets go.
    let gate = Arc::new(Mutex::new(()));
    let held = gate.lock().unwrap();
    let g = Arc::clone(&gate);
    let server = FakeServer::from_fn(move |_| {
        let _wait = g.lock();
        FakeReply::status(200, "ok")
    });
    let c = Notify {
        webhook: Some(server.url()),
        timeout_secs: 1,
        ..cfg()
    };
    let mut n = Notifier::start(&c, "t", vec![]);
    for i in 0..20 {
        n.send("new_best", format!("#{i}"), json!({}));
    }
    let out = n.finish();
    // Each event failed (its try timed out) or was given up at the end; none waited longer.
    assert!(
        out.iter().any(|f| f.why.starts_with("given up at the end")),
        "{out:?}"
    );
    assert!((20..=21).contains(&out.len()), "{out:?}");
    drop(held);
}

#[test]
fn a_silent_destination_does_not_hold_the_others() {
    let gate = Arc::new(Mutex::new(()));
    let held = gate.lock().unwrap();
    let g = Arc::clone(&gate);
    let silent = FakeServer::from_fn(move |_| {
        let _wait = g.lock();
        FakeReply::status(200, "ok")
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("got.jsonl");
    let c = Notify {
        webhook: Some(silent.url()),
        command: Some(format!(
            "cat >> '{}'; echo >> '{}'",
            out.display(),
            out.display()
        )),
        timeout_secs: 2,
        ..cfg()
    };
    let mut n = Notifier::start(&c, "t", vec![]);
    for kind in ["new_best", "paused", "finished"] {
        n.send(kind, "x", json!({}));
    }
    let failed = n.finish();
    let got = std::fs::read_to_string(&out).unwrap();
    assert_eq!(got.lines().filter(|l| !l.is_empty()).count(), 3, "{got}");
    assert!(
        failed.iter().all(|f| f.destination.starts_with("webhook")),
        "{failed:?}"
    );
    drop(held);
}

#[test]
fn a_command_gets_only_the_given_environment_and_leaves_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env.txt");
    let pid = dir.path().join("bg.pid");
    // SAFETY: tests in this binary do not read this variable.
    unsafe { std::env::set_var("AUTOLAB_TEST_NOTIFY_SECRET", "CANARY") };
    let c = Notify {
        command: Some(format!(
            "env > '{}'; sleep 600 & echo $! > '{}'",
            out.display(),
            pid.display()
        )),
        ..cfg()
    };
    let env = vec![("PATH".to_string(), std::env::var("PATH").unwrap())];
    assert_eq!(deliver(&c, &env, &event("finished")), vec![]);
    let seen = std::fs::read_to_string(&out).unwrap();
    assert!(!seen.contains("CANARY"), "{seen}");
    let bg: i32 = std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The background child was killed with the command's group: it is gone (or a zombie)
    // as soon as the signal lands.
    let alive = || {
        std::fs::read_to_string(format!("/proc/{bg}/stat"))
            .map(|s| s.split(' ').nth(2).is_none_or(|st| st != "Z"))
            .unwrap_or(false)
    };
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while alive() && std::time::Instant::now() < until {
        std::thread::park_timeout(std::time::Duration::from_millis(20));
    }
    assert!(
        !alive(),
        "the background child of a notify command outlived it"
    );
}

#[test]
fn titles_cannot_ping_or_disguise_links_in_slack_and_webhook_paths_stay_out_of_records() {
    let e = Event {
        kind: "new_best".into(),
        tag: "t".into(),
        text: "new best \"<!channel> <http://evil|click> & co\"".into(),
        data: json!({}),
    };
    assert_eq!(
        e.json()["text"],
        "autolab [t] new best \"&lt;!channel&gt; &lt;http://evil|click&gt; &amp; co\""
    );
    let c = Notify {
        webhook: Some("http://127.0.0.1:9/services/T000/B000/SECRETPATH".into()),
        ..cfg()
    };
    let failed = deliver(&c, &[], &event("paused"));
    assert_eq!(failed[0].destination, "webhook http://127.0.0.1:9");
    assert!(!failed[0].why.contains("SECRETPATH"), "{failed:?}");
}

#[test]
fn retries_back_off_doubling_up_to_half_a_minute() {
    let ms = |n| backoff(n).as_millis();
    assert_eq!(
        (0..9).map(ms).collect::<Vec<_>>(),
        [0, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]
    );
}

#[test]
fn failures_reach_the_loop_while_it_runs_and_a_bare_exit_code_is_said_as_such() {
    let failing = FakeServer::from_fn(|_| FakeReply::status(503, "busy"));
    let c = Notify {
        webhook: Some(failing.url()),
        command: Some("exit 3".into()),
        ..cfg()
    };
    let mut n = Notifier::start(&c, "t", vec![]);
    n.send("paused", "x", json!({}));
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut got = Vec::new();
    while got.len() < 2 && std::time::Instant::now() < until {
        got.extend(n.failures());
        std::thread::park_timeout(std::time::Duration::from_millis(20));
    }
    got.sort_by(|a, b| a.destination.cmp(&b.destination));
    let whys: Vec<&str> = got.iter().map(|f| f.why.as_str()).collect();
    assert_eq!(whys, ["exit code 3", "HTTP 503"], "{got:?}");
    assert_eq!(n.finish(), vec![]);
}
