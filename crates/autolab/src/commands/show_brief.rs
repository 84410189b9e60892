//! `autolab show brief`: the research brief as every ideation reads it, and its versions.

use std::path::Path;
use std::process::ExitCode;

use autolab_core::StatePaths;
use autolab_core::git::Repo;
use autolab_core::ledger::Ledger;
use serde_json::json;

use super::common::printable;
use crate::output::CliError;

pub fn show_brief(dir: &Path, json: bool) -> Result<ExitCode, CliError> {
    let root = Repo::discover(dir)?.root;
    let paths = StatePaths::new(&root);
    let versions = if paths.ledger().exists() {
        Ledger::open_read_only(&paths.ledger())?
            .briefs()
            .list()
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let on_disk = std::fs::read_to_string(paths.brief()).ok();
    let latest = versions.last();
    let edited = match (&on_disk, latest) {
        (Some(t), Some(b)) => t.trim() != b.text.trim(),
        (Some(_), None) => true,
        _ => false,
    };
    if json {
        let v = json!({
            "path": paths.brief(),
            "text": on_disk.clone().or_else(|| latest.map(|b| b.text.clone())),
            "edited_since_last_version": edited,
            "versions": versions,
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    let Some(text) = on_disk.or_else(|| latest.map(|b| b.text.clone())) else {
        return Err(CliError::usage(
            "the lab has no research brief yet",
            Some(
                "`autolab explore` writes one (needs [agent]); an LLM campaign writes one at its start",
            ),
        ));
    };
    print!("{}", printable(&text));
    if !text.ends_with('\n') {
        println!();
    }
    eprintln!();
    for b in &versions {
        eprintln!(
            "version {} by {}{}, {}",
            b.version,
            b.source,
            b.model
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default(),
            ago(b.at)
        );
    }
    if edited {
        eprintln!(
            "{} was edited since: the edit becomes the next version at the next ideation",
            paths.brief().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `5s ago`, `3m ago`, `2h ago`, `4d ago`.
fn ago(at: f64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let s = (now - at).max(0.0) as u64;
    match s {
        s if s < 120 => format!("{s}s ago"),
        s if s < 7200 => format!("{}m ago", s / 60),
        s if s < 172_800 => format!("{}h ago", s / 3600),
        s => format!("{}d ago", s / 86_400),
    }
}
