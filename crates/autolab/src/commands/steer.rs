//! `autolab steer "text"`: a note from the human, read before the next ideation.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use autolab_core::STATE_DIR;
use autolab_core::git::Repo;

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

pub fn steer(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    let repo = Repo::discover(dir)?;
    let state = repo.root.join(STATE_DIR);
    std::fs::create_dir_all(&state)?;
    let path = state.join("steering.md");
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
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(!args.replace)
        .write(true)
        .truncate(args.replace)
        .open(&path)?;
    writeln!(f, "- {}", text.trim())?;
    eprintln!("noted in {}; the next ideation reads it", path.display());
    Ok(ExitCode::SUCCESS)
}
