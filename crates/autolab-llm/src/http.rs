//! The HTTP client shared by both wire formats: one attempt, retries with backoff, and the
//! accounting around them.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::BufReader;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::config::is_loopback_url;
use crate::error::excerpt;
use crate::{
    ChatRequest, ChatResponse, LlmClient, LlmError, Price, Provider, ProviderConfig, Usage,
    anthropic, openai,
};

/// First backoff; it doubles with each retry.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
/// Longest wait between attempts, `Retry-After` included.
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// The `anthropic-version` header sent with every Anthropic request.
const ANTHROPIC_VERSION: &str = "2023-06-01";
const USER_AGENT: &str = concat!("autolab/", env!("CARGO_PKG_VERSION"));

/// A parsed reply, before accounting.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub text: String,
    pub usage: Usage,
    pub model: Option<String>,
}

/// A failed attempt: the error, whether another attempt may succeed, and how long the
/// server asked us to wait.
#[derive(Debug)]
pub(crate) struct Failure {
    pub error: LlmError,
    pub retryable: bool,
    pub retry_after: Option<Duration>,
}

impl Failure {
    pub fn fatal(error: LlmError) -> Self {
        Failure {
            error,
            retryable: false,
            retry_after: None,
        }
    }
    pub fn retryable(error: LlmError) -> Self {
        Failure {
            error,
            retryable: true,
            retry_after: None,
        }
    }
    /// Reading the reply failed midway: the connection broke or timed out.
    pub fn io(e: std::io::Error) -> Self {
        Failure::retryable(LlmError::Transport(format!("reading the reply: {e}")))
    }
}

/// Parses `body` as JSON, or says what came instead.
pub(crate) fn parse_json(body: &str) -> Result<Value, LlmError> {
    serde_json::from_str(body)
        .map_err(|e| LlmError::Protocol(format!("not JSON ({e}): {}", excerpt(body))))
}

/// A provider's `error` object as one line.
pub(crate) fn provider_error(err: &Value) -> String {
    let field = |k: &str| err.get(k).and_then(Value::as_str).unwrap_or_default();
    match (field("type"), field("message")) {
        ("", "") => format!(
            "the provider reported an error: {}",
            excerpt(&err.to_string())
        ),
        (kind, message) => format!("the provider reported an error: {kind} {message}")
            .trim_end()
            .to_string(),
    }
}

/// `t` as a JSON number without f32 → f64 noise (0.7, not 0.699999988079071).
pub(crate) fn json_number(t: f32) -> Value {
    t.to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// A client for one provider, model and key.
pub(crate) struct HttpClient {
    agent: ureq::Agent,
    provider: Provider,
    model: String,
    url: String,
    key: Option<String>,
    stream: bool,
    max_retries: u32,
    price: Option<Price>,
}

impl HttpClient {
    pub fn new(cfg: &ProviderConfig, key: Option<String>) -> Result<Self, LlmError> {
        let base = cfg.effective_base_url();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(LlmError::Config(format!(
                "base_url `{base}` must start with http:// or https://"
            )));
        }
        let url = match cfg.provider {
            Provider::OpenAi => format!("{base}/chat/completions"),
            Provider::Anthropic => format!("{}/v1/messages", base.trim_end_matches("/v1")),
        };
        Ok(HttpClient {
            agent: agent(base, cfg.timeout),
            provider: cfg.provider,
            model: cfg.model.clone(),
            url,
            key: key.filter(|k| !k.is_empty()),
            stream: cfg.stream,
            max_retries: cfg.max_retries,
            price: cfg.effective_price(),
        })
    }

    /// `s` with the API key blanked out, for anything that ends up in an error.
    fn redact(&self, s: String) -> String {
        match &self.key {
            Some(key) if s.contains(key.as_str()) => s.replace(key.as_str(), "[REDACTED]"),
            _ => s,
        }
    }

    fn redact_error(&self, error: LlmError) -> LlmError {
        match error {
            LlmError::Http { status, body } => LlmError::Http {
                status,
                body: self.redact(body),
            },
            LlmError::Transport(m) => LlmError::Transport(self.redact(m)),
            LlmError::Protocol(m) => LlmError::Protocol(self.redact(m)),
            LlmError::Config(m) => LlmError::Config(self.redact(m)),
            e @ LlmError::MissingKey { .. } => e,
        }
    }

    fn body(&self, req: &ChatRequest) -> String {
        match self.provider {
            Provider::OpenAi => openai::request_body(&self.model, req, self.stream),
            Provider::Anthropic => anthropic::request_body(&self.model, req, self.stream),
        }
        .to_string()
    }

    /// One HTTP exchange, reply read to its end.
    fn attempt(&self, body: &str) -> Result<Reply, Failure> {
        let mut request = self
            .agent
            .post(&self.url)
            .header("content-type", "application/json");
        if self.stream {
            request = request.header("accept", "text/event-stream");
        }
        request = match (self.provider, &self.key) {
            (Provider::OpenAi, Some(key)) => {
                request.header("authorization", format!("Bearer {key}"))
            }
            (Provider::OpenAi, None) => request,
            (Provider::Anthropic, key) => {
                let request = request.header("anthropic-version", ANTHROPIC_VERSION);
                match key {
                    Some(key) => request.header("x-api-key", key.as_str()),
                    None => request,
                }
            }
        };
        let mut response = request.send(body).map_err(transport_failure)?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let retry_after = retry_after(response.headers());
            let text = response.body_mut().read_to_string().unwrap_or_default();
            let retryable = status == 408 || status == 429 || status >= 500;
            let error = LlmError::Http {
                status,
                body: excerpt(&text),
            };
            return Err(Failure {
                error,
                retryable,
                retry_after,
            });
        }
        let streamed = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/event-stream"));
        if streamed {
            let input = BufReader::new(response.body_mut().as_reader());
            return match self.provider {
                Provider::OpenAi => openai::read_stream(input),
                Provider::Anthropic => anthropic::read_stream(input),
            };
        }
        // Also taken when streaming was asked for but the server sent plain JSON.
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(transport_failure)?;
        match self.provider {
            Provider::OpenAi => openai::parse_reply(&text),
            Provider::Anthropic => anthropic::parse_reply(&text),
        }
        .map_err(Failure::fatal)
    }
}

