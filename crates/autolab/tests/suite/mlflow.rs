//! A lab that logs to an MLflow tracking server runs unchanged: autolab creates the MLflow run,
//! the experiment's `mlflow.start_run()` resumes it, and the logged metrics are read back.
//!
//! Needs a venv with mlflow (made once at `target/test-venvs/mlflow`, ~40 s, from PyPI) and a
//! real `mlflow server`; skipped when the venv cannot be made, unless
//! `AUTOLAB_REQUIRE_LOGGERS` is set.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::Value;

use super::common::*;

/// The venv with mlflow, made (under a lock, for concurrent test processes) if missing.
fn venv() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .ok_or("no target dir")?
        .join("test-venvs");
    std::fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let venv = root.join("mlflow");
    let ready = venv.join(".autolab-ready");
    if ready.exists() {
        return Ok(venv);
    }
    let out = Command::new("flock")
        .arg(root.join("mlflow.lock"))
        .args([
            "sh",
            "-c",
            r#"test -f "$V/.autolab-ready" && exit 0
rm -rf "$V" && python3 -m venv "$V" && "$V/bin/pip" install --quiet --disable-pip-version-check mlflow \
  && "$V/bin/python" -c 'import mlflow' && touch "$V/.autolab-ready""#,
        ])
        .env("V", &venv)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run flock/python3: {e}"))?;
    if out.status.success() && ready.exists() {
        Ok(venv)
    } else {
        Err(format!(
            "cannot make the mlflow venv at {}: {}",
            venv.display(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ))
    }
}

/// A `mlflow server` in its own process group, killed (with its workers) when dropped.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Server {
    fn start(venv: &Path, dir: &Path) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("mlflow-server.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(venv.join("bin/mlflow"))
            .args(["server", "--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--backend-store-uri")
            .arg(format!("sqlite:///{}", dir.join("mlflow.db").display()))
            .arg("--artifacts-destination")
            .arg(dir.join("artifacts"))
            .args(["--workers", "1"])
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", venv.join("bin").display()),
            )
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .unwrap();
        let mut server = Server { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some((200, body)) = server.get("/health")
                && body.contains("OK")
            {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("mlflow server exited ({status}): {}", server.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "mlflow server not healthy after 60 s: {}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A plain HTTP/1.0 GET: (status, body).
    fn get(&self, path: &str) -> Option<(u16, String)> {
        self.request("GET", path, "")
    }

    fn request(&self, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(
            s,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .ok()?;
        let mut reply = String::new();
        s.read_to_string(&mut reply).ok()?;
        let status = reply.split_whitespace().nth(1)?.parse().ok()?;
        let body = reply.split_once("\r\n\r\n")?.1.to_string();
        Some((status, body))
    }

    fn api(&self, method: &str, path: &str, body: &str) -> Value {
        let (status, reply) = self
            .request(method, &format!("/api/2.0/mlflow/{path}"), body)
            .unwrap_or_else(|| panic!("no reply to {path}"));
        assert_eq!(status, 200, "{path}: {reply}");
        serde_json::from_str(&reply).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let group = Pid::from_raw(self.child.id() as i32);
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        // Workers may outlive the server's main process: make sure the whole group is gone.
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

#[test]
fn a_lab_logging_to_mlflow_runs_unchanged() {
    let venv = match venv() {
        Ok(v) => v,
        Err(why) if std::env::var_os("AUTOLAB_REQUIRE_LOGGERS").is_none() => {
            skip(&why);
            return;
        }
        Err(why) => panic!("{why}"),
    };
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&venv, tmp.path());

    let lab = TestLab::new();
    lab.write(
        "train.py",
        r#"import mlflow

curve = [0.9, 0.61, 0.42, 0.47]
with mlflow.start_run():
    for step, value in enumerate(curve):
        mlflow.log_metric("val_loss", value, step=step)
        mlflow.log_metric("train_loss", value + 0.1, step=step)
print("done")
"#,
    );
    lab.write(
        "autolab.toml",
        &format!(
            r#"[task]
command = "{python} train.py"
editable = ["train.py"]
timeout = "120s"

[metrics]
sources = [{{ kind = "mlflow", tracking_uri = "{uri}" }}]
score = {{ val_loss = {{ goal = "minimize" }} }}

[decide]
policy = "strict"

[sandbox]
network = "host"
visible = ["{venv}"]
"#,
            python = venv.join("bin/python").display(),
            venv = venv.display(),
            uri = server.uri(),
        ),
    );
    lab.commit("lab");

    let out = lab.autolab(&["run", "--tag", "ml", "--max-experiments", "1"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        stderr(&out),
        server.log_text()
    );
    let conn = lab.ledger();
    let recorded = |name: &str| -> Option<f64> {
        conn.query_row(
            "SELECT m.value FROM metrics m JOIN runs r ON r.id = m.run_id \
             JOIN experiments e ON e.id = r.experiment_id WHERE e.number = 0 AND m.name = ?1",
            [name],
            |r| r.get(0),
        )
        .ok()
    };
    let tail: String = conn
        .query_row("SELECT coalesce(log_tail, '') FROM runs", [], |r| r.get(0))
        .unwrap_or_default();
    // The last value logged, not the least; every logged metric is read.
    assert_eq!(recorded("val_loss"), Some(0.47), "log tail: {tail}");
    assert_eq!(recorded("train_loss"), Some(0.57), "log tail: {tail}");

    // The MLflow run is the one autolab created, tagged, and finished.
    let exp = server.api("GET", "experiments/get-by-name?experiment_name=autolab", "");
    let exp_id = exp["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let found = server.api(
        "POST",
        "runs/search",
        &format!(r#"{{"experiment_ids": ["{exp_id}"], "max_results": 10}}"#),
    );
    let runs = found["runs"].as_array().cloned().unwrap_or_default();
    assert_eq!(runs.len(), 1, "{found}");
    let run_id = runs[0]["info"]["run_id"].as_str().unwrap().to_string();
    let run = server.api("GET", &format!("runs/get?run_id={run_id}"), "");
    let info = &run["run"]["info"];
    assert_eq!(
        info["experiment_id"].as_str(),
        Some(exp_id.as_str()),
        "{run}"
    );
    assert_eq!(info["status"].as_str(), Some("FINISHED"), "{run}");
    assert_eq!(info["run_name"].as_str(), Some("ml/0000/0"), "{run}");
    let tags: Vec<(String, String)> = run["run"]["data"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().to_string(),
                t["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for (k, v) in [
        ("autolab.campaign", "ml"),
        ("autolab.experiment", "0000"),
        ("autolab.run", "0"),
    ] {
        assert!(
            tags.contains(&(k.to_string(), v.to_string())),
            "{k}={v} not in {tags:?}"
        );
    }
    // The experiment's values are in the run autolab created (no second run).
    let history = server.api(
        "GET",
        &format!("metrics/get-history?run_id={run_id}&metric_key=val_loss"),
        "",
    );
    assert_eq!(
        history["metrics"].as_array().map(Vec::len),
        Some(4),
        "{history}"
    );

    drop(server);
}
