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

mod follow;
mod lsf;
mod script;
mod slurm;
mod ssh;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::{Exit, Finished, Handle, LineWatch, RunSpec, Runner, RunnerError};
use script::{
    JobPaths, cap_log, job_name, minutes_ceil, note, output_text, render, shell_quote,
    valid_env_name,
};
use ssh::Shell;

/// How often a waiter checks its cancel flag and deadline.
const WAKE: Duration = Duration::from_millis(200);
/// Polls in a row a job may be missing from the scheduler before it counts as lost.
const MAX_MISSES: u32 = 5;
/// How long to wait for a terminal state after cancelling a job.
const STOP_WAIT: Duration = Duration::from_secs(60);
/// How often the cancel command is repeated while waiting for the job to end.
const CANCEL_REPEAT: Duration = Duration::from_secs(10);

/// Which batch scheduler runs the jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduler {
    Slurm,
    Lsf,
}

impl Scheduler {
    /// The name used in [`Handle::Job`]: `slurm` or `lsf`.
    pub fn name(self) -> &'static str {
        match self {
            Scheduler::Slurm => "slurm",
            Scheduler::Lsf => "lsf",
        }
    }
}

/// Where and how cluster jobs are submitted.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub scheduler: Scheduler,
    /// `user@host` or an ssh-config alias of the login node; None submits on this host.
    pub ssh: Option<String>,
    /// Extra arguments for `ssh` and `scp` (e.g. `-p 2222`, `-i key`).
    pub ssh_args: Vec<String>,
    /// With `ssh`: the remote directory holding worktree clones (`<remote_dir>/<experiment>`)
    /// and run directories (`<remote_dir>/runs/…`). Required with `ssh`.
    pub remote_dir: Option<PathBuf>,
    /// Extra arguments for `sbatch` / `bsub` (partition, account, GPUs, …).
    pub submit_args: Vec<String>,
    /// Lines put in the job script before the command (`module load …`, `source venv/…`).
    pub setup: Vec<String>,
    /// How often the scheduler is asked about the active jobs (one call for all of them).
    pub poll_interval: Duration,
    /// Jobs this runner keeps submitted at once; 0 = no limit.
    pub max_jobs: usize,
    /// How often a job ending in NODE_FAIL / PREEMPTED / BOOT_FAIL is submitted again.
    pub resubmit: u32,
    /// Replaces the default job script. Placeholders: `{job_name}`, `{stdout}`, `{stderr}`,
    /// `{minutes}` (time limit), `{workdir}` and `{run_dir}` (raw, for directives),
    /// `{workdir_q}` (shell-quoted), `{env}` (`export` lines), `{setup}`, `{command}` (the
    /// command, shell-quoted, for `exec /bin/sh -c {command}`). Unknown `{…}` are kept as is.
    pub script_template: Option<String>,
    /// Added to `spec.timeout` for the scheduler's time limit and autolab's own deadline.
    pub timeout_margin: Duration,
}

impl ClusterConfig {
    /// Defaults: this host, poll every 10 s, no job limit, 2 resubmissions, 60 s margin.
    pub fn new(scheduler: Scheduler) -> Self {
        ClusterConfig {
            scheduler,
            ssh: None,
            ssh_args: Vec::new(),
            remote_dir: None,
            submit_args: Vec::new(),
            setup: Vec::new(),
            poll_interval: Duration::from_secs(10),
            max_jobs: 0,
            resubmit: 2,
            script_template: None,
            timeout_margin: Duration::from_secs(60),
        }
    }
}

/// A job's state as the poller last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobStatus {
    Pending,
    Running,
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
        !matches!(self, JobStatus::Pending | JobStatus::Running)
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

struct Seen {
    status: JobStatus,
    misses: u32,
    /// The stdout being followed, if the waiter watches it.
    follow: Option<follow::Followed>,
    /// Output read since the waiter last looked.
    fresh: Vec<u8>,
    /// Whether the log grew since the waiter last looked.
    grew: bool,
}

#[derive(Default)]
struct Table {
    jobs: HashMap<String, Seen>,
    poller: bool,
}

