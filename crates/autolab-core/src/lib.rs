//! autolab's domain: configuration, ledger, git model, metrics, scoring and verdicts.
//!
//! This crate depends on no other autolab crate.

pub mod config;
pub mod confine;
pub mod control;
pub mod experiment;
pub mod git;
pub mod ids;
pub mod ledger;
pub mod lock;
pub mod metrics;
pub mod noise_model;
pub mod paths;
pub mod results;
pub mod score;
pub mod sequential;
pub mod stats;

pub use paths::{STATE_DIR, StatePaths};

/// Opens a file a run could have written, for reading: never through a symlink, and only a
/// regular file (a FIFO would block, a device never end).
pub fn open_plain(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_flags::NOFOLLOW_NONBLOCK)
        .open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    Ok(f)
}

/// [`open_plain`], read whole as text, at most `max` bytes.
pub fn read_plain(path: &std::path::Path, max: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    open_plain(path)?.take(max).read_to_string(&mut text)?;
    Ok(text)
}

mod libc_flags {
    /// O_NOFOLLOW | O_NONBLOCK on Linux.
    pub const NOFOLLOW_NONBLOCK: i32 = 0o400000 | 0o4000;
}
