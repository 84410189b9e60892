//! The LLM side of the loop: ideation by experts (the strategist) and code changes (the
//! built-in SEARCH/REPLACE coder or an external agent), each a job run off the main thread,
//! with every exchange returned as a transcript and every call under the USD budget.

pub mod coder;
pub mod context;
pub mod lessons;
pub mod prompts;
pub mod strategist;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use autolab_core::ledger::Transcript;
use autolab_llm::{ChatRequest, ChatResponse, LlmClient, Message, Role};

/// The LLM client settings of an `[agent]` section.
pub fn provider_config(cfg: &autolab_core::config::Agent) -> autolab_llm::ProviderConfig {
    use autolab_core::config::ProviderKind;
    autolab_llm::ProviderConfig {
        provider: match cfg.provider {
            ProviderKind::OpenAi => autolab_llm::Provider::OpenAi,
            ProviderKind::Anthropic => autolab_llm::Provider::Anthropic,
        },
        model: cfg.model.clone(),
        base_url: cfg.base_url.clone(),
        api_key_env: cfg.api_key_env.clone(),
        stream: cfg.stream,
        max_retries: cfg.max_retries,
        timeout: cfg.request_timeout,
        price: cfg.price.map(|(i, o)| autolab_llm::Price {
            input_per_mtok: i,
            output_per_mtok: o,
        }),
    }
}

/// Why a call was not answered.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The campaign's `max_usd` is spent.
    #[error("the LLM budget is spent: ${spent:.4} of max_usd ${limit:.2}")]
    Budget { spent: f64, limit: f64 },
    /// The provider could not be reached or was overloaded (transport error, 429 or 5xx)
    /// after the client's retries: worth trying again later.
    #[error(transparent)]
    Unavailable(autolab_llm::LlmError),
    /// The provider answered with an error that trying again will not mend.
    #[error(transparent)]
    Llm(autolab_llm::LlmError),
}

/// The client, the budget, and who is calling: every call is checked and recorded.
#[derive(Clone)]
pub struct Caller {
    pub client: Arc<dyn LlmClient>,
    pub model: String,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    spent: Arc<Mutex<f64>>,
    limit: Option<f64>,
}

impl Caller {
    pub fn new(
        client: Arc<dyn LlmClient>,
        model: &str,
        max_tokens: u32,
        temperature: Option<f32>,
        spent: f64,
        limit: Option<f64>,
    ) -> Caller {
        Caller {
            client,
            model: model.into(),
            max_tokens,
            temperature,
            spent: Arc::new(Mutex::new(spent)),
            limit,
        }
    }

    pub fn spent(&self) -> f64 {
        self.spent.lock().map(|s| *s).unwrap_or(0.0)
    }

    /// Whether the budget is spent (checked before every call).
    pub fn exhausted(&self) -> Option<CallError> {
        let spent = self.spent();
        match self.limit {
            Some(limit) if spent >= limit => Some(CallError::Budget { spent, limit }),
            _ => None,
        }
    }

    /// One call; the transcript is pushed whether it succeeded or not.
    pub fn call(
        &self,
        messages: Vec<Message>,
        role: &str,
        expert: Option<&str>,
        log: &mut Vec<Transcript>,
    ) -> Result<ChatResponse, CallError> {
        if let Some(e) = self.exhausted() {
            return Err(e);
        }
        let request = serde_json::to_string(
            &messages
                .iter()
                .map(|m| serde_json::json!({"role": role_name(&m.role), "content": m.content}))
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default();
        let req = ChatRequest {
            messages,
            max_tokens: self.max_tokens,
            temperature: self.temperature,
        };
        let started = Instant::now();
        let result = self.client.complete(&req);
        let mut t = Transcript {
            role: role.into(),
            expert: expert.map(str::to_string),
            model: self.model.clone(),
            request,
            latency_ms: started.elapsed().as_millis() as u64,
            ..Transcript::default()
        };
        match result {
            Ok(resp) => {
                if let Ok(mut s) = self.spent.lock() {
                    *s += resp.cost_usd;
                }
                t.reply = Some(stored_reply(&resp.text));
                t.prompt_tokens = resp.usage.prompt_tokens;
                t.completion_tokens = resp.usage.completion_tokens;
                t.cost_usd = resp.cost_usd;
                log.push(t);
                Ok(resp)
            }
            Err(e) => {
                t.error = Some(e.to_string());
                log.push(t);
                let unavailable = match &e {
                    autolab_llm::LlmError::Transport(_) => true,
                    autolab_llm::LlmError::Http { status, .. } => *status == 429 || *status >= 500,
                    _ => false,
                };
                Err(if unavailable {
                    CallError::Unavailable(e)
                } else {
                    CallError::Llm(e)
                })
            }
        }
    }
}

/// The most of a reply the ledger keeps (the whole reply still goes to its caller).
pub const MAX_STORED_REPLY: usize = 256 * 1024;

/// A reply as the ledger keeps it: cut at [`MAX_STORED_REPLY`] bytes, saying how much was cut.
fn stored_reply(text: &str) -> String {
    if text.len() <= MAX_STORED_REPLY {
        return text.to_string();
    }
    let mut end = MAX_STORED_REPLY;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n… [{} more bytes not stored]",
        &text[..end],
        text.len() - end
    )
}

fn role_name(r: &Role) -> &'static str {
    match r {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

/// The JSON object in a reply: from its first `{` to its last `}`.
pub fn json_in(text: &str) -> Option<serde_json::Value> {
    let (a, b) = (text.find('{')?, text.rfind('}')?);
    serde_json::from_str(text.get(a..=b)?).ok()
}

pub fn user(text: impl Into<String>) -> Message {
    Message {
        role: Role::User,
        content: text.into(),
    }
}

pub fn assistant(text: impl Into<String>) -> Message {
    Message {
        role: Role::Assistant,
        content: text.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_reply_is_stored_cut_and_says_so() {
        let huge = "é".repeat(MAX_STORED_REPLY);
        let stored = stored_reply(&huge);
        assert!(stored.len() < MAX_STORED_REPLY + 100);
        assert!(stored.ends_with(&format!(
            "[{} more bytes not stored]",
            huge.len() - MAX_STORED_REPLY
        )));
        assert_eq!(stored_reply("short"), "short");
    }
}
