//! A blocking client for an MLflow tracking server's REST API (the shared HTTP agent of
//! `autolab_llm`, loopback without proxies).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use indexmap::IndexMap;
use serde_json::{Value, json};

const API: &str = "api/2.0/mlflow";
const TIMEOUT: Duration = Duration::from_secs(30);
/// The most points `metrics/get-history` returns per page.
const HISTORY_PAGE: &str = "25000";

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

/// A metric value: a number, or the strings protobuf JSON uses for NaN and infinities.
pub(super) fn number(v: &Value) -> Option<f64> {
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
pub(super) fn int(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or_default(),
        Value::String(s) => s.parse().unwrap_or_default(),
        _ => 0,
    }
}

pub(super) fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn with_code(code: &str, message: &str) -> String {
    if code.is_empty() {
        message.to_string()
    } else {
        format!("{message} ({code})")
    }
}

pub(super) fn excerpt(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &t[..i]),
        None => t.to_string(),
    }
}

pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
