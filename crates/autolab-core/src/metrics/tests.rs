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

mod loggers {
    use std::fs;
    use std::path::Path;
    use std::time::{Duration, SystemTime};

    use indexmap::IndexMap;

    use super::super::tfevents::write::{event, record, simple_value};
    use super::super::wandb::write as wb;
    use super::super::*;
    use crate::config::{SeriesValue, WandbFrom};

    fn events_file(path: &Path, series: &[(&str, &[f32])]) {
        let mut out = Vec::new();
        for (tag, values) in series {
            for (step, v) in values.iter().enumerate() {
                record(&mut out, &event(step as i64, &[simple_value(tag, *v)]));
            }
        }
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, out).unwrap();
    }

    fn age(path: &Path, secs: u64) {
        let f = fs::File::options().write(true).open(path).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(secs))
            .unwrap();
    }

    fn tb(dir: Option<&str>, tags: Option<&[&str]>, mode: SeriesValue) -> Source {
        Source::Tensorboard {
            dir: dir.map(Into::into),
            tags: tags.map(|t| t.iter().map(|s| s.to_string()).collect()),
            mode,
            rename: IndexMap::new(),
        }
    }

    struct Dirs {
        _tmp: tempfile::TempDir,
        run: std::path::PathBuf,
        tree: std::path::PathBuf,
    }

    /// A worktree, then a run dir created after it (its creation time is the run's start).
    fn dirs() -> Dirs {
        let tmp = tempfile::tempdir().unwrap();
        let tree = tmp.path().join("tree");
        fs::create_dir_all(&tree).unwrap();
        let run = tmp.path().join("run");
        fs::create_dir_all(&run).unwrap();
        Dirs {
            _tmp: tmp,
            run,
            tree,
        }
    }

    fn run(sources: &[Source], d: &Dirs) -> Collected {
        collect(
            sources,
            &RunOutputs {
                log: "",
                run_dir: &d.run,
                worktree: &d.tree,
            },
        )
    }

    #[test]
    fn tensorboard_reads_every_tag_by_mode_and_renames() {
        let d = dirs();
        events_file(
            &d.run.join("tb/events.out.tfevents.1.host"),
            &[("val/loss", &[3.0, 1.0, 2.0]), ("acc", &[0.5, 0.75])],
        );
        let c = run(&[tb(None, None, SeriesValue::Last)], &d);
        assert_eq!(c.problems, Vec::<String>::new());
        assert_eq!(c.values["val/loss"], 2.0);
        assert_eq!(c.values["acc"], 0.75);
        let c = run(&[tb(Some("tb"), None, SeriesValue::Min)], &d);
        assert_eq!(c.values["val/loss"], 1.0);
        let mut s = tb(Some("tb"), Some(&["val/loss", "lr"]), SeriesValue::Max);
        if let Source::Tensorboard { rename, .. } = &mut s {
            rename.insert("val/loss".into(), "val_loss".into());
        }
        let c = run(&[s], &d);
        assert_eq!(c.values.len(), 1);
        assert_eq!(c.values["val_loss"], 3.0);
        assert_eq!(c.problems.len(), 1);
        assert!(
            c.problems[0].contains("tag `lr` not found in"),
            "{:?}",
            c.problems
        );
    }

    #[test]
    fn tensorboard_in_the_worktree_reads_only_files_of_this_run() {
        let d = dirs();
        let old = d.tree.join("runs/old/events.out.tfevents.1.host");
        events_file(&old, &[("loss", &[9.0])]);
        age(&old, 3600);
        let c = run(&[tb(None, None, SeriesValue::Last)], &d);
        assert!(c.values.is_empty());
        assert!(
            c.problems[0].contains(
                "no TensorBoard event files (events.out.tfevents.*) written during this run"
            ),
            "{:?}",
            c.problems
        );
        events_file(
            &d.tree.join("runs/new/events.out.tfevents.2.host"),
            &[("loss", &[1.0])],
        );
        let c = run(&[tb(Some("runs"), None, SeriesValue::Last)], &d);
        assert_eq!(c.problems, Vec::<String>::new());
        assert_eq!(c.values["loss"], 1.0);
        // the run dir is preferred, and hidden dirs are not searched
        events_file(
            &d.run.join(".hidden/events.out.tfevents.3.host"),
            &[("loss", &[5.0])],
        );
        events_file(
            &d.run.join("events.out.tfevents.3.host"),
            &[("loss", &[2.0])],
        );
        let c = run(&[tb(None, None, SeriesValue::Last)], &d);
        assert_eq!(c.values["loss"], 2.0);
    }

    #[test]
    fn tensorboard_tag_in_two_files_takes_the_newest_and_says_so() {
        let d = dirs();
        let a = d.run.join("a/events.out.tfevents.1.host");
        events_file(&a, &[("loss", &[1.0]), ("only_a", &[7.0])]);
        age(&a, 60);
        events_file(
            &d.run.join("b/events.out.tfevents.2.host"),
            &[("loss", &[2.0])],
        );
        let c = run(&[tb(None, None, SeriesValue::Last)], &d);
        assert_eq!(c.values["loss"], 2.0);
        assert_eq!(c.values["only_a"], 7.0);
        assert_eq!(c.problems.len(), 1, "{:?}", c.problems);
        assert!(c.problems[0].contains("tag `loss` is in 2 event files"));
        assert!(c.problems[0].contains("set `dir`"));
    }

    #[test]
    fn tensorboard_nothing_found_is_a_problem() {
        let d = dirs();
        let c = run(&[tb(Some("runs"), None, SeriesValue::Last)], &d);
        assert_eq!(
            c.problems,
            vec![
                "no TensorBoard event files (events.out.tfevents.*) under `runs` found in the run dir or the worktree"
            ]
        );
        fs::write(d.run.join("events.out.tfevents.9.host"), b"not a record").unwrap();
        let c = run(&[tb(None, None, SeriesValue::Last)], &d);
        assert!(
            c.problems[0].starts_with("no scalar in "),
            "{:?}",
            c.problems
        );
    }

    fn wandb_file(path: &Path, records: &[Vec<u8>]) {
        let mut out = wb::header();
        for r in records {
            wb::record(&mut out, r);
        }
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, out).unwrap();
    }

    fn wandb(from: WandbFrom, keys: Option<&[&str]>) -> Source {
        Source::Wandb {
            dir: "wandb".into(),
            keys: keys.map(|t| t.iter().map(|s| s.to_string()).collect()),
            from,
            rename: [("loss".to_string(), "val_loss".to_string())]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn wandb_reads_summary_or_history_of_the_newest_run() {
        let d = dirs();
        let records = [
            wb::history(1, 0, &[("loss", "2"), ("_step", "0")]),
            wb::history(2, 1, &[("loss", "0.5"), ("_step", "1")]),
            wb::history(3, 2, &[("loss", "1"), ("_step", "2")]),
            wb::summary(4, &[("loss", "1"), ("best", "0.5")]),
        ];
        let old = d
            .run
            .join("wandb/offline-run-20260101_000000-aaaa/run-aaaa.wandb");
        wandb_file(&old, &[wb::summary(1, &[("loss", "99")])]);
        age(&old, 60);
        wandb_file(
            &d.run
                .join("wandb/offline-run-20260101_000100-bbbb/run-bbbb.wandb"),
            &records,
        );
        let c = run(&[wandb(WandbFrom::Summary, None)], &d);
        assert_eq!(c.problems, Vec::<String>::new());
        assert_eq!(c.values["val_loss"], 1.0);
        assert_eq!(c.values["best"], 0.5);
        let c = run(
            &[wandb(WandbFrom::HistoryMin, Some(&["loss", "_step"]))],
            &d,
        );
        assert_eq!(c.values.len(), 2);
        assert_eq!(c.values["val_loss"], 0.5);
        assert_eq!(c.values["_step"], 0.0);
        let c = run(&[wandb(WandbFrom::HistoryMax, Some(&["loss", "acc"]))], &d);
        assert_eq!(c.values["val_loss"], 2.0);
        assert_eq!(c.problems.len(), 1);
        assert!(
            c.problems[0].starts_with("key `acc` not in the history of "),
            "{:?}",
            c.problems
        );
        let c = run(&[wandb(WandbFrom::HistoryLast, None)], &d);
        assert_eq!(c.values["val_loss"], 1.0);
        assert_eq!(c.values["_step"], 2.0);
    }

    #[test]
    fn wandb_in_the_worktree_skips_older_runs_and_follows_latest_run() {
        let d = dirs();
        let old = d.tree.join("wandb/run-20250101_000000-old/run-old.wandb");
        wandb_file(&old, &[wb::summary(1, &[("loss", "9")])]);
        age(&old, 3600);
        let c = run(&[wandb(WandbFrom::Summary, None)], &d);
        assert!(
            c.problems[0]
                .contains("no W&B run file (run-*.wandb) under `wandb` written during this run"),
            "{:?}",
            c.problems
        );
        wandb_file(
            &d.tree
                .join("wandb/offline-run-20260101_000000-new/run-new.wandb"),
            &[wb::summary(1, &[("loss", "0.25")])],
        );
        std::os::unix::fs::symlink(
            "offline-run-20260101_000000-new",
            d.tree.join("wandb/latest-run"),
        )
        .unwrap();
        let c = run(&[wandb(WandbFrom::Summary, None)], &d);
        assert_eq!(c.problems, Vec::<String>::new());
        assert_eq!(c.values["val_loss"], 0.25);
        // `dir` may name a run dir itself
        let mut s = wandb(WandbFrom::Summary, None);
        if let Source::Wandb { dir, .. } = &mut s {
            *dir = "wandb/latest-run".into();
        }
        assert_eq!(run(&[s], &d).values["val_loss"], 0.25);
    }

    #[test]
    fn wandb_garbage_is_a_problem() {
        let d = dirs();
        let f = d.run.join("wandb/run-x/run-x.wandb");
        fs::create_dir_all(f.parent().unwrap()).unwrap();
        fs::write(&f, b"garbage").unwrap();
        let c = run(&[wandb(WandbFrom::Summary, None)], &d);
        assert!(
            c.problems[0].ends_with("is not a W&B run file (no `:W&B` header)"),
            "{:?}",
            c.problems
        );
        wandb_file(&f, &[]);
        let c = run(&[wandb(WandbFrom::Summary, None)], &d);
        assert!(
            c.problems[0].starts_with("no numeric value in the summary of "),
            "{:?}",
            c.problems
        );
    }
}

#[test]
fn a_bare_name_equals_value_outside_a_metric_line_is_not_a_metric() {
    assert!(parse_lines("lr=0.001\nrunning with lr=0.1 for 3 epochs\n").is_empty());
    assert_eq!(parse_lines("METRIC lr=0.001\n")["lr"], 0.001);
}

#[test]
fn infinite_values_are_read_as_infinite() {
    let v = parse_lines("a: inf\nb: -Infinity\nc: +inf\n");
    assert_eq!(v["a"], f64::INFINITY);
    assert_eq!(v["b"], f64::NEG_INFINITY);
    assert_eq!(v["c"], f64::INFINITY);
}
