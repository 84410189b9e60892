//! `autolab bench duty`: do compute slots wait for the LLM? A fake LLM answers after D
//! seconds, runs take R seconds; the fraction of wall time the slots are busy is measured with
//! ideation and coding pipelined (the default) and with a serial propose-then-run loop.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use autolab_core::ledger::Ledger;
use autolab_engine::{Lab, Observer, Report, RunOptions, run_campaign};
use autolab_llm::fake::{FakeReply, FakeServer};

use crate::output::CliError;

struct Quiet;
impl Observer for Quiet {
    fn report(&mut self, _: Report) {}
}

/// Distinct words, so that no two benchmark ideas look like near-duplicates.
const WORDS: [&str; 48] = [
    "amber", "basalt", "cobalt", "dune", "ember", "fjord", "garnet", "harbor", "indigo", "juniper",
    "kelp", "lagoon", "meadow", "nectar", "onyx", "prairie", "quartz", "ridge", "saffron",
    "tundra", "umber", "valley", "willow", "xenon", "yarrow", "zephyr", "acorn", "birch", "cedar",
    "delta", "estuary", "fern", "glacier", "heath", "iris", "jasper", "kestrel", "lichen", "marsh",
    "nettle", "orchid", "pebble", "quill", "reef", "sorrel", "thistle", "upland", "vervain",
];

/// A fake LLM: distinct ideas, edits that each add a new file, and one-line lessons.
fn fake_llm(delay: Duration) -> FakeServer {
    let counter = Arc::new(AtomicUsize::new(0));
    FakeServer::from_fn(move |r| {
        let i = counter.fetch_add(1, Ordering::SeqCst);
        let text = if r.body.contains("Propose ") {
            let ideas: Vec<String> = (0..3)
                .map(|k| {
                    let n = (i * 3 + k) % 24;
                    let (a, b) = (WORDS[n], WORDS[n + 24]);
                    format!(r#"{{"title": "{a} {b}", "hypothesis": "{a} {b}", "plan": "note {a}", "files": ["notes"], "expected_effect": "none", "risk": "low"}}"#)
                })
                .collect();
            format!("{{\"ideas\": [{}]}}", ideas.join(", "))
        } else if r.body.contains("Write ONE lesson") {
            format!("Note {i} changed nothing: the metric does not read the notes.")
        } else {
            format!("notes/n{i}.txt\n```\n<<<<<<< SEARCH\n=======\nnote {i}\n>>>>>>> REPLACE\n```\n")
        };
        FakeReply::OpenAi { text, prompt_tokens: 1200, completion_tokens: 150 }
    })
    .with_delay(delay)
}

fn make_lab(dir: &Path, url: &str, run_secs: f64, parallel: usize) -> Result<(), CliError> {
    std::fs::create_dir_all(dir.join("notes"))?;
    std::fs::write(dir.join("notes/.keep"), "")?;
    std::fs::write(
        dir.join("run.sh"),
        format!("sleep {run_secs}\necho 'val_loss: 0.5'\n"),
    )?;
    std::fs::write(
        dir.join("autolab.toml"),
        format!(
            "[task]\ngoal = \"Benchmark.\"\ncommand = \"sh run.sh\"\neditable = [\"notes/**\"]\ntimeout = \"1m\"\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n[decide]\npolicy = \"strict\"\n\
             [runner]\nparallel = {parallel}\n\
             [agent]\nprovider = \"openai\"\nmodel = \"fake\"\nbase_url = \"{url}\"\n"
        ),
    )?;
    super::commit_lab(dir)
}

struct Measured {
    duty: f64,
    wall: f64,
    prompt_per_exp: f64,
    completion_per_exp: f64,
}

fn measure(
    dir: &Path,
    experiments: u32,
    parallel: usize,
    serial: bool,
) -> Result<Measured, CliError> {
    let lab = Lab::open(dir)?;
    let opts = RunOptions {
        tag: "duty".into(),
        max_experiments: Some(experiments + 1),
        max_hours: None,
        parallel: Some(parallel),
        seed: Some(1),
        sandbox_helper: std::env::current_exe().ok(),
        serial_agent: serial,
        base: None,
        base_params: None,
        holder: None,
    };
    run_campaign(&lab, &opts, &mut Quiet, &AtomicBool::new(false))?;
    let ledger = Ledger::open(&lab.ledger_path())?;
    let c = ledger
        .campaign("duty")?
        .ok_or_else(|| CliError::failure("campaign vanished", None))?;
    let base_end = ledger
        .experiment(c.id, 0)?
        .map(|e| ledger.runs(e.row))
        .transpose()?
        .and_then(|r| r.iter().filter_map(|r| r.ended_at).reduce(f64::max))
        .unwrap_or(0.0);
    let mut busy = 0.0;
    let mut last_end = base_end;
    let mut n = 0;
    for e in ledger
        .experiments(c.id)?
        .into_iter()
        .filter(|e| e.number > 0)
    {
        n += 1;
        for r in ledger.runs(e.row)? {
            if let Some(end) = r.ended_at {
                busy += end - r.started_at;
                last_end = last_end.max(end);
            }
        }
    }
    // From the baseline's end (when candidates may start) to the last candidate's end.
    let wall = (last_end - base_end).max(1e-9);
    let (p, comp) = ledger.spent_tokens(c.id)?;
    Ok(Measured {
        duty: busy / (wall * parallel as f64),
        wall,
        prompt_per_exp: p as f64 / f64::from(n.max(1)),
        completion_per_exp: comp as f64 / f64::from(n.max(1)),
    })
}

pub fn duty(
    experiments: u32,
    llm_secs: f64,
    run_secs: f64,
) -> Result<std::process::ExitCode, CliError> {
    let root = tempfile::Builder::new()
        .prefix("autolab-bench-duty-")
        .tempdir()?;
    println!(
        "| mode       | parallel | experiments | wall s | slot duty | prompt tok/exp | completion tok/exp |"
    );
    println!(
        "|------------|----------|-------------|--------|-----------|----------------|--------------------|"
    );
    let mut ok = true;
    for parallel in [1usize, 4] {
        for serial in [false, true] {
            let server = fake_llm(Duration::from_secs_f64(llm_secs));
            let dir = root.path().join(format!(
                "p{parallel}-{}",
                if serial { "serial" } else { "pipelined" }
            ));
            make_lab(&dir, &server.url(), run_secs, parallel)?;
            eprintln!(
                "parallel {parallel}, {}…",
                if serial { "serial" } else { "pipelined" }
            );
            let m = match measure(&dir, experiments, parallel, serial) {
                Ok(m) => m,
                Err(e) => {
                    eprintln!("the lab is kept for inspection: {}", dir.display());
                    let _ = root.keep();
                    return Err(e);
                }
            };
            if !serial && m.duty < 0.95 {
                ok = false;
            }
            println!(
                "| {:<10} | {parallel:>8} | {experiments:>11} | {:>6.1} | {:>9.3} | {:>14.0} | {:>18.0} |",
                if serial { "serial" } else { "pipelined" },
                m.wall,
                m.duty,
                m.prompt_per_exp,
                m.completion_per_exp
            );
        }
    }
    println!(
        "\nfake LLM answers after D = {llm_secs} s; runs take R = {run_secs} s. duty = busy slot-seconds / (slots × wall time),\n\
         wall time from the baseline's end to the last run's end. target: pipelined ≥ 0.95 when D < R: {}",
        if ok { "met" } else { "MISSED" }
    );
    if std::env::var_os("AUTOLAB_BENCH_KEEP").is_some() {
        let _ = root.keep();
    }
    Ok(std::process::ExitCode::SUCCESS)
}
