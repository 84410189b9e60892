//! The `mlflow` metric source: a blocking client for an MLflow tracking server's REST API.
//!
//! Before a run, autolab creates the MLflow run (tagged with the campaign, experiment and run)
//! and hands its id to the run in `MLFLOW_RUN_ID`, so `mlflow.start_run()` resumes it. After
//! the run, the logged metrics are read back and the run is marked finished or failed if the
//! experiment left it running. Which MLflow run belongs to an autolab run is remembered in a
//! small file in the run dir.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use autolab_core::config::{MLFLOW_DEFAULT_EXPERIMENT, SeriesValue, Source};
use autolab_core::metrics::Collected;
use indexmap::IndexMap;
use serde_json::{Value, json};

/// The file in a run dir that records the run's MLflow run (or why there is none).
pub(crate) const RECORD_FILE: &str = "mlflow-run.json";

const API: &str = "api/2.0/mlflow";
const TIMEOUT: Duration = Duration::from_secs(30);
/// The most points `metrics/get-history` returns per page.
const HISTORY_PAGE: &str = "25000";

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

/// A client for one tracking server.
pub struct Client {
    agent: ureq::Agent,
    /// The tracking URI as configured (for messages).
    uri: String,
    base: String,
}

impl Client {
    pub fn new(tracking_uri: &str) -> Client {
        Client {
            agent: autolab_llm::http_agent(tracking_uri, TIMEOUT),
            uri: tracking_uri.to_string(),
            base: tracking_uri.trim_end_matches('/').to_string(),
        }
    }

    fn fail(&self, what: &str, why: impl std::fmt::Display) -> String {
        format!("MLflow at {}: {what}: {why}", self.uri)
    }

    /// One REST call; `Err((error_code, message))` for a reply that is not 2xx.
    fn call(
        &self,
        what: &str,
        endpoint: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Result<Value, (String, String)>, String> {
        let url = format!("{}/{API}/{endpoint}", self.base);
        let reply = match body {
            Some(body) => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.to_string()),
            None => {
                let mut req = self.agent.get(&url);
                for (k, v) in query {
                    req = req.query(*k, *v);
                }
                req.call()
            }
        };
        let mut reply = reply.map_err(|e| self.fail(what, e))?;
        let status = reply.status().as_u16();
        let text = reply
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| self.fail(what, e))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            if value.is_null() && !text.trim().is_empty() {
                return Err(self.fail(what, format!("not a JSON reply: {}", excerpt(&text))));
            }
            return Ok(Ok(value));
        }
        let code = value["error_code"].as_str().unwrap_or_default().to_string();
        let message = match value["message"].as_str() {
            Some(m) => m.to_string(),
            None => excerpt(&text),
        };
        Ok(Err((code, format!("HTTP {status} {message}"))))
    }

    /// Like `call`, with any error reply as an error.
    fn ok(
        &self,
        what: &str,
        endpoint: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, String> {
        self.call(what, endpoint, query, body)?
            .map_err(|(code, message)| self.fail(what, with_code(&code, &message)))
    }

    /// The id of the experiment called `name`, created if it does not exist.
    pub fn experiment_id(&self, name: &str) -> Result<String, String> {
        let what = format!("cannot get experiment `{name}`");
        for _ in 0..2 {
            match self.call(
                &what,
                "experiments/get-by-name",
                &[("experiment_name", name)],
                None,
            )? {
                Ok(v) => {
                    let e = &v["experiment"];
                    if e["lifecycle_stage"].as_str() == Some("deleted") {
                        return Err(self.fail(
                            &what,
                            "it is deleted; restore it (`mlflow experiments restore`) or name another `experiment` in the mlflow source",
                        ));
                    }
                    return id_of(&e["experiment_id"]).ok_or_else(|| {
                        self.fail(
                            &what,
                            format!("no experiment_id in {}", excerpt(&v.to_string())),
                        )
                    });
                }
                Err((code, _)) if code == "RESOURCE_DOES_NOT_EXIST" => {}
                Err((code, message)) => return Err(self.fail(&what, with_code(&code, &message))),
            }
            match self.call(
                &what,
                "experiments/create",
                &[],
                Some(&json!({ "name": name })),
            )? {
                Ok(v) => {
                    return id_of(&v["experiment_id"]).ok_or_else(|| {
                        self.fail(
                            &what,
                            format!("no experiment_id in {}", excerpt(&v.to_string())),
                        )
                    });
                }
                // Created concurrently by someone else: look it up again.
                Err((code, _)) if code == "RESOURCE_ALREADY_EXISTS" => {}
                Err((code, message)) => return Err(self.fail(&what, with_code(&code, &message))),
            }
        }
        Err(self.fail(&what, "it exists and does not exist"))
    }

    /// Creates a run in the experiment; returns its id.
    pub fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        tags: &[(&str, &str)],
    ) -> Result<String, String> {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({ "key": k, "value": v }))
            .collect();
        let v = self.ok(
            "cannot create a run",
            "runs/create",
            &[],
            Some(&json!({
                "experiment_id": experiment_id,
                "run_name": run_name,
                "start_time": now_ms(),
                "tags": tags,
            })),
        )?;
        v["run"]["info"]["run_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| {
                self.fail(
                    "cannot create a run",
                    format!("no run id in {}", excerpt(&v.to_string())),
                )
            })
    }

    /// The run: its status (`RUNNING`, `FINISHED`, …) and the latest value of each metric.
    pub fn get_run(&self, run_id: &str) -> Result<(String, IndexMap<String, f64>), String> {
        let what = format!("cannot read run {run_id}");
        let v = self.ok(&what, "runs/get", &[("run_id", run_id)], None)?;
        let run = &v["run"];
        let status = run["info"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut latest = IndexMap::new();
        for m in run["data"]["metrics"].as_array().into_iter().flatten() {
            if let (Some(key), Some(value)) = (m["key"].as_str(), number(&m["value"])) {
                latest.insert(key.to_string(), value);
            }
        }
        Ok((status, latest))
    }

    /// Every value logged for `key`, as (step, timestamp, value).
    pub fn history(&self, run_id: &str, key: &str) -> Result<Vec<(i64, i64, f64)>, String> {
        let what = format!("cannot read the history of `{key}` in run {run_id}");
        let mut points = Vec::new();
        let mut token = String::new();
        loop {
            let mut query = vec![
                ("run_id", run_id),
                ("metric_key", key),
                ("max_results", HISTORY_PAGE),
            ];
            if !token.is_empty() {
                query.push(("page_token", token.as_str()));
            }
            let v = self.ok(&what, "metrics/get-history", &query, None)?;
            for m in v["metrics"].as_array().into_iter().flatten() {
                if let Some(value) = number(&m["value"]) {
                    points.push((int(&m["step"]), int(&m["timestamp"]), value));
                }
            }
            match v["next_page_token"].as_str() {
                Some(t) if !t.is_empty() && t != token => token = t.to_string(),
                _ => return Ok(points),
            }
        }
    }

    /// Ends a run with `status` (`FINISHED`, `FAILED` or `KILLED`).
    pub fn end_run(&self, run_id: &str, status: &str) -> Result<(), String> {
        self.ok(
            &format!("cannot mark run {run_id} {status}"),
            "runs/update",
            &[],
            Some(&json!({ "run_id": run_id, "status": status, "end_time": now_ms() })),
        )
        .map(|_| ())
    }
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

/// A metric value: a number, or the strings protobuf JSON uses for NaN and infinities.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            other => other.parse().ok(),
        },
        _ => None,
    }
}

