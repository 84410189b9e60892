//! `autolab steer "text"`: a note from the human, read before the next ideation.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use autolab_core::StatePaths;
use autolab_core::control::Command;
use autolab_core::git::Repo;
use autolab_core::ledger::Ledger;

use super::common::one_line;
use crate::output::CliError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// What the experts should do (or stop doing); appended to `.autolab/steering.md`.
    pub text: Vec<String>,
    /// Replace the steering notes instead of appending.
    #[arg(long)]
    pub replace: bool,
    /// Remove all steering notes.
    #[arg(long, conflicts_with = "text")]
    pub clear: bool,
}

/// The longest steering note, in characters: the experts read every note at each ideation.
pub const MAX_NOTE_CHARS: usize = 2000;

/// A note as it is stored: one line (line and paragraph separators of any kind become
/// spaces), control characters shown as `^X`, at most [`MAX_NOTE_CHARS`].
pub fn clean_note(text: &str) -> Result<String, String> {
    let count = text.chars().count();
    if count > MAX_NOTE_CHARS {
        return Err(format!(
            "the note has {count} characters; at most {MAX_NOTE_CHARS} (the experts read every note at each ideation)"
        ));
    }
    let flat: String = text
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' | '\u{b}' | '\u{c}' | '\u{85}' | '\u{2028}' | '\u{2029}' => ' ',
            c => c,
        })
        .collect();
    Ok(one_line(flat.trim()))
}

/// Adds (or, with `replace`, sets) a steering note in `.autolab/steering.md`.
pub fn write_note(paths: &StatePaths, text: &str, replace: bool) -> std::io::Result<()> {
    std::fs::create_dir_all(paths.state_dir())?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(!replace)
        .write(true)
        .truncate(replace)
        .open(paths.steering())?;
    let note = clean_note(text).map_err(std::io::Error::other)?;
    writeln!(f, "- {note}")
}

pub fn steer(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    let repo = Repo::discover(dir)?;
    let paths = StatePaths::new(&repo.root);
    let state = paths.state_dir();
    std::fs::create_dir_all(&state)?;
    let path = paths.steering();
    if args.clear {
        std::fs::write(&path, "")?;
        eprintln!("steering cleared ({})", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let text = args.text.join(" ");
    if text.trim().is_empty() {
        return Err(CliError::usage(
            "nothing to say",
            Some("autolab steer \"try smaller learning rates\""),
        ));
    }
    if let Err(why) = clean_note(&text) {
        return Err(CliError::usage(why, Some("say it in fewer words")));
    }
    write_note(&paths, text.trim(), args.replace)?;
    // A live campaign takes the note through its inbox (recorded with who and when).
    if let Some(tag) = super::control::live_tag(&repo.root) {
        let ledger = Ledger::open(&paths.ledger())?;
        if let Some(c) = ledger.campaign(&tag)? {
            let command = Command::Steer(clean_note(&text).unwrap_or_default());
            if let Some(effect) = super::control::push_and_wait(&ledger, c.id, &command)? {
                eprintln!("{tag}: {effect} ({})", path.display());
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    // Only the LLM's experts read steering notes; the optimizer does not.
    let has_llm = autolab_core::config::Config::load_lab(&repo.root)
        .map(|c| c.agent.is_some())
        .unwrap_or(false);
    if has_llm {
        eprintln!("noted in {}; the next ideation reads it", path.display());
    } else {
        eprintln!(
            "noted in {}, but nothing reads it now: this lab has no [agent] (LLM), and the optimizer does not read steering notes; add an [agent] section for experts that do",
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
