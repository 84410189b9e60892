//! Runs as batch jobs on a cluster scheduler (SLURM or LSF), submitted on this host or on a
//! login node reached with the system `ssh`.
//!
//! One [`ClusterRunner`] serves a whole campaign. Each [`Runner::run`] writes a job script from a
//! template (see [`ClusterConfig::script_template`]), submits it, reports the job id through
//! `started`, and waits. Waiting is shared: a single poller thread per runner asks the scheduler
//! about *all* of the runner's active jobs with one `squeue`/`bjobs` call per poll and hands each
//! waiter its job's state. Scheduler states are mapped to [`Exit`]s; node failures and
//! preemption are resubmitted up to [`ClusterConfig::resubmit`] times.
//!
//! Limits and choices:
//! - The job's time limit is `spec.timeout + timeout_margin`, rounded up to whole minutes (the
//!   schedulers' granularity). autolab also enforces `spec.timeout + timeout_margin` itself,
//!   measured from when the job is first seen running (queue time does not count), and cancels
//!   the job then; after a restart ([`Runner::attach`]) that clock starts again at attach time
//!   and the scheduler's own limit is the backstop.
//! - While a job runs, each poll also reads what its stdout gained (one shell call for all
//!   followed jobs, see `follow.rs`), when the run has a `watch` (early stopping) or a
//!   `stall_timeout`: a watched line may stop the job (`Exit::Stopped`), and a job whose stdout
//!   does not grow for `stall_timeout` is cancelled (`Exit::Stalled`). This needs the log to be
//!   visible where the scheduler is (a shared file system, as usual on clusters).
//!   `max_disk_bytes` is not applied to cluster jobs. Logs are capped (head and tail kept) after
//!   the job ends.
//! - The sandbox in `spec.sandbox` is not applied; the cluster's own isolation applies.
//! - Remote hosts are reached with the system OpenSSH binaries through `std::process` (not the
//!   `openssh` crate, which needs tokio): `~/.ssh/config`, agents and jump hosts work, and one
//!   multiplexed connection (`ControlMaster`) serves all commands. Code is shipped as a
//!   `git bundle` of the worktree's HEAD (uncommitted changes are not shipped).

mod config;
mod follow;
mod lsf;
mod poller;
mod script;
mod slurm;
mod ssh;
mod waiter;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{Exit, Finished, Handle, LineWatch, RunSpec, Runner, RunnerError};
pub use config::{ClusterConfig, Scheduler};
use poller::{Tracker, lock};
use script::{
    JobPaths, cap_log, job_name, minutes_ceil, note, output_text, render, shell_quote,
    valid_env_name,
};
use ssh::Shell;
use waiter::{Outcome, Watching, wait_for_job};

/// How often a waiter checks its cancel flag and deadline.
const WAKE: Duration = Duration::from_millis(200);
/// Polls in a row a job may be missing from the scheduler before it counts as lost.
const MAX_MISSES: u32 = 5;
/// How long to wait for a terminal state after cancelling a job.
const STOP_WAIT: Duration = Duration::from_secs(60);
/// How often the cancel command is repeated while waiting for the job to end.
const CANCEL_REPEAT: Duration = Duration::from_secs(10);

/// A job's state as the poller last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobStatus {
    Pending,
    Running,
    /// Stopped by the scheduler for a while (it may run again): its output pauses too.
    Suspended,
    /// Ended by itself (exit code or signal) or by the scheduler's time limit.
    Done(Exit),
    /// Cancelled (by us or by someone else).
    Cancelled,
    /// Ended by the cluster, not the job (node failure, preemption): worth resubmitting.
    NodeFailure(String),
    /// Missing from the scheduler for several polls in a row.
    Lost,
}

impl JobStatus {
    fn is_terminal(&self) -> bool {
        !matches!(
            self,
            JobStatus::Pending | JobStatus::Running | JobStatus::Suspended
        )
    }
}

