//! `[notify]`: where a campaign's news goes (a webhook, a command, an ntfy topic), and
//! `[supervisor]`: what the watch over a live campaign pauses it for.

use serde::Deserialize;

type Problem = (String, String, Option<String>);

/// The events a campaign sends, by name.
pub const NOTIFY_EVENTS: [&str; 6] = [
    "new_best",
    "crash_streak",
    "paused",
    "budget_reached",
    "finished",
    "waiting",
];

#[derive(Debug, Clone, PartialEq)]
pub struct Notify {
    /// POSTed the event as JSON (with a Slack-compatible `text`).
    pub webhook: Option<String>,
    /// Run by `sh -c` with the event as JSON on its standard input.
    pub command: Option<String>,
    /// An ntfy topic URL (`https://ntfy.sh/my-topic`): POSTed the event's text.
    pub ntfy: Option<String>,
    /// The events sent (default: all of [`NOTIFY_EVENTS`]).
    pub events: Vec<String>,
    /// Tries per event and destination beyond the first, with backoff.
    pub retries: u32,
    /// Seconds one try may take.
    pub timeout_secs: u32,
}

impl Notify {
    pub fn wants(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == event)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    #[serde(default)]
    webhook: Option<String>,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    ntfy: Option<String>,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    retries: Option<i64>,
    #[serde(default)]
    timeout_secs: Option<i64>,
}

fn is_url(u: &str) -> bool {
    u.starts_with("http://") || u.starts_with("https://")
}

pub(super) fn validate_notify(r: Option<RawNotify>) -> Result<Option<Notify>, Problem> {
    let Some(r) = r else { return Ok(None) };
    for (key, url) in [("webhook", &r.webhook), ("ntfy", &r.ntfy)] {
        if let Some(u) = url
            && !is_url(u)
        {
            return Err((
                key.into(),
                format!("`{key} = \"{u}\"` is not an http(s) URL"),
                None,
            ));
        }
    }
    let command = r.command.filter(|c| !c.trim().is_empty());
    if r.webhook.is_none() && command.is_none() && r.ntfy.is_none() {
        return Err((
            "webhook".into(),
            "[notify] names no destination".into(),
            Some(
                "set `webhook = \"https://…\"`, `command = \"…\"` or `ntfy = \"https://ntfy.sh/topic\"`"
                    .into(),
            ),
        ));
    }
    let events = match r.events {
        None => NOTIFY_EVENTS.iter().map(|e| e.to_string()).collect(),
        Some(list) => {
            for e in &list {
                if !NOTIFY_EVENTS.contains(&e.as_str()) {
                    return Err((
                        "events".into(),
                        format!("unknown event `{e}`"),
                        Some(format!("use any of: {}", NOTIFY_EVENTS.join(", "))),
                    ));
                }
            }
            list
        }
    };
    let retries = match r.retries {
        None => 3,
        Some(x) if (0..=10).contains(&x) => x as u32,
        Some(x) => {
            return Err((
                "retries".into(),
                format!("`retries = {x}` must be between 0 and 10"),
                None,
            ));
        }
    };
    let timeout_secs = match r.timeout_secs {
        None => 10,
        Some(x) if (1..=300).contains(&x) => x as u32,
        Some(x) => {
            return Err((
                "timeout_secs".into(),
                format!("`timeout_secs = {x}` must be between 1 and 300"),
                None,
            ));
        }
    };
    Ok(Some(Notify {
        webhook: r.webhook,
        command,
        ntfy: r.ntfy,
        events,
        retries,
        timeout_secs,
    }))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Supervisor {
    /// Pause after this many failed runs in a row that end with the same error line (0: never).
    pub identical_failures: u32,
    /// Pause when the lab's file system has less than this many MiB free (0: never; unset:
    /// 1 GiB or 2 % of the file system, whichever is less).
    pub min_free_disk_mb: Option<u64>,
    /// Ask the LLM (when `[agent]` is set) for the common cause of the failures.
    pub llm_diagnosis: bool,
    /// Pause when, at this invocation's pace, `[agent] max_usd` would run out in less than
    /// half the time `--max-hours` has left.
    pub cost_burn: bool,
    /// Notify when slots stay idle this long while candidates wait (for approval).
    pub idle_after: std::time::Duration,
}

impl Default for Supervisor {
    fn default() -> Self {
        Supervisor {
            identical_failures: 3,
            min_free_disk_mb: None,
            llm_diagnosis: true,
            cost_burn: true,
            idle_after: std::time::Duration::from_secs(600),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSupervisor {
    #[serde(default)]
    identical_failures: Option<i64>,
    #[serde(default)]
    min_free_disk_mb: Option<i64>,
    #[serde(default)]
    llm_diagnosis: Option<bool>,
    #[serde(default)]
    cost_burn: Option<bool>,
    #[serde(default)]
    idle_after: Option<String>,
}

pub(super) fn validate_supervisor(r: Option<RawSupervisor>) -> Result<Supervisor, Problem> {
    let d = Supervisor::default();
    let Some(r) = r else { return Ok(d) };
    let identical_failures = match r.identical_failures {
        None => d.identical_failures,
        Some(x) if x == 0 || (2..=1000).contains(&x) => x as u32,
        Some(x) => {
            return Err((
                "identical_failures".into(),
                format!("`identical_failures = {x}` must be 0 (off) or between 2 and 1000"),
                None,
            ));
        }
    };
    let min_free_disk_mb = match r.min_free_disk_mb {
        None => d.min_free_disk_mb,
        Some(x) if x >= 0 => Some(x as u64),
        Some(x) => {
            return Err((
                "min_free_disk_mb".into(),
                format!("`min_free_disk_mb = {x}` is negative"),
                Some("use 0 to turn the disk watch off".into()),
            ));
        }
    };
    let idle_after = match &r.idle_after {
        None => d.idle_after,
        Some(text) => super::parse_duration(text).map_err(|why| {
            (
                "idle_after".into(),
                format!("`idle_after = \"{text}\"`: {why}"),
                Some("e.g. \"10m\"".into()),
            )
        })?,
    };
    Ok(Supervisor {
        identical_failures,
        min_free_disk_mb,
        llm_diagnosis: r.llm_diagnosis.unwrap_or(d.llm_diagnosis),
        cost_burn: r.cost_burn.unwrap_or(d.cost_burn),
        idle_after,
    })
}
