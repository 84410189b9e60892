use std::path::Path;

use super::*;

#[test]
fn reads_autoresearch_summary_block() {
    let log = "step 00010 | loss 3.2\n---\nval_bpb:          0.997900\ntraining_seconds: 300.1\npeak_vram_mb:     45060.2\nnum_steps:        953\n";
    let m = parse_lines(log);
    assert_eq!(m["val_bpb"], 0.9979);
    assert_eq!(m["peak_vram_mb"], 45060.2);
    assert_eq!(m["num_steps"], 953.0);
    assert!(!m.contains_key("step"));
}

#[test]
fn reads_metric_lines_and_later_values_win() {
    let m = parse_lines("METRIC loss=0.9 step=1\nMETRIC loss=0.5 step=2\nloss: 0.4\n");
    assert_eq!(m["loss"], 0.4);
    assert_eq!(m["step"], 2.0);
}

#[test]
fn reads_nan_and_ignores_prose() {
    let m = parse_lines("Note: this is prose\nerror: something: bad\nval_loss: nan\n");
    assert!(m["val_loss"].is_nan());
    assert_eq!(m.len(), 1);
}

#[test]
fn reads_progress_lines_with_several_pairs() {
    let m = parse_lines("step: 100 train_loss: 0.61\n");
    assert_eq!(m["step"], 100.0);
    assert_eq!(m["train_loss"], 0.61);
}

#[test]
fn json_pointer_with_wildcard_reads_ai_scientist_means() {
    let text = r#"{"circle": {"means": {"eval_loss": 0.31, "train_time": 12, "name": "x"}, "stderrs": {}}}"#;
    let m = read_json_metrics(text, "/*/means", None).unwrap();
    assert_eq!(m["eval_loss"], 0.31);
    assert_eq!(m["train_time"], 12.0);
    assert!(!m.contains_key("name"));
}

#[test]
fn json_pointer_to_a_number_uses_name_or_last_segment() {
    let text = r#"{"a": {"b": [1.5, 2.5]}, "c": 3}"#;
    assert_eq!(
        read_json_metrics(text, "/a/b/1", Some("x")).unwrap()["x"],
        2.5
    );
    assert_eq!(read_json_metrics(text, "/c", None).unwrap()["c"], 3.0);
    assert!(read_json_metrics(text, "/missing", None).is_err());
    assert!(read_json_metrics("{not json", "/c", None).is_err());
}

/// Found by the property tests: slicing off the leading `/` by byte index panicked on a pointer
/// starting with a multi-byte character, and silently dropped the first character of others.
#[test]
fn json_pointer_without_leading_slash_is_an_error_not_a_panic() {
    for pointer in ["\u{a830}", "é/c", "c"] {
        let e = read_json_metrics(r#"{"c": 1}"#, pointer, None).unwrap_err();
        assert!(
            e.contains("must be empty or start with `/`"),
            "{pointer}: {e}"
        );
    }
    assert_eq!(read_json_metrics("0.0", "", None).unwrap()["value"], 0.0);
}

#[test]
fn collect_reads_json_from_run_dir_and_regex_from_log() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("final_info.json"),
        r#"{"d": {"means": {"acc": 0.8}}}"#,
    )
    .unwrap();
    let sources = vec![
        Source::Regex {
            name: "tokens".into(),
            pattern: r"tokens/s=(\d+)".into(),
        },
        Source::Json {
            file: "final_info.json".into(),
            pointer: "/*/means".into(),
            name: None,
        },
    ];
    let out = RunOutputs {
        log: "tokens/s=100\ntokens/s=250\n",
        run_dir: dir.path(),
        worktree: Path::new("/nonexistent"),
    };
    let c = collect(&sources, &out);
    assert_eq!(c.values["tokens"], 250.0);
    assert_eq!(c.values["acc"], 0.8);
    assert!(c.problems.is_empty());
}
