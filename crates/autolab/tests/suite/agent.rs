//! LLM research agents end to end: the real binary against a fake LLM server that speaks the
//! OpenAI and Anthropic wire formats and records every request.

use autolab_llm::fake::{FakeReply, FakeServer, Recorded};

use super::common::*;

pub(super) const IDEA_LR: &str = r#"Here are my ideas:
```json
{"ideas": [{"title": "Raise the learning rate to 0.05", "hypothesis": "lr 0.0003 is far too small to learn the spirals", "plan": "set lr to 0.05 in params.json", "files": ["params.json"], "expected_effect": "val_loss -0.3", "risk": "low"}]}
```"#;

pub(super) const EDIT_LR: &str = "params.json\n```json\n<<<<<<< SEARCH\n  \"lr\": 0.0003,\n=======\n  \"lr\": 0.05,\n>>>>>>> REPLACE\n```\n";

pub(super) fn openai(text: &str) -> FakeReply {
    FakeReply::OpenAi {
        text: text.into(),
        prompt_tokens: 1000,
        completion_tokens: 100,
    }
}

pub(super) fn is_ideation(r: &Recorded) -> bool {
    r.body.contains("Propose ")
}

pub(super) fn is_lesson(r: &Recorded) -> bool {
    r.body.contains("Write ONE lesson")
}

pub(super) fn is_compaction(r: &Recorded) -> bool {
    r.body.contains("has outgrown its budget")
}

pub(super) fn is_fix(r: &Recorded) -> bool {
    r.body.contains("crashed") && r.body.contains("SEARCH/REPLACE")
}

/// A copy of the spiral example with an `[agent]` pointing at `url`.
pub(super) fn spiral_lab(agent_toml: &str) -> TestLab {
    let lab = TestLab::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/spiral");
    for f in ["prepare.py", "train.py", "params.json"] {
        lab.write(f, &std::fs::read_to_string(root.join(f)).unwrap());
    }
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ngoal = \"Lower the validation loss.\"\ncommand = \"python3 train.py\"\neditable = [\"train.py\", \"params.json\"]\nprotected = [\"prepare.py\"]\ntimeout = \"2m\"\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n[decide]\npolicy = \"strict\"\n[runner]\nparallel = 1\n\
             [agent]\n{agent_toml}\n"
        ),
    );
    lab.commit("spiral");
    lab
}

pub(super) fn python_or_skip() -> bool {
    let ok = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok();
    if !ok {
        skip("python3 is not installed (CI installs it)");
    }
    ok
}

#[test]
fn a_scripted_idea_and_edit_that_improve_val_loss_are_kept() {
    if !python_or_skip() {
        return;
    }
    let server = FakeServer::from_fn(|r| {
        if is_ideation(r) {
            openai(IDEA_LR)
        } else {
            openai(EDIT_LR)
        }
    });
    let lab = spiral_lab(&format!(
        "provider = \"openai\"\nmodel = \"gpt-4o-mini\"\nbase_url = \"{}\"\n",
        server.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["verdict"], "kept", "{one}");
    assert_eq!(one["proposer"], "llm");
    assert_eq!(one["title"], "Raise the learning rate to 0.05");
    assert!(one["expert"].is_string());
    assert!(one["diff"].as_str().unwrap().contains("+  \"lr\": 0.05,"));
    let base = lab.json(&["show", "0", "--json"]);
    assert!(one["score"].as_f64().unwrap() < base["score"].as_f64().unwrap() - 0.1);
    // Transcripts: the strategist's, the coder's and the lesson's calls, with usage and the model.
    let roles: Vec<&str> = one["transcripts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["strategist", "coder", "lesson"]);
    assert_eq!(one["transcripts"][1]["prompt_tokens"], 1000);
    // The commit names the idea and the expert.
    let msg = lab.git(&["log", "-1", "--format=%B", "autolab/t"]);
    assert!(msg.starts_with("Raise the learning rate to 0.05"), "{msg}");
    assert!(msg.contains(one["expert"].as_str().unwrap()), "{msg}");
    // The ideation prompt carried the goal, the code and the playbook.
    let first = &server.requests()[0];
    assert!(
        first.body.contains("Lower the validation loss.") && first.body.contains("def load_params"),
        "{}",
        first.body
    );
    assert!(lab.path().join(".autolab/playbook.md").exists());
}

#[test]
fn a_crash_goes_back_to_the_coder_with_its_log_tail_and_the_fix_runs() {
    if !python_or_skip() {
        return;
    }
    let crash = "train.py\n```python\n<<<<<<< SEARCH\n    params = load_params()\n=======\n    params = load_params()\n    raise RuntimeError(\"boom-marker\")\n>>>>>>> REPLACE\n```\n";
    let fix = "train.py\n```python\n<<<<<<< SEARCH\n    raise RuntimeError(\"boom-marker\")\n=======\n>>>>>>> REPLACE\n```\n";
    let server = FakeServer::from_fn(move |r| {
        if is_ideation(r) {
            openai(IDEA_LR)
        } else if is_fix(r) {
            openai(fix)
        } else {
            openai(crash)
        }
    });
    let lab = spiral_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nfix_attempts = 2\n",
        server.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let fix_request = server
        .requests()
        .into_iter()
        .find(is_fix)
        .expect("a fix request");
    assert!(
        fix_request.body.contains("boom-marker"),
        "the fix request must carry the crash's log tail"
    );
    assert!(
        fix_request.body.contains("Traceback"),
        "{}",
        fix_request.body
    );
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["runs"], 2, "the crashed run and the fixed one: {one}");
    assert_eq!(one["run_list"][0]["outcome"], "failed");
    assert_eq!(one["run_list"][1]["outcome"], "exited");
    assert_ne!(
        one["run_list"][0]["commit"], one["run_list"][1]["commit"],
        "each attempt is a new commit"
    );
    assert!(
        ["kept", "discarded"].contains(&one["verdict"].as_str().unwrap()),
        "{one}"
    );
}

/// A fast shell lab: `val.txt` holds the metric; the baseline's is 0.5.
pub(super) fn shell_lab(agent_toml: &str) -> TestLab {
    let lab = TestLab::new();
    lab.write("val.txt", "0.5\n");
    lab.write("prepare.sh", "# evaluation\n");
    lab.write("run.sh", "echo \"val_loss: $(cat val.txt)\"\n");
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ngoal = \"Lower val_loss.\"\ncommand = \"sh run.sh\"\neditable = [\"val.txt\", \"run.sh\"]\nprotected = [\"prepare.sh\"]\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n[decide]\npolicy = \"strict\"\n\
             [agent]\n{agent_toml}\n"
        ),
    );
    lab.commit("lab");
    lab
}

