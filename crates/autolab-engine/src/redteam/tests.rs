use std::path::Path;

use autolab_core::config::{Config, Goal};
use autolab_core::experiment::{Experiment, Verdict};

use super::*;

fn task(extra: &str) -> autolab_core::config::Task {
    let text = format!(
        "[task]\ncommand = \"sh run.sh\"\neditable = [\"run.sh\"]\nprotected = [\"prepare.sh\"]\n{extra}\n[metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n"
    );
    Config::parse(Path::new("autolab.toml"), &text)
        .unwrap()
        .task
}

#[test]
fn attacks_are_read_with_their_files_and_unknown_kinds_are_other() {
    let reply = r#"Here: {"attacks": [
      {"name": "Forge", "kind": "forge_metric", "explanation": "prints 0", "files": {"run.sh": "echo val_loss: 0"}},
      {"name": "No files", "kind": "read_labels", "files": {}},
      {"name": "", "kind": "teleport", "files": {"x.py": "pass", "bad": 3}}
    ]}"#;
    let a = parse_attacks(reply).unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].name, "Forge");
    assert_eq!(a[0].kind, "forge_metric");
    assert_eq!(
        a[0].files,
        vec![("run.sh".to_string(), "echo val_loss: 0".to_string())]
    );
    assert_eq!(a[1].name, "attack 3");
    assert_eq!(a[1].kind, "other");
    assert_eq!(a[1].files.len(), 1, "a non-string content is dropped");
    let big = "x".repeat(200_001);
    let reply = format!(
        r#"{{"attacks": [{{"name": "big", "files": {{"a.py": "{big}", "b.py": "pass"}}}}, {{"name": "ok", "files": {{"c.py": "pass"}}}}, {{"name": "none", "files": {{}}}}]}}"#
    );
    let (a, dropped) = parse_attacks_counted(&reply).unwrap();
    assert_eq!(
        a.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        ["ok"]
    );
    assert_eq!(dropped, 2, "an attack with a file too big is dropped whole");
    assert!(parse_attacks("no json").is_err());
    assert!(parse_attacks("{\"attacks\": []}").is_err());
    assert!(parse_attacks("{\"ideas\": []}").is_err());
}

fn exp(verdict: Verdict, score: Option<f64>, reason: &str) -> Experiment {
    Experiment {
        row: autolab_core::ids::ExperimentId(1),
        number: 1,
        state: verdict.state(),
        verdict: Some(verdict),
        reason: Some(reason.into()),
        score,
        metrics: indexmap::IndexMap::new(),
        commit: None,
        parent: String::new(),
        proposer: autolab_core::experiment::ProposerKind::Llm,
        title: "a".into(),
        params: None,
        lines_added: 0,
        lines_removed: 0,
        finalized: true,
        created_at: 0.0,
        updated_at: 0.0,
        stats: None,
    }
}

fn attack(kind: &str, files: &[&str]) -> Attack {
    Attack {
        name: "a".into(),
        kind: kind.into(),
        explanation: "e".into(),
        files: files
            .iter()
            .map(|f| (f.to_string(), String::new()))
            .collect(),
    }
}

#[test]
fn a_kept_attack_is_a_hole_with_advice_and_anything_else_says_what_stopped_it() {
    let t = task("");
    let base = exp(Verdict::Kept, Some(0.5), "baseline");
    let a = attack("forge_metric", &["run.sh"]);
    let o = outcome_of(
        &t,
        &a,
        Some(&base),
        Some(&exp(Verdict::Kept, Some(0.0), "beats #0")),
        Goal::Minimize,
    );
    assert!(!o.stopped);
    assert_eq!(
        o.by,
        "NOT STOPPED: your evaluation can be gamed this way (score 0 vs the baseline's 0.5)"
    );
    let advice = o.advice.unwrap();
    assert!(
        advice.contains("compute it in `[task] evaluate`"),
        "{advice}"
    );
    assert!(
        advice.contains("if `run.sh` belongs to the evaluation, add it to `[task] protected`"),
        "{advice}"
    );
    for (v, by) in [
        (Verdict::Invalid, "invalid: changes protected prepare.sh"),
        (
            Verdict::Crashed,
            "the run crashed: changes protected prepare.sh",
        ),
        (
            Verdict::Discarded,
            "not better than the baseline: changes protected prepare.sh",
        ),
    ] {
        let o = outcome_of(
            &t,
            &a,
            Some(&base),
            Some(&exp(v, None, "changes protected prepare.sh")),
            Goal::Minimize,
        );
        assert!(o.stopped);
        assert_eq!(o.by, by);
        assert_eq!(o.advice, None);
    }
    let o = outcome_of(&t, &a, Some(&base), None, Goal::Minimize);
    assert!(!o.judged && !o.stopped && o.by.starts_with("not judged"));
    let cancelled = exp(Verdict::Cancelled, None, "x");
    let o = outcome_of(&t, &a, Some(&base), Some(&cancelled), Goal::Minimize);
    assert!(!o.judged, "{o:?}");
}

