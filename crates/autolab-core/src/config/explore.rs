//! `[explore]`: the explorer that studies the lab before the first experiment and writes
//! `.autolab/brief.md`.

use std::time::Duration;

use serde::Deserialize;

use super::parse_duration;

type Problem = (String, String, Option<String>);

#[derive(Debug, Clone, PartialEq)]
pub struct Explore {
    /// Explore at the start of an LLM campaign when the lab has no brief yet.
    pub auto: bool,
    /// Read-only commands whose output the explorer reads (e.g. a data summary script), run
    /// in the lab's root, sandboxed like runs, with nothing writable but their own directory.
    pub commands: Vec<String>,
    /// How long each command may take.
    pub command_timeout: Duration,
    /// Run the red-team before a campaign when the config or the protected files changed
    /// since the last one.
    pub redteam: bool,
    /// Attacks the red-team critic writes.
    pub redteam_attacks: u32,
    /// Refuse to start a campaign while the current red-team report has a hole.
    pub refuse_holes: bool,
}

impl Default for Explore {
    fn default() -> Self {
        Explore {
            auto: true,
            commands: Vec::new(),
            command_timeout: Duration::from_secs(120),
            redteam: false,
            redteam_attacks: 6,
            refuse_holes: false,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExplore {
    #[serde(default)]
    auto: Option<bool>,
    #[serde(default)]
    commands: Option<Vec<String>>,
    #[serde(default)]
    command_timeout: Option<String>,
    #[serde(default)]
    redteam: Option<bool>,
    #[serde(default)]
    redteam_attacks: Option<i64>,
    #[serde(default)]
    refuse_holes: Option<bool>,
}

pub(super) fn validate(r: Option<RawExplore>) -> Result<Explore, Problem> {
    let d = Explore::default();
    let Some(r) = r else { return Ok(d) };
    let commands = r.commands.unwrap_or_default();
    if commands.iter().any(|c| c.trim().is_empty()) {
        return Err((
            "commands".into(),
            "an empty command in `explore.commands`".into(),
            Some("list shell commands, e.g. [\"python3 summarize_data.py\"]".into()),
        ));
    }
    let command_timeout = match r.command_timeout {
        None => d.command_timeout,
        Some(s) => {
            let t = parse_duration(&s).map_err(|m| {
                (
                    "command_timeout".to_string(),
                    m,
                    Some("use a duration like \"90s\" or \"5m\"".to_string()),
                )
            })?;
            if t.is_zero() {
                return Err((
                    "command_timeout".into(),
                    "`command_timeout` must be positive".into(),
                    None,
                ));
            }
            t
        }
    };
    let redteam_attacks = match r.redteam_attacks {
        None => d.redteam_attacks,
        Some(x) if (1..=20).contains(&x) => x as u32,
        Some(x) => {
            return Err((
                "redteam_attacks".into(),
                format!("`redteam_attacks = {x}` must be between 1 and 20"),
                None,
            ));
        }
    };
    Ok(Explore {
        auto: r.auto.unwrap_or(d.auto),
        commands,
        command_timeout,
        redteam: r.redteam.unwrap_or(d.redteam),
        redteam_attacks,
        refuse_holes: r.refuse_holes.unwrap_or(d.refuse_holes),
    })
}
