//! What a campaign's config may change between two `autolab run`s of the same tag. What
//! defines the search (the command, the scoring and its direction, the metric sources, the
//! params space, the policy, the files a candidate may touch) is fixed: verdicts made under
//! one objective are not comparable with another's. How it runs (budgets, parallel slots,
//! timeouts, the sandbox, the LLM) may change, and the change is recorded.

use super::Config;

/// One key that differs, rendered for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: String,
    pub was: String,
    pub now: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: was {}, now {}", self.key, self.was, self.now)
    }
}

/// How the config changed: what would break the campaign, and what is merely recorded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Drift {
    pub refused: Vec<Change>,
    pub allowed: Vec<Change>,
}

type Keyed = Vec<(String, String)>;

/// A goal as written in autolab.toml.
fn goal(g: super::Goal) -> &'static str {
    match g {
        super::Goal::Minimize => "minimize",
        super::Goal::Maximize => "maximize",
    }
}

/// A param's range as written in autolab.toml, e.g. `log_float [0.001, 0.1]`.
fn kind(k: &super::ParamKind) -> String {
    use super::ParamKind as K;
    match k {
        K::Float { low, high } => format!("float [{low}, {high}]"),
        K::LogFloat { low, high } => format!("log_float [{low}, {high}]"),
        K::Int { low, high } => format!("int [{low}, {high}]"),
        K::Choice(v) => format!(
            "choice [{}]",
            v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The keys that define a campaign's search, each rendered as the config would say it.
fn defining(c: &Config) -> Keyed {
    let mut out: Keyed = vec![
        ("task.command".into(), format!("{:?}", c.task.command)),
        ("task.evaluate".into(), format!("{:?}", c.task.evaluate)),
        ("task.editable".into(), format!("{:?}", c.task.editable)),
        ("task.protected".into(), format!("{:?}", c.task.protected)),
        ("metrics.primary".into(), c.metrics.primary.clone()),
        ("metrics.sources".into(), format!("{:?}", c.metrics.sources)),
        (
            "decide.policy".into(),
            match c.decide.policy {
                super::Policy::Strict => "strict".into(),
                super::Policy::NoiseAware => "noise-aware".into(),
            },
        ),
    ];
    for (name, spec) in &c.metrics.score {
        out.push((
            format!("metrics.score.{name}"),
            format!("goal {}, weight {}", goal(spec.goal), spec.weight),
        ));
    }
    if let Some(p) = &c.params {
        out.push(("params.apply".into(), format!("{:?}", p.apply)));
        for spec in &p.space {
            out.push((format!("params.{}", spec.name), kind(&spec.kind)));
        }
        // Successive halving's budgets decide which runs are compared.
        if let Some(h) = &p.halving {
            out.push((
                format!("params.{}", h.param),
                format!("fidelity, budgets {:?}, eta {}", h.rungs, h.eta),
            ));
        }
    }
    out
}

/// The keys that may change, recorded when they do.
fn operational(c: &Config) -> Keyed {
    let params = c.params.as_ref();
    vec![
        ("task.goal".into(), format!("{:?}", c.task.goal)),
        ("task.goal_file".into(), format!("{:?}", c.task.goal_file)),
        ("task.timeout".into(), format!("{:?}", c.task.timeout)),
        (
            "task.stall_timeout".into(),
            format!("{:?}", c.task.stall_timeout),
        ),
        ("task.after".into(), format!("{:?}", c.task.after)),
        (
            "params.sampler".into(),
            format!("{:?}", params.map(|p| &p.sampler)),
        ),
        (
            "params.startup".into(),
            format!("{:?}", params.map(|p| p.startup)),
        ),
        ("decide".into(), format!("{:?}", c.decide)),
        ("runner".into(), format!("{:?}", c.runner)),
        ("sandbox".into(), format!("{:?}", c.sandbox)),
        ("agent".into(), format!("{:?}", c.agent)),
        ("early_stop".into(), format!("{:?}", c.early_stop)),
    ]
}

/// The keys whose values differ; a key on one side only is `absent` on the other.
fn changes(was: Keyed, now: Keyed) -> Vec<Change> {
    let absent = || "absent".to_string();
    let mut out = Vec::new();
    for (key, old) in &was {
        let new = now.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        if new.as_ref() != Some(old) {
            out.push(Change {
                key: key.clone(),
                was: old.clone(),
                now: new.unwrap_or_else(absent),
            });
        }
    }
    for (key, new) in &now {
        if !was.iter().any(|(k, _)| k == key) {
            out.push(Change {
                key: key.clone(),
                was: absent(),
                now: new.clone(),
            });
        }
    }
    out
}

/// How `now` differs from `was`, the config the campaign started with.
pub fn drift(was: &Config, now: &Config) -> Drift {
    let refused = changes(defining(was), defining(now));
    let mut allowed = changes(operational(was), operational(now));
    // A new policy is refused on its own; its numbers changing with it say nothing more.
    if refused.iter().any(|r| r.key == "decide.policy") {
        allowed.retain(|c| c.key != "decide");
    }
    Drift { refused, allowed }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const BASE: &str = "[task]\ncommand = \"python3 train.py\"\neditable = [\"train.py\"]\n\
        [metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n";

    fn parse(text: &str) -> Config {
        Config::parse(Path::new("autolab.toml"), text).unwrap()
    }

    #[test]
    fn an_unchanged_config_has_no_drift() {
        assert_eq!(drift(&parse(BASE), &parse(BASE)), Drift::default());
    }

    #[test]
    fn flipping_the_goal_is_refused() {
        let now = BASE.replace("minimize", "maximize");
        let d = drift(&parse(BASE), &parse(&now));
        assert_eq!(d.refused.len(), 1, "{d:?}");
        assert_eq!(
            d.refused[0].to_string(),
            "metrics.score.val_loss: was goal minimize, weight 1, now goal maximize, weight 1"
        );
    }

    #[test]
    fn a_new_command_or_params_space_is_refused() {
        let now = BASE.replace("python3 train.py", "python3 train2.py");
        assert_eq!(
            drift(&parse(BASE), &parse(&now)).refused[0].key,
            "task.command"
        );
        let with = |range: &str| {
            format!("{BASE}[params]\napply = {{ env = \"P_\" }}\nlr = {{ log_float = {range} }}\n")
        };
        let d = drift(&parse(&with("[1e-4, 1.0]")), &parse(&with("[1e-3, 1.0]")));
        assert_eq!(
            d.refused[0].to_string(),
            "params.lr: was log_float [0.0001, 1], now log_float [0.001, 1]",
            "{d:?}"
        );
    }

    #[test]
    fn a_new_fidelity_range_or_eta_is_refused() {
        let with = |fid: &str| {
            format!(
                "{BASE}[params]\napply = {{ env = \"P_\" }}\nlr = {{ log_float = [1e-4, 1.0] }}\n{fid}"
            )
        };
        let base = with("epochs = { int = [2, 18], fidelity = true }\n");
        let d = drift(
            &parse(&base),
            &parse(&with("epochs = { int = [2, 54], fidelity = true }\n")),
        );
        assert_eq!(
            d.refused[0].to_string(),
            "params.epochs: was fidelity, budgets [2.0, 6.0, 18.0], eta 3, now fidelity, budgets [2.0, 6.0, 18.0, 54.0], eta 3",
            "{d:?}"
        );
        let d = drift(
            &parse(&base),
            &parse(&with(
                "epochs = { int = [2, 18], fidelity = true }\neta = 2\n",
            )),
        );
        assert_eq!(d.refused.len(), 1, "{d:?}");
        let d = drift(&parse(&base), &parse(&with("epochs = { int = [2, 18] }\n")));
        assert_eq!(
            d.refused[0].to_string(),
            "params.epochs: was fidelity, budgets [2.0, 6.0, 18.0], eta 3, now int [2, 18]",
            "{d:?}"
        );
    }

    #[test]
    fn budgets_timeouts_and_slots_may_change_and_are_recorded() {
        let now = BASE.replace(
            "editable = [\"train.py\"]\n",
            "editable = [\"train.py\"]\ntimeout = \"9m\"\n",
        ) + "[runner]\nparallel = 3\n";
        let d = drift(&parse(BASE), &parse(&now));
        assert!(d.refused.is_empty(), "{d:?}");
        let keys: Vec<&str> = d.allowed.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, ["task.timeout", "runner"]);
    }
}
