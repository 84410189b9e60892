use std::sync::Arc;

use autolab_llm::fake::{FakeReply, FakeServer};

use super::*;
use crate::llm::Caller;

const IMPORT_TAIL: &str = "step 1\nTraceback (most recent call last):\n  File \"train.py\", line 3, in <module>\n    import torch\nModuleNotFoundError: No module named 'torch'\n";

fn failure(number: u32, tail: &str, code: Option<i32>) -> Failure {
    Failure {
        number,
        verdict: "crashed".into(),
        reason: format!("exit code {}", code.unwrap_or(-1)),
        exit_code: code,
        log_tail: tail.into(),
    }
}

#[test]
fn the_error_line_is_the_exception_not_the_traceback_header_nor_the_trailing_noise() {
    assert_eq!(
        error_line(IMPORT_TAIL).as_deref(),
        Some("ModuleNotFoundError: No module named 'torch'")
    );
    assert_eq!(
        error_line("loss 3\nRuntimeError: shapes differ\n  \nwandb: synced\n").as_deref(),
        Some("RuntimeError: shapes differ")
    );
    assert_eq!(
        error_line("just\nlast words\n").as_deref(),
        Some("last words")
    );
    assert_eq!(error_line("\n \n"), None);
    let long = format!("ValueError: {}", "é".repeat(400));
    let cut = error_line(&long).unwrap();
    assert!(cut.ends_with('…') && cut.len() <= 304, "{}", cut.len());
}

#[test]
fn all_failures_with_one_import_error_name_the_module_and_how_to_install_it() {
    let fs: Vec<Failure> = (3..8).map(|n| failure(n, IMPORT_TAIL, Some(1))).collect();
    let d = rule_diagnosis("crash_streak", &fs);
    assert_eq!(
        d.cause,
        "all 5 runs crashed with: ModuleNotFoundError: No module named 'torch'"
    );
    assert!(
        d.advice.as_deref().unwrap().contains("`pip install torch`"),
        "{d:?}"
    );
    assert_eq!(d.experiments, vec![3, 4, 5, 6, 7]);
    assert_eq!(d.evidence[0], "exit code 1 in all 5");
    assert_eq!(d.by, "rules");
    assert_eq!(d.trigger, "crash_streak");
}

#[test]
fn a_dotted_module_is_installed_by_its_package() {
    let tail = "ModuleNotFoundError: No module named 'sklearn.linear_model'";
    let d = rule_diagnosis("x", &[failure(1, tail, Some(1)), failure(2, tail, Some(1))]);
    assert!(d.advice.unwrap().contains("`pip install sklearn`"));
    let tail = "ModuleNotFoundError: No module named 'torch.x'; 'torch' is not a package";
    let d = rule_diagnosis("x", &[failure(1, tail, Some(1)), failure(2, tail, Some(1))]);
    assert!(d.advice.unwrap().contains("`pip install torch` in"));
}

#[test]
fn a_majority_line_is_named_with_its_count_and_a_minority_is_not() {
    let other = "KeyError: 'lr'";
    let fs = vec![
        failure(1, IMPORT_TAIL, Some(1)),
        failure(2, other, Some(1)),
        failure(3, IMPORT_TAIL, Some(1)),
    ];
    let d = rule_diagnosis("x", &fs);
    assert_eq!(
        d.cause,
        "2 of 3 runs crashed with: ModuleNotFoundError: No module named 'torch'"
    );
    let fs = vec![
        failure(1, "A: 1", Some(2)),
        failure(2, "B: 2", Some(3)),
        failure(3, "C: 3", Some(4)),
        failure(4, "A: 1", Some(5)),
    ];
    let d = rule_diagnosis("x", &fs);
    assert_eq!(d.cause, "2 of 4 runs crashed with: A: 1");
    let fs = vec![
        failure(1, "A: 1", Some(2)),
        failure(2, "B: 2", Some(3)),
        failure(3, "C: 3", Some(4)),
    ];
    let d = rule_diagnosis("x", &fs);
    assert_eq!(d.cause, "3 runs crashed in a row with different errors");
    assert_eq!(rule_diagnosis("x", &[]).cause, "no failed run to read");
}

