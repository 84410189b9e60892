//! `autolab cancel N`: experiment N of the live campaign gets the verdict `cancelled`; its run,
//! if one is going, is killed; nothing else is disturbed.

use std::path::Path;
use std::process::ExitCode;

use autolab_core::control::Command;

use super::control::send;
use crate::output::CliError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment's number (as `autolab results` lists it).
    pub number: u32,
    /// The campaign (default: the one running).
    #[arg(long)]
    pub tag: Option<String>,
}

pub fn cancel(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    send(dir, args.tag.as_deref(), Command::Cancel(args.number))
}
