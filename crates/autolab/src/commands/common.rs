//! What several commands share: opening the ledger read-only and picking a campaign.

use std::path::Path;

use autolab_core::StatePaths;
use autolab_core::experiment::Experiment;
use autolab_core::git::Repo;
use autolab_core::ledger::{Campaign, Ledger};
use serde_json::{Value, json};

use crate::output::CliError;

pub struct Opened {
    pub root: std::path::PathBuf,
    pub ledger: Ledger,
}

/// The ledger of the lab containing `dir`.
pub fn open_ledger(dir: &Path) -> Result<Opened, CliError> {
    let repo = Repo::discover(dir)?;
    let path = StatePaths::new(&repo.root).ledger();
    if !path.exists() {
        return Err(CliError::usage(
            format!("no campaign has run in {} yet", repo.root.display()),
            Some("start one with `autolab run --tag <name>`"),
        ));
    }
    Ok(Opened {
        root: repo.root.clone(),
        ledger: Ledger::open_read_only(&path)?,
    })
}

/// The commit checked out in the repository containing `dir`.
pub fn head_commit(dir: &Path) -> Result<String, CliError> {
    Repo::discover(dir)?
        .rev_parse("HEAD")
        .ok_or_else(|| CliError::failure(format!("{}: no commit yet", dir.display()), None))
}

/// The campaign named `tag`, or the most recently active one.
pub fn pick_campaign(ledger: &Ledger, tag: Option<&str>) -> Result<Campaign, CliError> {
    match tag {
        Some(t) => ledger.campaign(t)?.ok_or_else(|| {
            let known: Vec<String> = ledger
                .campaigns()
                .map(|c| c.into_iter().map(|c| c.tag).collect())
                .unwrap_or_default();
            CliError::usage(
                format!("no campaign `{t}`"),
                Some(&format!("campaigns here: {}", known.join(", "))),
            )
        }),
        None => ledger.latest_campaign()?.ok_or_else(|| {
            CliError::usage(
                "no campaign yet",
                Some("start one with `autolab run --tag <name>`"),
            )
        }),
    }
}

/// One experiment as `results --format json` promises it.
pub fn experiment_json(tag: &str, e: &Experiment, runs: u32) -> Value {
    json!({
        "id": e.number,
        "tag": tag,
        "state": e.state.as_str(),
        "verdict": e.verdict.map(|v| v.as_str()),
        "reason": e.reason,
        "score": e.score.filter(|s| s.is_finite()),
        "metrics": e.metrics.iter().filter(|(_, v)| v.is_finite()).map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "commit": e.commit,
        "parent": e.parent,
        "proposer": e.proposer,
        "title": e.title,
        "params": e.params,
        "runs": runs,
        "lines_added": e.lines_added,
        "lines_removed": e.lines_removed,
    })
}

pub fn fmt_score(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => autolab_core::stats::fmt_value(v),
        Some(v) => format!("{v}"),
        None => "-".into(),
    }
}

pub fn short(sha: Option<&str>) -> String {
    sha.map(|s| s.chars().take(7).collect())
        .unwrap_or_else(|| "-".into())
}

/// Asks a yes/no question on the terminal; false when stdin is not a terminal or on any
/// answer but yes.
pub fn confirm(question: &str) -> bool {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// Text a run (or another user) wrote, safe for a terminal: control characters (escape
/// sequences that could retitle, clear or recolour the reader's terminal) become `^[`-style
/// marks.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            c if c.is_control() => format!("^{}", char::from(((c as u32) & 0x1f) as u8 + b'@')),
            c => c.to_string(),
        })
        .collect()
}

/// [`printable`] on one line: line breaks and tabs become spaces.
pub fn one_line(text: &str) -> String {
    printable(&text.replace(['\n', '\t'], " "))
}
