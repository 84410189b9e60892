//! `autolab pause`: the live campaign starts nothing new; running experiments finish and are judged; it waits for `autolab resume`.

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

pub fn pause(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    send(dir, args.tag.as_deref(), Command::Pause)
}
