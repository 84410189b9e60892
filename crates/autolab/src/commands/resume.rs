//! `autolab resume`: a paused live campaign goes on where it paused.

use std::path::Path;
use std::process::ExitCode;

use autolab_core::control::Command;

use super::control::send;
use crate::output::CliError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign (default: the one running).
    #[arg(long)]
    pub tag: Option<String>,
}

pub fn resume(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    send(dir, args.tag.as_deref(), Command::Resume)
}
