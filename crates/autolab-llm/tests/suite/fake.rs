use std::sync::Arc;
use std::time::Duration;

use autolab_llm::fake::{FakeReply, FakeServer};
use autolab_llm::{LlmClient, Provider};

use super::{ask, cfg};

fn client(server: &FakeServer) -> Box<dyn LlmClient> {
    let mut cfg = cfg(Provider::OpenAi, "m", &server.url());
    cfg.max_retries = 0;
    autolab_llm::client(&cfg).unwrap()
}

#[test]
fn replies_are_served_in_order_and_the_last_repeats() {
    let server = FakeServer::start(vec![FakeReply::openai("one"), FakeReply::openai("two")]);
    let llm = client(&server);
    let texts: Vec<String> = (0..4)
        .map(|_| llm.complete(&ask("x")).unwrap().text)
        .collect();
    assert_eq!(texts, ["one", "two", "two", "two"]);
}

#[test]
fn pushed_replies_come_next_and_the_fallback_replaces_repetition() {
    let server = FakeServer::start(vec![FakeReply::openai("one")])
        .with_fallback(FakeReply::openai("fallback"));
    let llm = client(&server);
    assert_eq!(llm.complete(&ask("x")).unwrap().text, "one");
    assert_eq!(llm.complete(&ask("x")).unwrap().text, "fallback");
    server.push(FakeReply::openai("pushed"));
    assert_eq!(llm.complete(&ask("x")).unwrap().text, "pushed");
    assert_eq!(llm.complete(&ask("x")).unwrap().text, "fallback");
}

#[test]
fn an_empty_script_answers_500() {
    let server = FakeServer::start(vec![]);
    let err = client(&server).complete(&ask("x")).unwrap_err();
    assert!(
        matches!(err, autolab_llm::LlmError::Http { status: 500, .. }),
        "{err:?}"
    );
}

#[test]
fn from_fn_answers_from_the_prompt_and_records_everything() {
    let server = FakeServer::from_fn(|r| {
        let prompt = r.prompt_text();
        FakeReply::openai(if prompt.contains("ideas") {
            "[\"idea\"]"
        } else {
            "code"
        })
    });
    let llm = client(&server);
    assert_eq!(llm.complete(&ask("give ideas")).unwrap().text, "[\"idea\"]");
    assert_eq!(llm.complete(&ask("write code")).unwrap().text, "code");
    let prompts: Vec<String> = server.requests().iter().map(|r| r.prompt_text()).collect();
    assert_eq!(prompts, ["give ideas", "write code"]);
}

#[test]
fn one_client_serves_many_threads() {
    let server = FakeServer::from_fn(|r| FakeReply::openai(r.prompt_text().to_uppercase()));
    let llm: Arc<dyn LlmClient> = Arc::from(client(&server));
    std::thread::scope(|s| {
        for i in 0..4 {
            let llm = Arc::clone(&llm);
            s.spawn(move || {
                let reply = llm.complete(&ask(&format!("thread {i}"))).unwrap();
                assert_eq!(reply.text, format!("THREAD {i}"));
            });
        }
    });
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn the_delay_holds_each_reply_back() {
    let server =
        FakeServer::start(vec![FakeReply::openai("slow")]).with_delay(Duration::from_millis(300));
    let reply = client(&server).complete(&ask("x")).unwrap();
    assert!(
        reply.latency >= Duration::from_millis(300),
        "{:?}",
        reply.latency
    );
}

#[test]
fn a_dropped_server_stops_listening() {
    let server = FakeServer::start(vec![FakeReply::openai("x")]);
    let addr = server.url().trim_start_matches("http://").to_string();
    drop(server);
    assert!(std::net::TcpStream::connect(addr).is_err());
}
