//! `autolab reject N`: candidate N of the live campaign does not run: it gets the verdict `cancelled` (with `[decide] approve = true`).

use std::path::Path;
use std::process::ExitCode;

use autolab_core::control::Command;

use super::control::send;
use crate::output::CliError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The candidate's number (as `autolab status` lists it).
    pub number: u32,
    /// The campaign (default: the one running).
    #[arg(long)]
    pub tag: Option<String>,
}

pub fn reject(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    send(dir, args.tag.as_deref(), Command::Reject(args.number))
}