#[test]
fn different_lines_with_one_exit_code_say_the_code_and_what_it_means() {
    let fs = vec![
        failure(1, "epoch 1", Some(137)),
        failure(2, "epoch 7", Some(137)),
        failure(3, "epoch 4", Some(137)),
    ];
    let d = rule_diagnosis("x", &fs);
    assert_eq!(
        d.cause,
        "all 3 runs crashed with exit code 137, each with a different last line"
    );
    assert!(d.advice.unwrap().contains("out-of-memory"));
}

#[test]
fn timeouts_are_told_apart_from_crashes() {
    let mut fs: Vec<Failure> = (1..4)
        .map(|n| failure(n, &format!("step {n}"), None))
        .collect();
    for f in &mut fs {
        f.verdict = "timeout".into();
        f.reason = "stalled: no output for 60s".into();
    }
    let d = rule_diagnosis("x", &fs);
    assert_eq!(d.cause, "all 3 runs timed out (stalled: no output for 60s)");
    assert!(d.advice.unwrap().contains("timeout"));
}

#[test]
fn a_missing_command_is_named_for_bash_and_dash() {
    for line in [
        "bash: line 1: trainer: command not found",
        "sh: 1: trainer: not found",
    ] {
        let d = rule_diagnosis(
            "x",
            &[failure(1, line, Some(127)), failure(2, line, Some(127))],
        );
        assert!(
            d.advice
                .as_deref()
                .unwrap()
                .starts_with("`trainer` is not on the runs' PATH"),
            "{line}: {d:?}"
        );
    }
}

fn caller(server: &FakeServer) -> Caller {
    let mut cfg = autolab_llm::ProviderConfig::new(autolab_llm::Provider::OpenAi, "m");
    cfg.base_url = Some(server.url());
    cfg.max_retries = 0;
    let client = autolab_llm::client(&cfg).unwrap();
    Caller::new(Arc::from(client), "m", 256, None, 0.0, None)
}

#[test]
fn the_llm_reads_the_logs_and_its_cause_replaces_the_rules_one() {
    let server = FakeServer::start(vec![FakeReply::openai(
        "Here: {\"cause\": \"torch is not installed in the run environment\", \"advice\": \"pip install torch\"}",
    )]);
    let fs: Vec<Failure> = (3..6).map(|n| failure(n, IMPORT_TAIL, Some(1))).collect();
    let rules = rule_diagnosis("identical_failures", &fs);
    let mut log = Vec::new();
    let d = llm_diagnosis(&caller(&server), "lower val_loss", &fs, &rules, &mut log).unwrap();
    assert_eq!(d.cause, "torch is not installed in the run environment");
    assert_eq!(d.advice.as_deref(), Some("pip install torch"));
    assert_eq!(
        (d.by.as_str(), d.trigger.as_str()),
        ("llm", "identical_failures")
    );
    assert_eq!(d.experiments, vec![3, 4, 5]);
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].role, DIAGNOSIS_ROLE);
    let prompt = server.requests()[0].prompt_text();
    assert!(prompt.contains("No module named 'torch'"), "{prompt}");
    assert!(prompt.contains("## Experiment #5"), "{prompt}");
    assert!(prompt.contains(&rules.cause), "{prompt}");
}

#[test]
fn a_garbage_or_failed_llm_answer_is_an_error_the_rules_survive() {
    let server = FakeServer::start(vec![
        FakeReply::openai("I think it is torch."),
        FakeReply::openai("{\"advice\": \"x\"}"),
        FakeReply::status(400, "bad request"),
    ]);
    let fs = vec![failure(1, IMPORT_TAIL, Some(1))];
    let rules = rule_diagnosis("x", &fs);
    let c = caller(&server);
    let mut log = Vec::new();
    assert_eq!(
        llm_diagnosis(&c, "g", &fs, &rules, &mut log).unwrap_err(),
        "the reply holds no JSON object"
    );
    assert_eq!(
        llm_diagnosis(&c, "g", &fs, &rules, &mut log).unwrap_err(),
        "the reply has no `cause`"
    );
    assert!(llm_diagnosis(&c, "g", &fs, &rules, &mut log).is_err());
    assert_eq!(log.len(), 3);
}

#[test]
fn the_disk_watch_fires_under_its_floor_and_never_when_off() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(disk_diagnosis(dir.path(), Some(0)), None);
    let free = free_bytes(dir.path()).unwrap();
    assert_eq!(
        disk_diagnosis(dir.path(), Some(1)),
        None,
        "{free} bytes free"
    );
    let d = disk_diagnosis(dir.path(), Some((free >> 20) + 2)).unwrap();
    assert_eq!(d.trigger, "disk_low");
    assert!(
        d.cause
            .starts_with("the disk holding the lab is nearly full")
    );
}

