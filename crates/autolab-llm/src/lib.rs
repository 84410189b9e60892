//! autolab's LLM providers behind one trait, with token and cost accounting.
//!
//! Two wire formats cover the providers autolab talks to:
//! - [`Provider::OpenAi`]: OpenAI chat completions, and every server that speaks them
//!   (llama.cpp, Ollama, vLLM, OpenRouter, ...) through [`ProviderConfig::base_url`];
//! - [`Provider::Anthropic`]: the Anthropic Messages API.
//!
//! Both work with plain JSON replies or server-sent events ([`ProviderConfig::stream`]).
//!
//! ```no_run
//! use autolab_llm::{ChatRequest, Message, Provider, ProviderConfig};
//!
//! let cfg = ProviderConfig::new(Provider::OpenAi, "gpt-4o-mini");
//! let llm = autolab_llm::client(&cfg)?; // reads OPENAI_API_KEY now
//! let reply = llm.complete(&ChatRequest::new(vec![Message::user("Say hi.")], 64))?;
//! println!("{} ({} tokens, ${:.4})", reply.text, reply.usage.completion_tokens, reply.cost_usd);
//! # Ok::<(), autolab_llm::LlmError>(())
//! ```
//!
//! # Why a blocking client
//! The engine runs on threads, not on an async runtime, so [`LlmClient::complete`] blocks
//! its thread until the reply is in. It is built on `ureq` (rustls, no tokio): a blocking
//! client fits the thread-based engine and keeps the build light.
//!
//! # Retries
//! HTTP 408, 429 and 5xx replies, and transport failures (timeouts, refused or dropped
//! connections, a stream cut short) are retried up to [`ProviderConfig::max_retries`] times
//! with exponential backoff and jitter (0.5 s doubling, capped at 30 s). A `Retry-After`
//! (or `retry-after-ms`) header replaces the backoff, capped at 30 s too. Other 4xx replies
//! fail at once. When every attempt fails, the last attempt's error is returned as is.
//!
//! # Cost
//! [`ChatResponse::cost_usd`] is tokens × [`ProviderConfig::price`], or × [`default_price`]
//! of the model when no price is configured. A model missing from that table costs 0: set
//! the price explicitly to account for it.
//!
//! # Secrets
//! The API key is read once, when the client is built, and never appears in an error
//! message, in [`LlmClient::describe`] or in a `Debug` output.
//!
//! # Testing
//! [`fake::FakeServer`] is a recording fake LLM server on 127.0.0.1 that serves scripted
//! JSON and SSE replies in either wire format, for this crate's tests and for other crates'.

mod anthropic;
mod config;
mod error;
pub mod fake;
mod http;
mod openai;
mod price;
mod sse;

use std::time::Duration;

pub use config::{
    DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT, Provider, ProviderConfig, client, client_with_key,
    is_loopback_url,
};
pub use error::LlmError;
pub use http::agent as http_agent;
pub use price::{Price, default_price};

/// Who says a [`Message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Instructions. OpenAI keeps them in place; Anthropic gets them as the top-level
    /// `system` field (several are joined by blank lines).
    System,
    User,
    Assistant,
}

impl Role {
    /// The role's name on the wire: `system`, `user` or `assistant`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message {
            role,
            content: content.into(),
        }
    }
    pub fn system(content: impl Into<String>) -> Self {
        Message::new(Role::System, content)
    }
    pub fn user(content: impl Into<String>) -> Self {
        Message::new(Role::User, content)
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Message::new(Role::Assistant, content)
    }
}

/// What to ask. `max_tokens` is always sent (providers' defaults differ wildly).
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    pub max_tokens: u32,
    /// `None` leaves the provider's default.
    pub temperature: Option<f32>,
}

impl ChatRequest {
    pub fn new(messages: Vec<Message>, max_tokens: u32) -> Self {
        ChatRequest {
            messages,
            max_tokens,
            temperature: None,
        }
    }
}

/// Tokens the provider says it used. A server that reports no usage counts as 0 tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Usage {
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// A completed reply.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    /// The assistant's text (streamed chunks joined).
    pub text: String,
    pub usage: Usage,
    /// The model the provider says answered, else the configured one.
    pub model: String,
    /// Wall time of the whole [`LlmClient::complete`] call, retries and waits included.
    pub latency: Duration,
    /// `usage` × the price; 0 when the model's price is unknown.
    pub cost_usd: f64,
    /// HTTP attempts made, 1 when the first one succeeded.
    pub attempts: u32,
}

/// A chat model. Blocking; shareable between threads.
pub trait LlmClient: Send + Sync {
    /// Sends `req` and waits for the whole reply, retrying transient failures.
    fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError>;
    /// One line for logs and `autolab doctor`, e.g. `openai gpt-4o-mini at
    /// https://api.openai.com/v1 (streaming)`. Never contains the API key.
    fn describe(&self) -> String;
}
