//! `autolab.toml`: the lab's typed, validated configuration.
//!
//! Parsing is strict: unknown keys are errors with a "did you mean", and every error names the
//! file, the line and the key, and says what would be valid.

mod agent;
mod cluster;
mod duration;
mod error;
mod params;
mod sandbox;

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;

pub use agent::{Agent, CoderKind, ProviderKind};
pub use cluster::ClusterSettings;
pub use duration::{format_duration, parse_duration};
pub use error::ConfigError;
pub use params::{Apply, ParamKind, ParamSpec, ParamsConfig, Sampler};
pub use sandbox::SandboxConfig;

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
}

/// Stop a run whose learning curve is clearly worse than the incumbent's at the same step.
#[derive(Debug, Clone, PartialEq)]
pub struct EarlyStop {
    /// The streamed metric compared (default: the primary metric).
    pub metric: String,
    /// The progress key in the same lines (default `step`).
    pub step: String,
    /// Relative margin: worse by more than this fraction of the incumbent's value.
    pub margin: f64,
    /// Consecutive worse checkpoints before stopping.
    pub patience: u32,
    /// No stopping before this step.
    pub min_step: f64,
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
    /// TensorBoard event files (`events.out.tfevents.*`) the run wrote, under `dir` in the run
    /// dir, else in the worktree (default: searched for anywhere in both). Each scalar tag
    /// (all, or those in `tags`) becomes a metric named as the tag (`/` kept) or as `rename`
    /// says; `mode` picks the last, least or largest value logged.
    Tensorboard {
        #[serde(default)]
        dir: Option<String>,
        #[serde(default)]
        tags: Option<Vec<String>>,
        #[serde(default)]
        mode: SeriesValue,
        #[serde(default)]
        rename: IndexMap<String, String>,
    },
    /// A W&B run directory the run wrote (`wandb/latest-run`, or the newest `run-*` or
    /// `offline-run-*` under `dir`, in the run dir, else in the worktree): its summary, or the
    /// last, least or largest value in its history, of each numeric key (all, or `keys`).
    Wandb {
        #[serde(default = "wandb_dir")]
        dir: String,
        #[serde(default)]
        keys: Option<Vec<String>>,
        #[serde(default)]
        from: WandbFrom,
        #[serde(default)]
        rename: IndexMap<String, String>,
    },
    /// An MLflow tracking server (`http://host:port`): autolab creates an MLflow run in
    /// `experiment` (default `autolab`) before each run and hands it to the run through
    /// `MLFLOW_TRACKING_URI` and `MLFLOW_RUN_ID`; afterwards the last, least or largest logged
    /// value of each metric (all, or `keys`) becomes a metric, named as logged or as `rename`
    /// says. The run must reach the server: `[sandbox] network = "host"`.
    Mlflow {
        tracking_uri: String,
        #[serde(default)]
        experiment: Option<String>,
        #[serde(default)]
        keys: Option<Vec<String>>,
        #[serde(default)]
        from: SeriesValue,
        #[serde(default)]
        rename: IndexMap<String, String>,
    },
}

/// The MLflow experiment a `mlflow` source logs to when it names none.
pub const MLFLOW_DEFAULT_EXPERIMENT: &str = "autolab";

fn wandb_dir() -> String {
    "wandb".into()
}

/// Which value of a logged series becomes the metric.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SeriesValue {
    /// The last one written.
    #[default]
    Last,
    Min,
    Max,
}

/// Where a `wandb` source's values come from.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum WandbFrom {
    /// The run's summary (by default, the last value logged of each key).
    #[default]
    Summary,
    HistoryLast,
    HistoryMin,
    HistoryMax,
}

#[derive(Debug, Clone)]
pub struct Metrics {
    pub sources: Vec<Source>,
    pub score: IndexMap<String, ScoreSpec>,
    pub primary: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Keep iff strictly better, on one run (autoresearch).
    Strict,
    /// Keep only a gain that clears the measured noise by a one-sided Welch test.
    NoiseAware,
}

