//! `[agent]`: the LLM that proposes ideas and writes code, when one is configured.

use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;

use super::parse_duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenAI's chat completions, or any compatible server (llama.cpp, Ollama, vLLM, …).
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
}

/// Who turns an idea into a change.
#[derive(Debug, Clone, PartialEq)]
pub enum CoderKind {
    /// autolab asks the LLM for SEARCH/REPLACE edit blocks.
    Builtin,
    /// An external agent run in the worktree; `{message}` is the idea's file, `{files}` the
    /// editable files.
    Command(String),
}

#[derive(Debug, Clone)]
pub struct Agent {
    pub provider: ProviderKind,
    pub model: String,
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    pub stream: bool,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    /// USD for the whole campaign; checked before every call.
    pub max_usd: Option<f64>,
    /// USD per million tokens (input, output), overriding the built-in table.
    pub price: Option<(f64, f64)>,
    pub max_retries: u32,
    pub request_timeout: Duration,
    pub fix_attempts: u32,
    pub edit_attempts: u32,
    pub ideas_per_call: u32,
    pub coder: CoderKind,
    pub coder_timeout: Duration,
    /// A lab's own experts file (markdown, `## name` sections).
    pub experts_file: Option<String>,
    pub disable: Vec<String>,
    pub weights: IndexMap<String, f64>,
    /// The human's steering file, read before every ideation.
    pub steering_file: String,
    pub seed_ideas: Vec<String>,
    /// A directory of minijinja templates overriding the built-in prompts.
    pub prompts_dir: Option<String>,
    /// Whether the LLM writes each verdict's playbook lesson and compacts old ones
    /// (`lessons = "llm"`, the default) or they are templated from the verdict (`"template"`).
    pub llm_lessons: bool,
    /// Characters the playbook may take in a prompt; older lessons are compacted beyond it.
    pub playbook_chars: u32,
    /// The first wait after the LLM could not be reached (doubling up to 10 minutes).
    pub outage_retry: Duration,
    /// How long the LLM may stay unreachable before the campaign pauses.
    pub max_outage: Duration,
    /// The literature service the novelty check asks first (falling back to the others of
    /// `[writeup] literature`); `None`: no novelty check (`novelty = "off"`, the default).
    pub novelty: Option<String>,
    /// Literature queries per idea in the novelty check.
    pub novelty_queries: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAgent {
    provider: String,
    model: String,
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    api_key_env: Option<String>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    max_tokens: Option<i64>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    max_usd: Option<f64>,
    #[serde(default)]
    price: Option<[f64; 2]>,
    #[serde(default)]
    max_retries: Option<i64>,
    #[serde(default)]
    request_timeout: Option<String>,
    #[serde(default)]
    fix_attempts: Option<i64>,
    #[serde(default)]
    edit_attempts: Option<i64>,
    #[serde(default)]
    ideas_per_call: Option<i64>,
    #[serde(default)]
    coder: Option<String>,
    #[serde(default)]
    coder_timeout: Option<String>,
    #[serde(default)]
    experts_file: Option<String>,
    #[serde(default)]
    disable: Vec<String>,
    #[serde(default)]
    weights: IndexMap<String, f64>,
    #[serde(default)]
    steering_file: Option<String>,
    #[serde(default)]
    seed_ideas: Vec<String>,
    #[serde(default)]
    prompts_dir: Option<String>,
    #[serde(default)]
    lessons: Option<String>,
    #[serde(default)]
    playbook_chars: Option<i64>,
    #[serde(default)]
    outage_retry: Option<String>,
    #[serde(default)]
    max_outage: Option<String>,
    #[serde(default)]
    novelty: Option<String>,
    #[serde(default)]
    novelty_queries: Option<i64>,
}

type Problem = (String, String, Option<String>);

fn ranged(key: &str, v: Option<i64>, default: i64, lo: i64, hi: i64) -> Result<u32, Problem> {
    let x = v.unwrap_or(default);
    if (lo..=hi).contains(&x) {
        Ok(x as u32)
    } else {
        Err((
            key.into(),
            format!("`{key} = {x}` must be between {lo} and {hi}"),
            None,
        ))
    }
}

pub(super) fn validate(r: RawAgent) -> Result<Agent, Problem> {
    let provider = match r.provider.as_str() {
        "openai" | "openai-compatible" | "ollama" | "vllm" | "llama.cpp" => ProviderKind::OpenAi,
        "anthropic" => ProviderKind::Anthropic,
        other => {
            return Err((
                "provider".into(),
                format!("unknown provider `{other}`"),
                Some(
                    "use \"openai\" (any OpenAI-compatible server: set base_url) or \"anthropic\""
                        .into(),
                ),
            ));
        }
    };
    if r.model.trim().is_empty() {
        return Err(("model".into(), "`model` is empty".into(), None));
    }
    if let Some(t) = r.temperature.filter(|t| !(0.0..=2.0).contains(t)) {
        return Err((
            "temperature".into(),
            format!("`temperature = {t}` must be between 0 and 2"),
            None,
        ));
    }
    if let Some(m) = r.max_usd.filter(|m| !(m.is_finite() && *m > 0.0)) {
        return Err((
            "max_usd".into(),
            format!("`max_usd = {m}` must be a positive number of dollars"),
            None,
        ));
    }
    if let Some(p) = r
        .price
        .filter(|p| p.iter().any(|x| !(x.is_finite() && *x >= 0.0)))
    {
        return Err((
            "price".into(),
            format!("`price = {p:?}` must be [input, output] USD per million tokens"),
            None,
        ));
    }
    let duration = |key: &str, v: &Option<String>, default: u64| -> Result<Duration, Problem> {
        match v {
            None => Ok(Duration::from_secs(default)),
            Some(s) => parse_duration(s).map_err(|m| (key.to_string(), m, None)),
        }
    };
    let coder = match r.coder.as_deref() {
        None | Some("builtin") => CoderKind::Builtin,
        Some("aider") => CoderKind::Command(
            "aider --yes-always --no-git --message-file {message} {files}".into(),
        ),
        Some("opencode") => CoderKind::Command("opencode run \"$(cat {message})\"".into()),
        Some("claude") => CoderKind::Command(
            "claude -p \"$(cat {message})\" --permission-mode acceptEdits".into(),
        ),
        Some("codex") => CoderKind::Command("codex exec --full-auto \"$(cat {message})\"".into()),
        Some(cmd) if cmd.contains("{message}") => CoderKind::Command(cmd.to_string()),
        Some(other) => {
            return Err((
                "coder".into(),
                format!("unknown coder `{other}`"),
                Some("use builtin, aider, opencode, claude, codex, or a command containing {message}".into()),
            ));
        }
    };
    let llm_lessons = match r.lessons.as_deref() {
        None | Some("llm") => true,
        Some("template") => false,
        Some(other) => {
            return Err((
                "lessons".into(),
                format!("unknown lessons mode `{other}`"),
                Some("use \"llm\" (the LLM writes each lesson) or \"template\"".into()),
            ));
        }
    };
    for (name, w) in &r.weights {
        if !(w.is_finite() && *w >= 0.0) {
            return Err((
                "weights".into(),
                format!("weight of expert `{name}` must be ≥ 0"),
                None,
            ));
        }
    }
    let novelty = match r.novelty.as_deref() {
        None | Some("off") => None,
        Some(name) => Some(
            super::literature_source(name)
                .map_err(|m| ("novelty".to_string(), m, Some("or \"off\"".into())))?
                .to_string(),
        ),
    };
    Ok(Agent {
        novelty,
        novelty_queries: ranged("novelty_queries", r.novelty_queries, 3, 1, 10)?,
        provider,
        model: r.model,
        base_url: r.base_url,
        api_key_env: r.api_key_env,
        stream: r.stream.unwrap_or(false),
        max_tokens: ranged("max_tokens", r.max_tokens, 4096, 16, 200_000)?,
        temperature: r.temperature.map(|t| t as f32),
        max_usd: r.max_usd,
        price: r.price.map(|[i, o]| (i, o)),
        max_retries: ranged("max_retries", r.max_retries, 4, 0, 20)?,
        request_timeout: duration("request_timeout", &r.request_timeout, 300)?,
        fix_attempts: ranged("fix_attempts", r.fix_attempts, 3, 0, 20)?,
        edit_attempts: ranged("edit_attempts", r.edit_attempts, 3, 1, 20)?,
        ideas_per_call: ranged("ideas_per_call", r.ideas_per_call, 3, 1, 20)?,
        coder,
        coder_timeout: duration("coder_timeout", &r.coder_timeout, 900)?,
        experts_file: r.experts_file,
        disable: r.disable,
        weights: r.weights,
        steering_file: r.steering_file.unwrap_or_else(|| "user_prompt.md".into()),
        seed_ideas: r.seed_ideas,
        prompts_dir: r.prompts_dir,
        llm_lessons,
        playbook_chars: ranged("playbook_chars", r.playbook_chars, 6000, 1000, 100_000)?,
        outage_retry: duration("outage_retry", &r.outage_retry, 30)?,
        max_outage: duration("max_outage", &r.max_outage, 3600)?,
    })
}
