//! Existing repositories run unchanged: an autoresearch-shaped repo and an AI-Scientist
//! template go through `autolab init` (detected preset) and a short campaign with a fake LLM.

use autolab_llm::fake::{FakeReply, FakeServer};

use super::common::*;

fn openai(text: &str) -> FakeReply {
    FakeReply::OpenAi {
        text: text.into(),
        prompt_tokens: 100,
        completion_tokens: 10,
    }
}

/// An autoresearch-shaped repo: pure-Python train.py printing autoresearch's summary block.
fn autoresearch_repo() -> TestLab {
    let lab = TestLab::new();
    lab.write(
        "program.md",
        "# autoresearch\n\nLower val_bpb. Training runs for a fixed 5-minute budget.\n",
    );
    lab.write(
        "prepare.py",
        "def evaluate(depth):\n    return 1.0 + 0.1 / depth\n",
    );
    lab.write(
        "train.py",
        "from prepare import evaluate\nDEPTH = 1\nprint('step 00010 | loss 3.2')\nprint('---')\nprint(f'val_bpb:          {evaluate(DEPTH):.6f}')\nprint('training_seconds: 300.1')\nprint('peak_vram_mb:     45060.2')\nprint('num_steps:        953')\n",
    );
    lab.write(
        "pyproject.toml",
        "[project]\nname = \"autoresearch\"\nversion = \"0.1.0\"\n",
    );
    lab.commit("autoresearch");
    lab
}

#[test]
fn an_autoresearch_repo_runs_unchanged() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        skip("python3 missing (CI installs it)");
        return;
    }
    let lab = autoresearch_repo();
    let out = lab.autolab(&["init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("preset autoresearch"),
        "{}",
        stderr(&out)
    );
    let toml = lab.read("autolab.toml");
    assert!(toml.contains("command = \"uv run train.py\""));
    assert!(toml.contains("goal_file = \"program.md\""));
    assert!(toml.contains("policy = \"strict\""));
    // No uv here: run the same file with python3, as uv would.
    let server = FakeServer::from_fn(|r| {
        if r.body.contains("Propose ") {
            openai(
                r#"{"ideas": [{"title": "Deepen the model", "hypothesis": "more depth lowers bpb", "plan": "DEPTH = 4"}]}"#,
            )
        } else {
            openai(
                "train.py\n```python\n<<<<<<< SEARCH\nDEPTH = 1\n=======\nDEPTH = 4\n>>>>>>> REPLACE\n```\n",
            )
        }
    });
    let toml = toml.replace("uv run train.py", "python3 train.py").replace(
        "# [agent]\n# provider = \"anthropic\"\n# model = \"claude-sonnet-4-5\"\n# api_key_env = \"ANTHROPIC_API_KEY\"\n# max_usd = 20.0\n",
        &format!("[agent]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\n", server.url()),
    );
    assert!(toml.contains("[agent]\nprovider = \"openai\""), "{toml}");
    lab.write("autolab.toml", &toml);
    lab.commit("autolab config");
    let out = lab.autolab(&["run", "--tag", "mar5", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The program.md goal reached the strategist.
    assert!(server.requests()[0].body.contains("fixed 5-minute budget"));
    // results.tsv exactly as autoresearch writes it.
    let tsv = lab.read("results.tsv");
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(lines[0], "commit\tval_bpb\tmemory_gb\tstatus\tdescription");
    assert!(
        lines[1].ends_with("\t1.100000\t44.0\tkeep\tbaseline"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].ends_with("\t1.025000\t44.0\tkeep\tDeepen the model"),
        "{}",
        lines[2]
    );
    // And the JSONL form, one object per line.
    let jsonl = stdout(&lab.autolab(&["results", "--format", "jsonl"]));
    assert_eq!(jsonl.lines().count(), 2);
    for l in jsonl.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["metrics"]["val_bpb"].is_number());
    }
}

