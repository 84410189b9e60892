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

    /// Whether some live process holds the lock at `path`, without taking it: a probe that
    /// took the lock, even briefly, could make an `autolab run` starting at that instant find
    /// the lab busy (watchers such as `autolab serve` probe every second). The kernel's table
    /// of locks (`/proc/locks`) says it; where that cannot be read, a try-lock does.
    pub fn is_held(path: &Path) -> bool {
        if let Some(held) = flock_listed(path) {
            return held;
        }
        let Ok(file) = OpenOptions::new().read(true).write(true).open(path) else {
            return false;
        };
        matches!(file.try_lock(), Err(TryLockError::WouldBlock))
    }
}

/// Whether `/proc/locks` lists an exclusive `flock` on the file at `path` (None: the table
/// cannot be read). The table names a file by device (`major:minor`, hex) and inode.
fn flock_listed(path: &Path) -> Option<bool> {
    use std::os::unix::fs::MetadataExt;
    let table = std::fs::read_to_string("/proc/locks").ok()?;
    let Ok(meta) = std::fs::metadata(path) else {
        return Some(false);
    };
    let dev = meta.dev();
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let file = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    Some(table.lines().any(|line| {
        // `N: FLOCK ADVISORY WRITE pid maj:min:inode start end`; waiters have `->` after N:.
        let f: Vec<&str> = line.split_whitespace().collect();
        f.get(1) == Some(&"FLOCK") && f.get(3) == Some(&"WRITE") && f.get(5) == Some(&file.as_str())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_table_tells_a_held_lock_from_a_free_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        assert!(!LabLock::is_held(&path), "no file, no lock");
        let held = LabLock::acquire(&path, "autolab run --tag t").unwrap();
        // Read from the table, not by trying the lock (which would take it when free).
        assert_eq!(flock_listed(&path), Some(true));
        assert!(LabLock::is_held(&path));
        assert_eq!(
            LabLock::holder(&path).as_deref(),
            Some(format!("pid {} autolab run --tag t", std::process::id()).as_str())
        );
        let other = dir.path().join("other");
        let _free = LabLock::acquire(&other, "x").map(drop);
        assert_eq!(flock_listed(&other), Some(false), "released");
        drop(held);
        assert_eq!(flock_listed(&path), Some(false));
        assert!(!LabLock::is_held(&path));
        assert!(LabLock::holder(&path).is_none());
    }
}
