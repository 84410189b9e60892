use std::time::{Duration, Instant};

use autolab_llm::fake::{FakeReply, FakeServer};
use autolab_llm::{LlmError, Provider};

use super::{ask, cfg};

#[test]
fn rate_limit_with_retry_after_is_waited_out_then_succeeds() {
    let server = FakeServer::start(vec![
        FakeReply::Status {
            code: 429,
            retry_after: Some(1),
            body: r#"{"error":{"message":"Rate limit reached","type":"requests"}}"#.into(),
        },
        FakeReply::openai("after the wait"),
    ]);
    let llm = autolab_llm::client(&cfg(Provider::OpenAi, "m", &server.url())).unwrap();

    let start = Instant::now();
    let reply = llm.complete(&ask("hi")).unwrap();

    assert_eq!(reply.text, "after the wait");
    assert_eq!(reply.attempts, 2);
    assert_eq!(server.requests().len(), 2);
    // Retry-After: 1 replaces the 0.25–0.5 s first backoff.
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert!(
        reply.latency >= Duration::from_secs(1),
        "{:?}",
        reply.latency
    );
}

#[test]
fn server_error_is_retried_then_succeeds() {
    let server = FakeServer::start(vec![
        FakeReply::status(500, "internal error"),
        FakeReply::anthropic("second time lucky"),
    ]);
    let llm = super::client_with(&cfg(Provider::Anthropic, "m", &server.url()), "k");
    let reply = llm.complete(&ask("hi")).unwrap();
    assert_eq!(reply.text, "second time lucky");
    assert_eq!(reply.attempts, 2);
}

#[test]
fn bad_request_fails_at_once_with_the_body() {
    let server = FakeServer::start(vec![
        FakeReply::status(400, r#"{"error":{"message":"max_tokens is too large"}}"#),
        FakeReply::openai("never served"),
    ]);
    let llm = autolab_llm::client(&cfg(Provider::OpenAi, "m", &server.url())).unwrap();
    let err = llm.complete(&ask("hi")).unwrap_err();
    match &err {
        LlmError::Http { status, body } => {
            assert_eq!(*status, 400);
            assert!(body.contains("max_tokens is too large"), "{body}");
        }
        other => panic!("expected Http, got {other:?}"),
    }
    assert!(err.to_string().contains("400"), "{err}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn long_error_bodies_are_truncated() {
    let server = FakeServer::start(vec![FakeReply::status(404, "x".repeat(100_000))]);
    let llm = autolab_llm::client(&cfg(Provider::OpenAi, "m", &server.url())).unwrap();
    let LlmError::Http { body, .. } = llm.complete(&ask("hi")).unwrap_err() else {
        panic!()
    };
    assert!(body.len() < 1_000, "{} bytes", body.len());
}

#[test]
fn retries_stop_after_max_retries_with_the_last_error() {
    // The script repeats its last reply: 503 forever.
    let server = FakeServer::start(vec![FakeReply::status(503, "overloaded")]);
    let mut cfg = cfg(Provider::OpenAi, "m", &server.url());
    cfg.max_retries = 1;
    let err = autolab_llm::client(&cfg)
        .unwrap()
        .complete(&ask("hi"))
        .unwrap_err();
    assert!(matches!(err, LlmError::Http { status: 503, .. }), "{err:?}");
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_timeout_is_a_retried_transport_error() {
    let server = FakeServer::start(vec![FakeReply::openai("too late")])
        .with_delay(Duration::from_millis(1500));
    let mut cfg = cfg(Provider::OpenAi, "m", &server.url());
    cfg.timeout = Duration::from_millis(200);
    cfg.max_retries = 1;
    let err = autolab_llm::client(&cfg)
        .unwrap()
        .complete(&ask("hi"))
        .unwrap_err();
    assert!(matches!(err, LlmError::Transport(_)), "{err:?}");
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn connection_refused_is_a_transport_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // closed again: nothing listens there now
    let mut cfg = cfg(
        Provider::OpenAi,
        "m",
        &format!("http://127.0.0.1:{port}/v1"),
    );
    cfg.max_retries = 0;
    let err = autolab_llm::client(&cfg)
        .unwrap()
        .complete(&ask("hi"))
        .unwrap_err();
    assert!(matches!(err, LlmError::Transport(_)), "{err:?}");
}

#[test]
fn a_stream_cut_short_is_retried() {
    let cut = "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n";
    let server = FakeServer::start(vec![
        FakeReply::Raw {
            status: 200,
            content_type: "text/event-stream".into(),
            body: cut.into(),
        },
        FakeReply::OpenAiSse {
            chunks: vec!["Hello".into()],
            prompt_tokens: 1,
            completion_tokens: 1,
        },
    ]);
    let mut cfg = cfg(Provider::OpenAi, "m", &server.url());
    cfg.stream = true;
    let reply = autolab_llm::client(&cfg)
        .unwrap()
        .complete(&ask("hi"))
        .unwrap();
    assert_eq!(reply.text, "Hello");
    assert_eq!(reply.attempts, 2);
}
