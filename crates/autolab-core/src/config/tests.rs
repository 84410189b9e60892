//! Tests of the config: a good config, then each rule broken in turn.
//! Longer than most files (~570 lines): each case is a whole config in text, kept next to
//! the error it must give.

use std::path::Path;

use super::*;

const GOOD: &str = r#"
[task]
goal = "Lower the loss."
command = "python3 train.py"
editable = ["train.py", "params.json"]
protected = ["prepare.py"]
timeout = "2m"

[metrics]
sources = [{ kind = "lines" }, { kind = "json", file = "final_info.json", pointer = "/*/means" }]
score = { val_loss = { weight = 1.0, goal = "minimize" }, acc = { goal = "maximize" } }

[params]
apply = { json = "params.json" }
lr = { log_float = [1e-4, 1.0], default = 0.05 }
hidden = { int = [4, 128], default = 16 }
activation = { choice = ["tanh", "relu"], default = "tanh" }

[runner]
kind = "local"
parallel = 2
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("autolab.toml"), text)
}

#[test]
fn parses_the_design_example() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.task.timeout, Duration::from_secs(120));
    assert_eq!(c.metrics.primary, "val_loss");
    assert_eq!(c.score_goal(), Goal::Maximize);
    assert_eq!(c.runner.parallel, 2);
    let p = c.params.unwrap();
    assert_eq!(p.apply, Apply::Json("params.json".into()));
    assert_eq!(p.space.len(), 3);
    assert_eq!(p.space[0].name, "lr");
    assert_eq!(p.space[1].kind, ParamKind::Int { low: 4, high: 128 });
}

#[test]
fn unknown_key_names_line_and_suggests() {
    let text = "[task]\ncomand = \"x\"\n";
    let e = parse(text).unwrap_err();
    assert_eq!(e.line, Some(2));
    assert_eq!(e.message, "unknown key `comand`");
    assert!(
        e.hint
            .as_deref()
            .unwrap()
            .contains("did you mean `command`"),
        "{e:?}"
    );
}

#[test]
fn wrong_type_names_line_and_key() {
    let text = "[task]\ncommand = \"x\"\n[metrics]\nscore = { l = { goal = \"minimize\" } }\n[runner]\nparallel = \"two\"\n";
    let e = parse(text).unwrap_err();
    assert_eq!(e.line, Some(6), "{e:?}");
    assert_eq!(e.key.as_deref(), Some("parallel"));
}

#[test]
fn invalid_toml_names_line() {
    let e = parse("[task\ncommand = 1").unwrap_err();
    assert_eq!(e.line, Some(1), "{e:?}");
}

#[test]
fn validation_errors_locate_their_key() {
    let text = "[task]\ncommand = \"x\"\n\n[metrics]\nscore = { l = { goal = \"minimize\" } }\nprimary = \"acc\"\n";
    let e = parse(text).unwrap_err();
    assert_eq!(e.line, Some(6));
    assert_eq!(e.key.as_deref(), Some("metrics.primary"));
    assert!(e.hint.unwrap().contains("l"));
}

#[test]
fn missing_score_is_an_error_with_hint() {
    let e = parse("[task]\ncommand = \"x\"\n").unwrap_err();
    assert!(e.message.contains("no scored metric"));
    assert!(e.hint.is_some());
}

#[test]
fn bad_param_range_is_an_error() {
    let text = "[task]\ncommand = \"x\"\n[metrics]\nscore = { l = { goal = \"minimize\" } }\n[params]\napply = { json = \"p.json\" }\nlr = { log_float = [0.0, 1.0] }\n";
    let e = parse(text).unwrap_err();
    assert_eq!(e.line, Some(7), "{e:?}");
}

