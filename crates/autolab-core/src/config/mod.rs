//! `autolab.toml`: the lab's typed, validated configuration.
//!
//! Parsing is strict: unknown keys are errors with a "did you mean", and every error names the
//! file, the line and the key, and says what would be valid.

mod duration;
mod error;
mod params;

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;

pub use duration::{format_duration, parse_duration};
pub use error::ConfigError;
pub use params::{Apply, ParamKind, ParamSpec, ParamsConfig, Sampler};

/// The file name autolab looks for at the root of a lab.
pub const CONFIG_FILE: &str = "autolab.toml";

/// A whole `autolab.toml`, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub task: Task,
    pub metrics: Metrics,
    pub params: Option<ParamsConfig>,
    pub decide: Decide,
    pub runner: RunnerConfig,
    pub agent: Option<Agent>,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub goal: Option<String>,
    pub goal_file: Option<String>,
    pub command: String,
    pub editable: Vec<String>,
    pub protected: Vec<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Goal {
    Minimize,
    Maximize,
}

impl Goal {
    pub fn as_str(self) -> &'static str {
        match self {
            Goal::Minimize => "minimize",
            Goal::Maximize => "maximize",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreSpec {
    #[serde(default = "one")]
    pub weight: f64,
    pub goal: Goal,
}

fn one() -> f64 {
    1.0
}

/// Where metric values come from.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Source {
    /// `name: value` lines (autoresearch) and `METRIC name=value` lines in the run's output.
    Lines {},
    /// A regular expression over the run's output; the first capture group is the value.
    Regex { name: String, pattern: String },
    /// A JSON file in the run dir or worktree; `pointer` may end at a number (needs `name`) or
    /// at an object whose numeric members all become metrics. A `*` segment matches any key.
    Json {
        file: String,
        pointer: String,
        #[serde(default)]
        name: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Metrics {
    pub sources: Vec<Source>,
    pub score: IndexMap<String, ScoreSpec>,
    pub primary: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Strict,
}

#[derive(Debug, Clone)]
pub struct Decide {
    pub policy: Policy,
    pub min_delta: f64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerKind {
    Local,
}

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub kind: RunnerKind,
    pub parallel: usize,
    pub env_allow: Vec<String>,
    pub kill_grace: Duration,
    pub max_log_bytes: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    pub provider: String,
    pub model: String,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub api_key_env: Option<String>,
}

// ---- raw (serde) shapes -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    task: RawTask,
    #[serde(default)]
    metrics: Option<RawMetrics>,
    #[serde(default)]
    params: Option<params::RawParams>,
    #[serde(default)]
    decide: Option<RawDecide>,
    #[serde(default)]
    runner: Option<RawRunner>,
    #[serde(default)]
    agent: Option<Agent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    #[serde(default)]
    goal: Option<String>,
    #[serde(default)]
    goal_file: Option<String>,
    command: String,
    #[serde(default)]
    editable: Vec<String>,
    #[serde(default)]
    protected: Vec<String>,
    #[serde(default)]
    timeout: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    #[serde(default)]
    sources: Option<Vec<Source>>,
    #[serde(default)]
    score: IndexMap<String, ScoreSpec>,
    #[serde(default)]
    primary: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDecide {
    #[serde(default)]
    policy: Option<String>,
    #[serde(default)]
    min_delta: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRunner {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    parallel: Option<i64>,
    #[serde(default)]
    env_allow: Vec<String>,
    #[serde(default)]
    kill_grace: Option<String>,
    #[serde(default)]
    max_log_mb: Option<f64>,
}

impl Config {
    /// Loads `autolab.toml` from a lab root.
    pub fn load_lab(root: &Path) -> Result<Config, ConfigError> {
        let path = root.join(CONFIG_FILE);
        if !path.exists() {
            return Err(ConfigError::missing(&path));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::io(&path, &e))?;
        Config::parse(&path, &text)
    }

    /// Parses and validates config text; `path` is used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| ConfigError::from_toml(path, text, &e))?;
        let at = |section: &str, key: &str, message: String, hint: Option<String>| {
            ConfigError::at_key(path, text, section, key, message, hint)
        };

        let t = raw.task;
        if t.command.trim().is_empty() {
            return Err(at(
                "task",
                "command",
                "`task.command` is empty".into(),
                Some("set it to the shell command that runs one experiment, e.g. \"python3 train.py\"".into()),
            ));
        }
        let timeout = match &t.timeout {
            None => Duration::from_secs(600),
            Some(s) => parse_duration(s).map_err(|m| {
                at(
                    "task",
                    "timeout",
                    m,
                    Some("use a duration like \"90s\", \"5m\" or \"1h30m\"".into()),
                )
            })?,
        };
        if timeout.is_zero() {
            return Err(at(
                "task",
                "timeout",
                "`task.timeout` must be positive".into(),
                None,
            ));
        }
        for (key, list) in [("editable", &t.editable), ("protected", &t.protected)] {
            for p in list.iter() {
                if p.starts_with('/') || p.split('/').any(|c| c == "..") {
                    return Err(at(
                        "task",
                        key,
                        format!("path `{p}` in `task.{key}` leaves the lab"),
                        Some("use paths (or globs) relative to the lab root".into()),
                    ));
                }
            }
        }
        let task = Task {
            goal: t.goal,
            goal_file: t.goal_file,
            command: t.command,
            editable: t.editable,
            protected: t.protected,
            timeout,
        };

        let m = raw.metrics.unwrap_or(RawMetrics {
            sources: None,
            score: IndexMap::new(),
            primary: None,
        });
        let sources = m.sources.unwrap_or_else(|| vec![Source::Lines {}]);
        for s in &sources {
            match s {
                Source::Regex { pattern, .. } => {
                    regex::Regex::new(pattern).map_err(|e| {
                        at(
                            "metrics",
                            "sources",
                            format!("invalid regex `{pattern}`: {e}"),
                            None,
                        )
                    })?;
                }
                Source::Json { pointer, name, .. } => {
                    if !(pointer.is_empty() || pointer.starts_with('/')) {
                        return Err(at(
                            "metrics",
                            "sources",
                            format!("JSON pointer `{pointer}` must be empty or start with `/`"),
                            Some("e.g. \"/means\" or \"/*/means\" for AI-Scientist's final_info.json".into()),
                        ));
                    }
                    if name.as_deref() == Some("") {
                        return Err(at("metrics", "sources", "empty metric `name`".into(), None));
                    }
                }
                Source::Lines {} => {}
            }
        }
        if m.score.is_empty() {
            return Err(at(
                "metrics",
                "score",
                "no scored metric: `[metrics].score` is empty or missing".into(),
                Some(
                    "add e.g. `score = { val_loss = { goal = \"minimize\" } }` under [metrics]"
                        .into(),
                ),
            ));
        }
        for (name, spec) in &m.score {
            if !(spec.weight.is_finite() && spec.weight > 0.0) {
                return Err(at(
                    "metrics",
                    "score",
                    format!(
                        "metric `{name}` has weight {}, which is not a positive number",
                        spec.weight
                    ),
                    None,
                ));
            }
        }
        let primary = match m.primary {
            Some(p) if m.score.contains_key(&p) => p,
            Some(p) => {
                let names: Vec<&str> = m.score.keys().map(String::as_str).collect();
                return Err(at(
                    "metrics",
                    "primary",
                    format!("primary metric `{p}` is not a scored metric"),
                    Some(format!("use one of: {}", names.join(", "))),
                ));
            }
            None => m.score.keys().next().cloned().unwrap_or_default(),
        };
        let metrics = Metrics {
            sources,
            score: m.score,
            primary,
        };

        let params = match raw.params {
            None => None,
            Some(p) => Some(
                params::validate(p).map_err(|(key, msg, hint)| at("params", &key, msg, hint))?,
            ),
        };

        if let Some(p) = &params
            && let Apply::Json(f) | Apply::Toml(f) = &p.apply
            && !task.editable.iter().any(|e| crate::git::path_matches(e, f))
        {
            return Err(at(
                "params",
                "apply",
                format!(
                    "the params file `{f}` is not in `task.editable`, so every candidate would be invalid"
                ),
                Some(format!("add \"{f}\" to `editable` under [task]")),
            ));
        }

        let d = raw.decide.unwrap_or(RawDecide {
            policy: None,
            min_delta: None,
        });
        let policy = match d.policy.as_deref() {
            None | Some("strict") => Policy::Strict,
            Some("noise-aware") => {
                return Err(at(
                    "decide",
                    "policy",
                    "policy `noise-aware` is not available in this version".into(),
                    Some("use `policy = \"strict\"`".into()),
                ));
            }
            Some(other) => {
                return Err(at(
                    "decide",
                    "policy",
                    format!("unknown policy `{other}`"),
                    Some("valid policies: strict".into()),
                ));
            }
        };
        let min_delta = d.min_delta.unwrap_or(0.0);
        if !(min_delta.is_finite() && min_delta >= 0.0) {
            return Err(at(
                "decide",
                "min_delta",
                "`min_delta` must be a number ≥ 0".into(),
                None,
            ));
        }
        let decide = Decide { policy, min_delta };

        let r = raw.runner.unwrap_or(RawRunner {
            kind: None,
            parallel: None,
            env_allow: vec![],
            kill_grace: None,
            max_log_mb: None,
        });
        let kind = match r.kind.as_deref() {
            None | Some("local") => RunnerKind::Local,
            Some(other) => {
                return Err(at(
                    "runner",
                    "kind",
                    format!("unknown runner `{other}`"),
                    Some("valid runners: local".into()),
                ));
            }
        };
        let parallel = r.parallel.unwrap_or(1);
        if !(1..=256).contains(&parallel) {
            return Err(at(
                "runner",
                "parallel",
                format!("`parallel = {parallel}` is out of range"),
                Some("use a number of slots between 1 and 256".into()),
            ));
        }
        let kill_grace = match &r.kill_grace {
            None => Duration::from_secs(5),
            Some(s) => parse_duration(s).map_err(|m| at("runner", "kill_grace", m, None))?,
        };
        let max_log_mb = r.max_log_mb.unwrap_or(64.0);
        if !(max_log_mb.is_finite() && max_log_mb > 0.0) {
            return Err(at(
                "runner",
                "max_log_mb",
                "`max_log_mb` must be positive".into(),
                None,
            ));
        }
        let runner = RunnerConfig {
            kind,
            parallel: parallel as usize,
            env_allow: r.env_allow,
            kill_grace,
            max_log_bytes: (max_log_mb * 1024.0 * 1024.0) as u64,
        };

        Ok(Config {
            path: path.to_path_buf(),
            task,
            metrics,
            params,
            decide,
            runner,
            agent: raw.agent,
        })
    }

    /// The score's direction: one goal when all scored metrics share it, else maximize.
    pub fn score_goal(&self) -> Goal {
        crate::score::score_goal(&self.metrics.score)
    }
}

#[cfg(test)]
mod tests;
