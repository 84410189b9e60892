use autolab_llm::fake::{FakeReply, FakeServer};
use autolab_llm::{LlmError, Provider, ProviderConfig};

use super::{ask, cfg, client_with};

#[test]
fn garbage_body_is_a_protocol_error_with_an_excerpt() {
    let server = FakeServer::start(vec![FakeReply::Raw {
        status: 200,
        content_type: "text/html".into(),
        body: "<html>captive portal says hello</html>".into(),
    }]);
    let llm = autolab_llm::client(&cfg(Provider::OpenAi, "m", &server.url())).unwrap();
    let err = llm.complete(&ask("hi")).unwrap_err();
    let LlmError::Protocol(msg) = &err else {
        panic!("expected Protocol, got {err:?}")
    };
    assert!(msg.contains("captive portal says hello"), "{msg}");
    assert_eq!(server.requests().len(), 1, "a garbage reply is not retried");
}

#[test]
fn json_without_the_expected_fields_is_a_protocol_error() {
    let server = FakeServer::start(vec![FakeReply::Raw {
        status: 200,
        content_type: "application/json".into(),
        body: r#"{"id":"msg","usage":{"input_tokens":1,"output_tokens":1}}"#.into(),
    }]);
    let llm = client_with(&cfg(Provider::Anthropic, "m", &server.url()), "k");
    let err = llm.complete(&ask("hi")).unwrap_err();
    assert!(
        matches!(err, LlmError::Protocol(ref m) if m.contains("content")),
        "{err:?}"
    );
}

#[test]
fn a_garbage_event_stream_is_a_protocol_error() {
    let server = FakeServer::start(vec![FakeReply::Raw {
        status: 200,
        content_type: "text/event-stream".into(),
        body: "event: message_start\ndata: {oops\n\n".into(),
    }]);
    let mut cfg = cfg(Provider::Anthropic, "m", &server.url());
    cfg.stream = true;
    let err = client_with(&cfg, "k").complete(&ask("hi")).unwrap_err();
    assert!(matches!(err, LlmError::Protocol(_)), "{err:?}");
}

#[test]
fn the_api_key_never_appears_in_errors_or_descriptions() {
    let key = "sk-very-secret-0123456789";
    let echo = format!(r#"{{"error":{{"message":"Incorrect API key provided: {key}"}}}}"#);
    for reply in [
        FakeReply::status(401, echo.clone()),
        FakeReply::Raw {
            status: 200,
            content_type: "application/json".into(),
            body: echo.clone(),
        },
        FakeReply::Raw {
            status: 200,
            content_type: "text/plain".into(),
            body: format!("no {key}"),
        },
    ] {
        let server = FakeServer::start(vec![reply]);
        for provider in [Provider::OpenAi, Provider::Anthropic] {
            let llm = client_with(&cfg(provider, "m", &server.url()), key);
            let err = llm.complete(&ask("hi")).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains(key), "{shown}");
            assert!(shown.contains("[REDACTED]"), "{shown}");
            assert!(!llm.describe().contains(key));
        }
    }
}

#[test]
fn a_base_url_that_is_not_http_is_a_config_error() {
    let mut cfg = ProviderConfig::new(Provider::OpenAi, "m");
    cfg.base_url = Some("ftp://example.com/v1".into());
    cfg.api_key_env = None;
    let err = autolab_llm::client_with_key(&cfg, Some("k")).err().unwrap();
    assert!(
        matches!(err, LlmError::Config(ref m) if m.contains("ftp://")),
        "{err:?}"
    );
}
