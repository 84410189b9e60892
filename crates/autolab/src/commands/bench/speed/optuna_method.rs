//! Optuna's side of `bench speed`: TPE proposes (ask/tell) and a pruner decides; this side
//! runs each trial as the lab's command in a private copy of the lab, two at a time, sends
//! every streamed `step`/`train_loss` pair to the driver (`trial.report`, `should_prune`) and
//! kills the trial's process group when Optuna prunes it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::{Map, Value, json};

use super::labs::{LabSpec, parse_final, parse_step};
use super::{Record, Trial};
use crate::commands::bench::optimizer::optuna::OptunaProcess;
use crate::output::CliError;

/// What a trial's reader thread tells the loop.
enum Event {
    Step { trial: u64, step: u64, value: f64 },
    Done { trial: u64, value: Option<f64> },
}

struct Flight {
    pid: i32,
    started: Instant,
    pruned: bool,
    dir: std::path::PathBuf,
}

/// One Optuna study of `lab.budget` trials with `pruner` ("median" or "hyperband").
pub(super) fn run(
    optuna: &mut OptunaProcess,
    lab: &LabSpec,
    pruner: &str,
    seed: u64,
    metric: &str,
) -> Result<Record, CliError> {
    let config = autolab_core::config::Config::parse(Path::new("autolab.toml"), lab.toml())
        .map_err(|e| CliError::failure(format!("the lab's autolab.toml: {e}"), None))?;
    let space = config
        .params
        .as_ref()
        .map(|p| p.space.clone())
        .unwrap_or_default();
    let base: Map<String, Value> = serde_json::from_str(lab.params())
        .map_err(|e| CliError::failure(format!("the lab's params.json: {e}"), None))?;
    let root = tempfile::Builder::new()
        .prefix("autolab-bench-speed-optuna-")
        .tempdir()?;
    optuna.call(&json!({
        "cmd": "study",
        "seed": seed,
        "pruner": pruner,
        "space": crate::commands::bench::optimizer::space_json(&space),
    }))?;
    let start = Instant::now();
    let (tx, rx) = mpsc::channel::<Event>();
    let mut flights: HashMap<u64, Flight> = HashMap::new();
    let mut trials = Vec::new();
    let mut asked = 0u32;
    loop {
        while asked < lab.budget && flights.len() < 2 {
            let reply = optuna.call(&json!({"cmd": "ask"}))?;
            let (Some(Value::Object(params)), Some(id)) = (
                reply.get("params"),
                reply.get("trial").and_then(Value::as_u64),
            ) else {
                return Err(CliError::failure(format!("Optuna answered {reply}"), None));
            };
            let mut merged = base.clone();
            merged.extend(params.clone());
            let dir = root.path().join(format!("trial-{id}"));
            let flight = launch(lab, &dir, &merged, seed * 1000 + id, id, metric, &tx)?;
            flights.insert(id, flight);
            asked += 1;
        }
        if flights.is_empty() {
            break;
        }
        let Ok(event) = rx.recv() else {
            return Err(CliError::failure("a trial's reader vanished", None));
        };
        match event {
            Event::Step { trial, step, value } => {
                let Some(f) = flights.get_mut(&trial) else {
                    continue;
                };
                if f.pruned {
                    continue;
                }
                let reply = optuna.call(&json!({
                    "cmd": "report", "trial": trial, "step": step, "value": value,
                }))?;
                if reply.get("prune").and_then(Value::as_bool) == Some(true) {
                    f.pruned = true;
                    let _ = killpg(Pid::from_raw(f.pid), Signal::SIGKILL);
                }
            }
            Event::Done { trial, value } => {
                let Some(f) = flights.remove(&trial) else {
                    continue;
                };
                let run_secs = f.started.elapsed().as_secs_f64();
                let value = if f.pruned { None } else { value };
                let tell = if f.pruned {
                    json!({"cmd": "tell", "trial": trial, "state": "pruned"})
                } else {
                    json!({"cmd": "tell", "trial": trial, "value": value})
                };
                optuna.call(&tell)?;
                let _ = std::fs::remove_dir_all(&f.dir);
                trials.push(Trial {
                    end: start.elapsed().as_secs_f64(),
                    run_secs,
                    value,
                    pruned: f.pruned,
                });
            }
        }
    }
    Ok(Record {
        wall: start.elapsed().as_secs_f64(),
        runs: trials.clone(),
        trials,
    })
}

/// Starts `python3 train.py` in a fresh copy of the lab (its own process group) and a thread
/// that streams its output to the loop.
fn launch(
    lab: &LabSpec,
    dir: &Path,
    params: &Map<String, Value>,
    run_seed: u64,
    trial: u64,
    metric: &str,
    tx: &mpsc::Sender<Event>,
) -> Result<Flight, CliError> {
    lab.write_files(dir)?;
    std::fs::write(
        dir.join("params.json"),
        serde_json::to_string(params).map_err(|e| CliError::failure(e.to_string(), None))?,
    )?;
    let started = Instant::now();
    let mut child = Command::new("python3")
        .arg("train.py")
        .current_dir(dir)
        .env("AUTOLAB_SEED", run_seed.to_string())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| {
            CliError::failure(
                format!("cannot run python3: {e}"),
                Some("the labs need python3 on PATH"),
            )
        })?;
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    let stdout = child.stdout.take();
    let tx = tx.clone();
    let metric = metric.to_string();
    std::thread::spawn(move || {
        let mut last = None;
        if let Some(out) = stdout {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Some((step, value)) = parse_step(&line, &metric) {
                    let _ = tx.send(Event::Step { trial, step, value });
                } else if let Some(v) = parse_final(&line) {
                    last = Some(v);
                }
            }
        }
        let ok = child.wait().is_ok_and(|s| s.success());
        let _ = tx.send(Event::Done {
            trial,
            value: last.filter(|_| ok),
        });
    });
    Ok(Flight {
        pid,
        started,
        pruned: false,
        dir: dir.to_path_buf(),
    })
}
