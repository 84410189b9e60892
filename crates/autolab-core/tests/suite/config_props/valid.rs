//! Generated valid configs: a lab's sections with random values, rendered as TOML in a random
//! layout, and what parsing them must give back.

use std::time::Duration;

use autolab_core::config::{
    Apply, Config, Goal, ParamKind, ParamSpec, Policy, RunnerKind, Sampler, Source,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::Value;

/// A TOML basic string holding exactly `s`.
pub(super) fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML float that reads back as `v` (Rust's `{:?}` is shortest round-trip and valid TOML).
pub(super) fn toml_float(v: f64) -> String {
    format!("{v:?}")
}

pub(super) fn toml_value(v: &Value) -> String {
    match v {
        Value::String(s) => toml_str(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.to_string(),
            None => toml_float(n.as_f64().unwrap_or_default()),
        },
        other => panic!("not generated: {other}"),
    }
}

pub(super) fn toml_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", items.join(", "))
}

// ---- generated valid configs -----------------------------------------------------------

#[derive(Debug, Clone)]
pub(super) struct Lab {
    pub(super) task: TaskGen,
    pub(super) metrics: MetricsGen,
    pub(super) params: Option<ParamsGen>,
    pub(super) decide: Option<DecideGen>,
    pub(super) runner: Option<RunnerGen>,
}

#[derive(Debug, Clone)]
pub(super) struct TaskGen {
    pub(super) goal: Option<String>,
    pub(super) command: String,
    pub(super) editable: Vec<String>,
    pub(super) protected: Vec<String>,
    pub(super) timeout: Option<(String, Duration)>,
}

#[derive(Debug, Clone)]
pub(super) struct MetricsGen {
    pub(super) sources: Option<Vec<Source>>,
    pub(super) score: Vec<(String, Option<f64>, Goal)>,
    pub(super) primary: Option<usize>,
}

#[derive(Debug, Clone)]
pub(super) struct ParamsGen {
    pub(super) apply: Apply,
    pub(super) sampler: Option<Sampler>,
    pub(super) startup: Option<u32>,
    pub(super) space: Vec<ParamSpec>,
}

#[derive(Debug, Clone)]
pub(super) struct DecideGen {
    pub(super) policy: Option<Policy>,
    pub(super) min_delta: Option<f64>,
    pub(super) repeats: Option<u32>,
    pub(super) confidence: Option<f64>,
    pub(super) max_confirm: Option<u32>,
    pub(super) remeasure: Option<bool>,
}

#[derive(Debug, Clone)]
pub(super) struct RunnerGen {
    pub(super) kind: bool,
    pub(super) parallel: Option<usize>,
    pub(super) env_allow: Vec<String>,
    pub(super) kill_grace: Option<(String, Duration)>,
    pub(super) max_log_mb: Option<f64>,
}

/// Any text, with the characters TOML must escape.
pub(super) fn text(max: usize) -> impl Strategy<Value = String> {
    vec(
        prop_oneof![
            4 => "\\PC",
            1 => "[\\x00-\\x1f\\x7f\"\\\\\u{85}]",
        ],
        0..max,
    )
    .prop_map(|c| c.concat())
}

pub(super) fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{1,6}(/[a-z_]{1,6}){0,2}(\\.py)?",
        "[a-z]{1,4}/\\*\\*",
        "\\*\\.[a-z]{1,3}",
    ]
}

pub(super) fn duration() -> impl Strategy<Value = (String, Duration)> {
    prop_oneof![
        (1u64..100_000).prop_map(|n| (format!("{n}s"), Duration::from_secs(n))),
        (1u64..10_000).prop_map(|n| (format!("{n}m"), Duration::from_secs(n * 60))),
        (1u64..100, 0u64..60)
            .prop_map(|(h, m)| (format!("{h}h{m}m"), Duration::from_secs(h * 3600 + m * 60))),
        (1u64..1_000_000).prop_map(|n| (format!("{n}ms"), Duration::from_millis(n))),
        (1u64..100_000).prop_map(|n| (n.to_string(), Duration::from_secs(n))),
    ]
}

pub(super) fn goal() -> impl Strategy<Value = Goal> {
    prop_oneof![Just(Goal::Minimize), Just(Goal::Maximize)]
}

pub(super) fn positive() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{NORMAL, POSITIVE, SUBNORMAL};
    prop_oneof![0.001..1000.0f64, POSITIVE | NORMAL | SUBNORMAL]
}