#[derive(Debug, Clone)]
pub struct Decide {
    pub policy: Policy,
    pub min_delta: f64,
    /// Runs of the baseline (with different seeds) that measure the noise floor.
    pub repeats: u32,
    /// Confidence of the one-sided test, e.g. 0.95.
    pub confidence: f64,
    /// Extra runs a promising-but-uncertain candidate may get before its verdict.
    pub max_confirm: u32,
    /// Whether a newly kept incumbent is run again until it has `repeats` runs.
    pub remeasure: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerKind {
    Local,
    Slurm(ClusterSettings),
    Lsf(ClusterSettings),
}

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub kind: RunnerKind,
    pub parallel: usize,
    pub env_allow: Vec<String>,
    pub kill_grace: Duration,
    pub max_log_bytes: u64,
    /// This many crashed/timed-out experiments in a row pause the campaign.
    pub max_consecutive_crashes: u32,
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
    agent: Option<agent::RawAgent>,
    #[serde(default)]
    early_stop: Option<RawEarlyStop>,
    #[serde(default)]
    sandbox: Option<sandbox::RawSandbox>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEarlyStop {
    #[serde(default)]
    metric: Option<String>,
    #[serde(default)]
    step: Option<String>,
    #[serde(default)]
    margin: Option<f64>,
    #[serde(default)]
    patience: Option<i64>,
    #[serde(default)]
    min_step: Option<f64>,
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
    #[serde(default)]
    repeats: Option<i64>,
    #[serde(default)]
    confidence: Option<f64>,
    #[serde(default)]
    max_confirm: Option<i64>,
    #[serde(default)]
    remeasure: Option<bool>,
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
    #[serde(default)]
    max_consecutive_crashes: Option<i64>,
    #[serde(default)]
    ssh: Option<String>,
    #[serde(default)]
    ssh_args: Vec<String>,
    #[serde(default)]
    remote_dir: Option<String>,
    #[serde(default)]
    submit_args: Vec<String>,
    #[serde(default)]
    setup: Vec<String>,
    #[serde(default)]
    poll_interval: Option<String>,
    #[serde(default)]
    max_jobs: Option<i64>,
    #[serde(default)]
    resubmit: Option<i64>,
    #[serde(default)]
    script: Option<String>,
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
                Source::Tensorboard {
                    dir, tags, rename, ..
                } => {
                    check_logger_source(
                        "tensorboard",
                        dir.as_deref(),
                        "tags",
                        tags.as_deref(),
                        rename,
                    )
                    .map_err(|(message, hint)| at("metrics", "sources", message, hint))?;
                }
                Source::Wandb {
                    dir, keys, rename, ..
                } => {
                    check_logger_source("wandb", Some(dir), "keys", keys.as_deref(), rename)
                        .map_err(|(message, hint)| at("metrics", "sources", message, hint))?;
                }
                Source::Mlflow {
                    tracking_uri,
                    experiment,
                    keys,
                    rename,
                    ..
                } => {
                    check_mlflow_source(tracking_uri, experiment.as_deref())
                        .and_then(|()| {
                            check_logger_source("mlflow", None, "keys", keys.as_deref(), rename)
                        })
                        .map_err(|(message, hint)| at("metrics", "sources", message, hint))?;
                }
            }
        }
        let mut mlflow = sources.iter().filter_map(|s| match s {
            Source::Mlflow {
                tracking_uri,
                experiment,
                ..
            } => Some((tracking_uri, experiment.as_deref())),
            _ => None,
        });
        if let Some(first) = mlflow.next()
            && mlflow.any(|other| other != first)
        {
            return Err(at(
                "metrics",
                "sources",
                "the mlflow sources name different servers or experiments".into(),
                Some("a run logs to one MLflow run: give every mlflow source the same `tracking_uri` and `experiment`".into()),
            ));
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
            repeats: None,
            confidence: None,
            max_confirm: None,
            remeasure: None,
        });
        let policy = match d.policy.as_deref() {
            None | Some("noise-aware") => Policy::NoiseAware,
            Some("strict") => Policy::Strict,
            Some(other) => {
                return Err(at(
                    "decide",
                    "policy",
                    format!("unknown policy `{other}`"),
                    Some("valid policies: noise-aware (default), strict".into()),
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
        let repeats = d.repeats.unwrap_or(3);
        if !(1..=100).contains(&repeats) {
            return Err(at(
                "decide",
                "repeats",
                format!("`repeats = {repeats}` is out of range"),
                Some("the baseline runs `repeats` times (1 to 100) to measure the noise; 3 to 5 is typical".into()),
            ));
        }
        let confidence = d.confidence.unwrap_or(0.95);
        if !(confidence > 0.0 && confidence < 1.0) {
            return Err(at(
                "decide",
                "confidence",
                format!("`confidence = {confidence}` must be strictly between 0 and 1"),
                Some("e.g. 0.95".into()),
            ));
        }
        let max_confirm = d.max_confirm.unwrap_or(2);
        if !(0..=20).contains(&max_confirm) {
            return Err(at(
                "decide",
                "max_confirm",
                format!("`max_confirm = {max_confirm}` is out of range (0 to 20)"),
                None,
            ));
        }
        let decide = Decide {
            policy,
            min_delta,
            repeats: repeats as u32,
            confidence,
            max_confirm: max_confirm as u32,
            remeasure: d.remeasure.unwrap_or(false),
        };

        let r = raw.runner.unwrap_or(RawRunner {
            kind: None,
            parallel: None,
            env_allow: vec![],
            kill_grace: None,
            max_log_mb: None,
            max_consecutive_crashes: None,
            ssh: None,
            ssh_args: vec![],
            remote_dir: None,
            submit_args: vec![],
            setup: vec![],
            poll_interval: None,
            max_jobs: None,
            resubmit: None,
            script: None,
        });
        let cluster = || {
            cluster::settings(
                r.ssh.clone(),
                r.ssh_args.clone(),
                r.remote_dir.clone(),
                r.submit_args.clone(),
                r.setup.clone(),
                r.poll_interval.clone(),
                r.max_jobs,
                r.resubmit,
                r.script.clone(),
            )
            .map_err(|(key, msg, hint)| at("runner", &key, msg, hint))
        };
        let kind = match r.kind.as_deref() {
            None | Some("local") => RunnerKind::Local,
            Some("slurm") => RunnerKind::Slurm(cluster()?),
            Some("lsf") => RunnerKind::Lsf(cluster()?),
            Some(other) => {
                return Err(at(
                    "runner",
                    "kind",
                    format!("unknown runner `{other}`"),
                    Some("valid runners: local, slurm, lsf".into()),
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
        let max_crashes = r.max_consecutive_crashes.unwrap_or(5);
        if !(1..=10_000).contains(&max_crashes) {
            return Err(at(
                "runner",
                "max_consecutive_crashes",
                format!("`max_consecutive_crashes = {max_crashes}` must be between 1 and 10000"),
                None,
            ));
        }
        let runner = RunnerConfig {
            kind,
            parallel: parallel as usize,
            env_allow: r.env_allow,
            kill_grace,
            max_log_bytes: (max_log_mb * 1024.0 * 1024.0) as u64,
            max_consecutive_crashes: max_crashes as u32,
        };

        let early_stop = match raw.early_stop {
            None => None,
            Some(e) => {
                let metric = e.metric.unwrap_or_else(|| metrics.primary.clone());
                if !metrics.score.contains_key(&metric) {
                    return Err(at(
                        "early_stop",
                        "metric",
                        format!("`{metric}` is not a scored metric"),
                        Some("early stopping compares a scored metric's streamed values".into()),
                    ));
                }
                let margin = e.margin.unwrap_or(0.1);
                if !(margin.is_finite() && margin >= 0.0) {
                    return Err(at(
                        "early_stop",
                        "margin",
                        "`margin` must be a number ≥ 0 (a fraction, e.g. 0.1)".into(),
                        None,
                    ));
                }
                let patience = e.patience.unwrap_or(3);
                if !(1..=1000).contains(&patience) {
                    return Err(at(
                        "early_stop",
                        "patience",
                        format!("`patience = {patience}` must be between 1 and 1000"),
                        None,
                    ));
                }
                Some(EarlyStop {
                    metric,
                    step: e.step.unwrap_or_else(|| "step".into()),
                    margin,
                    patience: patience as u32,
                    min_step: e.min_step.unwrap_or(0.0),
                })
            }
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

        Ok(Config {
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
}

/// Checks a `mlflow` source's server address and experiment name.
fn check_mlflow_source(
    uri: &str,
    experiment: Option<&str>,
) -> Result<(), (String, Option<String>)> {
    let rest = uri
        .strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"));
    if rest.is_none_or(|r| r.trim_matches('/').is_empty() || r.contains(char::is_whitespace)) {
        return Err((
            format!("`tracking_uri = \"{uri}\"` of the mlflow source is not an http(s) URL"),
            Some("use the tracking server's address, e.g. \"http://127.0.0.1:5000\"".into()),
        ));
    }
    if experiment.is_some_and(|e| e.trim().is_empty()) {
        return Err((
            "`experiment` of the mlflow source is empty".into(),
            Some(format!(
                "name an MLflow experiment, or omit `experiment` for \"{MLFLOW_DEFAULT_EXPERIMENT}\""
            )),
        ));
    }
    Ok(())
}

/// Checks a `tensorboard`, `wandb` or `mlflow` source: a relative `dir` inside the lab, a non-empty list
/// of distinct names to read, and a `rename` that maps read names to distinct metric names.
fn check_logger_source(
    kind: &str,
    dir: Option<&str>,
    list_key: &str,
    names: Option<&[String]>,
    rename: &IndexMap<String, String>,
) -> Result<(), (String, Option<String>)> {
    if dir.is_some_and(|d| d.trim().is_empty()) {
        return Err((format!("`dir` of the {kind} source is empty"), None));
    }
    if let Some(dir) = dir
        && (dir.starts_with('/') || dir.split('/').any(|c| c == ".."))
    {
        return Err((
            format!("`dir = \"{dir}\"` of the {kind} source is not a path inside the lab"),
            Some(format!(
                "use a directory relative to the run dir or the worktree, e.g. \"{}\"; a run finds its run dir in $AUTOLAB_RUN_DIR",
                if kind == "wandb" { "wandb" } else { "runs" }
            )),
        ));
    }
    if let Some(names) = names {
        if names.is_empty() {
            return Err((
                format!("`{list_key} = []` of the {kind} source reads nothing"),
                Some(format!(
                    "list the {list_key} to read, or omit `{list_key}` to read all"
                )),
            ));
        }
        for (i, n) in names.iter().enumerate() {
            if n.is_empty() {
                return Err((
                    format!("an empty name in `{list_key}` of the {kind} source"),
                    None,
                ));
            }
            if names[..i].contains(n) {
                return Err((
                    format!("`{n}` is listed twice in `{list_key}` of the {kind} source"),
                    None,
                ));
            }
        }
    }
    let mut targets: IndexMap<&str, &str> = IndexMap::new();
    for (from, to) in rename {
        if from.is_empty() || to.trim().is_empty() {
            return Err((
                format!(
                    "`rename` of the {kind} source maps `{from}` to `{to}`: names must not be empty"
                ),
                None,
            ));
        }
        if let Some(names) = names
            && !names.contains(from)
        {
            return Err((
                format!(
                    "`rename` of the {kind} source renames `{from}`, which is not in `{list_key}`"
                ),
                Some(format!("{list_key} read: {}", names.join(", "))),
            ));
        }
        if let Some(other) = targets.insert(to, from) {
            return Err((
                format!("`rename` of the {kind} source maps both `{other}` and `{from}` to `{to}`"),
                Some("give each a distinct metric name".into()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