/// The jobs being waited for, shared between the waiters and the poller thread.
#[derive(Default)]
struct Tracker {
    table: Mutex<Table>,
    changed: Condvar,
    /// Status queries sent to the scheduler (`squeue`/`bjobs` calls, plus fallbacks).
    queries: AtomicU64,
    /// Poll rounds done.
    polls: AtomicU64,
    /// Shell calls reading followed jobs' logs (one per poll at most).
    log_reads: AtomicU64,
    /// Jobs submitted and not yet finished (for `max_jobs`).
    active: Mutex<usize>,
    slot_freed: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
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

/// Registers `id` with the poller, starting it if none runs; `log` is its stdout to follow.
fn track(inner: &Arc<Inner>, id: &str, log: Option<String>) {
    let mut table = lock(&inner.tracker.table);
    table.jobs.insert(
        id.to_string(),
        Seen {
            status: JobStatus::Pending,
            misses: 0,
            follow: log.map(|path| follow::Followed { path, offset: 0 }),
            fresh: Vec::new(),
            grew: false,
        },
    );
    if !table.poller {
        table.poller = true;
        let inner = Arc::clone(inner);
        std::thread::spawn(move || poll_loop(&inner));
    }
}

/// The one poller of a runner: asks about all tracked jobs at once, until none is left.
fn poll_loop(inner: &Inner) {
    let t = &inner.tracker;
    loop {
        let ids: Vec<String> = {
            let mut table = lock(&t.table);
            if table.jobs.is_empty() {
                table.poller = false;
                return;
            }
            let mut ids: Vec<String> = table
                .jobs
                .iter()
                .filter(|(_, s)| !s.status.is_terminal())
                .map(|(id, _)| id.clone())
                .collect();
            ids.sort();
            ids
        };
        if !ids.is_empty() {
            t.polls.fetch_add(1, Ordering::SeqCst);
            match inner.backend.query(&inner.shell, &ids, &t.queries) {
                Ok(states) => {
                    let mut table = lock(&t.table);
                    for id in &ids {
                        let Some(seen) = table.jobs.get_mut(id) else {
                            continue;
                        };
                        match states.get(id) {
                            Some(s) => {
                                seen.status = s.clone();
                                seen.misses = 0;
                            }
                            None => {
                                seen.misses += 1;
                                if seen.misses >= MAX_MISSES {
                                    seen.status = JobStatus::Lost;
                                }
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!("polling {} jobs failed: {e}", inner.cfg.scheduler.name()),
            }
            read_logs(inner);
            t.changed.notify_all();
        }
        // Sleep, but wake early when the table empties so the thread does not linger.
        let deadline = Instant::now() + inner.cfg.poll_interval;
        let mut table = lock(&t.table);
        while Instant::now() < deadline && !table.jobs.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            table = t
                .changed
                .wait_timeout(table, left.min(WAKE))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

/// Reads what the followed running jobs' logs gained, in one shell call.
fn read_logs(inner: &Inner) {
    let t = &inner.tracker;
    let jobs: Vec<(String, follow::Followed)> = lock(&t.table)
        .jobs
        .iter()
        .filter(|(_, s)| s.status == JobStatus::Running)
        .filter_map(|(id, s)| s.follow.clone().map(|f| (id.clone(), f)))
        .collect();
    if jobs.is_empty() {
        return;
    }
    let offsets: HashMap<String, u64> = jobs.iter().map(|(id, f)| (id.clone(), f.offset)).collect();
    let script = follow::read_script(&jobs);
    let out = match inner.shell.exec(
        &["sh".to_string(), "-s".to_string()],
        Some(script.as_bytes()),
    ) {
        Ok(out) => out,
        Err(e) => {
            tracing::warn!("reading the logs of {} jobs failed: {e}", jobs.len());
            return;
        }
    };
    t.log_reads.fetch_add(1, Ordering::SeqCst);
    let mut table = lock(&t.table);
    for (id, (size, bytes)) in follow::parse_reads(&out.stdout, &offsets) {
        let Some(seen) = table.jobs.get_mut(&id) else {
            continue;
        };
        let Some(f) = seen.follow.as_mut() else {
            continue;
        };
        if size > f.offset {
            seen.grew = true;
            seen.fresh.extend_from_slice(&bytes);
            let excess = seen.fresh.len().saturating_sub(follow::KEEP_CAP);
            seen.fresh.drain(..excess);
        }
        f.offset = size;
    }
}

/// How one submitted job ended, from the waiter's point of view.
enum Outcome {
    Exit(Exit, Option<String>),
    NodeFailure(String),
}

/// What a waiter watches besides the job's state: its stdout lines (early stopping) and its
/// silence (`stall_timeout`).
struct Watching<'a> {
    watch: Option<&'a mut LineWatch>,
    stall: Option<Duration>,
    /// The unfinished last line of the output so far.
    partial: Vec<u8>,
    /// Why the watch asked to stop the job.
    stop_reason: Option<String>,
}

impl Watching<'_> {
    fn follows(&self) -> bool {
        self.watch.is_some() || self.stall.is_some()
    }

    /// Feeds new output to the watch; true once it asked to stop.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        if let Some(w) = self.watch.as_mut() {
            self.partial.extend_from_slice(bytes);
            for line in follow::complete_lines(&mut self.partial) {
                if self.stop_reason.is_none() {
                    self.stop_reason = w(&line);
                }
            }
            self.partial.truncate(64 * 1024);
        }
        self.stop_reason.is_some()
    }
}

/// Waits for job `id` to end, cancelling it on `cancel`, past its deadline, when its watch
/// says so or when it stalls.
fn follow(
    inner: &Arc<Inner>,
    id: &str,
    spec: &RunSpec,
    cancel: &AtomicBool,
    watching: &mut Watching<'_>,
) -> Outcome {
    let log = watching
        .follows()
        .then(|| format!("{}/stdout.log", inner.job_paths(spec).run_dir));
    track(inner, id, log);
    let t = &inner.tracker;
    let limit = spec.timeout + inner.cfg.timeout_margin;
    let mut running_since: Option<Instant> = None;
    let mut last_output: Option<Instant> = None;
    let mut stopping: Option<(Exit, Instant, Instant)> = None; // reason, first, last cancel
    let status = loop {
        let (status, fresh, grew) = {
            let table = lock(&t.table);
            let mut table = t
                .changed
                .wait_timeout(table, WAKE)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
            match table.jobs.get_mut(id) {
                Some(s) => (
                    Some(s.status.clone()),
                    std::mem::take(&mut s.fresh),
                    std::mem::take(&mut s.grew),
                ),
                None => (None, Vec::new(), false),
            }
        };
        let now = Instant::now();
        match status {
            Some(s) if s.is_terminal() => break s,
            Some(JobStatus::Running) => {
                running_since.get_or_insert(now);
                last_output.get_or_insert(now);
            }
            Some(_) => {}
            None => break JobStatus::Lost,
        }
        if grew {
            last_output = Some(now);
        }
        let watch_stops = watching.feed(&fresh);
        match &mut stopping {
            None => {
                let reason = if cancel.load(Ordering::SeqCst) {
                    Some(Exit::Cancelled)
                } else if running_since.is_some_and(|s| now.duration_since(s) >= limit) {
                    Some(Exit::TimedOut)
                } else if watch_stops {
                    Some(Exit::Stopped)
                } else if watching
                    .stall
                    .zip(last_output)
                    .is_some_and(|(st, last)| now.duration_since(last) > st)
                {
                    Some(Exit::Stalled)
                } else {
                    None
                };
                if let Some(r) = reason {
                    inner.cancel_job(id);
                    stopping = Some((r, now, now));
                }
            }
            Some((reason, first, last)) => {
                if now.duration_since(*first) >= STOP_WAIT {
                    let r = *reason;
                    lock(&t.table).jobs.remove(id);
                    return Outcome::Exit(
                        r,
                        Some(format!(
                            "job {id} did not end within {}s of being cancelled",
                            STOP_WAIT.as_secs()
                        )),
                    );
                }
                if now.duration_since(*last) >= CANCEL_REPEAT {
                    inner.cancel_job(id);
                    *last = now;
                }
            }
        }
    };
    lock(&t.table).jobs.remove(id);
    t.changed.notify_all();
    if let Some((reason, _, _)) = stopping
        && status != JobStatus::Done(Exit::Code(0))
    {
        return Outcome::Exit(reason, None);
    }
    match status {
        JobStatus::Done(e) => Outcome::Exit(e, None),
        JobStatus::Cancelled => Outcome::Exit(
            Exit::Code(1),
            Some(format!("job {id} was cancelled outside autolab")),
        ),
        JobStatus::NodeFailure(s) => Outcome::NodeFailure(s),
        JobStatus::Lost => Outcome::Exit(
            Exit::Code(-1),
            Some(format!("job {id} vanished from the scheduler")),
        ),
        JobStatus::Pending | JobStatus::Running => Outcome::Exit(Exit::Code(-1), None),
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
            match follow(inner, &id, spec, cancel, &mut watching) {
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