pub(super) fn finite() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    prop_oneof![
        -1e6..1e6f64,
        POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO,
    ]
}

pub(super) fn dedup_by<T, K: PartialEq>(items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.iter().any(|o| key(o) == key(&item)) {
            out.push(item);
        }
    }
    out
}

pub(super) fn task() -> impl Strategy<Value = TaskGen> {
    (
        proptest::option::of(text(20)),
        text(30).prop_filter("blank command", |c| !c.trim().is_empty()),
        vec(path(), 0..4),
        vec(path(), 0..3),
        proptest::option::of(duration()),
    )
        .prop_map(|(goal, command, editable, protected, timeout)| TaskGen {
            goal,
            command,
            // A path named in both lists is refused; valid configs name it in one.
            protected: protected
                .into_iter()
                .filter(|p| !editable.contains(p))
                .collect(),
            editable,
            timeout,
        })
}

pub(super) fn source() -> impl Strategy<Value = Source> {
    prop_oneof![
        Just(Source::Lines {}),
        (
            "[a-z_]{1,6}",
            select(
                &[
                    r"x=(\d+)",
                    r"loss: ([0-9.]+)",
                    r"(?m)^acc (\S+)$",
                    "\"q\"=(.*)"
                ][..]
            )
        )
            .prop_map(|(name, pattern)| Source::Regex {
                name,
                pattern: pattern.to_string(),
            }),
        (
            "[a-z]{1,6}\\.json",
            prop_oneof![Just(String::new()), "(/([a-z~01]{1,5}|\\*)){1,3}"],
            proptest::option::of("[a-z_]{1,6}"),
        )
            .prop_map(|(file, pointer, name)| Source::Json {
                file,
                pointer,
                name
            }),
    ]
}

pub(super) fn metrics() -> impl Strategy<Value = MetricsGen> {
    (
        proptest::option::of(vec(source(), 0..3)),
        vec(
            (
                prop_oneof!["[a-z_][a-z0-9_]{0,8}", "\\PC{1,8}"],
                proptest::option::of(positive()),
                goal(),
            ),
            1..4,
        ),
        proptest::option::of(any::<Index>()),
    )
        .prop_map(|(sources, score, primary)| {
            // Read only from lines, a scored metric must be a name a line can carry.
            let lines_only = sources
                .as_ref()
                .is_none_or(|s| s.iter().all(|x| matches!(x, Source::Lines {})));
            let score = score
                .into_iter()
                .enumerate()
                .map(|(i, (n, w, g))| {
                    if lines_only && !autolab_core::metrics::is_metric_name(&n) {
                        (format!("m_{i}"), w, g)
                    } else {
                        (n, w, g)
                    }
                })
                .collect();
            let score = dedup_by(score, |(n, _, _)| n.clone());
            let primary = primary.map(|i| i.index(score.len()));
            MetricsGen {
                sources,
                score,
                primary,
            }
        })
}

pub(super) fn choice_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        text(8).prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        finite().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
    ]
}

pub(super) fn param_kind() -> impl Strategy<Value = (ParamKind, Option<Value>)> {
    const MAX: i64 = 1 << 53;
    prop_oneof![
        (finite(), finite(), proptest::option::of(0.0..=1.0f64))
            .prop_filter("empty range", |(a, b, _)| a != b)
            .prop_map(|(a, b, t)| {
                let (low, high) = if a < b { (a, b) } else { (b, a) };
                let default = t.map(|t| Value::from((low * (1.0 - t) + high * t).clamp(low, high)));
                (ParamKind::Float { low, high }, default)
            }),
        (positive(), positive(), proptest::option::of(0.0..=1.0f64))
            .prop_filter("empty range", |(a, b, _)| a != b)
            .prop_map(|(a, b, t)| {
                let (low, high) = if a < b { (a, b) } else { (b, a) };
                let default = t.map(|t| Value::from((low * (1.0 - t) + high * t).clamp(low, high)));
                (ParamKind::LogFloat { low, high }, default)
            }),
        (-MAX..=MAX, -MAX..=MAX, proptest::option::of(any::<u64>())).prop_map(|(a, b, r)| {
            let (low, high) = (a.min(b), a.max(b));
            let span = (high - low) as u64 + 1;
            let default = r.map(|r| Value::from(low + (r % span) as i64));
            (ParamKind::Int { low, high }, default)
        }),
        (
            vec(choice_value(), 1..5),
            proptest::option::of(any::<Index>())
        )
            .prop_map(|(choices, d)| {
                let choices = dedup_by(choices, Clone::clone);
                let default = d.map(|d| choices[d.index(choices.len())].clone());
                (ParamKind::Choice(choices), default)
            }),
    ]
}

