//! `autolab approve N`: candidate N of the live campaign may run (with `[decide] approve = true`, candidates wait for it).

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

pub fn approve(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    send(dir, args.tag.as_deref(), Command::Approve(args.number))
}
