//! Whole campaigns: the JSON contract, results.tsv, the git model, the demo.

use super::common::*;

/// A lab whose metric is the params' `x`, so the optimizer's progress is predictable.
fn quadratic_lab(parallel: u32) -> TestLab {
    let lab = TestLab::new();
    lab.write("params.json", "{\"x\": 0.9}\n");
    lab.write(
        "run.sh",
        "x=$(sed -n 's/.*\"x\": *\\([0-9.e-]*\\).*/\\1/p' params.json)\necho \"step: 1 loss: 1\"\necho ---\necho \"val_loss: $x\"\necho \"peak_vram_mb: 2048.0\"\n",
    );
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ncommand = \"sh run.sh\"\neditable = [\"params.json\"]\nprotected = [\"run.sh\"]\n[metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n[params]\napply = {{ json = \"params.json\" }}\nx = {{ float = [0.0, 1.0] }}\n[runner]\nparallel = {parallel}\n"
        ),
    );
    lab.commit("lab");
    lab
}

#[test]
fn json_contract_results_tsv_and_git_model_hold() {
    let lab = quadratic_lab(2);
    let out = lab.autolab(&[
        "run",
        "--tag",
        "exp1",
        "--max-experiments",
        "8",
        "--seed",
        "5",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    let rows = lab.json(&["results", "--tag", "exp1", "--format", "json"]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 8);
    let base = lab.git(&["rev-parse", "main"]).trim().to_string();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["id"], i as u64);
        assert_eq!(r["tag"], "exp1");
        for key in [
            "state", "verdict", "reason", "score", "metrics", "commit", "parent", "proposer",
            "title", "runs",
        ] {
            assert!(r.get(key).is_some(), "missing `{key}` in {r}");
        }
        assert!(
            ["kept", "discarded", "crashed", "timeout", "invalid"]
                .contains(&r["verdict"].as_str().unwrap())
        );
        assert_eq!(r["state"], r["verdict"]);
        assert_eq!(r["commit"].as_str().unwrap().len(), 40);
        assert_eq!(r["parent"].as_str().unwrap().len(), 40);
        assert!(r["runs"].as_u64().unwrap() >= 1);
        assert!(r["metrics"]["val_loss"].is_number());
    }
    assert_eq!(rows[0]["proposer"], "baseline");
    assert_eq!(rows[0]["commit"], base);
    assert_eq!(rows[0]["score"], 0.9);
    assert_eq!(rows[1]["proposer"], "optimizer");

    // The incumbent is the best kept experiment, and its branch points at its commit.
    let kept: Vec<&serde_json::Value> = rows.iter().filter(|r| r["verdict"] == "kept").collect();
    assert!(
        kept.len() >= 2,
        "the optimizer should beat x=0.9 in 7 tries"
    );
    let best = kept
        .iter()
        .min_by(|a, b| {
            a["score"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["score"].as_f64().unwrap())
        })
        .unwrap();
    let status = lab.json(&["status", "--json"]);
    assert_eq!(status["tag"], "exp1");
    assert_eq!(status["incumbent"]["id"], best["id"]);
    assert_eq!(status["incumbent"]["commit"], best["commit"]);
    assert_eq!(status["incumbent"]["score"], best["score"]);
    assert_eq!(status["running"], serde_json::json!([]));
    let total: u64 = status["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 8);
    assert_eq!(
        lab.git(&["rev-parse", "autolab/exp1"]).trim(),
        best["commit"].as_str().unwrap()
    );
    // Kept commits form a fast-forward line from the user's commit.
    let line = lab.git(&["rev-list", "--first-parent", "autolab/exp1"]);
    assert_eq!(line.lines().count(), kept.len(), "{line}");
    assert_eq!(line.lines().last().unwrap(), base);
    // Not kept: archived, reachable.
    for r in rows.iter().filter(|r| r["verdict"] != "kept") {
        let archived = lab.git(&[
            "rev-parse",
            &format!("refs/autolab/exp1/archive/{:04}", r["id"].as_u64().unwrap()),
        ]);
        assert_eq!(archived.trim(), r["commit"].as_str().unwrap());
    }
    // No worktree or experiment branch is left.
    assert!(
        lab.extra_worktrees().is_empty(),
        "{:?}",
        lab.extra_worktrees()
    );
    assert_eq!(lab.git(&["branch", "--list", "autolab-exp/*"]), "");
    // The user's branch did not move.
    assert_eq!(lab.git(&["rev-parse", "HEAD"]).trim(), base);

    // results.tsv: autoresearch's exact format, one row per experiment.
    let tsv = lab.read("results.tsv");
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(lines[0], "commit\tval_loss\tmemory_gb\tstatus\tdescription");
    assert_eq!(lines.len(), 9);
    assert_eq!(
        lines[1],
        format!("{}\t0.900000\t2.0\tkeep\tbaseline", &base[..7])
    );
    for (line, r) in lines[1..].iter().zip(rows) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 5);
        assert_eq!(cols[0], &r["commit"].as_str().unwrap()[..7]);
        assert_eq!(
            cols[1],
            format!("{:.6}", r["metrics"]["val_loss"].as_f64().unwrap())
        );
        let status = match r["verdict"].as_str().unwrap() {
            "kept" => "keep",
            "crashed" | "timeout" => "crash",
            _ => "discard",
        };
        assert_eq!(cols[3], status);
        assert_eq!(cols[4], r["title"]);
    }
    // The tsv format of `results` is the same file.
    assert_eq!(stdout(&lab.autolab(&["results", "--format", "tsv"])), tsv);

    // show: diff, metrics, runs.
    let show = lab.autolab(&["show", &best["id"].to_string()]);
    let text = stdout(&show);
    assert!(text.contains("verdict    kept"), "{text}");
    assert!(
        text.contains("-  \"x\": 0.9") || text.contains("\"x\""),
        "{text}"
    );
    assert!(text.contains("log tail:"), "{text}");
}