pub(super) const IDEA_VAL: &str = r#"{"ideas": [{"title": "Lower the value", "hypothesis": "a smaller number is better", "plan": "write 0.25", "files": ["val.txt"], "expected_effect": "-0.25", "risk": "low"}]}"#;
pub(super) const EDIT_VAL: &str =
    "val.txt\n```\n<<<<<<< SEARCH\n0.5\n=======\n0.25\n>>>>>>> REPLACE\n```\n";

#[test]
fn malformed_json_is_re_asked_once_with_the_parse_error() {
    let server = FakeServer::start(vec![
        openai("I think we should try things { not json"),
        openai(IDEA_VAL),
        openai(EDIT_VAL),
    ]);
    let lab = shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\n[explore]\nauto = false\n",
        server.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reqs = server.requests();
    assert!(
        reqs[1].body.contains("could not be read as the JSON"),
        "{}",
        reqs[1].body
    );
    assert_eq!(lab.json(&["show", "1", "--json"])["verdict"], "kept");
}

#[test]
fn a_429_with_retry_after_is_waited_out() {
    let server = FakeServer::start(vec![
        FakeReply::Status {
            code: 429,
            retry_after: Some(1),
            body: "{\"error\": \"rate limited\"}".into(),
        },
        openai(IDEA_VAL),
        openai(EDIT_VAL),
    ]);
    // Templated lessons: no LLM call besides ideation and code.
    let lab = shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nlessons = \"template\"\n[explore]\nauto = false\n",
        server.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(server.requests().len(), 3);
    assert_eq!(lab.json(&["show", "1", "--json"])["verdict"], "kept");
}

#[test]
fn an_edit_of_a_protected_file_is_invalid_and_never_runs() {
    let edit =
        "prepare.sh\n```\n<<<<<<< SEARCH\n# evaluation\n=======\n# rigged\n>>>>>>> REPLACE\n```\n";
    let server = FakeServer::start(vec![openai(IDEA_VAL), openai(edit)]);
    let lab = shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nedit_attempts = 1\n[explore]\nauto = false\n",
        server.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["verdict"], "invalid", "{one}");
    assert_eq!(one["runs"], 0);
}

#[test]
fn steering_text_reaches_the_next_ideation() {
    let server = FakeServer::from_fn(|r| {
        if is_ideation(r) {
            openai(IDEA_VAL)
        } else {
            openai(EDIT_VAL)
        }
    });
    let lab = shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\n",
        server.url()
    ));
    let s = lab.autolab(&["steer", "focus on the number in val.txt, nothing else"]);
    assert!(s.status.success(), "{}", stderr(&s));
    assert!(
        lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"])
            .status
            .success()
    );
    let ideation = server.requests().into_iter().find(is_ideation).unwrap();
    assert!(
        ideation
            .body
            .contains("focus on the number in val.txt, nothing else")
    );
    assert!(ideation.body.contains("override everything above"));
}

