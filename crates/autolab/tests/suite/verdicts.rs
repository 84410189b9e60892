//! Verdicts on real work: metrics read from the whole output, side metrics that misbehave,
//! and gains far below the level where the noise was measured.

use super::common::*;

/// A lab whose baseline prints `baseline` and whose one candidate runs `candidate`.
fn lab_with(baseline: &str, candidate: &str, extra_toml: &str) -> TestLab {
    let lab = TestLab::new();
    lab.write("baseline.sh", baseline);
    lab.write("candidate.sh", candidate);
    lab.write(
        "run.sh",
        "if [ -n \"$P_MODE\" ]; then . ./candidate.sh; else . ./baseline.sh; fi\n",
    );
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ncommand = \"sh run.sh\"\neditable = [\"run.sh\"]\ntimeout = \"60s\"\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n\
             [params]\napply = {{ env = \"P_\" }}\nmode = {{ choice = [\"candidate\"] }}\n\
             [decide]\npolicy = \"strict\"\n{extra_toml}"
        ),
    );
    lab.commit("lab");
    lab
}

fn run_two(lab: &TestLab) -> serde_json::Value {
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    lab.json(&["results", "--format", "json"])
}

#[test]
fn a_metric_printed_before_megabytes_of_output_is_read() {
    let lab = lab_with(
        "echo 'val_loss: 0.5'\n",
        "echo 'val_loss: 0.25'\nhead -c 8000000 /dev/zero | tr '\\0' 'x' | fold -w 100\necho done\n",
        "",
    );
    let rows = run_two(&lab);
    assert_eq!(rows[1]["verdict"], "kept", "{rows}");
    assert_eq!(rows[1]["metrics"]["val_loss"], 0.25, "{rows}");
}

#[test]
fn a_metric_printed_before_the_log_cap_drops_the_middle_is_read() {
    let lab = lab_with(
        "echo 'val_loss: 0.5'\n",
        "echo 'val_loss: 0.25' >&2\nhead -c 3000000 /dev/zero | tr '\\0' 'x' | fold -w 100 >&2\necho done\n",
        "[runner]\nmax_log_mb = 1\n",
    );
    let rows = run_two(&lab);
    assert_eq!(rows[1]["verdict"], "kept", "{rows}");
    assert_eq!(rows[1]["metrics"]["val_loss"], 0.25, "{rows}");
    let log = std::fs::read_to_string(lab.path().join(".autolab/runs/t/0001/0/stderr.log"))
        .unwrap_or_default();
    assert!(
        log.contains("bytes of output omitted"),
        "the log was capped"
    );
}

#[test]
fn a_nan_side_metric_leaves_the_scored_one_alone() {
    let lab = lab_with(
        "echo 'val_loss: 0.5'\necho 'acc: 0.8'\n",
        "echo 'val_loss: 0.3'\necho 'acc: nan'\n",
        "",
    );
    let rows = run_two(&lab);
    assert_eq!(rows[1]["verdict"], "kept", "{rows}");
    assert_eq!(rows[1]["metrics"]["val_loss"], 0.3, "{rows}");
    assert!(rows[1]["metrics"].get("acc").is_none(), "{rows}");
    let tsv = lab.read("results.tsv");
    let line = tsv.lines().nth(2).unwrap_or_default();
    assert!(line.contains("0.300000"), "{tsv}");
    assert!(line.contains("keep"), "{tsv}");
    let show = lab.json(&["show", "1", "--json"]);
    let tail = show["run_list"][0]["log_tail"].as_str().unwrap_or_default();
    assert!(
        tail.contains("acc"),
        "the missing side metric is noted: {tail}"
    );
}

#[test]
fn step_is_a_step_key_not_a_metric() {
    let lab = lab_with(
        "echo 'val_loss: 0.5'\n",
        "echo 'step: 100 train_loss: 0.4'\necho 'val_loss: 0.3'\n",
        "",
    );
    let rows = run_two(&lab);
    assert_eq!(rows[1]["metrics"]["val_loss"], 0.3, "{rows}");
    assert_eq!(rows[1]["metrics"]["train_loss"], 0.4, "{rows}");
    assert!(rows[1]["metrics"].get("step").is_none(), "{rows}");
}

