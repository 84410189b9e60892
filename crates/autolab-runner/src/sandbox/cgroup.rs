//! A pids cgroup per run: caps the number of processes (fork bombs) and lists every process
//! of the run, however it detached, so all can be killed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

#[derive(Debug)]
pub struct PidsCgroup {
    dir: PathBuf,
}

impl PidsCgroup {
    /// Creates `autolab/<name>` under the pids controller (cgroup v1 or v2) with `pids.max`.
    pub fn create(name: &str, max: u64) -> Result<PidsCgroup, String> {
        let root = pids_root().ok_or("no writable pids cgroup controller here")?;
        let dir = root.join("autolab").join(name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        std::fs::write(dir.join("pids.max"), max.to_string())
            .map_err(|e| format!("cannot set pids.max in {}: {e}", dir.display()))?;
        Ok(PidsCgroup { dir })
    }

    pub fn procs_file(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    pub fn pids(&self) -> Vec<i32> {
        std::fs::read_to_string(self.procs_file())
            .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Kills every process in the cgroup until it is empty (bounded), then removes it.
    pub fn kill_all_and_remove(self) -> usize {
        let mut killed = 0;
        for _ in 0..200 {
            let pids = self.pids();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                if kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok() {
                    killed += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = std::fs::remove_dir(&self.dir);
        killed
    }
}

/// The pids controller's root, if this process may create cgroups in it.
pub fn pids_root() -> Option<PathBuf> {
    let v1 = Path::new("/sys/fs/cgroup/pids");
    if v1.join("cgroup.procs").exists() && writable(v1) {
        return Some(v1.to_path_buf());
    }
    let v2 = Path::new("/sys/fs/cgroup");
    let controllers = std::fs::read_to_string(v2.join("cgroup.controllers")).unwrap_or_default();
    if controllers.split_whitespace().any(|c| c == "pids") && writable(v2) {
        // Children of the root only get a controller the root's subtree enables.
        let _ = std::fs::write(v2.join("cgroup.subtree_control"), "+pids");
        let _ = std::fs::create_dir_all(v2.join("autolab"));
        let _ = std::fs::write(v2.join("autolab/cgroup.subtree_control"), "+pids");
        return Some(v2.to_path_buf());
    }
    None
}

fn writable(dir: &Path) -> bool {
    nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
}
