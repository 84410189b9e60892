//! `autolab bench serve`: the dashboard under load. A ledger of N experiments is generated;
//! `autolab serve` (a process of its own, as in use) renders the overview, a leaderboard sorted
//! by a metric and an experiment page; a ledger event reaches many open pages over SSE; and a
//! campaign runs with and without a dashboard watching it (pairs alternated, same run).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::time::{Duration, Instant};

use autolab_core::StatePaths;
use autolab_core::experiment::{RunOutcome, State};
use autolab_core::ledger::{Changes, Ledger};
use autolab_engine::{Lab, RunOptions, run_campaign};
use indexmap::IndexMap;
use serde_json::json;

use super::{Quiet, make_lab};
use crate::output::CliError;

/// Renders measured per page (the median is reported).
const RENDERS: usize = 7;
/// Experiments of each campaign of the slowdown pairs.
const CAMPAIGN: u32 = 15;

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(lab: &Path) -> Result<Server, CliError> {
        let exe = std::env::current_exe()?;
        let mut child = std::process::Command::new(exe)
            .arg("-C")
            .arg(lab)
            .args(["serve", "--port", "0", "--tag", "bench"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            BufReader::new(out).read_line(&mut line)?;
        }
        let base = line
            .trim()
            .strip_prefix("dashboard: ")
            .and_then(|u| u.split_once("/?token="))
            .map(|(b, _)| b.to_string())
            .ok_or_else(|| CliError::failure(format!("serve printed {line:?}"), None))?;
        Ok(Server { child, base })
    }

    fn agent(&self) -> ureq::Agent {
        autolab_llm::http_agent(&self.base, Duration::from_secs(60))
    }

    /// Median milliseconds of GET `path`.
    fn median_ms(&self, path: &str) -> Result<f64, CliError> {
        let http = self.agent();
        let mut times = Vec::new();
        for _ in 0..RENDERS {
            let start = Instant::now();
            let mut r = http
                .get(&format!("{}{path}", self.base))
                .call()
                .map_err(|e| CliError::failure(format!("GET {path}: {e}"), None))?;
            let _ = r.body_mut().read_to_string();
            if r.status() != 200 {
                return Err(CliError::failure(
                    format!("GET {path}: {}", r.status()),
                    None,
                ));
            }
            times.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        Ok(times[times.len() / 2])
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `n` judged experiments (with a run and metrics each) into `lab`'s ledger.
fn fill_ledger(lab: &Path, n: u32) -> Result<(), CliError> {
    let base = crate::commands::common::head_commit(lab)?;
    let paths = StatePaths::new(lab);
    std::fs::create_dir_all(paths.state_dir())?;
    let mut l = Ledger::open(&paths.ledger())?;
    let c = l.create_campaign("bench", &base, 0, &IndexMap::new(), "")?;
    let mut best = f64::INFINITY;
    for i in 0..n {
        let x = 0.5 + 0.4 * ((f64::from(i) * 0.7).sin());
        let params = json!({"lr": x});
        let row = l.propose(
            c.id,
            i,
            &base,
            "optimizer",
            &format!("lr={x:.4}"),
            Some(&params),
        )?;
        l.transition_with(row, State::Implementing, json!({}), &Changes::default())?;
        let ch = Changes {
            commit: Some(base.clone()),
            lines: Some((1, 1)),
            ..Changes::default()
        };
        l.transition_with(row, State::Queued, json!({}), &ch)?;
        let (run, _) = l.start_run(row, 0, "/nonexistent", &base)?;
        let m = IndexMap::from([("val_loss".to_string(), x), ("acc".to_string(), 1.0 - x)]);
        l.finish_run(run, RunOutcome::Exited, Some(0), &m, "val_loss: x", None)?;
        let kept = x < best;
        if kept {
            best = x;
        }
        let ch = Changes {
            score: Some(x),
            metrics: Some(m),
            reason: Some("generated".into()),
            new_incumbent: kept.then_some(i),
            ..Changes::default()
        };
        let to = if kept { State::Kept } else { State::Discarded };
        l.transition_with(row, to, json!({}), &ch)?;
    }
    Ok(())
}

/// Opens `clients` event streams, writes one event, and returns the slowest delivery (ms).
fn fan_out(server: &Server, lab: &Path, clients: usize) -> Result<f64, CliError> {
    let ready = Arc::new(Barrier::new(clients + 1));
    let (tx, rx) = mpsc::channel::<Instant>();
    let mut threads = Vec::new();
    for _ in 0..clients {
        let (http, url, ready, tx) = (
            server.agent(),
            format!("{}/events", server.base),
            ready.clone(),
            tx.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let r = http.get(&url).call();
            ready.wait();
            let Ok(mut r) = r else { return };
            for line in BufReader::new(r.body_mut().as_reader()).lines() {
                match line {
                    Ok(l) if l.starts_with("event: ledger") => {
                        let _ = tx.send(Instant::now());
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        }));
    }
    ready.wait();
    let l = Ledger::open(&StatePaths::new(lab).ledger())?;
    let c = l
        .campaign("bench")?
        .ok_or_else(|| CliError::failure("no bench campaign", None))?;
    let written = Instant::now();
    l.campaign_event(c.id, "bench", &json!({}))?;
    let mut slowest = 0.0f64;
    for _ in 0..clients {
        let at = rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| CliError::failure("a page never got the event", None))?;
        slowest = slowest.max(at.duration_since(written).as_secs_f64() * 1000.0);
    }
    Ok(slowest)
}

/// Seconds of a `CAMPAIGN`-experiment campaign `tag` in `lab`.
fn campaign_secs(lab: &Lab, tag: &str) -> Result<f64, CliError> {
    let opts = RunOptions {
        tag: tag.into(),
        max_experiments: Some(CAMPAIGN),
        max_hours: None,
        parallel: Some(1),
        seed: Some(0),
        sandbox_helper: std::env::current_exe().ok(),
        serial_agent: false,
        base: None,
        base_params: None,
        holder: None,
    };
    let start = Instant::now();
    run_campaign(lab, &opts, &mut Quiet, &AtomicBool::new(false))?;
    Ok(start.elapsed().as_secs_f64())
}

/// A page watching the campaign as the script does: an event stream, and the page fetched
/// again (at most every 150 ms) after events, and every 5 s.
fn watcher(base: String, tag: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let http = autolab_llm::http_agent(&base, Duration::from_secs(60));
        let (tx, rx) = mpsc::channel::<()>();
        let events = {
            let (http, url, stop) = (http.clone(), format!("{base}/events"), stop.clone());
            std::thread::spawn(move || {
                let Ok(mut r) = http.get(&url).call() else {
                    return;
                };
                for line in BufReader::new(r.body_mut().as_reader()).lines() {
                    if stop.load(Ordering::SeqCst) || line.is_err() {
                        return;
                    }
                    if line.is_ok_and(|l| l.starts_with("event:")) {
                        let _ = tx.send(());
                    }
                }
            })
        };
        let mut last = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            let due = rx.recv_timeout(Duration::from_millis(150)).is_ok()
                || last.elapsed() > Duration::from_secs(5);
            if due {
                while rx.try_recv().is_ok() {}
                if let Ok(mut r) = http.get(&format!("{base}/?tag={tag}")).call() {
                    let _ = r.body_mut().read_to_string();
                }
                last = Instant::now();
            }
        }
        drop(events);
    })
}