#[test]
fn decide_defaults_to_noise_aware_and_checks_its_numbers() {
    let base = "[task]\ncommand = \"x\"\n[metrics]\nscore = { l = { goal = \"minimize\" } }\n";
    let c = parse(base).unwrap();
    assert_eq!(c.decide.policy, Policy::NoiseAware);
    assert_eq!(c.decide.repeats, 3);
    assert_eq!(c.decide.confidence, 0.95);
    let e = parse(&format!("{base}[decide]\nrepeats = 0\n")).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("decide.repeats"));
    assert_eq!(e.line, Some(6));
    for bad in ["0.0", "1.0", "1.5", "-0.1"] {
        let e = parse(&format!("{base}[decide]\nconfidence = {bad}\n")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("decide.confidence"), "{bad}");
    }
    assert_eq!(
        parse(&format!("{base}[decide]\npolicy = \"strict\"\n"))
            .unwrap()
            .decide
            .policy,
        Policy::Strict
    );
}

#[test]
fn early_stop_is_off_unless_configured_and_checks_its_metric() {
    let base = "[task]\ncommand = \"x\"\n[metrics]\nscore = { l = { goal = \"minimize\" } }\n";
    assert!(parse(base).unwrap().early_stop.is_none());
    let c = parse(&format!("{base}[early_stop]\nmargin = 0.2\n")).unwrap();
    let es = c.early_stop.unwrap();
    assert_eq!(
        (es.metric.as_str(), es.step.as_str(), es.margin, es.patience),
        ("l", "step", 0.2, 3)
    );
    assert_eq!(
        (es.goal, es.rule, es.min_runs),
        (Goal::Minimize, StopRule::Incumbent, 3)
    );
    let e = parse(&format!("{base}[early_stop]\nmetric = \"acc\"\n")).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("early_stop.metric"));
    assert!(e.hint.as_deref().unwrap().contains("add `goal"), "{e}");
}

#[test]
fn early_stop_takes_any_streamed_metric_with_its_direction_and_a_rule() {
    let base = "[task]\ncommand = \"x\"\n[metrics]\nscore = { l = { goal = \"minimize\" } }\n[early_stop]\n";
    let es = |extra: &str| parse(&format!("{base}{extra}")).map(|c| c.early_stop.unwrap());
    let e = es("metric = \"acc\"\ngoal = \"maximize\"\nrule = \"median\"\nmin_runs = 5\n").unwrap();
    assert_eq!(
        (e.metric.as_str(), e.goal, e.rule, e.margin, e.min_runs),
        ("acc", Goal::Maximize, StopRule::Percentile(50.0), 0.0, 5)
    );
    // A scored metric's own direction may be overridden.
    assert_eq!(es("goal = \"maximize\"\n").unwrap().goal, Goal::Maximize);
    assert_eq!(
        es("percentile = 25\n").unwrap().rule,
        StopRule::Percentile(25.0)
    );
    assert_eq!(
        es("rule = \"percentile\"\n").unwrap().rule,
        StopRule::Percentile(50.0)
    );
    for (extra, key) in [
        ("rule = \"hyperband\"\n", "early_stop.rule"),
        ("percentile = 101\n", "early_stop.percentile"),
        ("percentile = -1\n", "early_stop.percentile"),
        (
            "rule = \"median\"\npercentile = 25\n",
            "early_stop.percentile",
        ),
        (
            "rule = \"incumbent\"\npercentile = 25\n",
            "early_stop.percentile",
        ),
        ("min_runs = 0\n", "early_stop.min_runs"),
        (
            "metric = \"step\"\ngoal = \"minimize\"\n",
            "early_stop.metric",
        ),
        ("goal = \"up\"\n", "goal"),
        (
            "step = \"epoch\"\nmetric = \"epoch\"\ngoal = \"minimize\"\n",
            "early_stop.metric",
        ),
        ("step = \"\"\n", "early_stop.step"),
    ] {
        let e = es(extra).unwrap_err();
        assert_eq!(e.key.as_deref(), Some(key), "{extra}: {e}");
    }
}

/// A valid config whose `[params]` section ends with `extra` (one or more lines).
fn with_params(extra: &str) -> String {
    format!(
        "[task]\ncommand = \"x\"\neditable = [\"p.json\"]\n[metrics]\nscore = {{ l = {{ goal = \"minimize\" }} }}\n[params]\napply = {{ json = \"p.json\" }}\n{extra}\n"
    )
}

