//! Commands from outside a campaign's process (another terminal, the dashboard): written
//! to the ledger's control inbox by anyone, read by the loop each turn, each one answered with
//! the effect it had.

use serde::Serialize;

/// The campaign event recording that candidate N (`{"experiment": N}`) was approved to run.
pub const APPROVED: &str = "approved";
/// The campaign event recording that candidate N waits for an approval.
pub const AWAITING_APPROVAL: &str = "awaiting-approval";

/// What somebody asked of a live campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "command", content = "arg", rename_all = "lowercase")]
pub enum Command {
    /// Start nothing new; running runs finish and are judged; the process waits for `Resume`.
    Pause,
    /// Go on after a `Pause`.
    Resume,
    /// End the campaign's invocation as Ctrl-C does: running runs are cancelled and run again
    /// on the next `autolab run`.
    Stop,
    /// Experiment N gets the verdict `cancelled`; its run, if any, is killed.
    Cancel(u32),
    /// A note for the experts (the steering notes).
    Steer(String),
    /// With `[decide] approve = true`: candidate N may run.
    Approve(u32),
    /// With `[decide] approve = true`: candidate N does not run (verdict `cancelled`).
    Reject(u32),
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Stop => "stop",
            Command::Cancel(_) => "cancel",
            Command::Steer(_) => "steer",
            Command::Approve(_) => "approve",
            Command::Reject(_) => "reject",
        }
    }

    /// The argument as the ledger stores it.
    pub fn arg(&self) -> Option<String> {
        match self {
            Command::Cancel(n) | Command::Approve(n) | Command::Reject(n) => Some(n.to_string()),
            Command::Steer(text) => Some(text.clone()),
            _ => None,
        }
    }

    /// The command a ledger row holds (the name in any case, spaces around it ignored);
    /// unknown names or arguments are an error that says what was found.
    pub fn parse(name: &str, arg: Option<&str>) -> Result<Command, String> {
        let name = name.trim().to_ascii_lowercase();
        let no_arg = |c: Command| match arg {
            None => Ok(c),
            Some(a) => Err(format!("`{name}` takes no argument, found `{a}`")),
        };
        match name.as_str() {
            "pause" => no_arg(Command::Pause),
            "resume" => no_arg(Command::Resume),
            "stop" => no_arg(Command::Stop),
            "cancel" | "approve" | "reject" => {
                let number = match arg {
                    Some(a) => a
                        .trim()
                        .parse()
                        .map_err(|_| format!("`{name}` needs an experiment number, found `{a}`"))?,
                    None => return Err(format!("`{name}` needs an experiment number, found none")),
                };
                Ok(match name.as_str() {
                    "cancel" => Command::Cancel(number),
                    "approve" => Command::Approve(number),
                    _ => Command::Reject(number),
                })
            }
            "steer" => arg
                .map(|a| Command::Steer(a.to_string()))
                .ok_or_else(|| "`steer` needs its text, found none".to_string()),
            other => Err(format!("unknown command `{other}`")),
        }
    }
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Cancel(n) => write!(f, "cancel #{n}"),
            Command::Approve(n) => write!(f, "approve #{n}"),
            Command::Reject(n) => write!(f, "reject #{n}"),
            // Control characters (a newline, a terminal escape) shown escaped, never sent.
            Command::Steer(text) => write!(f, "steer \"{}\"", text.escape_debug()),
            other => f.write_str(other.name()),
        }
    }
}

/// One row of the inbox.
#[derive(Debug, Clone, Serialize)]
pub struct Control {
    pub id: i64,
    #[serde(flatten)]
    pub command: Command,
    /// Who wrote it (e.g. `alice via autolab pause`).
    pub by: String,
    pub at: f64,
    /// When the loop read it; none while it waits.
    pub taken_at: Option<f64>,
    /// What it did, in words.
    pub effect: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_reads_back_as_written() {
        for c in [
            Command::Pause,
            Command::Resume,
            Command::Stop,
            Command::Cancel(7),
            Command::Steer("smaller lr".into()),
            Command::Approve(3),
            Command::Reject(4),
        ] {
            assert_eq!(Command::parse(c.name(), c.arg().as_deref()), Ok(c));
        }
    }

    #[test]
    fn unknown_or_malformed_rows_are_errors() {
        assert!(
            Command::parse("reboot", None)
                .unwrap_err()
                .contains("reboot")
        );
        assert!(Command::parse("cancel", Some("x")).is_err());
        assert!(Command::parse("cancel", None).is_err());
        assert!(Command::parse("pause", Some("1")).is_err());
        assert!(Command::parse("steer", None).is_err());
        for bad in ["-3", "99999999999999999999999", "abc"] {
            let e = Command::parse("cancel", Some(bad)).unwrap_err();
            assert_eq!(
                e,
                format!("`cancel` needs an experiment number, found `{bad}`")
            );
        }
    }

    #[test]
    fn names_are_read_in_any_case_and_steer_text_is_shown_escaped() {
        assert_eq!(Command::parse(" PAUSE ", None), Ok(Command::Pause));
        assert_eq!(Command::parse("Cancel", Some(" 4")), Ok(Command::Cancel(4)));
        let s = Command::Steer("a\nb\x1b[31mRED".into());
        assert_eq!(s.to_string(), "steer \"a\\nb\\u{1b}[31mRED\"");
    }
}
