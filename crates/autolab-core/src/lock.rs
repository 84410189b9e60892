//! One `autolab run` per repository: an exclusive lock in the common git dir, which every
//! checkout of the repository (linked worktrees included) shares, and one on the lab's
//! `.autolab/lock`. The OS releases them when the holder dies, so a crashed run never blocks
//! the next one.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another `autolab run` is live on this lab's repository ({holder})")]
    Held { holder: String },
    #[error("cannot open lock file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Held while alive; dropping it (or dying) releases the lab.
#[derive(Debug)]
pub struct LabLock {
    _file: File,
}

impl LabLock {
    pub fn acquire(path: &Path, what: &str) -> Result<LabLock, LockError> {
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(LockError::Held {
                    holder: if holder.is_empty() {
                        "unknown process".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        write!(file, "pid {} {}", std::process::id(), what).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(LabLock { _file: file })
    }

    /// What the live process holding the lock at `path` wrote of itself, if one holds it.
    pub fn holder(path: &Path) -> Option<String> {
        if !LabLock::is_held(path) {
            return None;
        }
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// Whether some live process holds the lock at `path` (without writing to it).
    pub fn is_held(path: &Path) -> bool {
        let Ok(file) = OpenOptions::new().read(true).write(true).open(path) else {
            return false;
        };
        matches!(file.try_lock(), Err(TryLockError::WouldBlock))
    }
}