#[test]
fn the_usd_budget_stops_the_campaign_and_says_why() {
    let server = FakeServer::from_fn(|r| {
        if is_ideation(r) {
            openai(IDEA_VAL)
        } else {
            openai(EDIT_VAL)
        }
    });
    // $10 per million tokens in and out: each call costs $0.011; the budget allows one.
    let lab = shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nprice = [10.0, 10.0]\nmax_usd = 0.01\n",
        server.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "10"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("max_usd"), "{}", stderr(&out));
    assert_eq!(
        server.requests().len(),
        1,
        "no call after the budget is spent"
    );
    let n = lab
        .json(&["results", "--format", "json"])
        .as_array()
        .unwrap()
        .len();
    assert!(n < 10, "{n}");
}

#[test]
fn a_missing_api_key_names_the_variable() {
    let lab = shell_lab(
        "provider = \"openai\"\nmodel = \"gpt-4o\"\napi_key_env = \"AUTOLAB_TEST_MISSING_KEY\"\n",
    );
    let out = lab
        .cmd()
        .args(["run", "--tag", "t"])
        .env_remove("AUTOLAB_TEST_MISSING_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("AUTOLAB_TEST_MISSING_KEY"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_anthropic_path_works_end_to_end() {
    let server = FakeServer::from_fn(|r| {
        let text = if is_ideation(r) { IDEA_VAL } else { EDIT_VAL };
        FakeReply::Anthropic {
            text: text.into(),
            input_tokens: 500,
            output_tokens: 50,
        }
    });
    let lab = shell_lab(&format!(
        "provider = \"anthropic\"\nmodel = \"claude-sonnet-4-5\"\nbase_url = \"{}\"\napi_key_env = \"AUTOLAB_TEST_ANTHROPIC_KEY\"\n",
        server.url()
    ));
    let out = lab
        .cmd()
        .args(["run", "--tag", "t", "--max-experiments", "2"])
        .env("AUTOLAB_TEST_ANTHROPIC_KEY", "sk-ant-test")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let r = &server.requests()[0];
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.header("x-api-key"), Some("sk-ant-test"));
    assert!(r.header("anthropic-version").is_some());
    assert_eq!(lab.json(&["show", "1", "--json"])["verdict"], "kept");
    // The key reached the provider and nothing else.
    let show = stdout(&lab.autolab(&["show", "1", "--json"]));
    assert!(!show.contains("sk-ant-test"));
}

#[test]
fn the_streaming_path_works_end_to_end() {
    let server = FakeServer::from_fn(|r| {
        let text = if is_ideation(r) { IDEA_VAL } else { EDIT_VAL };
        let chunks: Vec<String> = text
            .as_bytes()
            .chunks(7)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        FakeReply::OpenAiSse {
            chunks,
            prompt_tokens: 300,
            completion_tokens: 30,
        }
    });
    let lab = shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nstream = true\n",
        server.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        server.requests()[0].body.contains("\"stream\":true"),
        "{}",
        server.requests()[0].body
    );
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["verdict"], "kept");
    assert_eq!(one["transcripts"][0]["prompt_tokens"], 300);
}

#[test]
fn an_external_coder_command_is_validated_and_committed() {
    let server = FakeServer::from_fn(|_| openai(IDEA_VAL));
    let lab = shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\ncoder = \"grep -q 'Lower the value' {{message}} && echo 0.125 > val.txt\"\n",
        server.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["verdict"], "kept", "{one}");
    assert_eq!(one["metrics"]["val_loss"], 0.125);
}

