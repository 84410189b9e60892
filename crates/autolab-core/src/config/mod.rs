//! `autolab.toml`: the lab's typed, validated configuration.
//!
//! Parsing is strict: unknown keys are errors with a "did you mean", and every error names the
//! file, the line and the key, and says what would be valid.

mod agent;
mod cluster;
mod decide;
pub mod drift;
mod duration;
mod early_stop;
mod error;
mod explore;
mod halving;
mod notify;
mod params;
pub mod params_file;
mod projects;
mod runner;
mod sandbox;
mod sources;
mod writeup;

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;

pub use agent::{Agent, CoderKind, ProviderKind};
pub use cluster::ClusterSettings;
pub use decide::{Decide, Policy};
pub use duration::{format_duration, parse_duration};
pub use early_stop::{EarlyStop, StopRule};
pub use error::ConfigError;
pub use explore::Explore;
pub use halving::Halving;
pub use notify::{NOTIFY_EVENTS, Notify, Supervisor};
pub use params::{Apply, ParamKind, ParamSpec, ParamsConfig, Sampler};
pub use projects::Projects;
pub use runner::{PARALLEL, RunnerConfig, RunnerKind, check_parallel};
pub use sandbox::SandboxConfig;
pub use sources::{MLFLOW_DEFAULT_EXPERIMENT, SeriesValue, Source, WandbFrom};
pub use writeup::{LITERATURE_SOURCES, Writeup, literature_source};

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
    pub early_stop: Option<EarlyStop>,
    pub sandbox: SandboxConfig,
    pub writeup: Writeup,
    /// `Some` with `[task] mode = "projects"`.
    pub projects: Option<Projects>,
    /// Where the campaign's news goes, if anywhere.
    pub notify: Option<Notify>,
    pub supervisor: Supervisor,
    pub explore: Explore,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub goal: Option<String>,
    pub goal_file: Option<String>,
    pub command: String,
    pub editable: Vec<String>,
    pub protected: Vec<String>,
    pub timeout: Duration,
    /// Kill a run that prints nothing for this long (verdict `timeout`, reason `stalled`).
    pub stall_timeout: Option<Duration>,
    /// A command run after the lab's command, in a separate process, with the protected files
    /// restored from the campaign start; metrics are read from its output.
    pub evaluate: Option<String>,
    /// A command run after each successful run (e.g. AI-Scientist's `python plot.py`); the
    /// figures it writes are kept in the run dir.
    pub after: Option<String>,
    /// A directory of the repository holding the baseline's results from before autolab
    /// (AI-Scientist's `run_0`): used as the baseline's first run instead of running it.
    pub baseline_dir: Option<String>,
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

#[derive(Debug, Clone)]
pub struct Metrics {
    pub sources: Vec<Source>,
    pub score: IndexMap<String, ScoreSpec>,
    pub primary: String,
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
    decide: Option<decide::RawDecide>,
    #[serde(default)]
    runner: Option<runner::RawRunner>,
    #[serde(default)]
    agent: Option<agent::RawAgent>,
    #[serde(default)]
    early_stop: Option<early_stop::RawEarlyStop>,
    #[serde(default)]
    sandbox: Option<sandbox::RawSandbox>,
    #[serde(default)]
    writeup: Option<writeup::RawWriteup>,
    #[serde(default)]
    projects: Option<projects::RawProjects>,
    #[serde(default)]
    notify: Option<notify::RawNotify>,
    #[serde(default)]
    supervisor: Option<notify::RawSupervisor>,
    #[serde(default)]
    explore: Option<explore::RawExplore>,
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
    #[serde(default)]
    stall_timeout: Option<String>,
    #[serde(default)]
    evaluate: Option<String>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    baseline_dir: Option<String>,
    #[serde(default)]
    mode: Option<String>,
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
        // A path named in both lists would make every candidate that edits it invalid. (A glob
        // in `editable` that also matches a protected file is a carve-out: protected wins.)
        if let Some(p) = t.protected.iter().find(|p| t.editable.contains(p)) {
            return Err(at(
                "task",
                "protected",
                format!(
                    "`{p}` is both protected and editable: every candidate that edits it would be invalid"
                ),
                Some(
                    "a file is either editable or protected: remove it from one of the two lists"
                        .into(),
                ),
            ));
        }
        let stall_timeout = match &t.stall_timeout {
            None => None,
            Some(s) => Some(parse_duration(s).map_err(|m| {
                at(
                    "task",
                    "stall_timeout",
                    m,
                    Some("use a duration like \"5m\"".into()),
                )
            })?),
        };
        if t.evaluate.as_deref().is_some_and(|e| e.trim().is_empty()) {
            return Err(at(
                "task",
                "evaluate",
                "`task.evaluate` is empty".into(),
                None,
            ));
        }
        let mode = t.mode.clone();
        let task = Task {
            goal: t.goal,
            goal_file: t.goal_file,
            command: t.command,
            editable: t.editable,
            protected: t.protected,
            timeout,
            stall_timeout,
            evaluate: t.evaluate,
            after: t.after.filter(|a| !a.trim().is_empty()),
            baseline_dir: t.baseline_dir.filter(|d| !d.trim().is_empty()),
        };

