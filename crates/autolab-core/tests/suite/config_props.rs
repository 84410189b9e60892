//! `Config::parse`: `autolab.toml` as people (and fuzzers) write it.

use std::path::Path;
use std::time::Duration;

use autolab_core::config::{
    Apply, Config, ConfigError, Goal, ParamKind, ParamSpec, Policy, RunnerKind, Sampler, Source,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::Value;

use super::cases;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("autolab.toml"), text)
}

/// Lines as an editor counts them: an empty file still has line 1.
fn line_count(text: &str) -> usize {
    text.lines().count().max(1)
}

/// Every error says something, and a line it names exists.
fn check_error(text: &str, e: &ConfigError) -> Result<(), TestCaseError> {
    prop_assert!(!e.message.trim().is_empty(), "empty message: {:?}", e);
    if let Some(line) = e.line {
        prop_assert!(
            (1..=line_count(text)).contains(&line),
            "line {} outside 1..={} in {:?}: {:?}",
            line,
            line_count(text),
            text,
            e
        );
    }
    Ok(())
}

/// A TOML basic string holding exactly `s`.
fn toml_str(s: &str) -> String {
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
fn toml_float(v: f64) -> String {
    format!("{v:?}")
}

fn toml_value(v: &Value) -> String {
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

fn toml_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", items.join(", "))
}

// ---- generated valid configs -----------------------------------------------------------

#[derive(Debug, Clone)]
struct Lab {
    task: TaskGen,
    metrics: MetricsGen,
    params: Option<ParamsGen>,
    decide: Option<DecideGen>,
    runner: Option<RunnerGen>,
}

#[derive(Debug, Clone)]
struct TaskGen {
    goal: Option<String>,
    command: String,
    editable: Vec<String>,
    protected: Vec<String>,
    timeout: Option<(String, Duration)>,
}

#[derive(Debug, Clone)]
struct MetricsGen {
    sources: Option<Vec<Source>>,
    score: Vec<(String, Option<f64>, Goal)>,
    primary: Option<usize>,
}

#[derive(Debug, Clone)]
struct ParamsGen {
    apply: Apply,
    sampler: Option<Sampler>,
    startup: Option<u32>,
    space: Vec<ParamSpec>,
}

#[derive(Debug, Clone)]
struct DecideGen {
    policy: Option<Policy>,
    min_delta: Option<f64>,
    repeats: Option<u32>,
    confidence: Option<f64>,
    max_confirm: Option<u32>,
    remeasure: Option<bool>,
}

#[derive(Debug, Clone)]
struct RunnerGen {
    kind: bool,
    parallel: Option<usize>,
    env_allow: Vec<String>,
    kill_grace: Option<(String, Duration)>,
    max_log_mb: Option<f64>,
}

/// Any text, with the characters TOML must escape.
fn text(max: usize) -> impl Strategy<Value = String> {
    vec(
        prop_oneof![
            4 => "\\PC",
            1 => "[\\x00-\\x1f\\x7f\"\\\\\u{85}]",
        ],
        0..max,
    )
    .prop_map(|c| c.concat())
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{1,6}(/[a-z_]{1,6}){0,2}(\\.py)?",
        "[a-z]{1,4}/\\*\\*",
        "\\*\\.[a-z]{1,3}",
    ]
}

fn duration() -> impl Strategy<Value = (String, Duration)> {
    prop_oneof![
        (1u64..100_000).prop_map(|n| (format!("{n}s"), Duration::from_secs(n))),
        (1u64..10_000).prop_map(|n| (format!("{n}m"), Duration::from_secs(n * 60))),
        (1u64..100, 0u64..60)
            .prop_map(|(h, m)| (format!("{h}h{m}m"), Duration::from_secs(h * 3600 + m * 60))),
        (1u64..1_000_000).prop_map(|n| (format!("{n}ms"), Duration::from_millis(n))),
        (1u64..100_000).prop_map(|n| (n.to_string(), Duration::from_secs(n))),
    ]
}

fn goal() -> impl Strategy<Value = Goal> {
    prop_oneof![Just(Goal::Minimize), Just(Goal::Maximize)]
}

fn positive() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{NORMAL, POSITIVE, SUBNORMAL};
    prop_oneof![0.001..1000.0f64, POSITIVE | NORMAL | SUBNORMAL]
}

fn finite() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    prop_oneof![
        -1e6..1e6f64,
        POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO,
    ]
}

fn dedup_by<T, K: PartialEq>(items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.iter().any(|o| key(o) == key(&item)) {
            out.push(item);
        }
    }
    out
}

fn task() -> impl Strategy<Value = TaskGen> {
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
            editable,
            protected,
            timeout,
        })
}