#[test]
fn doctor_checks_the_llm_with_one_tiny_request() {
    let server = FakeServer::from_fn(|r| {
        if r.header("authorization") == Some("Bearer sk-good") {
            openai("OK")
        } else {
            FakeReply::status(401, "{\"error\": \"invalid api key\"}")
        }
    });
    let lab = shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\napi_key_env = \"AUTOLAB_TEST_DOCTOR_KEY\"\nmax_retries = 0\n",
        server.url()
    ));
    let doctor = |key: Option<&str>, llm: bool| {
        let mut cmd = lab.cmd();
        cmd.arg("doctor");
        if llm {
            cmd.arg("--llm");
        }
        match key {
            Some(k) => cmd.env("AUTOLAB_TEST_DOCTOR_KEY", k),
            None => cmd.env_remove("AUTOLAB_TEST_DOCTOR_KEY"),
        };
        let out = cmd.output().unwrap();
        (out.status.code(), stdout(&out))
    };
    // Without --llm nothing is sent.
    let (_, text) = doctor(Some("sk-good"), false);
    assert!(text.contains("autolab doctor --llm"), "{text}");
    assert_eq!(server.requests().len(), 0);

    let (_, text) = doctor(Some("sk-good"), true);
    assert!(
        text.contains("ok    LLM: ") && text.contains("answered in"),
        "{text}"
    );
    assert!(!text.contains("sk-good"), "the key is never shown: {text}");

    let (code, text) = doctor(Some("sk-bad"), true);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("FAIL  LLM: ") && text.contains("refused the API key"),
        "{text}"
    );

    let (code, text) = doctor(None, true);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("AUTOLAB_TEST_DOCTOR_KEY"), "{text}");
    assert_eq!(
        server.requests().len(),
        2,
        "one request per --llm run with a key"
    );
}

const IDEAS_TWO: &str = r#"```json
{"ideas": [{"title": "Raise the learning rate to 0.05", "hypothesis": "lr 0.0003 is far too small", "plan": "set lr to 0.05", "files": ["params.json"], "expected_effect": "lower val_loss", "risk": "low"},
           {"title": "Widen the hidden layer to 48 units", "hypothesis": "24 units underfit the spirals", "plan": "set hidden to 48", "files": ["params.json"], "expected_effect": "lower val_loss", "risk": "low"}]}
```"#;

const EDIT_HIDDEN: &str = "params.json\n```json\n<<<<<<< SEARCH\n  \"hidden\": 24,\n=======\n  \"hidden\": 48,\n>>>>>>> REPLACE\n```\n";

#[test]
fn failed_ideations_never_pause_a_campaign_with_coded_work_waiting() {
    if !python_or_skip() {
        return;
    }
    let ideations = std::sync::atomic::AtomicU32::new(0);
    let server = FakeServer::from_fn(move |r| {
        if is_ideation(r) {
            if ideations.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                openai(IDEAS_TWO)
            } else {
                openai("I cannot think of anything, sorry.")
            }
        } else if r.body.contains("Widen the hidden layer") {
            openai(EDIT_HIDDEN)
        } else {
            openai(EDIT_LR)
        }
    });
    let lab = spiral_lab(&format!(
        "provider = \"openai\"\nmodel = \"gpt-4o-mini\"\nbase_url = \"{}\"\nideas_per_call = 2\nlessons = \"template\"\n",
        server.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "10"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "a pause, resumable: {err}");
    assert!(err.contains("ideations failed in a row"), "{err}");
    let rows = lab.json(&["results", "--format", "json"]);
    let titles: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["verdict"].is_string())
        .map(|r| r["title"].as_str().unwrap())
        .collect();
    assert!(
        titles.contains(&"Widen the hidden layer to 48 units"),
        "the coded candidate ran before the pause: {titles:?}"
    );
}

#[test]
fn an_answer_of_nothing_but_repeats_is_reasked_with_the_titles_tried() {
    if !python_or_skip() {
        return;
    }
    let server = FakeServer::from_fn(|r| {
        if r.body
            .contains("Every idea you proposed repeats one already tried")
        {
            openai(
                r#"{"ideas": [{"title": "Switch the activation to relu", "hypothesis": "relu trains faster here", "plan": "set activation to relu", "files": ["params.json"], "expected_effect": "lower val_loss", "risk": "low"}]}"#,
            )
        } else if is_ideation(r) {
            openai(IDEA_LR)
        } else if r.body.contains("Switch the activation") {
            openai(
                "params.json\n```json\n<<<<<<< SEARCH\n  \"activation\": \"tanh\",\n=======\n  \"activation\": \"relu\",\n>>>>>>> REPLACE\n```\n",
            )
        } else {
            openai(EDIT_LR)
        }
    });
    let lab = spiral_lab(&format!(
        "provider = \"openai\"\nmodel = \"gpt-4o-mini\"\nbase_url = \"{}\"\nideas_per_call = 1\nlessons = \"template\"\n",
        server.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let two = lab.json(&["show", "2", "--json"]);
    assert_eq!(two["title"], "Switch the activation to relu", "{two}");
    let reask = server
        .requests()
        .into_iter()
        .find(|r| {
            r.body
                .contains("Every idea you proposed repeats one already tried")
        })
        .expect("a re-ask");
    assert!(
        reask.body.contains("- Raise the learning rate to 0.05"),
        "the re-ask names the tried title: {}",
        reask.body
    );
}