        let m = raw.metrics.unwrap_or(RawMetrics {
            sources: None,
            score: IndexMap::new(),
            primary: None,
        });
        let sources = m.sources.unwrap_or_else(|| vec![Source::Lines {}]);
        sources::validate(&sources)
            .map_err(|(message, hint)| at("metrics", "sources", message, hint))?;
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
        let only_lines = sources.iter().all(|s| matches!(s, Source::Lines {}));
        for (name, spec) in &m.score {
            if only_lines && !crate::metrics::is_metric_name(name) {
                return Err(at(
                    "metrics",
                    "score",
                    format!("metric `{name}` can never be read from a `name: value` or `METRIC name=value` line"),
                    Some("a metric name starts with a letter or `_` and holds letters, digits, `_`, `.`, `/` or `-`; rename it as the program prints it, or read it with a `regex` or `json` source".into()),
                ));
            }
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

        let decide = decide::validate(raw.decide.unwrap_or_default())
            .map_err(|(key, msg, hint)| at("decide", &key, msg, hint))?;

        let runner = runner::validate(raw.runner.unwrap_or_default())
            .map_err(|(key, msg, hint)| at("runner", &key, msg, hint))?;
        if let (RunnerKind::Slurm(c) | RunnerKind::Lsf(c), Some(stall)) =
            (&runner.kind, task.stall_timeout)
            && stall < 2 * c.poll_interval
        {
            // A cluster job's output is seen once per poll: a shorter stall timeout would kill
            // jobs that print.
            return Err(at(
                "task",
                "stall_timeout",
                format!(
                    "`stall_timeout = \"{}\"` is shorter than two cluster polls (`poll_interval = \"{}\"`)",
                    format_duration(stall),
                    format_duration(c.poll_interval)
                ),
                Some("raise stall_timeout, or poll more often".into()),
            ));
        }

        let early_stop = match raw.early_stop {
            None => None,
            Some(e) => Some(
                early_stop::validate(e, &metrics)
                    .map_err(|(key, msg, hint)| at("early_stop", &key, msg, hint))?,
            ),
        };

        let sandbox = sandbox::validate(raw.sandbox)
            .map_err(|(key, msg, hint)| at("sandbox", &key, msg, hint))?;
        if sandbox.enabled
            && sandbox.network_none
            && let Some(uri) = metrics.sources.iter().find_map(|s| match s {
                Source::Mlflow { tracking_uri, .. } => Some(tracking_uri),
                _ => None,
            })
        {
            let (section, key) = if text.contains("[sandbox]") {
                ("sandbox", "network")
            } else {
                ("metrics", "sources")
            };
            return Err(at(
                section,
                key,
                format!(
                    "the mlflow source needs runs to reach {uri}, but the sandbox gives runs no network (`network = \"none\"` is the default)"
                ),
                Some("add `[sandbox]` with `network = \"host\"` (or `enabled = false`)".into()),
            ));
        }

        let writeup = writeup::validate(raw.writeup)
            .map_err(|(key, msg, hint)| at("writeup", &key, msg, hint))?;
        let projects = match mode.as_deref() {
            None | Some("line") => {
                if raw.projects.is_some() {
                    return Err(at(
                        "projects",
                        "runs_per_idea",
                        "[projects] is set but the campaign runs one incumbent line".into(),
                        Some("add `mode = \"projects\"` to [task], or remove [projects]".into()),
                    ));
                }
                None
            }
            Some("projects") => {
                if raw.agent.is_none() {
                    return Err(at(
                        "task",
                        "mode",
                        "`mode = \"projects\"` needs an LLM: each idea's runs are planned and coded by it".into(),
                        Some("add an [agent] section (see README: LLM experts)".into()),
                    ));
                }
                if decide.policy != Policy::Strict {
                    return Err(at(
                        "decide",
                        "policy",
                        "projects judge each run once, as AI-Scientist does".into(),
                        Some("set `policy = \"strict\"` in [decide]".into()),
                    ));
                }
                Some(
                    projects::validate(raw.projects)
                        .map_err(|(key, msg, hint)| at("projects", &key, msg, hint))?,
                )
            }
            Some(other) => {
                return Err(at(
                    "task",
                    "mode",
                    format!("unknown mode `{other}`"),
                    Some("use \"line\" (one incumbent line, the default) or \"projects\" (AI-Scientist's ideas as projects)".into()),
                ));
            }
        };

        let notify = notify::validate_notify(raw.notify)
            .map_err(|(key, msg, hint)| at("notify", &key, msg, hint))?;
        let supervisor = notify::validate_supervisor(raw.supervisor)
            .map_err(|(key, msg, hint)| at("supervisor", &key, msg, hint))?;

        let explore = explore::validate(raw.explore)
            .map_err(|(key, msg, hint)| at("explore", &key, msg, hint))?;

        Ok(Config {
            explore,
            notify,
            supervisor,
            projects,
            writeup,
            sandbox,
            early_stop,
            path: path.to_path_buf(),
            task,
            metrics,
            params,
            decide,
            runner,
            agent: match raw.agent {
                None => None,
                Some(a) => Some(agent::validate(a).map_err(|(key, msg, hint)| {
                    ConfigError::at_key(path, text, "agent", &key, msg, hint)
                })?),
            },
        })
    }

    /// The score's direction: one goal when all scored metrics share it, else maximize.
    pub fn score_goal(&self) -> Goal {
        crate::score::score_goal(&self.metrics.score)
    }

    /// The progress key of streamed lines: `[early_stop] step`, else `step`.
    pub fn step_key(&self) -> &str {
        self.early_stop.as_ref().map_or("step", |e| e.step.as_str())
    }
}

#[cfg(test)]
mod tests;
