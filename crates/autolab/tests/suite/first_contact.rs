//! A new user's first steps: `init` guesses what the repository states (policy, params, metric
//! and direction, the preset's name), `init --probe` runs the command once, and `run` refuses a
//! command whose program is missing before it creates anything.

use super::common::*;

fn python3() -> bool {
    std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A directory with `python` → python3, for repositories that call `python`.
fn python_alias() -> (tempfile::TempDir, String) {
    let tools = tempfile::tempdir().unwrap();
    let py = std::process::Command::new("sh")
        .args(["-c", "command -v python3"])
        .output()
        .unwrap();
    std::os::unix::fs::symlink(
        String::from_utf8_lossy(&py.stdout).trim(),
        tools.path().join("python"),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        tools.path().display(),
        std::env::var("PATH").unwrap()
    );
    (tools, path)
}

fn config(lab: &TestLab) -> toml::Value {
    toml::from_str(&lab.read("autolab.toml")).unwrap()
}

#[test]
fn init_picks_noise_aware_for_a_seeded_script_and_strict_for_a_deterministic_one() {
    let seeded = TestLab::new();
    seeded.write(
        "train.py",
        "import os\nseed = int(os.environ.get('AUTOLAB_SEED', '0'))\nprint('val_loss: 0.5')\n",
    );
    seeded.commit("seeded");
    let out = seeded.autolab(&["init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        config(&seeded)["decide"]["policy"].as_str(),
        Some("noise-aware")
    );
    assert!(stderr(&out).contains("AUTOLAB_SEED"), "{}", stderr(&out));

    let fixed = TestLab::new();
    fixed.write("train.py", "print('val_loss: 0.5')\n");
    fixed.commit("deterministic");
    let out = fixed.autolab(&["init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(config(&fixed)["decide"]["policy"].as_str(), Some("strict"));
}

#[test]
fn init_lists_every_param_it_skips_and_writes_floats_short() {
    let lab = TestLab::new();
    lab.write(
        "train.py",
        "import json\np = json.load(open('params.json'))\nprint('val_loss: 0.5')\n",
    );
    lab.write(
        "params.json",
        r#"{"lr": 0.0003, "steps": 100, "warmup": 0, "optimizer": "adam", "dropout": 0.0}"#,
    );
    lab.commit("lab");
    let out = lab.autolab(&["init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = lab.read("autolab.toml");
    assert!(
        text.contains("lr = { log_float = [3e-5, 3e-3], default = 3e-4 }"),
        "{text}"
    );
    let cfg = config(&lab);
    let params = cfg["params"].as_table().unwrap();
    assert!(params.contains_key("lr") && params.contains_key("steps"));
    assert_eq!(params["lr"]["log_float"][0].as_float(), Some(3e-5));
    // The values left out are named, with why, in the file and on stderr.
    for skipped in ["warmup", "optimizer", "dropout"] {
        assert!(!params.contains_key(skipped));
        assert!(
            text.contains(&format!("# skipped `{skipped}`:")),
            "{skipped}: {text}"
        );
        assert!(
            stderr(&out).contains(&format!("`{skipped}` skipped")),
            "{}",
            stderr(&out)
        );
    }
    assert!(text.contains("choice = [\"adam\"]"), "{text}");
    // And the file is a config autolab accepts.
    let doctor = lab.autolab(&["doctor"]);
    assert!(!stdout(&doctor).contains("config:"), "{}", stdout(&doctor));
}

#[test]
fn the_preset_name_prints_as_it_is_typed() {
    let lab = TestLab::new();
    lab.write("experiment.py", "print('hi')\n");
    lab.write("prompt.json", "{}");
    lab.commit("template");
    let out = lab.autolab(&["init", "--preset", "ai-scientist"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("(preset ai-scientist)"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("AiScientist"));
    // Without run_0 it says how to make one.
    assert!(stderr(&out).contains("run_0"), "{}", stderr(&out));
}

/// An autoresearch fork that reports `val_rmse`, lower is better (karpathy's wording).
#[test]
fn autoresearch_preset_reads_the_metric_and_direction_program_md_states() {
    let lab = TestLab::new();
    lab.write(
        "program.md",
        "# autoresearch for house prices\n\nThe goal is simple: get the lowest val_rmse.\n\n\
         Run the experiment: `uv run train.py > run.log 2>&1`\n\
         Read out the results: `grep \"^val_rmse:\\|^train_seconds:\" run.log`\n",
    );
    lab.write("prepare.py", "def evaluate(p):\n    return 0.5\n");
    lab.write("train.py", "print('---')\nprint('val_rmse: 0.5')\n");
    lab.commit("fork");
    let out = lab.autolab(&["init", "--preset", "autoresearch"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cfg = config(&lab);
    assert_eq!(cfg["metrics"]["primary"].as_str(), Some("val_rmse"));
    assert_eq!(
        cfg["metrics"]["score"]["val_rmse"]["goal"].as_str(),
        Some("minimize")
    );
    assert!(cfg["metrics"]["score"].get("val_bpb").is_none());
    assert!(stderr(&out).contains("program.md:3"), "{}", stderr(&out));

    // A fork that maximizes a score says so in other words.
    let up = TestLab::new();
    up.write(
        "program.md",
        "**The goal is simple: get the highest score.** Higher is better.\n\
         You launch it simply as: `uv run train.py`.\n\
         grep \"^score:\\|^val_pass:\" run.log\n",
    );
    up.write("prepare.py", "\n");
    up.write("train.py", "print('score: 0.42')\n");
    up.commit("fork");
    let out = up.autolab(&["init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cfg = config(&up);
    assert_eq!(cfg["metrics"]["primary"].as_str(), Some("score"));
    assert_eq!(
        cfg["metrics"]["score"]["score"]["goal"].as_str(),
        Some("maximize")
    );
}

#[test]
fn init_probe_runs_the_command_once_sandboxed_and_scores_what_it_printed() {
    if !python3() {
        eprintln!("skipped: python3 missing (CI installs it)");
        return;
    }
    let lab = TestLab::new();
    lab.write(
        "train.py",
        "import os, random\nrandom.seed(int(os.environ['AUTOLAB_SEED']))\n\
         open('made_by_the_probe.txt', 'w').write('x')\n\
         if os.environ.get('PROBE_SECRET'):\n    print('leaked: 1')\n\
         print('step: 10 loss: 2.0')\nprint('val_accuracy: 0.8125')\n",
    );
    lab.commit("lab");
    let out = lab
        .cmd()
        .args(["init", "--probe"])
        .env("PROBE_SECRET", "sk-do-not-pass")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let cfg = config(&lab);
    // The guessed val_loss was not printed: the score moved to what was.
    assert_eq!(
        cfg["metrics"]["score"]["val_accuracy"]["goal"].as_str(),
        Some("maximize"),
        "{}",
        lab.read("autolab.toml")
    );
    assert!(cfg["metrics"]["score"].get("val_loss").is_none());
    let text = lab.read("autolab.toml");
    assert!(
        text.contains("the command reported") && text.contains("val_accuracy = 0.8125"),
        "{text}"
    );
    // Run the way campaigns run: a cleared environment, a worktree (the checkout untouched).
    assert!(!text.contains("leaked"), "{text}");
    assert!(!lab.path().join("made_by_the_probe.txt").exists());
    assert!(
        lab.extra_worktrees().is_empty(),
        "{:?}",
        lab.extra_worktrees()
    );
    assert!(lab.git(&["status", "--porcelain"]).trim() == "?? autolab.toml");
}

#[test]
fn init_probe_reports_a_failing_command_with_its_output() {
    let lab = TestLab::new();
    lab.write(
        "run.sh",
        "echo 'loading data'\necho 'ModuleNotFoundError: numpy' >&2\nexit 3\n",
    );
    lab.commit("lab");
    let out = lab.autolab(&["init", "--probe"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("probe run failed"), "{err}");
    assert!(err.contains("ModuleNotFoundError: numpy"), "{err}");
    assert!(lab.path().join("autolab.toml").exists());
}

#[test]
fn ai_scientist_probe_makes_run_0_from_a_baseline_run() {
    if !python3() {
        eprintln!("skipped: python3 missing (CI installs it)");
        return;
    }
    let (_tools, path) = python_alias();
    let lab = TestLab::new();
    lab.write(
        "experiment.py",
        "import argparse, json, os\np = argparse.ArgumentParser(); p.add_argument('--out_dir', default='run_0'); a = p.parse_args()\nos.makedirs(a.out_dir, exist_ok=True)\nwith open(os.path.join(a.out_dir, 'final_info.json'), 'w') as f:\n    json.dump({'circle': {'means': {'eval_loss': 0.27, 'train_time': 1.5}}}, f)\n",
    );
    lab.write("prompt.json", r#"{"task_description": "x"}"#);
    lab.commit("template");
    let out = lab
        .cmd()
        .args(["init", "--probe"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let info: serde_json::Value = serde_json::from_str(&lab.read("run_0/final_info.json")).unwrap();
    assert_eq!(info["circle"]["means"]["eval_loss"], 0.27);
    let cfg = config(&lab);
    assert_eq!(
        cfg["metrics"]["score"]["eval_loss"]["goal"].as_str(),
        Some("minimize")
    );
    assert!(lab.read("autolab.toml").contains("eval_loss, train_time"));
}

#[test]
fn run_refuses_a_missing_program_before_creating_anything() {
    let lab = TestLab::new();
    lab.write("train.py", "print('val_loss: 0.5')\n");
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"pythn train.py\"\neditable = [\"train.py\"]\n\n[metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n",
    );
    lab.commit("lab");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("`pythn` is not found"), "{err}");
    assert!(err.contains("autolab.toml"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    // Nothing was created: no ledger, no branch; so the tag is not poisoned.
    assert!(!lab.path().join(".autolab/ledger.db").exists());
    assert!(
        lab.git(&["branch", "--list", "autolab/*"])
            .trim()
            .is_empty()
    );
    // doctor says the same thing.
    let doctor = lab.autolab(&["doctor"]);
    assert!(
        stdout(&doctor).contains("FAIL  the command's program `pythn` is not found"),
        "{}",
        stdout(&doctor)
    );
}