#[test]
fn a_cut_never_splits_a_character() {
    // An odd-length prefix puts the 300th byte inside a two-byte character.
    let long = format!("KeyError: x{}", "é".repeat(400));
    let cut = error_line(&long).unwrap();
    assert!(cut.ends_with('…'));
    assert_eq!(cut.len(), 299 + '…'.len_utf8(), "{}", cut.len());
}

#[test]
fn among_equally_shared_lines_the_newest_is_named() {
    let fs = vec![
        failure(1, "A: 1", Some(1)),
        failure(2, "B: 2", Some(1)),
        failure(3, "A: 1", Some(1)),
        failure(4, "B: 2", Some(1)),
    ];
    assert_eq!(
        rule_diagnosis("x", &fs).cause,
        "2 of 4 runs crashed with: B: 2"
    );
}

#[test]
fn timeouts_with_one_last_line_are_still_timeouts() {
    let mut fs: Vec<Failure> = (1..4).map(|n| failure(n, "step 7", None)).collect();
    for f in &mut fs {
        f.verdict = "timeout".into();
        f.reason = "timeout after 10m".into();
    }
    assert_eq!(
        rule_diagnosis("x", &fs).cause,
        "all 3 runs timed out (timeout after 10m)"
    );
}

#[test]
fn memory_and_shell_exit_codes_get_their_advice() {
    let two = |line: &str, code| {
        rule_diagnosis(
            "x",
            &[failure(1, line, Some(code)), failure(2, line, Some(code))],
        )
        .advice
        .unwrap_or_default()
    };
    assert!(two("MemoryError", 1).contains("out of memory"));
    assert!(two("CUDA out of memory. Tried to allocate", 1).contains("out of memory"));
    let codes = |code| {
        rule_diagnosis(
            "x",
            &[failure(1, "a", Some(code)), failure(2, "b", Some(code))],
        )
        .advice
        .unwrap_or_default()
    };
    assert!(codes(127).contains("did not find the command"));
    assert!(codes(126).contains("not executable"));
    assert!(codes(137).contains("SIGKILL"));
    assert_eq!(codes(3), "");
}

#[test]
fn the_spend_is_judged_once_settled_and_only_when_it_outruns_the_time() {
    use super::pace::cost_burn;
    // $2 of $10 in the first hour of ten: $8 lasts 4 h, 9 h are left → pause.
    let d = cost_burn(0.0, 2.0, 10.0, 1.0, 10.0).unwrap();
    assert_eq!(d.trigger, "cost_burn");
    assert!(d.cause.contains("$2.00 an hour"), "{}", d.cause);
    assert!(
        d.cause
            .contains("lasts about 4.0 h, while max_hours has 9.0 h left"),
        "{}",
        d.cause
    );
    // On pace: $1 in the first hour of ten.
    assert!(cost_burn(0.0, 1.0, 10.0, 1.0, 10.0).is_none());
    // Just under half: $8 at $2/h lasts 4 h; with 7.9 h left that is over half → no pause.
    assert!(cost_burn(0.0, 2.0, 10.0, 1.0, 8.9).is_none());
    // Not settled yet: under a tenth of max_hours.
    assert!(cost_burn(0.0, 5.0, 10.0, 0.9, 10.0).is_none());
    // What earlier invocations spent counts for what is left, not for the pace.
    let d = cost_burn(6.0, 7.0, 10.0, 1.0, 10.0).unwrap();
    assert!(d.cause.contains("$1.00 an hour"), "{}", d.cause);
    assert!(
        cost_burn(6.0, 6.0, 10.0, 1.0, 10.0).is_none(),
        "nothing spent here"
    );
    // Minutes for short spans.
    let d = cost_burn(0.0, 0.5, 1.0, 0.02, 0.1).unwrap();
    assert!(
        d.cause
            .contains("lasts about 1 min, while max_hours has 5 min left"),
        "{}",
        d.cause
    );
}

#[test]
fn idle_slots_say_how_to_let_the_candidates_run() {
    let t = super::pace::idle_slots(2, 4, 3, 900.0);
    assert_eq!(
        t,
        "2 of 4 slot(s) idle for 15 min while 3 candidate(s) wait for approval: `autolab approve N` (or the dashboard) lets them run"
    );
}