#[test]
fn the_same_seed_proposes_the_same_campaign() {
    let titles = |seed: &str| {
        let lab = quadratic_lab(1);
        let out = lab.autolab(&[
            "run",
            "--tag",
            "t",
            "--max-experiments",
            "5",
            "--seed",
            seed,
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let rows = lab.json(&["results", "--format", "json"]);
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r["title"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(titles("3"), titles("3"));
    assert_ne!(titles("3"), titles("4"));
}

#[test]
fn a_finished_campaign_resumes_only_to_a_larger_budget() {
    let lab = quadratic_lab(1);
    assert!(
        lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"])
            .status
            .success()
    );
    assert!(
        lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"])
            .status
            .success()
    );
    assert_eq!(
        lab.json(&["results", "--format", "json"])
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(
        lab.autolab(&["run", "--tag", "t", "--max-experiments", "5"])
            .status
            .success()
    );
    let rows = lab.json(&["results", "--format", "json"]);
    let ids: Vec<u64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [0, 1, 2, 3, 4]);
}

#[test]
fn results_formats_and_usage_errors() {
    let lab = quadratic_lab(1);
    assert!(
        lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"])
            .status
            .success()
    );
    let table = stdout(&lab.autolab(&["results"]));
    assert!(table.starts_with("id"), "{table}");
    assert!(table.contains("baseline"));
    let md = stdout(&lab.autolab(&["results", "--format", "md"]));
    assert!(md.starts_with("| id | verdict |"), "{md}");
    let missing = lab.autolab(&["show", "99"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no experiment #99"));
    let bad_tag = lab.autolab(&["run", "--tag", "a/b"]);
    assert_eq!(bad_tag.status.code(), Some(2));
    assert!(stderr(&bad_tag).contains("invalid tag"));
}

#[test]
fn demo_improves_on_its_baseline() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        skip("python3 is not installed (CI installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lab_dir = dir.path().join("demo");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_autolab"))
        .args([
            "demo",
            "--dir",
            lab_dir.to_str().unwrap(),
            "--experiments",
            "20",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("leaderboard"), "{text}");
    // The spiral lab stops hopeless candidates on their streamed train_loss, and says so.
    let progress = stderr(&out);
    assert!(
        progress.contains("(early-stopped at step ") && progress.contains("train_loss"),
        "{progress}"
    );
    let tsv = std::fs::read_to_string(lab_dir.join("results.tsv")).unwrap();
    assert_eq!(tsv.lines().count(), 21, "{tsv}");
    let rows: Vec<Vec<&str>> = tsv
        .lines()
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    let baseline: f64 = rows[0][1].parse().unwrap();
    let kept: Vec<f64> = rows[1..]
        .iter()
        .filter(|r| r[3] == "keep")
        .map(|r| r[1].parse().unwrap())
        .collect();
    assert!(
        !kept.is_empty(),
        "no experiment after the baseline was kept:\n{tsv}"
    );
    let best = kept.iter().cloned().fold(f64::MAX, f64::min);
    assert!(
        best < baseline,
        "best {best} does not beat the baseline {baseline}"
    );
}

/// `autolab run … 2>&1 | head -1`: the campaign runs to its end whatever its reader does, and
/// what it says after the reader is gone dies quietly (SIGPIPE), never as a panic (101).
#[test]
fn a_closed_pipe_neither_stops_a_campaign_nor_makes_it_panic() {
    use std::io::BufRead;
    let lab = TestLab::with_mode("better", "");
    let mut child = lab
        .cmd()
        .args(["run", "--tag", "t", "--max-experiments", "4"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_ne!(status.code(), Some(101), "{first}");
    assert_eq!(
        count(
            &lab.ledger(),
            "SELECT COUNT(*) FROM experiments WHERE verdict IS NOT NULL"
        ),
        4
    );
}

#[test]
fn a_resumed_gaussian_process_campaign_proposes_what_an_uninterrupted_one_does() {
    let gp_lab = || {
        let lab = quadratic_lab(1);
        let toml = lab.read("autolab.toml").replace(
            "[params]\n",
            "[params]\nsampler = \"gp\"\nstartup = 4\ny = { log_float = [0.001, 1.0] }\n",
        );
        lab.write("autolab.toml", &toml);
        lab.write("params.json", "{\"x\": 0.9, \"y\": 0.5}\n");
        lab.commit("gp");
        lab
    };
    let titles = |lab: &TestLab| -> Vec<String> {
        lab.json(&["results", "--format", "json"])
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["title"].as_str().unwrap().to_string())
            .collect()
    };
    let whole = gp_lab();
    let out = whole.autolab(&["run", "--tag", "t", "--max-experiments", "12"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let resumed = gp_lab();
    for n in ["3", "6", "9", "12"] {
        let out = resumed.autolab(&["run", "--tag", "t", "--max-experiments", n]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let (a, b) = (titles(&whole), titles(&resumed));
    assert_eq!(a.len(), 12, "{a:?}");
    assert_eq!(a, b);
    // Past the warm-up the process proposes: its points are not the random sampler's.
    let random = gp_lab();
    let toml = random
        .read("autolab.toml")
        .replace("sampler = \"gp\"", "sampler = \"random\"");
    random.write("autolab.toml", &toml);
    random.commit("random");
    let out = random.autolab(&["run", "--tag", "t", "--max-experiments", "12"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r = titles(&random);
    assert_eq!(a[..5], r[..5], "the same warm-up");
    assert_ne!(a[5..], r[5..]);
}