pub(super) fn params() -> impl Strategy<Value = ParamsGen> {
    (
        prop_oneof![
            "[a-z]{1,6}\\.json".prop_map(Apply::Json),
            "[a-z]{1,6}\\.toml".prop_map(Apply::Toml),
            text(12).prop_map(Apply::Args),
            "[A-Z_]{0,6}".prop_map(Apply::Env),
        ],
        proptest::option::of(prop_oneof![
            Just(Sampler::Auto),
            Just(Sampler::Gp),
            Just(Sampler::Tpe),
            Just(Sampler::Random)
        ]),
        proptest::option::of(1..=u32::MAX),
        vec(("p_[a-z0-9_]{0,6}", param_kind()), 1..5),
    )
        .prop_map(|(apply, sampler, startup, space)| ParamsGen {
            apply,
            sampler,
            startup,
            space: dedup_by(space, |(n, _)| n.clone())
                .into_iter()
                .map(|(name, (kind, default))| ParamSpec {
                    name,
                    kind,
                    default,
                })
                .collect(),
        })
}

pub(super) fn decide() -> impl Strategy<Value = DecideGen> {
    (
        proptest::option::of(prop_oneof![Just(Policy::Strict), Just(Policy::NoiseAware)]),
        proptest::option::of(prop_oneof![Just(0.0), 0.0..1e3f64]),
        proptest::option::of(1u32..=100),
        proptest::option::of(0.001..0.999f64),
        proptest::option::of(0u32..=20),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(
            |(policy, min_delta, repeats, confidence, max_confirm, remeasure)| DecideGen {
                policy,
                min_delta,
                repeats,
                confidence,
                max_confirm,
                remeasure,
            },
        )
}

pub(super) fn runner() -> impl Strategy<Value = RunnerGen> {
    (
        any::<bool>(),
        proptest::option::of(1usize..=256),
        vec("[A-Z_][A-Z0-9_]{0,8}", 0..4),
        proptest::option::of(duration()),
        proptest::option::of(0.001..1e5f64),
    )
        .prop_map(
            |(kind, parallel, env_allow, kill_grace, max_log_mb)| RunnerGen {
                kind,
                parallel,
                env_allow,
                kill_grace,
                max_log_mb,
            },
        )
}

pub(super) fn lab() -> impl Strategy<Value = Lab> {
    (
        task(),
        metrics(),
        proptest::option::of(params()),
        proptest::option::of(decide()),
        proptest::option::of(runner()),
    )
        .prop_map(|(mut task, metrics, params, decide, runner)| {
            // A params file must be editable, or every candidate would be invalid.
            if let Some(ParamsGen {
                apply: Apply::Json(f) | Apply::Toml(f),
                ..
            }) = &params
            {
                task.editable.push(f.clone());
            }
            Lab {
                task,
                metrics,
                params,
                decide,
                runner,
            }
        })
}

/// One `[section]` of rendered TOML, one key per line.
#[derive(Debug, Clone)]
pub(super) struct Section {
    pub(super) name: String,
    pub(super) lines: Vec<String>,
}

pub(super) fn policy_str(p: Policy) -> &'static str {
    match p {
        Policy::Strict => "strict",
        Policy::NoiseAware => "noise-aware",
    }
}

pub(super) fn source_toml(s: &Source) -> String {
    match s {
        Source::Lines {} => "{ kind = \"lines\" }".into(),
        Source::Regex { name, pattern } => format!(
            "{{ kind = \"regex\", name = {}, pattern = {} }}",
            toml_str(name),
            toml_str(pattern)
        ),
        Source::Json {
            file,
            pointer,
            name,
        } => {
            let name = name
                .as_ref()
                .map(|n| format!(", name = {}", toml_str(n)))
                .unwrap_or_default();
            format!(
                "{{ kind = \"json\", file = {}, pointer = {}{name} }}",
                toml_str(file),
                toml_str(pointer)
            )
        }
        // The logger sources are checked by tests/suite/loggers.rs and config/tests.rs.
        Source::Tensorboard { .. } | Source::Wandb { .. } | Source::Mlflow { .. } => {
            unreachable!("not generated")
        }
    }
}

