use autolab_llm::fake::{FakeReply, FakeServer};
use autolab_llm::{ChatRequest, Message, Provider, Usage};
use serde_json::json;

use super::{ask, cfg};

#[test]
fn openai_json_reply_is_parsed_and_request_is_well_formed() {
    let server = FakeServer::start(vec![FakeReply::OpenAi {
        text: "Lower the learning rate.".into(),
        prompt_tokens: 12,
        completion_tokens: 3,
    }]);
    let llm = autolab_llm::client(&cfg(Provider::OpenAi, "gpt-4o-mini", &server.url())).unwrap();
    let mut req = ChatRequest::new(
        vec![Message::system("You are terse."), Message::user("Idea?")],
        64,
    );
    req.temperature = Some(0.5);

    let reply = llm.complete(&req).unwrap();

    assert_eq!(reply.text, "Lower the learning rate.");
    assert_eq!(
        reply.usage,
        Usage {
            prompt_tokens: 12,
            completion_tokens: 3
        }
    );
    assert_eq!(reply.model, "gpt-4o-mini");
    assert_eq!(reply.attempts, 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/chat/completions")
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("authorization"),
        None,
        "a local server gets no key"
    );
    assert_eq!(
        r.json().unwrap(),
        json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Idea?"}
            ],
            "max_tokens": 64,
            "temperature": 0.5,
            "stream": false
        })
    );
}

#[test]
fn openai_key_is_sent_as_bearer_token() {
    let server = FakeServer::start(vec![FakeReply::openai("ok")]);
    let llm = super::client_with(&cfg(Provider::OpenAi, "m", &server.url()), "sk-test-bearer");
    llm.complete(&ask("hi")).unwrap();
    assert_eq!(
        server.requests()[0].header("Authorization"),
        Some("Bearer sk-test-bearer")
    );
}

#[test]
fn openai_sse_reply_is_assembled_with_usage() {
    let server = FakeServer::start(vec![FakeReply::OpenAiSse {
        chunks: vec!["Hel".into(), "lo".into(), ", world".into()],
        prompt_tokens: 7,
        completion_tokens: 4,
    }]);
    let mut cfg = cfg(Provider::OpenAi, "local-model", &server.url());
    cfg.stream = true;
    let llm = autolab_llm::client(&cfg).unwrap();

    let reply = llm.complete(&ask("greet")).unwrap();

    assert_eq!(reply.text, "Hello, world");
    assert_eq!(
        reply.usage,
        Usage {
            prompt_tokens: 7,
            completion_tokens: 4
        }
    );
    assert_eq!(reply.model, "local-model");
    let r = &server.requests()[0];
    let body = r.json().unwrap();
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["max_tokens"], json!(64));
    let accepts: Vec<_> = r
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("accept"))
        .collect();
    assert_eq!(accepts.len(), 1, "{:?}", r.headers);
    assert_eq!(r.header("accept"), Some("text/event-stream"));
    assert!(
        r.header("user-agent")
            .is_some_and(|ua| ua.starts_with("autolab/"))
    );
}

#[test]
fn a_json_reply_to_a_streaming_request_is_still_understood() {
    let server = FakeServer::start(vec![FakeReply::openai("plain")]);
    let mut cfg = cfg(Provider::OpenAi, "m", &server.url());
    cfg.stream = true;
    let reply = autolab_llm::client(&cfg)
        .unwrap()
        .complete(&ask("x"))
        .unwrap();
    assert_eq!(reply.text, "plain");
}

#[test]
fn describe_names_provider_model_and_endpoint() {
    let server = FakeServer::start(vec![]);
    let mut cfg = cfg(
        Provider::OpenAi,
        "gpt-4o-mini",
        &format!("{}/", server.url()),
    );
    cfg.stream = true;
    let described = autolab_llm::client(&cfg).unwrap().describe();
    assert_eq!(
        described,
        format!(
            "openai gpt-4o-mini at {}/chat/completions (streaming)",
            server.url()
        )
    );
}