/// One scheduler's commands.
trait Backend: Send + Sync {
    fn template(&self) -> &'static str;
    fn submit_argv(&self, submit_args: &[String]) -> Vec<String>;
    fn parse_submit(&self, stdout: &str) -> Option<String>;
    /// The states of `ids`; ids the scheduler does not know are left out.
    fn query(
        &self,
        shell: &Shell,
        ids: &[String],
        queries: &AtomicU64,
    ) -> Result<HashMap<String, JobStatus>, String>;
    fn cancel_argv(&self, id: &str) -> Vec<String>;
}

struct Inner {
    cfg: ClusterConfig,
    backend: Box<dyn Backend>,
    shell: Shell,
    tracker: Tracker,
}

/// Runs specs as cluster jobs; one per campaign (it owns the shared poller).
#[derive(Clone)]
pub struct ClusterRunner {
    inner: Arc<Inner>,
}

/// Counters for tests and diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollStats {
    /// Poll rounds (each asks about all active jobs at once).
    pub polls: u64,
    /// Status commands sent to the scheduler (`squeue`/`bjobs`, plus `sacct`/`scontrol` for
    /// jobs that left the queue).
    pub queries: u64,
}

impl ClusterRunner {
    pub fn new(cfg: ClusterConfig) -> Result<Self, RunnerError> {
        let shell = match &cfg.ssh {
            None => Shell::local(),
            Some(target) => {
                if cfg.remote_dir.is_none() {
                    return Err(RunnerError::Spawn {
                        command: format!("ssh {target}"),
                        source: std::io::Error::other("an ssh cluster needs `remote_dir`"),
                    });
                }
                Shell::remote(target, &cfg.ssh_args).map_err(|source| RunnerError::RunDir {
                    path: "ssh control directory".into(),
                    source,
                })?
            }
        };
        let backend: Box<dyn Backend> = match cfg.scheduler {
            Scheduler::Slurm => Box::new(slurm::Slurm),
            Scheduler::Lsf => Box::new(lsf::Lsf),
        };
        Ok(ClusterRunner {
            inner: Arc::new(Inner {
                cfg,
                backend,
                shell,
                tracker: Tracker::default(),
            }),
        })
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.inner.cfg
    }

    pub fn poll_stats(&self) -> PollStats {
        PollStats {
            polls: self.inner.tracker.polls.load(Ordering::SeqCst),
            queries: self.inner.tracker.queries.load(Ordering::SeqCst),
        }
    }
}

impl Inner {
    fn job_paths(&self, spec: &RunSpec) -> JobPaths {
        match &self.cfg.remote_dir {
            Some(remote) if self.cfg.ssh.is_some() => JobPaths {
                workdir: remote
                    .join(ssh::experiment_name(&spec.workdir))
                    .display()
                    .to_string(),
                run_dir: remote
                    .join("runs")
                    .join(ssh::run_name(&spec.run_dir))
                    .display()
                    .to_string(),
            },
            _ => JobPaths {
                workdir: spec.workdir.display().to_string(),
                run_dir: spec.run_dir.display().to_string(),
            },
        }
    }

    fn script(&self, spec: &RunSpec, paths: &JobPaths) -> String {
        let remote = self.cfg.ssh.is_some();
        let env: Vec<String> = spec
            .env
            .iter()
            // On a remote host the local PATH and HOME mean nothing; the job gets the remote
            // user's login environment instead.
            .filter(|(k, _)| valid_env_name(k) && !(remote && (k == "PATH" || k == "HOME")))
            .map(|(k, v)| format!("export {k}={}", shell_quote(v)))
            .collect();
        let minutes = minutes_ceil(spec.timeout + self.cfg.timeout_margin);
        let vars = [
            ("job_name", job_name(spec)),
            ("stdout", format!("{}/stdout.log", paths.run_dir)),
            ("stderr", format!("{}/stderr.log", paths.run_dir)),
            ("minutes", minutes.to_string()),
            ("workdir", paths.workdir.clone()),
            ("workdir_q", shell_quote(&paths.workdir)),
            ("run_dir", paths.run_dir.clone()),
            ("env", env.join("\n")),
            ("setup", self.cfg.setup.join("\n")),
            ("command", shell_quote(&spec.command)),
        ];
        let template = self
            .cfg
            .script_template
            .as_deref()
            .unwrap_or(self.backend.template());
        render(template, &vars)
    }

