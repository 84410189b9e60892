//! Finds processes a previous autolab left behind (it was killed) by the run dir in their
//! environment, which every process of a run inherits, and kills them.

use std::path::Path;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Kills every process whose environment has `AUTOLAB_RUN_DIR=<run_dir>`; returns their pids.
pub fn kill_run_processes(run_dir: &Path) -> Vec<i32> {
    let marker = format!("AUTOLAB_RUN_DIR={}", run_dir.display());
    let mut killed = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return killed;
    };
    let me = std::process::id() as i32;
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(environ) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        if environ
            .split(|b| *b == 0)
            .any(|var| var == marker.as_bytes())
            && kill(Pid::from_raw(pid), Signal::SIGKILL).is_ok()
        {
            killed.push(pid);
        }
    }
    killed
}