pub(super) fn param_toml(p: &ParamSpec) -> String {
    let kind = match &p.kind {
        ParamKind::Float { low, high } => {
            format!("float = [{}, {}]", toml_float(*low), toml_float(*high))
        }
        ParamKind::LogFloat { low, high } => {
            format!("log_float = [{}, {}]", toml_float(*low), toml_float(*high))
        }
        ParamKind::Int { low, high } => format!("int = [{low}, {high}]"),
        ParamKind::Choice(c) => {
            let c: Vec<String> = c.iter().map(toml_value).collect();
            format!("choice = [{}]", c.join(", "))
        }
    };
    let default = p
        .default
        .as_ref()
        .map(|d| format!(", default = {}", toml_value(d)))
        .unwrap_or_default();
    format!("{} = {{ {kind}{default} }}", p.name)
}

pub(super) fn sections(lab: &Lab) -> Vec<Section> {
    let mut out = Vec::new();
    let t = &lab.task;
    let mut lines = vec![format!("command = {}", toml_str(&t.command))];
    if let Some(g) = &t.goal {
        lines.push(format!("goal = {}", toml_str(g)));
    }
    lines.push(format!("editable = {}", toml_list(&t.editable)));
    if !t.protected.is_empty() {
        lines.push(format!("protected = {}", toml_list(&t.protected)));
    }
    if let Some((text, _)) = &t.timeout {
        lines.push(format!("timeout = {}", toml_str(text)));
    }
    out.push(Section {
        name: "task".into(),
        lines,
    });

    let m = &lab.metrics;
    let mut lines = Vec::new();
    if let Some(sources) = &m.sources {
        let s: Vec<String> = sources.iter().map(source_toml).collect();
        lines.push(format!("sources = [{}]", s.join(", ")));
    }
    let score: Vec<String> = m
        .score
        .iter()
        .map(|(name, weight, goal)| {
            let weight = weight
                .map(|w| format!("weight = {}, ", toml_float(w)))
                .unwrap_or_default();
            format!(
                "{} = {{ {weight}goal = \"{}\" }}",
                toml_str(name),
                goal.as_str()
            )
        })
        .collect();
    lines.push(format!("score = {{ {} }}", score.join(", ")));
    if let Some(i) = m.primary {
        lines.push(format!("primary = {}", toml_str(&m.score[i].0)));
    }
    out.push(Section {
        name: "metrics".into(),
        lines,
    });

    if let Some(p) = &lab.params {
        let (kind, value) = match &p.apply {
            Apply::Json(v) => ("json", v),
            Apply::Toml(v) => ("toml", v),
            Apply::Args(v) => ("args", v),
            Apply::Env(v) => ("env", v),
        };
        let mut lines = vec![format!("apply = {{ {kind} = {} }}", toml_str(value))];
        if let Some(s) = p.sampler {
            lines.push(format!("sampler = \"{}\"", s.as_str()));
        }
        if let Some(n) = p.startup {
            lines.push(format!("startup = {n}"));
        }
        lines.extend(p.space.iter().map(param_toml));
        out.push(Section {
            name: "params".into(),
            lines,
        });
    }

    if let Some(d) = &lab.decide {
        let mut lines = Vec::new();
        if let Some(p) = d.policy {
            lines.push(format!("policy = \"{}\"", policy_str(p)));
        }
        if let Some(v) = d.min_delta {
            lines.push(format!("min_delta = {}", toml_float(v)));
        }
        if let Some(v) = d.repeats {
            lines.push(format!("repeats = {v}"));
        }
        if let Some(v) = d.confidence {
            lines.push(format!("confidence = {}", toml_float(v)));
        }
        if let Some(v) = d.max_confirm {
            lines.push(format!("max_confirm = {v}"));
        }
        if let Some(v) = d.remeasure {
            lines.push(format!("remeasure = {v}"));
        }
        out.push(Section {
            name: "decide".into(),
            lines,
        });
    }

    if let Some(r) = &lab.runner {
        let mut lines = Vec::new();
        if r.kind {
            lines.push("kind = \"local\"".into());
        }
        if let Some(v) = r.parallel {
            lines.push(format!("parallel = {v}"));
        }
        if !r.env_allow.is_empty() {
            lines.push(format!("env_allow = {}", toml_list(&r.env_allow)));
        }
        if let Some((text, _)) = &r.kill_grace {
            lines.push(format!("kill_grace = {}", toml_str(text)));
        }
        if let Some(v) = r.max_log_mb {
            lines.push(format!("max_log_mb = {}", toml_float(v)));
        }
        out.push(Section {
            name: "runner".into(),
            lines,
        });
    }
    out
}