/// Parses `with_params(extra)`, expecting an error located on the last line of `extra`.
fn params_error(extra: &str) -> ConfigError {
    let text = with_params(extra);
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, Some(7 + extra.lines().count()), "{e:?}");
    e
}

#[test]
fn sampler_defaults_to_auto_and_accepts_gp_tpe_and_random() {
    let p = parse(&with_params("lr = { float = [0.0, 1.0] }"))
        .unwrap()
        .params
        .unwrap();
    assert_eq!(p.sampler, Sampler::Auto);
    for (name, want) in [("gp", Sampler::Gp), ("auto", Sampler::Auto)] {
        let p = parse(&with_params(&format!(
            "sampler = \"{name}\"\nlr = {{ float = [0.0, 1.0] }}"
        )))
        .unwrap()
        .params
        .unwrap();
        assert_eq!(p.sampler, want);
    }
    assert_eq!(p.startup, None);
    let p = parse(&with_params(
        "sampler = \"random\"\nlr = { float = [0.0, 1.0] }",
    ))
    .unwrap()
    .params
    .unwrap();
    assert_eq!(p.sampler, Sampler::Random);
    let p = parse(&with_params(
        "sampler = \"tpe\"\nstartup = 4\nlr = { float = [0.0, 1.0] }",
    ))
    .unwrap()
    .params
    .unwrap();
    assert_eq!((p.sampler, p.startup), (Sampler::Tpe, Some(4)));
}

#[test]
fn unknown_sampler_is_an_error_naming_the_key() {
    for bad in ["\"bayes\"", "3"] {
        let e = params_error(&format!("lr = {{ float = [0.0, 1.0] }}\nsampler = {bad}"));
        assert_eq!(e.key.as_deref(), Some("params.sampler"), "{e:?}");
        assert!(e.hint.as_deref().unwrap().contains("tpe"), "{e:?}");
    }
}

#[test]
fn startup_must_be_a_positive_integer() {
    for bad in ["0", "-3", "2.5", "\"ten\""] {
        let e = params_error(&format!("lr = {{ float = [0.0, 1.0] }}\nstartup = {bad}"));
        assert_eq!(e.key.as_deref(), Some("params.startup"), "{bad}: {e:?}");
        assert!(e.message.contains("startup"), "{e:?}");
    }
}

#[test]
fn empty_ranges_are_errors_naming_the_parameter() {
    for (line, what) in [
        ("lr = { float = [1.0, 1.0] }", "empty"),
        ("lr = { float = [2.0, 1.0] }", "empty"),
        ("lr = { log_float = [0.1, 0.01] }", "empty"),
        ("lr = { int = [5, 4] }", "empty"),
        ("lr = { float = [0.0, inf] }", "not finite"),
        (
            "lr = { float = [-1e308, 1e308] }",
            "wider than a float holds",
        ),
    ] {
        let e = params_error(line);
        assert_eq!(e.key.as_deref(), Some("params.lr"), "{line}: {e:?}");
        assert!(e.message.contains(what), "{line}: {e:?}");
        assert!(e.hint.is_some(), "{line}: {e:?}");
    }
    // A one-value int range is allowed: the parameter is fixed.
    parse(&with_params("n = { int = [3, 3] }")).unwrap();
}

#[test]
fn log_range_touching_zero_is_an_error() {
    for line in [
        "lr = { log_float = [0.0, 1.0] }",
        "lr = { log_float = [-1.0, 1.0] }",
    ] {
        let e = params_error(line);
        assert_eq!(e.key.as_deref(), Some("params.lr"), "{e:?}");
        assert!(e.message.contains("touches 0"), "{e:?}");
        assert!(e.hint.as_deref().unwrap().contains("float"), "{e:?}");
    }
}

