//! What a campaign's config may change between two `autolab run`s of the same tag. What
//! defines the search (the command, the scoring and its direction, the metric sources, the
//! params space, the policy, the files a candidate may touch) is fixed: verdicts made under
//! one objective are not comparable with another's. How it runs (budgets, parallel slots,
//! timeouts, the sandbox, the LLM) may change, and the change is recorded.

use super::Config;

/// One key that differs, rendered for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: &'static str,
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

/// The keys that define a campaign's search, each rendered so that equal means unchanged.
fn defining(c: &Config) -> Vec<(&'static str, String)> {
    let params = c.params.as_ref();
    vec![
        ("task.command", format!("{:?}", c.task.command)),
        ("task.evaluate", format!("{:?}", c.task.evaluate)),
        ("task.editable", format!("{:?}", c.task.editable)),
        ("task.protected", format!("{:?}", c.task.protected)),
        ("metrics.score", format!("{:?}", c.metrics.score)),
        ("metrics.primary", format!("{:?}", c.metrics.primary)),
        ("metrics.sources", format!("{:?}", c.metrics.sources)),
        ("params (space)", format!("{:?}", params.map(|p| &p.space))),
        ("params.apply", format!("{:?}", params.map(|p| &p.apply))),
        ("decide.policy", format!("{:?}", c.decide.policy)),
    ]
}

/// The keys that may change, recorded when they do.
fn operational(c: &Config) -> Vec<(&'static str, String)> {
    let params = c.params.as_ref();
    vec![
        ("task.goal", format!("{:?}", c.task.goal)),
        ("task.goal_file", format!("{:?}", c.task.goal_file)),
        ("task.timeout", format!("{:?}", c.task.timeout)),
        ("task.stall_timeout", format!("{:?}", c.task.stall_timeout)),
        ("task.after", format!("{:?}", c.task.after)),
        (
            "params.sampler",
            format!("{:?}", params.map(|p| &p.sampler)),
        ),
        ("params.startup", format!("{:?}", params.map(|p| p.startup))),
        ("decide", format!("{:?}", c.decide)),
        ("runner", format!("{:?}", c.runner)),
        ("sandbox", format!("{:?}", c.sandbox)),
        ("agent", format!("{:?}", c.agent)),
        ("early_stop", format!("{:?}", c.early_stop)),
    ]
}

fn changes(was: Vec<(&'static str, String)>, now: Vec<(&'static str, String)>) -> Vec<Change> {
    was.into_iter()
        .zip(now)
        .filter(|((_, a), (_, b))| a != b)
        .map(|((key, was), (_, now))| Change { key, was, now })
        .collect()
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
        assert_eq!(d.refused[0].key, "metrics.score");
        assert!(d.refused[0].was.contains("Minimize"), "{d:?}");
        assert!(d.refused[0].now.contains("Maximize"), "{d:?}");
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
        assert_eq!(d.refused[0].key, "params (space)", "{d:?}");
    }

    #[test]
    fn budgets_timeouts_and_slots_may_change_and_are_recorded() {
        let now = BASE.replace(
            "editable = [\"train.py\"]\n",
            "editable = [\"train.py\"]\ntimeout = \"9m\"\n",
        ) + "[runner]\nparallel = 3\n";
        let d = drift(&parse(BASE), &parse(&now));
        assert!(d.refused.is_empty(), "{d:?}");
        let keys: Vec<&str> = d.allowed.iter().map(|c| c.key).collect();
        assert_eq!(keys, ["task.timeout", "runner"]);
    }
}
