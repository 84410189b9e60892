//! The run's own view of the file system, set up by the namespace's init in a new mount
//! namespace: nothing it mounts reaches the host (propagation private), a fresh `/proc` that
//! shows only the run's processes, empty private `/tmp`, `/run` and `/dev/shm` (host sockets
//! and shared memory out of sight) with the run's own directories bound back in, and files
//! autolab relies on (the worktree's `.git`) bound read-only.

use std::collections::BTreeSet;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::libc;
use nix::mount::{MsFlags, mount};

/// Directories replaced by an empty tmpfs: where host daemons keep sockets and shared memory.
const MASKED: [&str; 3] = ["/tmp", "/run", "/dev/shm"];

/// Makes every mount private, so nothing the run mounts propagates to the host.
pub fn private_propagation() -> Result<(), String> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("making mounts private: {e}"))
}

/// Mounts a `/proc` of the run's own PID namespace over the host's.
pub fn fresh_proc() -> Result<(), String> {
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| format!("mounting /proc: {e}"))
}

/// A directory replaced by a private tmpfs.
pub struct Masked {
    pub dir: PathBuf,
    /// Whether paths of the host were bound back beneath it (then it must not be writable as
    /// a whole: Landlock rules hold across mount points).
    pub holds_host_paths: bool,
}

/// Replaces each of [`MASKED`] by an empty tmpfs (at most `size` bytes each, when given) and
/// binds each of `keep` that lay beneath one back at its path. Returns the masked directories.
pub fn mask_shared_dirs(keep: &[PathBuf], size: Option<u64>) -> Result<Vec<Masked>, String> {
    let mut done = Vec::new();
    let mut seen = BTreeSet::new();
    for dir in MASKED {
        // `/var/run` is usually a link to `/run`; mask each real directory once.
        let Ok(real) = Path::new(dir).canonicalize() else {
            continue;
        };
        if !real.is_dir() || !seen.insert(real.clone()) {
            continue;
        }
        let inside = outermost(keep.iter().filter(|k| k.starts_with(&real)));
        if inside.contains(&real) {
            continue; // the run needs the whole directory
        }
        // Hold each kept path open: the tmpfs hides it from lookups by name.
        let held: Vec<(PathBuf, File)> = inside
            .into_iter()
            .filter_map(|k| {
                let f = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
                    .open(&k)
                    .ok()?;
                Some((k, f))
            })
            .collect();
        let options = match size {
            Some(b) => format!("mode=1777,size={b},nr_inodes={}", (b / 4096).max(1024)),
            None => "mode=1777".to_string(),
        };
        mount(
            Some("tmpfs"),
            &real,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(options.as_str()),
        )
        .map_err(|e| format!("mounting a private {}: {e}", real.display()))?;
        let holds_host_paths = !held.is_empty();
        for (path, file) in held {
            bind_back(&path, &file)?;
        }
        done.push(Masked {
            dir: real,
            holds_host_paths,
        });
    }
    Ok(done)
}

/// The paths of `paths` that are not beneath another of them.
fn outermost<'a>(paths: impl Iterator<Item = &'a PathBuf>) -> Vec<PathBuf> {
    let all: Vec<PathBuf> = paths.cloned().collect();
    let mut out: Vec<PathBuf> = all
        .iter()
        .filter(|p| !all.iter().any(|q| q != *p && p.starts_with(q)))
        .cloned()
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Mounts what `file` refers to at `path` (re-created as an empty mount point in the tmpfs).
fn bind_back(path: &Path, file: &File) -> Result<(), String> {
    let is_dir = file.metadata().map(|m| m.is_dir()).unwrap_or(false);
    let made = if is_dir {
        std::fs::create_dir_all(path)
    } else {
        path.parent()
            .map(std::fs::create_dir_all)
            .unwrap_or(Ok(()))
            .and_then(|()| File::create(path).map(|_| ()))
    };
    made.map_err(|e| format!("making mount point {}: {e}", path.display()))?;
    let source = format!("/proc/self/fd/{}", file.as_raw_fd());
    mount(
        Some(source.as_str()),
        path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| format!("binding {} back: {e}", path.display()))
}

/// Binds each existing path of `paths` read-only over itself. Returns those it covered.
pub fn read_only(paths: &[PathBuf]) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    for p in paths {
        if std::fs::symlink_metadata(p).is_err() {
            continue;
        }
        mount(
            Some(p.as_path()),
            p.as_path(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| format!("binding {}: {e}", p.display()))?;
        mount(
            None::<&str>,
            p.as_path(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .map_err(|e| format!("making {} read-only: {e}", p.display()))?;
        done.push(p.display().to_string());
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_outermost_kept_paths_are_bound() {
        let paths = [
            PathBuf::from("/tmp/lab/.autolab/runs/1"),
            PathBuf::from("/tmp/lab"),
            PathBuf::from("/tmp/other"),
            PathBuf::from("/tmp/lab"),
        ];
        assert_eq!(
            outermost(paths.iter()),
            vec![PathBuf::from("/tmp/lab"), PathBuf::from("/tmp/other")]
        );
    }
}
