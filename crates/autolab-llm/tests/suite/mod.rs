mod anthropic;
mod cost;
mod errors;
mod fake;
mod keys;
mod openai;
mod retries;

use std::time::Duration;

use autolab_llm::{ChatRequest, LlmClient, Message, Provider, ProviderConfig};

/// A config pointing at `url`, with short timeouts so failures are quick.
pub fn cfg(provider: Provider, model: &str, url: &str) -> ProviderConfig {
    let mut cfg = ProviderConfig::new(provider, model);
    cfg.base_url = Some(url.to_string());
    cfg.timeout = Duration::from_secs(5);
    cfg
}

/// A client for `cfg` with a fixed test key (no environment involved).
pub fn client_with(cfg: &ProviderConfig, key: &str) -> Box<dyn LlmClient> {
    autolab_llm::client_with_key(cfg, Some(key)).unwrap()
}

pub fn ask(text: &str) -> ChatRequest {
    ChatRequest::new(vec![Message::user(text)], 64)
}