/// Sections in a generated order, with blank lines and comments between them.
pub(super) fn layout() -> impl Strategy<Value = (Lab, Vec<Section>)> {
    lab().prop_flat_map(|lab| {
        let sections = sections(&lab);
        let n = sections.len();
        (
            Just(lab),
            Just(sections).prop_shuffle(),
            vec(
                prop_oneof![Just(String::new()), "# [a-z =\\[\\]]{0,20}"],
                n..=n * 2,
            ),
        )
            .prop_map(|(lab, mut sections, padding)| {
                for (i, pad) in padding.into_iter().enumerate() {
                    let at = i % sections.len();
                    sections[at].lines.push(pad);
                }
                (lab, sections)
            })
    })
}

pub(super) fn check_round_trip(lab: &Lab, c: &Config) -> Result<(), TestCaseError> {
    let t = &lab.task;
    prop_assert_eq!(&c.task.command, &t.command);
    prop_assert_eq!(&c.task.goal, &t.goal);
    prop_assert_eq!(&c.task.editable, &t.editable);
    prop_assert_eq!(&c.task.protected, &t.protected);
    let timeout = t.timeout.as_ref().map_or(Duration::from_secs(600), |t| t.1);
    prop_assert_eq!(c.task.timeout, timeout);

    let m = &lab.metrics;
    let sources = m.sources.clone().unwrap_or_else(|| vec![Source::Lines {}]);
    prop_assert_eq!(&c.metrics.sources, &sources);
    prop_assert_eq!(c.metrics.score.len(), m.score.len());
    for ((name, weight, goal), (got_name, got)) in m.score.iter().zip(&c.metrics.score) {
        prop_assert_eq!(got_name, name);
        prop_assert_eq!(got.weight.to_bits(), weight.unwrap_or(1.0).to_bits());
        prop_assert_eq!(got.goal, *goal);
    }
    prop_assert_eq!(&c.metrics.primary, &m.score[m.primary.unwrap_or(0)].0);

    match (&lab.params, &c.params) {
        (None, None) => {}
        (Some(p), Some(got)) => {
            prop_assert_eq!(&got.apply, &p.apply);
            prop_assert_eq!(got.sampler, p.sampler.unwrap_or(Sampler::Auto));
            prop_assert_eq!(got.startup, p.startup);
            prop_assert_eq!(&got.space, &p.space);
        }
        (want, got) => prop_assert!(false, "params: wrote {:?}, read {:?}", want, got),
    }

    let d = lab.decide.clone().unwrap_or(DecideGen {
        policy: None,
        min_delta: None,
        repeats: None,
        confidence: None,
        max_confirm: None,
        remeasure: None,
    });
    prop_assert_eq!(c.decide.policy, d.policy.unwrap_or(Policy::NoiseAware));
    prop_assert_eq!(
        c.decide.min_delta.to_bits(),
        d.min_delta.unwrap_or(0.0).to_bits()
    );
    prop_assert_eq!(c.decide.repeats, d.repeats.unwrap_or(3));
    prop_assert_eq!(
        c.decide.confidence.to_bits(),
        d.confidence.unwrap_or(0.95).to_bits()
    );
    prop_assert_eq!(c.decide.max_confirm, d.max_confirm.unwrap_or(2));
    prop_assert_eq!(c.decide.remeasure, d.remeasure.unwrap_or(false));

    let r = lab.runner.clone().unwrap_or(RunnerGen {
        kind: false,
        parallel: None,
        env_allow: vec![],
        kill_grace: None,
        max_log_mb: None,
    });
    prop_assert_eq!(&c.runner.kind, &RunnerKind::Local);
    prop_assert_eq!(c.runner.parallel, r.parallel.unwrap_or(1));
    prop_assert_eq!(&c.runner.env_allow, &r.env_allow);
    prop_assert_eq!(
        c.runner.kill_grace,
        r.kill_grace.map_or(Duration::from_secs(5), |k| k.1)
    );
    let mb = r.max_log_mb.unwrap_or(64.0);
    prop_assert_eq!(c.runner.max_log_bytes, (mb * 1024.0 * 1024.0) as u64);
    Ok(())
}
