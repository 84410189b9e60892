//! `[metrics].sources`: where metric values come from, and their checks.

use indexmap::IndexMap;
use serde::Deserialize;

type Problem = (String, Option<String>);

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

/// Checks every source, and that mlflow sources agree on one server and experiment.
pub(super) fn validate(sources: &[Source]) -> Result<(), Problem> {
    for s in sources {
        match s {
            Source::Regex { pattern, .. } => {
                regex::Regex::new(pattern)
                    .map_err(|e| (format!("invalid regex `{pattern}`: {e}"), None))?;
            }
            Source::Json { pointer, name, .. } => {
                if !(pointer.is_empty() || pointer.starts_with('/')) {
                    return Err((
                        format!("JSON pointer `{pointer}` must be empty or start with `/`"),
                        Some(
                            "e.g. \"/means\" or \"/*/means\" for AI-Scientist's final_info.json"
                                .into(),
                        ),
                    ));
                }
                if name.as_deref() == Some("") {
                    return Err(("empty metric `name`".into(), None));
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
                )?;
            }
            Source::Wandb {
                dir, keys, rename, ..
            } => {
                check_logger_source("wandb", Some(dir), "keys", keys.as_deref(), rename)?;
            }
            Source::Mlflow {
                tracking_uri,
                experiment,
                keys,
                rename,
                ..
            } => {
                check_mlflow_source(tracking_uri, experiment.as_deref()).and_then(|()| {
                    check_logger_source("mlflow", None, "keys", keys.as_deref(), rename)
                })?;
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
        return Err((
                "the mlflow sources name different servers or experiments".into(),
                Some("a run logs to one MLflow run: give every mlflow source the same `tracking_uri` and `experiment`".into()),
            ));
    }
    Ok(())
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
