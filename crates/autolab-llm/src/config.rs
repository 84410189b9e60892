//! Which provider, which model, where, and building a client for it.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::http::HttpClient;
use crate::{LlmClient, LlmError, Price};

/// Retries after the first attempt, unless configured otherwise.
pub const DEFAULT_MAX_RETRIES: u32 = 4;
/// Deadline of one HTTP attempt (connect, request, whole reply), unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The wire format to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// OpenAI chat completions, also spoken by llama.cpp, Ollama, vLLM and most gateways.
    OpenAi,
    /// The Anthropic Messages API.
    Anthropic,
}

impl Provider {
    /// The name used in `autolab.toml`: `openai` or `anthropic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
        }
    }

    /// Where the provider's API lives when no `base_url` is configured.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Provider::OpenAi => "https://api.openai.com/v1",
            Provider::Anthropic => "https://api.anthropic.com",
        }
    }

    /// The environment variable the key is read from when no `api_key_env` is configured.
    pub fn default_api_key_env(self) -> &'static str {
        match self {
            Provider::OpenAi => "OPENAI_API_KEY",
            Provider::Anthropic => "ANTHROPIC_API_KEY",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = LlmError;
    /// `openai` or `anthropic`, any case.
    fn from_str(s: &str) -> Result<Self, LlmError> {
        match s.to_ascii_lowercase().as_str() {
            "openai" => Ok(Provider::OpenAi),
            "anthropic" => Ok(Provider::Anthropic),
            _ => Err(LlmError::Config(format!(
                "unknown provider `{s}`; expected `openai` (any OpenAI-compatible server) or `anthropic`"
            ))),
        }
    }
}

/// Everything needed to build a client. [`ProviderConfig::new`] fills in the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    pub provider: Provider,
    pub model: String,
    /// `None`: [`Provider::default_base_url`]. For OpenAI-compatible servers, the URL that
    /// `/chat/completions` is appended to (e.g. `http://127.0.0.1:11434/v1`); for Anthropic,
    /// the URL that `/v1/messages` is appended to (a trailing `/v1` is tolerated).
    pub base_url: Option<String>,
    /// `None`: [`Provider::default_api_key_env`], except for an OpenAI-compatible server on
    /// localhost/127.0.0.1/::1, which is then called without a key.
    pub api_key_env: Option<String>,
    /// Ask for server-sent events and assemble the reply from them.
    pub stream: bool,
    /// Retries after the first attempt (so at most `max_retries + 1` attempts).
    pub max_retries: u32,
    /// Deadline of one attempt, from connecting to the last byte of the reply.
    pub timeout: Duration,
    /// `None`: [`default_price`](crate::default_price) of the model, else cost 0.
    pub price: Option<Price>,
}

impl ProviderConfig {
    /// `model` at `provider`'s public endpoint, key from its usual variable, no streaming,
    /// [`DEFAULT_MAX_RETRIES`], [`DEFAULT_TIMEOUT`], list price.
    pub fn new(provider: Provider, model: impl Into<String>) -> Self {
        ProviderConfig {
            provider,
            model: model.into(),
            base_url: None,
            api_key_env: None,
            stream: false,
            max_retries: DEFAULT_MAX_RETRIES,
            timeout: DEFAULT_TIMEOUT,
            price: None,
        }
    }

    /// The base URL in use, without a trailing slash.
    pub fn effective_base_url(&self) -> &str {
        self.base_url
            .as_deref()
            .unwrap_or(self.provider.default_base_url())
            .trim_end_matches('/')
    }

    /// The price replies are charged at, if known.
    pub fn effective_price(&self) -> Option<Price> {
        self.price.or_else(|| crate::default_price(&self.model))
    }

    /// The variable the key comes from, or `None` when no key is needed (an OpenAI-compatible
    /// server on this machine, with no `api_key_env` configured).
    pub fn key_var(&self) -> Option<&str> {
        match (&self.api_key_env, self.provider) {
            (Some(var), _) => Some(var),
            (None, Provider::OpenAi) if self.base_url.as_deref().is_some_and(is_loopback_url) => {
                None
            }
            (None, provider) => Some(provider.default_api_key_env()),
        }
    }
}

/// Builds a client for `cfg`, reading its API key from the environment now.
///
/// Fails with [`LlmError::MissingKey`] naming the variable when the key is needed and the
/// variable is unset or empty, and with [`LlmError::Config`] for a base URL that is not
/// `http://` or `https://`.
pub fn client(cfg: &ProviderConfig) -> Result<Box<dyn LlmClient>, LlmError> {
    let key = match cfg.key_var() {
        None => None,
        Some(var) => match std::env::var(var) {
            Ok(key) if !key.trim().is_empty() => Some(key.trim().to_string()),
            _ => {
                return Err(LlmError::MissingKey {
                    var: var.to_string(),
                });
            }
        },
    };
    client_with_key(cfg, key.as_deref())
}

/// Builds a client with the key given here (`None`: send none) instead of one read from the
/// environment; `cfg.api_key_env` is ignored. For keys from elsewhere, and for tests.
pub fn client_with_key(
    cfg: &ProviderConfig,
    api_key: Option<&str>,
) -> Result<Box<dyn LlmClient>, LlmError> {
    Ok(Box::new(HttpClient::new(cfg, api_key.map(str::to_string))?))
}

/// Whether `url`'s host is this machine (`localhost`, `*.localhost`, any loopback address);
/// the one rule for every HTTP client of autolab (LLM providers, MLflow).
pub fn is_loopback_url(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls() {
        for url in [
            "http://localhost:11434/v1",
            "http://127.0.0.1:8080/v1",
            "http://127.0.1.1/v1",
            "http://[::1]:8000/v1",
            "https://LOCALHOST/",
            "http://user@127.0.0.1:1/v1",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "https://api.openai.com/v1",
            "http://localhost.example.com/v1",
            "http://10.0.0.1:8000/v1",
            "http://127.0.0.1.nip.io/v1",
            "localhost:8080",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn key_var_defaults() {
        let mut cfg = ProviderConfig::new(Provider::OpenAi, "m");
        assert_eq!(cfg.key_var(), Some("OPENAI_API_KEY"));
        cfg.base_url = Some("http://127.0.0.1:11434/v1".into());
        assert_eq!(cfg.key_var(), None);
        cfg.api_key_env = Some("MY_KEY".into());
        assert_eq!(cfg.key_var(), Some("MY_KEY"));

        let mut cfg = ProviderConfig::new(Provider::Anthropic, "m");
        cfg.base_url = Some("http://127.0.0.1:9/".into());
        assert_eq!(cfg.key_var(), Some("ANTHROPIC_API_KEY"));
        assert_eq!(cfg.effective_base_url(), "http://127.0.0.1:9");
    }

    #[test]
    fn provider_names_round_trip() {
        for p in [Provider::OpenAi, Provider::Anthropic] {
            assert_eq!(p.to_string().parse::<Provider>().ok(), Some(p));
        }
        assert!("OpenAI".parse::<Provider>().is_ok());
        assert!(matches!(
            "gemini".parse::<Provider>(),
            Err(LlmError::Config(_))
        ));
    }
}