/// An int64 field (protobuf JSON may send it as a string).
fn int(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or_default(),
        Value::String(s) => s.parse().unwrap_or_default(),
        _ => 0,
    }
}

fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn with_code(code: &str, message: &str) -> String {
    if code.is_empty() {
        message.to_string()
    } else {
        format!("{message} ({code})")
    }
}

fn excerpt(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_hosts() {
        assert_eq!(number(&json!(0.5)), Some(0.5));
        assert!(number(&json!("NaN")).is_some_and(f64::is_nan));
        assert_eq!(number(&json!("-Infinity")), Some(f64::NEG_INFINITY));
        assert_eq!(int(&json!("12")), 12);
        let pts = [(0, 1, 0.9), (1, 2, 0.3), (2, 3, 0.5)];
        assert_eq!(pick(&pts, SeriesValue::Min), Some(0.3));
        assert_eq!(pick(&pts, SeriesValue::Max), Some(0.9));
        assert_eq!(pick(&[], SeriesValue::Max), None);
        assert!(autolab_llm::is_loopback_url("http://127.0.0.1:5000"));
        assert!(autolab_llm::is_loopback_url("http://localhost:5000/"));
        assert!(autolab_llm::is_loopback_url("http://[::1]:5000"));
        assert!(!autolab_llm::is_loopback_url("https://mlflow.example.org"));
    }

    #[test]
    fn an_unreachable_server_is_a_clear_problem() {
        let dir = tempfile::tempdir().unwrap();
        let sources = vec![Source::Mlflow {
            tracking_uri: "http://127.0.0.1:1".into(),
            experiment: None,
            keys: None,
            from: SeriesValue::Last,
            rename: IndexMap::new(),
        }];
        let env = prepare_run(&sources, dir.path(), "t", 3, "0");
        assert_eq!(
            env,
            vec![(
                "MLFLOW_TRACKING_URI".to_string(),
                "http://127.0.0.1:1".to_string()
            )]
        );
        let mut c = Collected::default();
        collect(&sources, dir.path(), true, &mut c);
        assert_eq!(c.problems.len(), 1, "{c:?}");
        assert!(
            c.problems[0]
                .starts_with("MLflow at http://127.0.0.1:1: cannot get experiment `autolab`"),
            "{c:?}"
        );
        std::fs::remove_file(dir.path().join(RECORD_FILE)).unwrap();
        let mut c = Collected::default();
        collect(&sources, dir.path(), true, &mut c);
        assert!(c.problems[0].contains("no MLflow run is known"), "{c:?}");
    }
}
