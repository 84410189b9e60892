//! What a cluster runner is told: which scheduler, where jobs are submitted, and how.

use std::path::PathBuf;
use std::time::Duration;

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
