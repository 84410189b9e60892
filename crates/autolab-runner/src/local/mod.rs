//! Runs on this machine: `sh -c` in its own session and process group, stdin null, a cleared
//! environment, logs captured with a cap, the whole group killed on timeout, cancel or exit.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::logs::{Pump, spawn_pump};
use crate::{Exit, Finished, RunSpec, Runner, RunnerError};

/// How often a waiting run checks its cancel flag.
const CANCEL_CHECK: Duration = Duration::from_millis(50);

#[derive(Debug, Default, Clone)]
pub struct LocalRunner;

impl Runner for LocalRunner {
    fn name(&self) -> &'static str {
        "local"
    }

    fn run(
        &self,
        spec: &RunSpec,
        cancel: &AtomicBool,
        started: &mut dyn FnMut(u32),
    ) -> Result<Finished, RunnerError> {
        std::fs::create_dir_all(&spec.run_dir).map_err(|source| RunnerError::RunDir {
            path: spec.run_dir.display().to_string(),
            source,
        })?;
        let stdout_path = spec.run_dir.join("stdout.log");
        let stderr_path = spec.run_dir.join("stderr.log");

        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(&spec.command)
            .current_dir(&spec.workdir)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: only async-signal-safe calls (setsid, prctl) between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
                Ok(())
            });
        }
        let start = Instant::now();
        let mut child = cmd.spawn().map_err(|source| RunnerError::Spawn {
            command: spec.command.clone(),
            source,
        })?;
        let pgid = Pid::from_raw(child.id() as i32);
        started(child.id());

        let tail_cap = (spec.max_log_bytes / 2).min(1 << 20) as usize;
        let head_cap = spec.max_log_bytes.saturating_sub(tail_cap as u64);
        let pumps: Vec<Pump> = [
            child
                .stdout
                .take()
                .map(|s| spawn_pump(s, &stdout_path, head_cap, tail_cap)),
            child
                .stderr
                .take()
                .map(|s| spawn_pump(s, &stderr_path, head_cap, tail_cap)),
        ]
        .into_iter()
        .flatten()
        .collect();

        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });

        let deadline = start + spec.timeout;
        let mut forced: Option<Exit> = None;
        let mut kill_at: Option<Instant> = None;
        let mut killed = false;
        let status = loop {
            let now = Instant::now();
            if forced.is_none() {
                if cancel.load(Ordering::SeqCst) {
                    forced = Some(Exit::Cancelled);
                } else if now >= deadline {
                    forced = Some(Exit::TimedOut);
                }
                if forced.is_some() {
                    let _ = killpg(pgid, Signal::SIGTERM);
                    kill_at = Some(now + spec.kill_grace);
                }
            }
            if let Some(at) = kill_at.filter(|at| !killed && now >= *at) {
                let _ = at;
                let _ = killpg(pgid, Signal::SIGKILL);
                killed = true;
            }
            let wait = match kill_at {
                Some(at) if !killed => at
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(1)),
                Some(_) => Duration::from_secs(1),
                None => CANCEL_CHECK
                    .min(deadline.saturating_duration_since(now))
                    .max(Duration::from_millis(1)),
            };
            match rx.recv_timeout(wait) {
                Ok(status) => break status.ok(),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break None,
            }
        };
        // Children that outlive the command die with its group.
        let _ = killpg(pgid, Signal::SIGKILL);
        let elapsed = start.elapsed();

        let mut truncated = false;
        for pump in pumps {
            truncated |= pump.finish(spec.kill_grace.max(Duration::from_secs(1)));
        }
        let exit = forced.unwrap_or(match status {
            Some(s) => match (s.code(), s.signal()) {
                (Some(code), _) => Exit::Code(code),
                (None, Some(sig)) => Exit::Signal(sig),
                (None, None) => Exit::Code(-1),
            },
            None => Exit::Code(-1),
        });
        Ok(Finished {
            exit,
            elapsed,
            stdout: stdout_path,
            stderr: stderr_path,
            truncated,
        })
    }
}

#[cfg(test)]
mod tests;
