use autolab_llm::fake::{FakeReply, FakeServer};
use autolab_llm::{Price, Provider};

use super::{ask, cfg, client_with};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn cost_comes_from_the_price_table() {
    let server = FakeServer::start(vec![FakeReply::OpenAi {
        text: "x".into(),
        prompt_tokens: 1_000_000,
        completion_tokens: 2_000_000,
    }]);
    let reply = client_with(&cfg(Provider::OpenAi, "gpt-4o-mini", &server.url()), "k")
        .complete(&ask("hi"))
        .unwrap();
    // gpt-4o-mini: $0.15 in, $0.60 out per million tokens.
    assert!(
        close(reply.cost_usd, 0.15 + 2.0 * 0.60),
        "{}",
        reply.cost_usd
    );
}

#[test]
fn cost_of_a_streamed_anthropic_reply() {
    let server = FakeServer::start(vec![FakeReply::AnthropicSse {
        chunks: vec!["x".into()],
        input_tokens: 2_000,
        output_tokens: 1_000,
    }]);
    let mut cfg = cfg(
        Provider::Anthropic,
        "claude-sonnet-4-20250514",
        &server.url(),
    );
    cfg.stream = true;
    let reply = client_with(&cfg, "k").complete(&ask("hi")).unwrap();
    // claude-sonnet-4: $3 in, $15 out per million tokens.
    assert!(
        close(reply.cost_usd, 2_000.0 * 3.0 / 1e6 + 1_000.0 * 15.0 / 1e6),
        "{}",
        reply.cost_usd
    );
}

#[test]
fn a_configured_price_overrides_the_table() {
    let server = FakeServer::start(vec![FakeReply::OpenAi {
        text: "x".into(),
        prompt_tokens: 500_000,
        completion_tokens: 500_000,
    }]);
    let mut cfg = cfg(Provider::OpenAi, "gpt-4o", &server.url());
    cfg.price = Some(Price {
        input_per_mtok: 1.0,
        output_per_mtok: 3.0,
    });
    let reply = client_with(&cfg, "k").complete(&ask("hi")).unwrap();
    assert!(close(reply.cost_usd, 0.5 + 1.5), "{}", reply.cost_usd);
}

#[test]
fn an_unknown_model_costs_nothing() {
    let server = FakeServer::start(vec![FakeReply::openai("x")]);
    let reply = client_with(&cfg(Provider::OpenAi, "my-finetune", &server.url()), "k")
        .complete(&ask("hi"))
        .unwrap();
    assert_eq!(reply.usage.total(), 15);
    assert_eq!(reply.cost_usd, 0.0);
}