pub fn serve(experiments: u32, clients: usize) -> Result<ExitCode, CliError> {
    let root = tempfile::Builder::new()
        .prefix("autolab-bench-serve-")
        .tempdir()?;
    let big = root.path().join("big");
    make_lab(&big, 0, true)?;
    eprintln!("writing a ledger of {experiments} experiments…");
    fill_ledger(&big, experiments)?;
    let server = Server::start(&big)?;
    eprintln!("rendering…");
    let overview = server.median_ms("/?tag=bench")?;
    let sorted = server.median_ms("/?tag=bench&sort=acc")?;
    let page = server.median_ms(&format!("/experiment/{}?tag=bench", experiments / 2))?;
    eprintln!("{clients} event streams…");
    let slowest = fan_out(&server, &big, clients)?;
    drop(server);

    let small = root.path().join("small");
    make_lab(&small, 0, true)?;
    let lab = Lab::open(&small)?;
    // A first campaign warms the caches; then pairs without and with a watching dashboard.
    campaign_secs(&lab, "warm")?;
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for pair in 0..2 {
        eprintln!(
            "campaign pair {}: without, then with a dashboard…",
            pair + 1
        );
        without.push(campaign_secs(&lab, &format!("a{pair}"))?);
        let dash = Server::start(&small)?;
        let stop = Arc::new(AtomicBool::new(false));
        let tag = format!("b{pair}");
        let pages: Vec<_> = (0..3)
            .map(|_| watcher(dash.base.clone(), tag.clone(), stop.clone()))
            .collect();
        with.push(campaign_secs(&lab, &tag)?);
        stop.store(true, Ordering::SeqCst);
        drop(dash);
        for p in pages {
            let _ = p.join();
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let ratio = mean(&with) / mean(&without);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    let rows = [
        (
            format!("overview page, {experiments} experiments"),
            format!("{overview:.1} ms"),
            "≤ 100 ms",
            overview <= 100.0,
        ),
        (
            "leaderboard sorted by a metric".to_string(),
            format!("{sorted:.1} ms"),
            "≤ 100 ms",
            sorted <= 100.0,
        ),
        (
            "experiment page".to_string(),
            format!("{page:.1} ms"),
            "≤ 100 ms",
            page <= 100.0,
        ),
        (
            format!("one event to {clients} open pages (slowest)"),
            format!("{slowest:.1} ms"),
            "≤ 1000 ms",
            slowest <= 1000.0,
        ),
        (
            "campaign with / without 3 open pages".to_string(),
            format!("{ratio:.3}x"),
            "≤ 1.05x",
            ratio <= 1.05,
        ),
    ];
    println!(
        "| {:<42} | {:>10} | {:<9} | verdict |",
        "measure", "value", "target"
    );
    println!(
        "|{}|{}|{}|---------|",
        "-".repeat(44),
        "-".repeat(12),
        "-".repeat(11)
    );
    for (what, value, target, ok) in rows {
        println!(
            "| {what:<42} | {value:>10} | {target:<9} | {:>7} |",
            verdict(ok)
        );
    }
    println!(
        "\npages: median of {RENDERS} GETs over loopback (server-side render + HTTP). campaign: {CAMPAIGN} experiments, without {:.2} s, with {:.2} s (means of {} pairs, alternated). {} cores.",
        mean(&without),
        mean(&with),
        without.len(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    Ok(ExitCode::SUCCESS)
}