#[test]
fn choice_needs_distinct_options() {
    let e = params_error("act = { choice = [] }");
    assert_eq!(e.key.as_deref(), Some("params.act"), "{e:?}");
    assert!(e.message.contains("empty"), "{e:?}");
    let e = params_error("act = { choice = [\"relu\", \"tanh\", \"relu\"] }");
    assert_eq!(e.key.as_deref(), Some("params.act"), "{e:?}");
    assert!(e.message.contains("twice"), "{e:?}");
}

#[test]
fn huge_int_range_is_an_error() {
    let e = params_error("n = { int = [0, 9007199254740993] }");
    assert_eq!(e.key.as_deref(), Some("params.n"), "{e:?}");
}

fn with_sources(sources: &str) -> String {
    format!(
        "[task]\ncommand = \"python3 train.py\"\n\n[metrics]\nsources = [{sources}]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n"
    )
}

#[test]
fn logger_sources_parse_with_their_defaults() {
    let c = parse(&with_sources(
        r#"{ kind = "tensorboard" }, { kind = "wandb" }"#,
    ))
    .unwrap();
    assert_eq!(
        c.metrics.sources,
        vec![
            Source::Tensorboard {
                dir: None,
                tags: None,
                mode: SeriesValue::Last,
                rename: IndexMap::new(),
            },
            Source::Wandb {
                dir: "wandb".into(),
                keys: None,
                from: WandbFrom::Summary,
                rename: IndexMap::new(),
            },
        ]
    );
}

#[test]
fn logger_sources_parse_every_option() {
    let c = parse(&with_sources(
        r#"
  { kind = "tensorboard", dir = "runs", tags = ["val/loss", "acc"], mode = "min", rename = { "val/loss" = "val_loss" } },
  { kind = "wandb", dir = "logs/wandb", keys = ["loss"], from = "history-max", rename = { loss = "val_loss" } },
"#,
    ))
    .unwrap();
    let Source::Tensorboard {
        dir,
        tags,
        mode,
        rename,
    } = &c.metrics.sources[0]
    else {
        panic!("{:?}", c.metrics.sources)
    };
    assert_eq!(dir.as_deref(), Some("runs"));
    assert_eq!(
        tags.as_deref(),
        Some(&["val/loss".to_string(), "acc".into()][..])
    );
    assert_eq!(*mode, SeriesValue::Min);
    assert_eq!(rename["val/loss"], "val_loss");
    let Source::Wandb {
        dir,
        keys,
        from,
        rename,
    } = &c.metrics.sources[1]
    else {
        panic!("{:?}", c.metrics.sources)
    };
    assert_eq!(dir, "logs/wandb");
    assert_eq!(keys.as_deref(), Some(&["loss".to_string()][..]));
    assert_eq!(*from, WandbFrom::HistoryMax);
    assert_eq!(rename["loss"], "val_loss");
    for (from, want) in [
        ("summary", WandbFrom::Summary),
        ("history-last", WandbFrom::HistoryLast),
        ("history-min", WandbFrom::HistoryMin),
    ] {
        let c = parse(&with_sources(&format!(
            "{{ kind = \"wandb\", from = \"{from}\" }}"
        )))
        .unwrap();
        assert!(
            matches!(&c.metrics.sources[0], Source::Wandb { from, .. } if *from == want),
            "{from}"
        );
    }
}