fn source() -> impl Strategy<Value = Source> {
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

fn metrics() -> impl Strategy<Value = MetricsGen> {
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
            let score = dedup_by(score, |(n, _, _)| n.clone());
            let primary = primary.map(|i| i.index(score.len()));
            MetricsGen {
                sources,
                score,
                primary,
            }
        })
}

fn choice_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        text(8).prop_map(Value::String),
        any::<i64>().prop_map(Value::from),
        finite().prop_map(Value::from),
        any::<bool>().prop_map(Value::Bool),
    ]
}

fn param_kind() -> impl Strategy<Value = (ParamKind, Option<Value>)> {
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

fn params() -> impl Strategy<Value = ParamsGen> {
    (
        prop_oneof![
            "[a-z]{1,6}\\.json".prop_map(Apply::Json),
            "[a-z]{1,6}\\.toml".prop_map(Apply::Toml),
            text(12).prop_map(Apply::Args),
            "[A-Z_]{0,6}".prop_map(Apply::Env),
        ],
        proptest::option::of(prop_oneof![Just(Sampler::Tpe), Just(Sampler::Random)]),
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

fn decide() -> impl Strategy<Value = DecideGen> {
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

fn runner() -> impl Strategy<Value = RunnerGen> {
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

fn lab() -> impl Strategy<Value = Lab> {
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
struct Section {
    name: String,
    lines: Vec<String>,
}

fn policy_str(p: Policy) -> &'static str {
    match p {
        Policy::Strict => "strict",
        Policy::NoiseAware => "noise-aware",
    }
}

fn source_toml(s: &Source) -> String {
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

fn param_toml(p: &ParamSpec) -> String {
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

fn sections(lab: &Lab) -> Vec<Section> {
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
fn layout() -> impl Strategy<Value = (Lab, Vec<Section>)> {
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

/// What to insert into a valid config.
#[derive(Debug, Clone)]
enum Insert {
    /// `key = value` into section `section` (0 is the top, before any header) at line `at`.
    Key {
        section: Index,
        at: Index,
        key: Name,
        value: &'static str,
    },
    /// A whole `[name]` table before section `before`.
    Table { before: Index, name: Name },
}

/// The name of an inserted key or table.
#[derive(Debug, Clone)]
enum Name {
    /// A name no section has: it holds a digit, which no key of autolab's does (so keys added
    /// to the config later cannot collide with it).
    Fresh(String),
    /// A known key of the section with a digit inserted at `at`: a typo to suggest a fix for.
    Typo { key: Index, at: Index, digit: char },
}

impl Name {
    /// The name, and the key it is a typo of.
    fn resolve(&self, known: &[&'static str]) -> (String, Option<&'static str>) {
        match self {
            Name::Fresh(n) => (n.clone(), None),
            Name::Typo { key, at, digit } => {
                let meant = known[key.index(known.len())];
                let at = at.index(meant.len() + 1);
                (
                    format!("{}{digit}{}", &meant[..at], &meant[at..]),
                    Some(meant),
                )
            }
        }
    }
}

/// Renders `sections`, with `insert` if any; returns the text and the inserted line's number.
/// `name` is the inserted key's or table's name, resolved.
fn render(sections: &[Section], insert: Option<(&Insert, &str)>) -> (String, usize) {
    let n = sections.len();
    let mut lines: Vec<String> = Vec::new();
    let mut inserted = 0;
    for i in 0..=n {
        // Part 0 is the top, before any header; part i is section i - 1.
        let body: &[String] = if i == 0 {
            &[]
        } else {
            lines.push(format!("[{}]", sections[i - 1].name));
            &sections[i - 1].lines
        };
        match insert {
            Some((
                Insert::Key {
                    section, at, value, ..
                },
                key,
            )) if section.index(n + 1) == i => {
                let at = at.index(body.len() + 1);
                lines.extend_from_slice(&body[..at]);
                lines.push(format!("{key} = {value}"));
                inserted = lines.len();
                lines.extend_from_slice(&body[at..]);
            }
            _ => lines.extend_from_slice(body),
        }
        // A whole table goes after part i, that is before section i.
        if let Some((Insert::Table { before, .. }, name)) = insert
            && before.index(n + 1) == i
        {
            lines.push(format!("[{name}]"));
            inserted = lines.len();
            lines.push("x = 1".into());
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    (text, inserted)
}

/// Each section's keys (at the top: the sections), whose typos get a "did you mean".
fn known_keys(section: &str) -> &'static [&'static str] {
    match section {
        "" => &[
            "task",
            "metrics",
            "params",
            "decide",
            "runner",
            "agent",
            "early_stop",
        ],
        "task" => &[
            "goal",
            "goal_file",
            "command",
            "editable",
            "protected",
            "timeout",
        ],
        "metrics" => &["sources", "score", "primary"],
        "params" => &["apply", "sampler", "startup"],
        "decide" => &[
            "policy",
            "min_delta",
            "repeats",
            "confidence",
            "max_confirm",
            "remeasure",
        ],
        "runner" => &["kind", "parallel", "env_allow", "kill_grace", "max_log_mb"],
        _ => &[],
    }
}

fn insert() -> impl Strategy<Value = Insert> {
    let key = prop_oneof![
        "[a-z][a-z_]{0,6}[0-9][a-z0-9_]{0,3}"
            .prop_filter("a parameter's name", |k| !k.starts_with("p_"))
            .prop_map(Name::Fresh),
        (
            any::<Index>(),
            any::<Index>(),
            proptest::char::range('0', '9')
        )
            .prop_map(|(key, at, digit)| Name::Typo { key, at, digit }),
    ];
    prop_oneof![
        4 => (
            any::<Index>(),
            any::<Index>(),
            key.clone(),
            select(&["1", "\"x\"", "true", "[1, 2]", "2.5"][..]),
        )
            .prop_map(|(section, at, key, value)| Insert::Key {
                section,
                at,
                key,
                value,
            }),
        1 => (any::<Index>(), key).prop_map(|(before, name)| Insert::Table { before, name }),
    ]
}

fn check_round_trip(lab: &Lab, c: &Config) -> Result<(), TestCaseError> {
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
            prop_assert_eq!(got.sampler, p.sampler.unwrap_or(Sampler::Tpe));
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

// ---- TOML-ish noise --------------------------------------------------------------------

const KEYS: &[&str] = &[
    "command",
    "timeout",
    "editable",
    "score",
    "primary",
    "sources",
    "apply",
    "sampler",
    "startup",
    "parallel",
    "kill_grace",
    "max_log_mb",
    "repeats",
    "confidence",
    "policy",
    "lr",
    "goal",
    "weight",
    "kind",
];

fn tomlish_line() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        select(KEYS).prop_map(str::to_string),
        "[a-z_]{1,8}",
        "\"[^\"\n]{0,5}\"",
        "[a-z]{1,4}\\.[a-z]{1,4}",
        "\\PC{0,4}",
    ];
    let value = prop_oneof![
        "-?[0-9_]{1,20}",
        "[+-]?[0-9]{1,5}(\\.[0-9]{0,5})?([eE][+-]?[0-9]{1,4})?",
        "\"[^\"\\\\\n]{0,12}\"",
        "\"\\\\[a-zA-Z0-9]{0,5}\"",
        "'[^'\n]{0,8}'",
        "\"\"\"[^\"]{0,10}",
        select(
            &[
                "true",
                "false",
                "inf",
                "nan",
                "-inf",
                "+nan",
                "[]",
                "{}",
                "[1,",
                "{ a = ",
                "\"unterminated"
            ][..]
        )
        .prop_map(str::to_string),
        "\\[[^\\]\n]{0,20}\\]",
        "\\{[^}\n]{0,20}\\}",
        select(
            &[
                "{ goal = \"minimize\" }",
                "{ l = { goal = \"minimize\" } }",
                "{ l = { goal = \"sideways\", weight = -1 } }",
                "{ json = \"p.json\" }",
                "{ float = [0.0, 1.0] }",
                "{ log_float = [0.0, 1.0] }",
                "{ int = [5, 4] }",
                "{ choice = [] }",
                "{ float = [1.0, 1.0], default = 7 }",
                "[{ kind = \"regex\", name = \"x\", pattern = \"(\" }]",
                "[{ kind = \"json\", file = \"f\", pointer = \"é\" }]",
                "\"-0\"",
                "\"0\"",
                "\"1e400s\"",
                "\"99999999999999999999h\"",
                "\"5 parsecs\"",
                "\"1.5.5s\"",
            ][..]
        )
        .prop_map(str::to_string),
        "\\PC{0,10}",
    ];
    prop_oneof![
        2 => select(&[
            "[task]", "[metrics]", "[params]", "[decide]", "[runner]", "[early_stop]", "[agent]",
            "[[task]]", "[task", "[metrics.score]", "[metrics.score.l]", "[ params ]", "[bogus]",
            "[]", "[\"task\"]", "[task.command]",
        ][..])
        .prop_map(str::to_string),
        6 => (key, "[ \t]{0,2}=[ \t]{0,2}", value).prop_map(|(k, eq, v)| format!("{k}{eq}{v}")),
        1 => "#\\PC{0,20}",
        1 => Just(String::new()),
        1 => "\\PC{0,20}",
    ]
}

/// A minimal valid config that random lines may extend or spoil.
const BASE: &str = "[task]\ncommand = \"x\"\neditable = [\"p.json\"]\n[metrics]\nscore = { l = { goal = \"minimize\" } }\n";

fn tomlish() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        vec(tomlish_line(), 0..16),
        select(&["\n", "\r\n"][..]),
        any::<bool>(),
    )
        .prop_map(|(base, lines, nl, trailing)| {
            let mut text = if base {
                BASE.replace('\n', nl)
            } else {
                String::new()
            };
            text.push_str(&lines.join(nl));
            if trailing {
                text.push_str(nl);
            }
            text
        })
}

/// An edit that may break a valid config anywhere.
#[derive(Debug, Clone)]
enum Edit {
    Insert(Index, String),
    Delete(Index, usize),
    DuplicateLine(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (
            any::<Index>(),
            prop_oneof![
                "\\PC{1,4}",
                select(
                    &[
                        "\n", "\"", "[", "]", "{", "}", "=", "#", "\\", "'", ",", "\r"
                    ][..]
                )
                .prop_map(str::to_string)
            ]
        )
            .prop_map(|(at, s)| Edit::Insert(at, s)),
        (any::<Index>(), 1usize..6).prop_map(|(at, n)| Edit::Delete(at, n)),
        any::<Index>().prop_map(Edit::DuplicateLine),
    ]
}

fn apply_edit(text: &str, edit: &Edit) -> String {
    let chars: Vec<char> = text.chars().collect();
    match edit {
        Edit::Insert(at, s) => {
            let at = at.index(chars.len() + 1);
            chars[..at]
                .iter()
                .chain(s.chars().collect::<Vec<_>>().iter())
                .chain(&chars[at..])
                .collect()
        }
        Edit::Delete(at, n) => {
            if chars.is_empty() {
                return String::new();
            }
            let at = at.index(chars.len());
            let end = (at + n).min(chars.len());
            chars[..at].iter().chain(&chars[end..]).collect()
        }
        Edit::DuplicateLine(at) => {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let at = at.index(lines.len());
            lines.insert(at, lines[at]);
            lines.join("\n")
        }
    }
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn never_panics_on_arbitrary_text(text in prop_oneof![any::<String>(), "\\PC{0,100}"]) {
        if let Err(e) = parse(&text) {
            check_error(&text, &e)?;
        }
    }

    #[test]
    fn never_panics_on_tomlish_text(text in tomlish()) {
        if let Err(e) = parse(&text) {
            check_error(&text, &e)?;
        }
    }

    #[test]
    fn never_panics_on_edited_valid_configs(
        (_, sections) in layout(),
        edits in vec(edit(), 1..4),
    ) {
        let (mut text, _) = render(&sections, None);
        for e in &edits {
            text = apply_edit(&text, e);
        }
        if let Err(e) = parse(&text) {
            check_error(&text, &e)?;
        }
    }

    #[test]
    fn valid_configs_parse_and_round_trip((lab, sections) in layout()) {
        let (text, _) = render(&sections, None);
        match parse(&text) {
            Ok(c) => check_round_trip(&lab, &c)?,
            Err(e) => prop_assert!(false, "{}\n{:?}\nin:\n{}", e, e, text),
        }
    }

    #[test]
    fn an_unknown_key_is_reported_on_its_line((_, sections) in layout(), insert in insert()) {
        let section = match &insert {
            Insert::Key { section, .. } => {
                let i = section.index(sections.len() + 1);
                if i == 0 { String::new() } else { sections[i - 1].name.clone() }
            }
            Insert::Table { .. } => String::new(),
        };
        let (name, meant) = match &insert {
            Insert::Key { key, .. } => key,
            Insert::Table { name, .. } => name,
        }
        .resolve(known_keys(&section));

        let (text, line) = render(&sections, Some((&insert, &name)));
        let e = match parse(&text) {
            Ok(_) => return Err(TestCaseError::fail(format!("accepted `{name}` in:\n{text}"))),
            Err(e) => e,
        };
        check_error(&text, &e)?;
        prop_assert_eq!(e.line, Some(line), "{:?} in:\n{}", e, text);
        prop_assert!(e.message.contains(name.as_str()), "{:?}", e);
        if section == "params" {
            // In `[params]` any other key is a parameter, and this one is not a valid one.
            let want = format!("params.{name}");
            prop_assert_eq!(e.key.as_deref(), Some(want.as_str()), "{:?}", e);
        } else {
            prop_assert_eq!(&e.message, &format!("unknown key `{name}`"));
            let hint = e.hint.clone().unwrap_or_default();
            prop_assert!(hint.contains("valid keys here"), "{:?}", e);
            if let Some(meant) = meant {
                prop_assert!(hint.contains(&format!("did you mean `{meant}`?")), "{:?}", e);
            }
        }
    }
}
