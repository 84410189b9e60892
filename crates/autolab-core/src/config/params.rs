//! `[params]`: the optimizer's search space and how chosen values reach the code.

use indexmap::IndexMap;
use serde::Deserialize;

/// How chosen values are applied to an experiment's worktree.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "lowercase")]
pub enum Apply {
    /// Merge the values into a JSON file (other keys are kept).
    Json(String),
    /// Merge the values into a TOML file (other keys are kept).
    Toml(String),
    /// Append rendered arguments to the command: `"--lr {lr} --hidden {hidden}"`.
    Args(String),
    /// Export each value as an environment variable `<PREFIX><NAME>` (upper-cased).
    Env(String),
}

/// How the optimizer chooses values: `[params].sampler`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampler {
    /// The Gaussian process while the history is small and the space low-dimensional, TPE
    /// beyond (the default).
    Auto,
    /// Gaussian-process Bayesian optimisation after a random warm-up.
    Gp,
    /// Tree-structured Parzen Estimator after a random warm-up.
    Tpe,
    /// Independent uniform draws (log-uniform for `log_float`).
    Random,
}

impl Sampler {
    pub fn as_str(self) -> &'static str {
        match self {
            Sampler::Auto => "auto",
            Sampler::Gp => "gp",
            Sampler::Tpe => "tpe",
            Sampler::Random => "random",
        }
    }
}

/// Integers beyond this magnitude are not exactly representable as f64; a search space
/// stays within it so every sampler can compute with them exactly.
pub const MAX_INT_PARAM: i64 = 1 << 53;