    fn submit(&self, script: &str) -> Result<String, RunnerError> {
        let argv = self.backend.submit_argv(&self.cfg.submit_args);
        let err = |source: std::io::Error| RunnerError::Spawn {
            command: argv.join(" "),
            source,
        };
        let out = self
            .shell
            .exec(&argv, Some(script.as_bytes()))
            .map_err(err)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        match self.backend.parse_submit(&stdout) {
            Some(id) if out.status.success() => Ok(id),
            _ => Err(err(std::io::Error::other(format!(
                "submission failed ({}): {}",
                out.status,
                output_text(&out)
            )))),
        }
    }

    fn cancel_job(&self, id: &str) {
        let argv = self.backend.cancel_argv(id);
        match self.shell.exec(&argv, None) {
            Ok(out) if out.status.success() => {}
            Ok(out) => tracing::warn!("`{}` failed: {}", argv.join(" "), output_text(&out)),
            Err(e) => tracing::warn!("`{}` failed: {e}", argv.join(" ")),
        }
    }

    /// Blocks until fewer than `max_jobs` jobs are out; false if cancelled meanwhile.
    fn take_slot(&self, cancel: &AtomicBool) -> bool {
        let t = &self.tracker;
        let mut active = lock(&t.active);
        while self.cfg.max_jobs > 0 && *active >= self.cfg.max_jobs {
            if cancel.load(Ordering::SeqCst) {
                return false;
            }
            active = t
                .slot_freed
                .wait_timeout(active, WAKE)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        *active += 1;
        true
    }

    fn free_slot(&self) {
        let mut active = lock(&self.tracker.active);
        *active = active.saturating_sub(1);
        self.tracker.slot_freed.notify_all();
    }
}

impl ClusterRunner {
    /// Waits for `id` (resubmitting `script` on node failure when given), then collects logs.
    fn wait(
        &self,
        mut id: String,
        spec: &RunSpec,
        cancel: &AtomicBool,
        start: Instant,
        mut resubmit: Option<(&str, &mut dyn FnMut(Handle))>,
        mut watch: Option<LineWatch>,
    ) -> Result<Finished, RunnerError> {
        let inner = &self.inner;
        let mut notes: Vec<String> = Vec::new();
        let mut attempts = 0;
        let mut watching = Watching {
            watch: watch.as_mut(),
            stall: spec.stall_timeout,
            partial: Vec::new(),
            stop_reason: None,
        };
        let exit = loop {
            match wait_for_job(inner, &id, spec, cancel, &mut watching) {
                Outcome::Exit(e, n) => {
                    notes.extend(n);
                    break e;
                }
                Outcome::NodeFailure(state) => match resubmit.as_mut() {
                    Some((script, started))
                        if attempts < inner.cfg.resubmit && !cancel.load(Ordering::SeqCst) =>
                    {
                        attempts += 1;
                        notes.push(format!(
                            "job {id} ended {state}; resubmitted ({attempts}/{})",
                            inner.cfg.resubmit
                        ));
                        id = inner.submit(script)?;
                        // The new job's output starts afresh.
                        watching.partial.clear();
                        started(Handle::Job {
                            scheduler: inner.cfg.scheduler.name().into(),
                            id: id.clone(),
                        });
                    }
                    _ => {
                        notes.push(format!(
                            "job {id} ended {state}; not resubmitted (after {attempts} resubmissions)"
                        ));
                        break Exit::Code(1);
                    }
                },
            }
        };
        let stdout = spec.run_dir.join("stdout.log");
        let stderr = spec.run_dir.join("stderr.log");
        if inner.cfg.ssh.is_some() {
            let paths = inner.job_paths(spec);
            if let Err(e) = inner.shell.fetch_dir(&paths.run_dir, &spec.run_dir) {
                notes.push(format!("copying the run dir back failed: {e}"));
            }
        }
        for p in [&stdout, &stderr] {
            if !p.exists() {
                let _ = std::fs::File::create(p);
            }
        }
        let mut truncated = false;
        for p in [&stdout, &stderr] {
            truncated |= cap_log(p, spec.max_log_bytes).unwrap_or(false);
        }
        for n in &notes {
            note(&stderr, n);
        }
        Ok(Finished {
            streamed: false,
            exit,
            elapsed: start.elapsed(),
            stdout,
            stderr,
            truncated,
            stop_reason: if exit == Exit::Stopped {
                watching.stop_reason
            } else {
                None
            },
            layers: Vec::new(),
        })
    }
}

impl Runner for ClusterRunner {
    fn name(&self) -> &'static str {
        self.inner.cfg.scheduler.name()
    }