/// The new user's lab: a loss whose level falls from 4 to 0.008 as `k` grows, with 5 %
/// multiplicative noise drawn from the run's seed.
const FALLING: &str = r#"import json, os, random
k = json.load(open("params.json"))["k"]
rng = random.Random(int(os.environ.get("AUTOLAB_SEED", "0")) * 1000 + k)
level = 4.0 * 0.5 ** k
print(f"val_loss: {level * (1 + 0.05 * rng.gauss(0, 1)):.6f}")
"#;

#[test]
fn gains_are_kept_down_to_the_noise_at_each_level() {
    let lab = TestLab::new();
    lab.write("train.py", FALLING);
    lab.write("params.json", "{\"k\": 0}\n");
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"python3 train.py\"\neditable = [\"params.json\"]\ntimeout = \"60s\"\n\
         [metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n\
         [params]\napply = { json = \"params.json\" }\nk = { int = [0, 9], default = 0 }\nstartup = 8\n\
         [runner]\nparallel = 2\n",
    );
    lab.commit("lab");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "24"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = lab.json(&["results", "--format", "json"]);
    let rows = rows.as_array().unwrap();
    let level = |r: &serde_json::Value| {
        let k = r["params"]["k"].as_f64().unwrap_or(0.0);
        4.0 * 0.5f64.powf(k)
    };
    let best_tried = rows
        .iter()
        .filter(|r| r["score"].is_number())
        .map(level)
        .fold(f64::INFINITY, f64::min);
    let kept: Vec<f64> = rows
        .iter()
        .filter(|r| r["verdict"] == "kept")
        .map(level)
        .collect();
    let incumbent = kept.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        best_tried < 0.1,
        "the optimizer never went below 0.1: {rows:?}"
    );
    assert_eq!(
        incumbent, best_tried,
        "the best level tried ({best_tried}) was not kept; kept levels: {kept:?}"
    );
}

#[test]
fn each_verdict_line_counts_against_the_budget_and_times_its_runs() {
    let lab = lab_with("echo 'val_loss: 0.5'\n", "echo 'val_loss: 0.25'\n", "");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.contains("#0001"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.starts_with("[2/2] #0001 kept"), "{line}");
    let secs = line
        .split_whitespace()
        .find_map(|w| w.strip_suffix('s').and_then(|n| n.parse::<f64>().ok()));
    assert!(secs.is_some_and(|s| s >= 0.0), "no run time in {line}");
    assert!(!err.contains("no budget given"), "{err}");
}

#[test]
fn a_campaign_without_a_budget_says_it_runs_until_stopped() {
    use std::io::{BufRead, BufReader};
    // The baseline runs until the test stops the campaign.
    let lab = lab_with(
        "while :; do sleep 0.05; done\n",
        "echo 'val_loss: 0.25'\n",
        "",
    );
    let mut child = lab
        .cmd()
        .args(["run", "--tag", "t"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    reader.read_line(&mut first).unwrap();
    // Keep reading: a closed stderr is not what is tested here.
    let drain_text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = drain_text.clone();
    let drain = std::thread::spawn(move || {
        let mut all = String::new();
        let _ = std::io::Read::read_to_string(&mut reader, &mut all);
        sink.lock().unwrap().push_str(&all);
    });
    // Ctrl-C once the campaign runs (before, it is a plain interrupt).
    lab.wait_for("a running baseline", |c| {
        count(
            c,
            "SELECT COUNT(*) FROM runs WHERE outcome = 'running' AND pid IS NOT NULL",
        ) >= 1
    });
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    );
    let status = child.wait().unwrap();
    let _ = drain.join();
    assert!(first.contains("no budget given"), "{first}");
    assert!(first.contains("runs until stopped"), "{first}");
    assert!(status.success(), "Ctrl-C stops cleanly: {status:?}");
    let rest = drain_text.lock().unwrap().clone();
    assert!(
        rest.contains("left open (their running runs were cancelled and recorded; the same command resumes them): #0000"),
        "the stop message lists what was cancelled: {rest}"
    );
}
