use autolab_llm::fake::{FakeReply, FakeServer};
use autolab_llm::{ChatRequest, Message, Provider, Usage};
use serde_json::json;

use super::{ask, cfg, client_with};

fn conversation() -> ChatRequest {
    ChatRequest::new(
        vec![
            Message::system("You are an ML expert."),
            Message::user("Propose one idea."),
            Message::assistant("Use a cosine schedule."),
            Message::user("Another."),
        ],
        256,
    )
}

#[test]
fn anthropic_json_reply_and_request_headers() {
    let server = FakeServer::start(vec![FakeReply::Anthropic {
        text: "Try label smoothing.".into(),
        input_tokens: 40,
        output_tokens: 6,
    }]);
    let llm = client_with(
        &cfg(Provider::Anthropic, "claude-sonnet-4-5", &server.url()),
        "sk-ant-x",
    );

    let reply = llm.complete(&conversation()).unwrap();

    assert_eq!(reply.text, "Try label smoothing.");
    assert_eq!(
        reply.usage,
        Usage {
            prompt_tokens: 40,
            completion_tokens: 6
        }
    );
    assert_eq!(reply.model, "claude-sonnet-4-5");
    assert_eq!(reply.attempts, 1);
    let r = &server.requests()[0];
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1/messages")
    );
    assert_eq!(r.header("x-api-key"), Some("sk-ant-x"));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(
        r.json().unwrap(),
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 256,
            "system": "You are an ML expert.",
            "messages": [
                {"role": "user", "content": "Propose one idea."},
                {"role": "assistant", "content": "Use a cosine schedule."},
                {"role": "user", "content": "Another."}
            ],
            "stream": false
        })
    );
}

#[test]
fn anthropic_sse_reply_is_assembled_with_usage() {
    let server = FakeServer::start(vec![FakeReply::AnthropicSse {
        chunks: vec!["Try ".into(), "mixup".into(), ".".into()],
        input_tokens: 33,
        output_tokens: 9,
    }]);
    let mut cfg = cfg(
        Provider::Anthropic,
        "claude-3-5-haiku-latest",
        &server.url(),
    );
    cfg.stream = true;
    let llm = client_with(&cfg, "sk-ant-y");

    let reply = llm.complete(&conversation()).unwrap();

    assert_eq!(reply.text, "Try mixup.");
    assert_eq!(
        reply.usage,
        Usage {
            prompt_tokens: 33,
            completion_tokens: 9
        }
    );
    let r = &server.requests()[0];
    let body = r.json().unwrap();
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["system"], json!("You are an ML expert."));
    assert_eq!(body["messages"].as_array().unwrap().len(), 3);
    assert!(
        body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["role"] != "system")
    );
    assert_eq!(r.header("x-api-key"), Some("sk-ant-y"));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
}

#[test]
fn anthropic_base_url_ending_in_v1_is_not_doubled() {
    let server = FakeServer::start(vec![FakeReply::anthropic("ok")]);
    let llm = client_with(
        &cfg(Provider::Anthropic, "m", &format!("{}/v1/", server.url())),
        "k",
    );
    llm.complete(&ask("hi")).unwrap();
    assert_eq!(server.requests()[0].path, "/v1/messages");
}