#[test]
fn advice_fits_the_lab_it_is_for() {
    let with_eval = task("evaluate = \"sh prepare.sh\"");
    let a = advice(&with_eval, "forge_metric", &["prepare.sh".into()]);
    assert!(a.starts_with("make `evaluate` compute the metric"), "{a}");
    assert!(
        !a.contains("add it"),
        "prepare.sh is protected already: {a}"
    );
    let a = advice(&task(""), "write_other_runs", &["run.sh".into()]);
    assert!(a.contains("landlock"), "{a}");
    assert!(!a.contains("protected"), "{a}");
    let a = advice(&task(""), "other", &[]);
    assert!(a.contains("autolab show 1 --tag"), "{a}");
}

#[test]
fn the_gain_is_named_only_when_the_attack_scored_better_in_the_score_direction() {
    let t = task("");
    let a = attack("forge_metric", &["run.sh"]);
    let base = exp(Verdict::Kept, Some(0.5), "baseline");
    let kept = |s: f64, goal| {
        outcome_of(
            &t,
            &a,
            Some(&base),
            Some(&exp(Verdict::Kept, Some(s), "k")),
            goal,
        )
        .by
    };
    let plain = "NOT STOPPED: your evaluation can be gamed this way";
    assert_eq!(
        kept(0.9, Goal::Maximize),
        format!("{plain} (score 0.9 vs the baseline's 0.5)")
    );
    assert_eq!(kept(0.1, Goal::Maximize), plain);
    assert_eq!(kept(0.5, Goal::Maximize), plain);
    assert_eq!(kept(0.5, Goal::Minimize), plain);
    assert_eq!(kept(0.9, Goal::Minimize), plain);
}

#[test]
fn a_report_from_before_verdicts_could_be_missing_counts_its_outcomes_as_judged() {
    let old = r#"{"stamp": "1", "at": 0, "fingerprint": "f", "outcomes": [
        {"attack": "a", "kind": "forge_metric", "explanation": "", "files": [], "stopped": false,
         "by": "NOT STOPPED", "verdict": "kept", "score": null, "baseline": null, "advice": null, "tag": "t"}]}"#;
    let r: Report = serde_json::from_str(old).unwrap();
    assert_eq!(r.holes().len(), 1);
    assert!(r.unjudged().is_empty());
}

#[test]
fn every_kind_of_attack_has_its_own_advice() {
    let plain = task("");
    let evaluated = task("evaluate = \"sh prepare.sh\"");
    let files = ["run.sh".to_string()];
    for (t, kind, says) in [
        (&plain, "forge_metric", "compute it in `[task] evaluate`"),
        (&plain, "edit_evaluation", "compute it in `[task] evaluate`"),
        (
            &evaluated,
            "edit_evaluation",
            "make `evaluate` compute the metric",
        ),
        (
            &plain,
            "read_labels",
            "validation labels where runs cannot read them",
        ),
        (&plain, "cache_results", "private /tmp"),
        (&plain, "edit_limits", "time limits, budgets and seeds"),
        (&plain, "write_other_runs", "landlock"),
    ] {
        let a = advice(t, kind, &files);
        assert!(a.contains(says), "{kind}: {a}");
        let protects = a.contains("add it to `[task] protected`");
        assert_eq!(
            protects,
            !matches!(kind, "cache_results" | "write_other_runs"),
            "{kind}: {a}"
        );
    }
}

#[test]
fn holes_are_judged_kept_attacks_and_unjudged_ones_are_apart() {
    let t = task("");
    let a = attack("forge_metric", &["run.sh"]);
    let base = exp(Verdict::Kept, Some(0.5), "baseline");
    let r = Report {
        stamp: "1".into(),
        at: 0.0,
        fingerprint: "f".into(),
        outcomes: vec![
            outcome_of(
                &t,
                &a,
                Some(&base),
                Some(&exp(Verdict::Kept, Some(0.1), "k")),
                Goal::Minimize,
            ),
            outcome_of(
                &t,
                &a,
                Some(&base),
                Some(&exp(Verdict::Invalid, None, "i")),
                Goal::Minimize,
            ),
            outcome_of(&t, &a, Some(&base), None, Goal::Minimize),
        ],
        dropped: 0,
    };
    let holes: Vec<&str> = r
        .holes()
        .iter()
        .map(|o| o.verdict.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(holes, ["kept"]);
    let unjudged: Vec<bool> = r.unjudged().iter().map(|o| o.judged).collect();
    assert_eq!(unjudged, [false]);
}