#[test]
fn logger_source_typos_name_the_line_and_what_is_valid() {
    for (source, words) in [
        (
            r#"{ kind = "tensorboard", mode = "mean" }"#,
            ["mean", "last"],
        ),
        (
            r#"{ kind = "wandb", from = "history" }"#,
            ["history", "history-last"],
        ),
        (r#"{ kind = "tensorboard", tag = ["x"] }"#, ["tag", "tags"]),
        (r#"{ kind = "wandb", key = ["x"] }"#, ["key", "keys"]),
    ] {
        let e = parse(&with_sources(source)).unwrap_err();
        assert_eq!(e.line, Some(5), "{source}: {e:?}");
        let text = format!("{} {}", e.message, e.hint.as_deref().unwrap_or(""));
        for w in words {
            assert!(text.contains(&format!("`{w}`")), "{source}: {w}: {e:?}");
        }
    }
}

#[test]
fn logger_source_validation_errors() {
    for (source, needle) in [
        (r#"{ kind = "tensorboard", dir = "" }"#, "empty"),
        (
            r#"{ kind = "tensorboard", dir = "/tmp/tb" }"#,
            "not a path inside the lab",
        ),
        (
            r#"{ kind = "wandb", dir = "../wandb" }"#,
            "not a path inside the lab",
        ),
        (r#"{ kind = "tensorboard", tags = [] }"#, "reads nothing"),
        (r#"{ kind = "wandb", keys = ["a", "a"] }"#, "listed twice"),
        (r#"{ kind = "wandb", keys = [""] }"#, "empty name"),
        (
            r#"{ kind = "tensorboard", tags = ["val/loss"], rename = { "val/los" = "val_loss" } }"#,
            "not in `tags`",
        ),
        (
            r#"{ kind = "wandb", rename = { a = "x", b = "x" } }"#,
            "maps both `a` and `b` to `x`",
        ),
        (
            r#"{ kind = "wandb", rename = { a = "" } }"#,
            "must not be empty",
        ),
    ] {
        let e = parse(&with_sources(source)).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("metrics.sources"), "{source}: {e:?}");
        assert_eq!(e.line, Some(5), "{source}: {e:?}");
        assert!(e.message.contains(needle), "{source}: {e:?}");
    }
}

fn with_mlflow(source: &str, sandbox: &str) -> String {
    format!("{}{sandbox}", with_sources(source))
}

#[test]
fn mlflow_source_parses_and_checks_uri_and_network() {
    let host = "\n[sandbox]\nnetwork = \"host\"\n";
    let c = parse(&with_mlflow(
        r#"{ kind = "mlflow", tracking_uri = "http://127.0.0.1:5000" }"#,
        host,
    ))
    .unwrap();
    assert_eq!(
        c.metrics.sources,
        vec![Source::Mlflow {
            tracking_uri: "http://127.0.0.1:5000".into(),
            experiment: None,
            keys: None,
            from: SeriesValue::Last,
            rename: IndexMap::new(),
        }]
    );
    let c = parse(&with_mlflow(
        r#"{ kind = "mlflow", tracking_uri = "https://mlflow.example.org/", experiment = "nanogpt", keys = ["loss"], from = "min", rename = { loss = "val_loss" } }"#,
        host,
    ))
    .unwrap();
    let Source::Mlflow {
        experiment,
        keys,
        from,
        rename,
        ..
    } = &c.metrics.sources[0]
    else {
        panic!("{:?}", c.metrics.sources)
    };
    assert_eq!(experiment.as_deref(), Some("nanogpt"));
    assert_eq!(keys.as_deref(), Some(&["loss".to_string()][..]));
    assert_eq!(*from, SeriesValue::Min);
    assert_eq!(rename["loss"], "val_loss");
    // A sandbox that is off needs no network setting.
    parse(&with_mlflow(
        r#"{ kind = "mlflow", tracking_uri = "http://h:1" }"#,
        "\n[sandbox]\nenabled = false\n",
    ))
    .unwrap();

    for (source, needle) in [
        (
            r#"{ kind = "mlflow", tracking_uri = "127.0.0.1:5000" }"#,
            "not an http(s) URL",
        ),
        (
            r#"{ kind = "mlflow", tracking_uri = "file:///tmp/mlruns" }"#,
            "not an http(s) URL",
        ),
        (
            r#"{ kind = "mlflow", tracking_uri = "http://" }"#,
            "not an http(s) URL",
        ),
        (
            r#"{ kind = "mlflow", tracking_uri = "http://h:1", experiment = " " }"#,
            "`experiment` of the mlflow source is empty",
        ),
        (
            r#"{ kind = "mlflow", tracking_uri = "http://h:1" }, { kind = "mlflow", tracking_uri = "http://h:2" }"#,
            "different servers",
        ),
        (
            r#"{ kind = "mlflow", tracking_uri = "http://h:1", keys = [] }"#,
            "reads nothing",
        ),
        (
            r#"{ kind = "mlflow", tracking_uri = "http://h:1", keys = ["a"], rename = { b = "x" } }"#,
            "not in `keys`",
        ),
    ] {
        let e = parse(&with_mlflow(source, host)).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("metrics.sources"), "{source}: {e:?}");
        assert_eq!(e.line, Some(5), "{source}: {e:?}");
        assert!(e.message.contains(needle), "{source}: {e:?}");
    }
    let e = parse(&with_mlflow(
        r#"{ kind = "mlflow", tracking_uri = "http://h:1", from = "mean" }"#,
        host,
    ))
    .unwrap_err();
    assert!(
        e.message.contains("mean") || format!("{e:?}").contains("mean"),
        "{e:?}"
    );
    let e = parse(&with_mlflow(
        r#"{ kind = "mlflow", experiment = "x" }"#,
        host,
    ))
    .unwrap_err();
    assert!(e.message.contains("tracking_uri"), "{e:?}");

    // The default sandbox (and an explicit network = "none") would cut the run off the server.
    let e = parse(&with_mlflow(
        r#"{ kind = "mlflow", tracking_uri = "http://h:1" }"#,
        "",
    ))
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("metrics.sources"), "{e:?}");
    assert!(
        e.message.contains("needs runs to reach http://h:1"),
        "{e:?}"
    );
    assert!(
        e.hint
            .as_deref()
            .unwrap_or("")
            .contains("network = \"host\""),
        "{e:?}"
    );
    let e = parse(&with_mlflow(
        r#"{ kind = "mlflow", tracking_uri = "http://h:1" }"#,
        "\n[sandbox]\nnetwork = \"none\"\n",
    ))
    .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("sandbox.network"), "{e:?}");
    assert_eq!(e.line, Some(9), "{e:?}");
}

#[test]
fn a_cluster_stall_timeout_must_span_two_polls() {
    let text = GOOD
        .replace(
            "timeout = \"2m\"",
            "timeout = \"2m\"\nstall_timeout = \"15s\"",
        )
        .replace(
            "kind = \"local\"",
            "kind = \"slurm\"\npoll_interval = \"10s\"",
        );
    let e = parse(&text).unwrap_err().to_string();
    assert!(
        e.contains("stall_timeout") && e.contains("shorter than two cluster polls"),
        "{e}"
    );
    let ok = text.replace("stall_timeout = \"15s\"", "stall_timeout = \"20s\"");
    assert!(parse(&ok).is_ok());
}

#[test]
fn a_file_both_editable_and_protected_is_refused() {
    let e = parse(&GOOD.replace("protected = [\"prepare.py\"]", "protected = [\"train.py\"]"))
        .unwrap_err();
    assert_eq!(e.key.as_deref(), Some("task.protected"), "{e:?}");
    assert!(
        e.message
            .contains("`train.py` is both protected and editable"),
        "{e:?}"
    );
    // A glob that also matches a protected file carves it out: allowed.
    let carve_out = GOOD
        .replace(
            "editable = [\"train.py\", \"params.json\"]",
            "editable = [\"src/**\"]",
        )
        .replace(
            "protected = [\"prepare.py\"]",
            "protected = [\"src/eval.py\"]",
        )
        .replace(
            "apply = { json = \"params.json\" }",
            "apply = { env = \"P_\" }",
        );
    assert!(parse(&carve_out).is_ok());
}

#[test]
fn a_scored_metric_no_line_can_carry_is_refused() {
    let only_lines = GOOD.replace(
        "sources = [{ kind = \"lines\" }, { kind = \"json\", file = \"final_info.json\", pointer = \"/*/means\" }]",
        "sources = [{ kind = \"lines\" }]",
    );
    let e = parse(&only_lines.replace("val_loss = {", "\"val loss\" = {")).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("metrics.score"), "{e:?}");
    assert!(e.message.contains("`val loss` can never be read"), "{e:?}");
    // A json source may produce any name.
    assert!(parse(&GOOD.replace("val_loss = {", "\"val loss\" = {")).is_ok());
}