impl LlmClient for HttpClient {
    fn complete(&self, req: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let body = self.body(req);
        let start = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.attempt(&body) {
                Ok(reply) => {
                    return Ok(ChatResponse {
                        cost_usd: self.price.map_or(0.0, |p| p.cost(reply.usage)),
                        text: reply.text,
                        usage: reply.usage,
                        model: reply.model.unwrap_or_else(|| self.model.clone()),
                        latency: start.elapsed(),
                        attempts,
                    });
                }
                Err(failure) => {
                    let error = self.redact_error(failure.error);
                    if !failure.retryable || attempts > self.max_retries {
                        return Err(error);
                    }
                    let wait = backoff(attempts, failure.retry_after);
                    tracing::warn!(
                        "{}: attempt {attempts} failed ({error}); retrying in {:.1} s",
                        self.describe(),
                        wait.as_secs_f64()
                    );
                    std::thread::sleep(wait);
                }
            }
        }
    }

    fn describe(&self) -> String {
        let mode = if self.stream { " (streaming)" } else { "" };
        format!("{} {} at {}{mode}", self.provider, self.model, self.url)
    }
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field("url", &self.url)
            .field("key", &self.key.as_ref().map(|_| "[REDACTED]"))
            .field("stream", &self.stream)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// The HTTP agent every client of autolab uses (LLM providers, MLflow) for a server at `base`:
/// statuses are answers, not errors; one deadline per call; our user agent; and no proxy for
/// a loopback server (a proxy from the environment cannot reach it).
pub fn agent(base: &str, timeout: std::time::Duration) -> ureq::Agent {
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .user_agent(USER_AGENT);
    if is_loopback_url(base) {
        config = config.proxy(None);
    }
    ureq::Agent::new_with_config(config.build())
}

/// Sorts a ureq error into retryable (the network) and fatal (everything else).
fn transport_failure(e: ureq::Error) -> Failure {
    let retryable = matches!(
        e,
        ureq::Error::Timeout(_)
            | ureq::Error::Io(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_)
    );
    let error = match &e {
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => LlmError::Config(e.to_string()),
        _ => LlmError::Transport(e.to_string()),
    };
    Failure {
        error,
        retryable,
        retry_after: None,
    }
}

/// The wait the server asks for: `retry-after-ms`, else `Retry-After` in seconds
/// (an HTTP date is ignored and the backoff used instead).
fn retry_after(headers: &ureq::http::HeaderMap) -> Option<Duration> {
    let number = |name: &str| -> Option<f64> {
        let v: f64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
        (v.is_finite() && v >= 0.0).then_some(v)
    };
    number("retry-after-ms")
        .map(|ms| ms / 1000.0)
        .or_else(|| number("retry-after"))
        .map(|s| Duration::from_secs_f64(s.min(BACKOFF_CAP.as_secs_f64())))
}

/// How long to wait after the `failures`-th failed attempt: the server's `Retry-After`
/// plus up to 10 % jitter, else 0.5 s × 2^(failures-1) with equal jitter; at most 30 s.
pub(crate) fn backoff(failures: u32, retry_after: Option<Duration>) -> Duration {
    let wait = match retry_after {
        Some(asked) => asked.mul_f64(1.0 + 0.1 * unit_random()),
        None => {
            let exp = BACKOFF_BASE.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
            let exp = exp.min(BACKOFF_CAP);
            exp.mul_f64(0.5 + 0.5 * unit_random())
        }
    };
    wait.min(BACKOFF_CAP)
}

/// A number in [0, 1), different on every call; good enough for jitter.
fn unit_random() -> f64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for failures in 1..=12 {
            let exp = (0.5 * 2f64.powi(failures as i32 - 1)).min(30.0);
            let wait = backoff(failures, None).as_secs_f64();
            assert!(
                wait >= exp / 2.0 - 1e-9 && wait <= exp + 1e-9,
                "{failures}: {wait}"
            );
        }
        assert!(backoff(u32::MAX, None) <= BACKOFF_CAP);
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let wait = backoff(1, Some(Duration::from_secs(2)));
        assert!(
            wait >= Duration::from_secs(2) && wait <= Duration::from_millis(2200),
            "{wait:?}"
        );
        assert_eq!(backoff(1, Some(Duration::from_secs(3600))), BACKOFF_CAP);
    }

    #[test]
    fn retry_after_headers() {
        let mut h = ureq::http::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after", "999".parse().unwrap());
        assert_eq!(retry_after(&h), Some(BACKOFF_CAP));
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
    }

    #[test]
    fn temperatures_serialize_without_float_noise() {
        assert_eq!(json_number(0.7).to_string(), "0.7");
        assert_eq!(json_number(1.0).to_string(), "1.0");
    }

    #[test]
    fn random_numbers_are_in_range_and_vary() {
        let xs: Vec<f64> = (0..100).map(|_| unit_random()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(xs.windows(2).any(|w| w[0] != w[1]));
    }
}
