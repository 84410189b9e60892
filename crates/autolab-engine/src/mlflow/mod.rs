//! The `mlflow` metric source: a blocking client for an MLflow tracking server's REST API.
//!
//! Before a run, autolab creates the MLflow run (tagged with the campaign, experiment and run)
//! and hands its id to the run in `MLFLOW_RUN_ID`, so `mlflow.start_run()` resumes it. After
//! the run, the logged metrics are read back and the run is marked finished or failed if the
//! experiment left it running. Which MLflow run belongs to an autolab run is remembered in a
//! small file in the run dir.

use std::path::Path;

use autolab_core::config::{MLFLOW_DEFAULT_EXPERIMENT, SeriesValue, Source};
use autolab_core::metrics::Collected;
use serde_json::{Value, json};

mod client;

pub use client::Client;
#[cfg(test)]
use client::{int, number};

/// The file in a run dir that records the run's MLflow run (or why there is none).
pub(crate) const RECORD_FILE: &str = "mlflow-run.json";

/// The first `mlflow` source of a lab: the server and experiment its runs log to.
pub(crate) fn target(sources: &[Source]) -> Option<(&str, &str)> {
    sources.iter().find_map(|s| match s {
        Source::Mlflow {
            tracking_uri,
            experiment,
            ..
        } => Some((
            tracking_uri.as_str(),
            experiment.as_deref().unwrap_or(MLFLOW_DEFAULT_EXPERIMENT),
        )),
        _ => None,
    })
}

/// Creates the MLflow run for an autolab run and records it in the run dir; returns the
/// variables that hand it to the run. A failure is recorded too, to be reported with the run's
/// metrics, and the run still gets `MLFLOW_TRACKING_URI`.
pub(crate) fn prepare_run(
    sources: &[Source],
    run_dir: &Path,
    campaign: &str,
    number: u32,
    run: &str,
) -> Vec<(String, String)> {
    let Some((uri, experiment)) = target(sources) else {
        return Vec::new();
    };
    let mut env = vec![("MLFLOW_TRACKING_URI".to_string(), uri.to_string())];
    let client = Client::new(uri);
    let number = format!("{number:04}");
    let run_name = format!("{campaign}/{number}/{run}");
    let created = client.experiment_id(experiment).and_then(|id| {
        client.create_run(
            &id,
            &run_name,
            &[
                ("autolab.campaign", campaign),
                ("autolab.experiment", &number),
                ("autolab.run", run),
            ],
        )
    });
    let record = match created {
        Ok(run_id) => {
            env.push(("MLFLOW_RUN_ID".into(), run_id.clone()));
            json!({ "tracking_uri": uri, "run_id": run_id })
        }
        Err(e) => {
            tracing::warn!("{e}");
            json!({ "tracking_uri": uri, "error": e })
        }
    };
    let _ = std::fs::create_dir_all(run_dir);
    if let Err(e) = std::fs::write(run_dir.join(RECORD_FILE), record.to_string()) {
        tracing::warn!("cannot record the MLflow run in {}: {e}", run_dir.display());
    }
    env
}

/// Reads the values of every `mlflow` source for the run recorded in `run_dir` into `c` (they
/// win over other sources' values), then ends the MLflow run if the experiment left it running.
pub(crate) fn collect(sources: &[Source], run_dir: &Path, succeeded: bool, c: &mut Collected) {
    let Some((uri, _)) = target(sources) else {
        return;
    };
    let path = run_dir.join(RECORD_FILE);
    let record: Value = match autolab_core::read_plain(&path, 1 << 20) {
        Ok(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let Some(run_id) = record["run_id"].as_str() else {
        c.problems.push(match record["error"].as_str() {
            Some(e) => e.to_string(),
            None => format!(
                "MLflow at {uri}: no MLflow run is known for this run ({} is missing; was autolab restarted?)",
                path.display()
            ),
        });
        return;
    };
    let client = Client::new(uri);
    let (status, latest) = match client.get_run(run_id) {
        Ok(r) => r,
        Err(e) => {
            c.problems.push(e);
            return;
        }
    };
    for source in sources {
        let Source::Mlflow {
            keys, from, rename, ..
        } = source
        else {
            continue;
        };
        let wanted: Vec<&String> = match keys {
            Some(keys) => keys.iter().collect(),
            None => latest.keys().collect(),
        };
        if wanted.is_empty() {
            c.problems.push(format!(
                "MLflow at {uri}: run {run_id} logged no metrics (did the run call mlflow.start_run()?)"
            ));
        }
        for key in wanted {
            let Some(last) = latest.get(key) else {
                let logged: Vec<&str> = latest.keys().map(String::as_str).collect();
                c.problems.push(format!(
                    "MLflow at {uri}: run {run_id} logged no metric `{key}` (logged: {})",
                    if logged.is_empty() {
                        "none".to_string()
                    } else {
                        logged.join(", ")
                    }
                ));
                continue;
            };
            let value = match from {
                SeriesValue::Last => Some(*last),
                SeriesValue::Min | SeriesValue::Max => match client.history(run_id, key) {
                    Ok(points) => pick(&points, *from),
                    Err(e) => {
                        c.problems.push(e);
                        continue;
                    }
                },
            };
            if let Some(v) = value {
                let name = rename.get(key).unwrap_or(key);
                c.values.insert(name.clone(), v);
            }
        }
    }
    if status == "RUNNING" {
        let end = if succeeded { "FINISHED" } else { "FAILED" };
        if let Err(e) = client.end_run(run_id, end) {
            c.problems.push(e);
        }
    }
}

/// The least or largest value of a series (NaN only if every value is NaN).
fn pick(points: &[(i64, i64, f64)], from: SeriesValue) -> Option<f64> {
    let mut values = points.iter().map(|p| p.2);
    let first = values.next()?;
    Some(values.fold(first, |a, b| match from {
        SeriesValue::Max => a.max(b),
        _ => a.min(b),
    }))
}

#[cfg(test)]
mod tests;