/// An AI-Scientist-shaped template.
fn ai_scientist_template(dir: &std::path::Path) -> TestLab {
    let lab = TestLab::new();
    lab.write(
        "experiment.py",
        "import argparse, json, os\np = argparse.ArgumentParser(); p.add_argument('--out_dir', default='run_0'); a = p.parse_args()\nos.makedirs(a.out_dir, exist_ok=True)\nLR = 0.1\nloss = abs(LR - 0.03) + 0.2\nwith open(os.path.join(a.out_dir, 'final_info.json'), 'w') as f:\n    json.dump({'circle': {'means': {'eval_loss': loss, 'train_time': 1.5}}}, f)\n",
    );
    lab.write(
        "plot.py",
        "open('loss_curve.png', 'wb').write(b'\\x89PNG fake figure')\n",
    );
    lab.write("prompt.json", r#"{"system": "You are an ambitious AI PhD student.", "task_description": "Improve the circle classifier's eval loss."}"#);
    lab.write(
        "seed_ideas.json",
        r#"[{"Name": "lower_lr", "Title": "Lower the learning rate to 0.03", "Experiment": "Set LR to 0.03 in experiment.py.", "Interestingness": 3, "Feasibility": 9, "Novelty": 2}]"#,
    );
    lab.write(
        "run_0/final_info.json",
        r#"{"circle": {"means": {"eval_loss": 0.27, "train_time": 1.5}}}"#,
    );
    lab.commit("template");
    // AI-Scientist calls `python`; provide it where only python3 exists.
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let py = std::process::Command::new("sh")
        .args(["-c", "command -v python3"])
        .output()
        .unwrap();
    std::os::unix::fs::symlink(
        String::from_utf8_lossy(&py.stdout).trim(),
        bin.join("python"),
    )
    .unwrap();
    lab
}

#[test]
fn an_ai_scientist_template_runs_unchanged() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        skip("python3 missing (CI installs it)");
        return;
    }
    let tools = tempfile::tempdir().unwrap();
    let lab = ai_scientist_template(tools.path());
    let out = lab.autolab(&["init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let toml = lab.read("autolab.toml");
    assert!(
        toml.contains("command = \"python experiment.py --out_dir={run_dir}\""),
        "{toml}"
    );
    assert!(
        toml.contains("score = { eval_loss = { goal = \"minimize\" } }"),
        "{toml}"
    );
    assert!(
        toml.contains("eval_loss, train_time"),
        "init lists the metrics it found: {toml}"
    );
    let server = FakeServer::from_fn(|_| {
        openai(
            "experiment.py\n```python\n<<<<<<< SEARCH\nLR = 0.1\n=======\nLR = 0.03\n>>>>>>> REPLACE\n```\n",
        )
    });
    let toml = toml
        .replace(
            "api_key_env = \"OPENAI_API_KEY\"",
            &format!("base_url = \"{}\"", server.url()),
        )
        // No paper here (the literature services are the real ones); the project still runs,
        // is planned, and plotted in its directory.
        .replace("[projects]\n", "[projects]\npaper = false\n");
    assert!(toml.contains("mode = \"projects\""), "{toml}");
    lab.write("autolab.toml", &toml);
    lab.commit("autolab config");
    let path = format!(
        "{}:{}",
        tools.path().join("bin").display(),
        std::env::var("PATH").unwrap()
    );
    let out = lab
        .cmd()
        .args(["run", "--tag", "t", "--max-experiments", "2"])
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let one = lab.json(&["show", "1", "--json"]);
    // The seed idea was tried first, without an ideation call; prompt.json was the goal.
    assert_eq!(one["title"], "Lower the learning rate to 0.03 — run 1");
    assert_eq!(one["expert"], "seed");
    assert!(
        server
            .requests()
            .iter()
            .all(|r| !r.body.contains("Propose "))
    );
    assert!(
        server.requests()[0]
            .body
            .contains("Improve the circle classifier"),
        "{}",
        server.requests()[0].body
    );
    assert_eq!(one["verdict"], "kept", "{one}");
    assert!((one["metrics"]["eval_loss"].as_f64().unwrap() - 0.2).abs() < 1e-9);
    // run_0 was the baseline: reused, not run again.
    let base = lab.json(&["show", "0", "--json"]);
    assert_eq!(base["metrics"]["eval_loss"], 0.27, "{base}");
    assert!(
        base["run_list"][0]["note"]
            .as_str()
            .unwrap()
            .contains("reused from"),
        "{base}"
    );
    // final_info.json was written to and read from the run dir; plot.py's figure was kept.
    assert!(
        lab.path()
            .join(".autolab/runs/t/0001/0/final_info.json")
            .exists()
    );
    // The seed idea became project 1; its directory has AI-Scientist's layout and plot.py's figure.
    let projects = lab.path().join(".autolab/projects/t");
    let dir = std::fs::read_dir(&projects)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("01_lower_the_learning_rate")
        })
        .expect("project 1's directory");
    for f in [
        "run_0/final_info.json",
        "run_1/final_info.json",
        "notes.txt",
        "experiment.py",
        "loss_curve.png",
    ] {
        assert!(dir.join(f).exists(), "{f} in {}", dir.display());
    }
    assert!(
        lab.read(&format!(
            "{}/experiment.py",
            dir.strip_prefix(lab.path()).unwrap().display()
        ))
        .contains("LR = 0.03")
    );
}