#[derive(Debug, Clone, PartialEq)]
pub enum ParamKind {
    Float { low: f64, high: f64 },
    LogFloat { low: f64, high: f64 },
    Int { low: i64, high: i64 },
    Choice(Vec<serde_json::Value>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub kind: ParamKind,
    pub default: Option<serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct ParamsConfig {
    pub apply: Apply,
    pub sampler: Sampler,
    /// `[params].startup`: random trials before TPE models the history; None = its default.
    pub startup: Option<u32>,
    pub space: Vec<ParamSpec>,
    /// Successive halving on a fidelity parameter (which is then not in `space`).
    pub halving: Option<super::halving::Halving>,
}

#[derive(Deserialize)]
pub(super) struct RawParams {
    #[serde(default)]
    apply: Option<Apply>,
    #[serde(default)]
    sampler: Option<toml::Value>,
    #[serde(default)]
    startup: Option<toml::Value>,
    #[serde(default)]
    eta: Option<toml::Value>,
    #[serde(flatten)]
    space: IndexMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    #[serde(default)]
    float: Option<[f64; 2]>,
    #[serde(default)]
    log_float: Option<[f64; 2]>,
    #[serde(default)]
    int: Option<[i64; 2]>,
    #[serde(default)]
    choice: Option<Vec<toml::Value>>,
    #[serde(default)]
    default: Option<toml::Value>,
    #[serde(default)]
    fidelity: bool,
}

type Problem = (String, String, Option<String>);

pub(super) fn validate(raw: RawParams) -> Result<ParamsConfig, Problem> {
    let sampler = match &raw.sampler {
        None => Sampler::Auto,
        Some(toml::Value::String(s)) if s == "auto" => Sampler::Auto,
        Some(toml::Value::String(s)) if s == "gp" => Sampler::Gp,
        Some(toml::Value::String(s)) if s == "tpe" => Sampler::Tpe,
        Some(toml::Value::String(s)) if s == "random" => Sampler::Random,
        Some(other) => {
            let shown = match other {
                toml::Value::String(s) => format!("`{s}`"),
                v => format!("{v}"),
            };
            return Err((
                "sampler".into(),
                format!("unknown sampler {shown}"),
                Some("valid samplers: \"auto\" (the default), \"gp\", \"tpe\", \"random\"".into()),
            ));
        }
    };
    let startup = match &raw.startup {
        None => None,
        Some(toml::Value::Integer(n)) if *n >= 1 && *n <= i64::from(u32::MAX) => Some(*n as u32),
        Some(other) => {
            return Err((
                "startup".into(),
                format!("`startup = {other}` is not a number of trials from 1 to {}", u32::MAX),
                Some(
                    "`startup` is how many random trials come before the model (GP or TPE), e.g. `startup = 10`"
                        .into(),
                ),
            ));
        }
    };
    let apply = raw.apply.ok_or_else(|| {
        (
            "apply".into(),
            "`[params]` needs `apply`: where chosen values go".into(),
            Some("e.g. apply = { json = \"params.json\" }, { toml = \"p.toml\" }, { args = \"--lr {lr}\" } or { env = \"\" }".into()),
        )
    })?;
    let eta = match &raw.eta {
        None => 3,
        Some(toml::Value::Integer(n)) if (2..=10).contains(n) => *n as u32,
        Some(other) => {
            return Err((
                "eta".into(),
                format!("`eta = {other}` is not a whole number from 2 to 10"),
                Some(
                    "`eta` is successive halving's factor: 1/eta of a rung goes on (default 3)"
                        .into(),
                ),
            ));
        }
    };
    let mut halving: Option<super::halving::Halving> = None;
    let mut space = Vec::new();
    for (name, value) in raw.space {
        let spec: RawSpec = value.try_into().map_err(|e: toml::de::Error| {
            (
                name.clone(),
                format!("parameter `{name}`: {}", e.message().trim()),
                Some("a parameter is one of { float = [lo, hi] }, { log_float = [lo, hi] }, { int = [lo, hi] }, { choice = [..] }, with an optional default".into()),
            )
        })?;
        let fidelity = spec.fidelity;
        let spec = spec_of(&name, spec)?;
        if fidelity {
            if let Some(h) = &halving {
                return Err((
                    name.clone(),
                    format!(
                        "parameters `{}` and `{name}` are both marked `fidelity`",
                        h.param
                    ),
                    Some("one parameter is the budget (epochs, steps); mark only it".into()),
                ));
            }
            halving = Some(super::halving::rungs(&name, &spec.kind, eta)?);
        } else {
            space.push(spec);
        }
    }
    if raw.eta.is_some() && halving.is_none() {
        return Err((
            "eta".into(),
            "`eta` is set but no parameter is marked `fidelity = true`".into(),
            Some(
                "mark the budget parameter, e.g. `epochs = { int = [10, 200], fidelity = true }`"
                    .into(),
            ),
        ));
    }
    if let (true, Some(h)) = (space.is_empty(), &halving) {
        return Err((
            h.param.clone(),
            format!("`{}` is the fidelity (the run's budget): `[params]` has nothing left to search", h.param),
            Some("declare at least one parameter to search beside it, e.g. `lr = { log_float = [1e-4, 1.0] }`".into()),
        ));
    }
    if space.is_empty() {
        return Err((
            "apply".into(),
            "`[params]` declares no parameter".into(),
            Some("add e.g. `lr = { log_float = [1e-4, 1.0] }`".into()),
        ));
    }
    Ok(ParamsConfig {
        apply,
        sampler,
        startup,
        space,
        halving,
    })
}

fn spec_of(name: &str, s: RawSpec) -> Result<ParamSpec, Problem> {
    let bad = |msg: String| (name.to_string(), msg, None);
    let hint = |msg: String, hint: &str| (name.to_string(), msg, Some(hint.to_string()));
    let kinds = [
        s.float.is_some(),
        s.log_float.is_some(),
        s.int.is_some(),
        s.choice.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err((
            name.to_string(),
            format!("parameter `{name}` must have exactly one of float, log_float, int, choice"),
            None,
        ));
    }
    let kind = if let Some([low, high]) = s.float {
        if !(low.is_finite() && high.is_finite()) {
            return Err(hint(
                format!("parameter `{name}`: float range [{low}, {high}] is not finite"),
                "use finite bounds, e.g. `{ float = [0.0, 1.0] }`",
            ));
        }
        if low >= high {
            return Err(hint(
                format!("parameter `{name}`: float range [{low}, {high}] is empty"),
                "the range is [low, high] with low < high",
            ));
        }
        if !(high - low).is_finite() {
            return Err(hint(
                format!(
                    "parameter `{name}`: float range [{low:e}, {high:e}] is wider than a float holds"
                ),
                "narrow it, or search the magnitude with `log_float` (for positive values)",
            ));
        }
        ParamKind::Float { low, high }
    } else if let Some([low, high]) = s.log_float {
        if !(low.is_finite() && high.is_finite()) {
            return Err(hint(
                format!("parameter `{name}`: log_float range [{low}, {high}] is not finite"),
                "use finite bounds, e.g. `{ log_float = [1e-4, 1.0] }`",
            ));
        }
        if low <= 0.0 {
            return Err(hint(
                format!(
                    "parameter `{name}`: log_float range [{low}, {high}] touches 0 (its logarithm is undefined)"
                ),
                "a log range needs 0 < low < high, e.g. `{ log_float = [1e-4, 1.0] }`; use `float` for ranges that include 0",
            ));
        }
        if low >= high {
            return Err(hint(
                format!("parameter `{name}`: log_float range [{low}, {high}] is empty"),
                "the range is [low, high] with 0 < low < high",
            ));
        }
        ParamKind::LogFloat { low, high }
    } else if let Some([low, high]) = s.int {
        if low > high {
            return Err(hint(
                format!("parameter `{name}`: int range [{low}, {high}] is empty"),
                "the range is [low, high] with low ≤ high, both included",
            ));
        }
        if low < -MAX_INT_PARAM || high > MAX_INT_PARAM {
            return Err(hint(
                format!("parameter `{name}`: int range [{low}, {high}] is too wide"),
                "int bounds must lie within ±9007199254740992 (2^53)",
            ));
        }
        ParamKind::Int { low, high }
    } else {
        let choices: Vec<serde_json::Value> = s
            .choice
            .unwrap_or_default()
            .into_iter()
            .map(to_json)
            .collect();
        if choices.is_empty() {
            return Err(hint(
                format!("parameter `{name}`: choice list is empty"),
                "list the options, e.g. `{ choice = [\"tanh\", \"relu\"] }`",
            ));
        }
        if let Some(dup) = choices
            .iter()
            .enumerate()
            .find_map(|(i, c)| choices[..i].contains(c).then_some(c))
        {
            return Err(hint(
                format!("parameter `{name}`: choice {dup} is listed twice"),
                "list each option once",
            ));
        }
        ParamKind::Choice(choices)
    };
    let default = s.default.map(to_json);
    if let Some(d) = &default {
        let ok = match &kind {
            ParamKind::Float { low, high } | ParamKind::LogFloat { low, high } => {
                d.as_f64().is_some_and(|v| v >= *low && v <= *high)
            }
            ParamKind::Int { low, high } => d.as_i64().is_some_and(|v| v >= *low && v <= *high),
            ParamKind::Choice(c) => c.contains(d),
        };
        if !ok {
            return Err(bad(format!(
                "parameter `{name}`: default {d} is outside its range"
            )));
        }
    }
    Ok(ParamSpec {
        name: name.to_string(),
        kind,
        default,
    })
}

fn to_json(v: toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => serde_json::Value::String(s),
        toml::Value::Integer(i) => serde_json::Value::from(i),
        toml::Value::Float(f) => serde_json::Value::from(f),
        toml::Value::Boolean(b) => serde_json::Value::Bool(b),
        other => serde_json::Value::String(other.to_string()),
    }
}