    /// `watch` sees the job's stdout lines as the poller reads them (see the module docs).
    fn run(
        &self,
        spec: &RunSpec,
        cancel: &AtomicBool,
        started: &mut dyn FnMut(Handle),
        watch: Option<LineWatch>,
    ) -> Result<Finished, RunnerError> {
        let inner = &self.inner;
        let start = Instant::now();
        let run_dir_err = |source| RunnerError::RunDir {
            path: spec.run_dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&spec.run_dir).map_err(run_dir_err)?;
        for name in ["stdout.log", "stderr.log"] {
            let _ = std::fs::remove_file(spec.run_dir.join(name));
        }
        let paths = inner.job_paths(spec);
        if inner.cfg.ssh.is_some() {
            inner
                .shell
                .ship(&spec.workdir, &paths.workdir, &paths.run_dir)
                .map_err(|source| RunnerError::Spawn {
                    command: format!("shipping {} by ssh", spec.workdir.display()),
                    source,
                })?;
        }
        let script = inner.script(spec, &paths);
        std::fs::write(spec.run_dir.join("job.sh"), &script).map_err(run_dir_err)?;
        if !inner.take_slot(cancel) {
            return self.wait_skipped(spec, start);
        }
        let result = (|| {
            let id = inner.submit(&script)?;
            started(Handle::Job {
                scheduler: inner.cfg.scheduler.name().into(),
                id: id.clone(),
            });
            self.wait(id, spec, cancel, start, Some((&script, started)), watch)
        })();
        inner.free_slot();
        result
    }

    fn attach(
        &self,
        handle: &Handle,
        spec: &RunSpec,
        cancel: &AtomicBool,
    ) -> Option<Result<Finished, RunnerError>> {
        match handle {
            Handle::Job { scheduler, id } if scheduler == self.inner.cfg.scheduler.name() => {
                if let Err(source) = std::fs::create_dir_all(&spec.run_dir) {
                    return Some(Err(RunnerError::RunDir {
                        path: spec.run_dir.display().to_string(),
                        source,
                    }));
                }
                Some(self.wait(id.clone(), spec, cancel, Instant::now(), None, None))
            }
            _ => None,
        }
    }
}

impl ClusterRunner {
    /// A run cancelled before it could be submitted (waiting for a `max_jobs` slot).
    fn wait_skipped(&self, spec: &RunSpec, start: Instant) -> Result<Finished, RunnerError> {
        let stdout = spec.run_dir.join("stdout.log");
        let stderr = spec.run_dir.join("stderr.log");
        for p in [&stdout, &stderr] {
            let _ = std::fs::File::create(p);
        }
        note(&stderr, "cancelled before the job was submitted");
        Ok(Finished {
            streamed: false,
            exit: Exit::Cancelled,
            elapsed: start.elapsed(),
            stdout,
            stderr,
            truncated: false,
            stop_reason: None,
            layers: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests;
