//! Copies of the shapes of real autoresearch forks (tests/fixtures/forks, rebuilt by hand to
//! run offline on CPU with the standard library): `init` reads the metric and direction their
//! program.md (or evaluator) states, and a campaign with a fake LLM runs them unchanged and
//! logs results.tsv in that metric's column.

use autolab_llm::fake::{FakeReply, FakeServer};

use super::common::*;

fn openai(text: &str) -> FakeReply {
    FakeReply::OpenAi {
        text: text.into(),
        prompt_tokens: 100,
        completion_tokens: 10,
    }
}

/// A lab holding the fixture `name`, committed.
fn fork(name: &str) -> TestLab {
    let lab = TestLab::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/forks")
        .join(name);
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        lab.write(&e.file_name().to_string_lossy(), &text);
    }
    lab.write(".gitignore", "__pycache__/\n");
    lab.commit(name);
    lab
}

/// `python` and `uv run` (as `python3`) on PATH, for forks that call them; None without python3.
fn tools() -> Option<(tempfile::TempDir, String)> {
    let py = std::process::Command::new("sh")
        .args(["-c", "command -v python3"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let py = String::from_utf8_lossy(&py.stdout).trim().to_string();
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&py, dir.path().join("python")).unwrap();
    let uv = dir.path().join("uv");
    std::fs::write(
        &uv,
        format!("#!/bin/sh\n[ \"$1\" = run ] && shift\nexec {py} \"$@\"\n"),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&uv).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&uv, perms).unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap()
    );
    Some((dir, path))
}

/// Points the preset's commented `[agent]` at a fake LLM that proposes one idea and writes
/// `search` → `replace` into train.py.
fn with_fake_llm(lab: &TestLab, search: &str, replace: &str) -> FakeServer {
    let edit = format!(
        "train.py\n```python\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n```\n"
    );
    let server = FakeServer::from_fn(move |r| {
        if r.body.contains("Propose ") {
            openai(
                r#"{"ideas": [{"title": "Tune the key constant", "hypothesis": "it is off", "plan": "change it in train.py"}]}"#,
            )
        } else {
            openai(&edit)
        }
    });
    let toml = lab.read("autolab.toml").replace(
        "# [agent]\n# provider = \"anthropic\"\n# model = \"claude-sonnet-4-5\"\n# api_key_env = \"ANTHROPIC_API_KEY\"\n# max_usd = 20.0\n",
        &format!("[agent]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\n", server.url()),
    );
    assert!(toml.contains("[agent]\nprovider = \"openai\""), "{toml}");
    lab.write("autolab.toml", &toml);
    lab.commit("autolab config");
    server
}

fn tsv_rows(lab: &TestLab) -> Vec<Vec<String>> {
    lab.read("results.tsv")
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// carocon/autoresearch-sklearn's shape: `python run.py` evaluates train.py and prints
/// `val_accuracy : 0.7000` (no `---`, a space before the colon); "higher is better" is said in
/// prepare.py, not program.md.
#[test]
fn a_sklearn_style_fork_maximizes_val_accuracy_from_its_evaluator() {
    let Some((_tools, path)) = tools() else {
        eprintln!("skipped: python3 missing (CI installs it)");
        return;
    };
    let lab = fork("sklearn-shape");
    let out = lab.autolab(&["init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cfg: toml::Value = toml::from_str(&lab.read("autolab.toml")).unwrap();
    assert_eq!(cfg["task"]["command"].as_str(), Some("python run.py"));
    assert_eq!(cfg["metrics"]["primary"].as_str(), Some("val_accuracy"));
    assert_eq!(
        cfg["metrics"]["score"]["val_accuracy"]["goal"].as_str(),
        Some("maximize")
    );
    let protected: Vec<&str> = cfg["task"]["protected"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(protected.contains(&"run.py") && protected.contains(&"prepare.py"));
    assert!(stderr(&out).contains("prepare.py:3"), "{}", stderr(&out));

    let server = with_fake_llm(&lab, "THRESHOLD = 0.2", "THRESHOLD = 0.5");
    let out = lab
        .cmd()
        .args(["run", "--tag", "iris", "--max-experiments", "2"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(server.requests()[0].body.contains("What good looks like"));
    let rows = tsv_rows(&lab);
    assert_eq!(
        rows[0],
        [
            "commit",
            "val_accuracy",
            "memory_gb",
            "status",
            "description"
        ]
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(&rows[1][1..], ["0.700000", "0.0", "keep", "baseline"]);
    assert_eq!(
        &rows[2][1..],
        ["1.000000", "0.0", "keep", "Tune the key constant"]
    );
}

/// A trading fork: `uv run train.py`, a `---` block with `-15.2%` and `true` among the numbers,
/// `score` (maximized) named by program.md's grep, and other results.tsv columns of its own.
#[test]
fn a_trading_fork_maximizes_the_score_its_program_md_greps() {
    let Some((_tools, path)) = tools() else {
        eprintln!("skipped: python3 missing (CI installs it)");
        return;
    };
    let lab = fork("trader-shape");
    let out = lab.autolab(&["init", "--preset", "autoresearch"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let cfg: toml::Value = toml::from_str(&lab.read("autolab.toml")).unwrap();
    assert_eq!(cfg["task"]["command"].as_str(), Some("uv run train.py"));
    assert_eq!(cfg["metrics"]["primary"].as_str(), Some("score"));
    assert_eq!(
        cfg["metrics"]["score"]["score"]["goal"].as_str(),
        Some("maximize")
    );
    assert!(lab.read("autolab.toml").contains("also reported: val_pass"));

    let _server = with_fake_llm(&lab, "LOOKBACK = 5", "LOOKBACK = 20");
    let out = lab
        .cmd()
        .args(["run", "--tag", "mar5", "--max-experiments", "2"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = tsv_rows(&lab);
    assert_eq!(
        rows[0],
        ["commit", "score", "memory_gb", "status", "description"]
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(&rows[1][1..], ["5.800000", "0.0", "keep", "baseline"]);
    assert_eq!(
        &rows[2][1..],
        ["161.600000", "0.0", "keep", "Tune the key constant"]
    );
}
