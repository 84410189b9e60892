//! Where autolab's runs execute. One trait, [`Runner`]; this crate has the local runner.
//!
//! A runner takes a [`RunSpec`] (worktree, command, environment, limits), executes it, and
//! reports how it ended. It never decides verdicts: that is the engine's job.

pub mod cluster;
mod env;
mod local;
mod logs;
mod orphans;
pub mod sandbox;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use cluster::{ClusterConfig, ClusterRunner, Scheduler};
pub use env::allowed_env;
pub use local::{LocalRunner, disk_usage};
pub use orphans::kill_run_processes;
pub use sandbox::{Layer, SandboxSpec};

/// One execution of the lab's command.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The shell command, run by `sh -c`.
    pub command: String,
    /// The experiment's worktree: the command's working directory.
    pub workdir: PathBuf,
    /// Where logs and outputs of this run go.
    pub run_dir: PathBuf,
    /// The whole environment of the command (nothing else is inherited).
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Bytes kept per output stream; beyond it the head and the tail are kept.
    pub max_log_bytes: u64,
    /// Sandbox layers; None runs the command plainly.
    pub sandbox: Option<SandboxSpec>,
    /// Kill the run when it prints nothing for this long.
    pub stall_timeout: Option<Duration>,
    /// Kill the run when the directories in `disk_watch` hold more than this.
    pub max_disk_bytes: Option<u64>,
    pub disk_watch: Vec<PathBuf>,
    /// Sees every line of both streams as it is printed, also those the log cap drops.
    pub line_sink: Option<LineSink>,
}

/// Something that reads each line a run prints (stdout and stderr), e.g. to parse metrics
/// from the whole stream rather than from the capped log.
#[derive(Clone)]
pub struct LineSink(pub std::sync::Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for LineSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LineSink")
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Exited by itself with this code.
    Code(i32),
    /// Killed by a signal it did not get from us.
    Signal(i32),
    /// Ran past its timeout and was killed.
    TimedOut,
    /// Stopped because the campaign was stopped.
    Cancelled,
    /// Stopped because its output watcher asked (e.g. early stopping); see `Finished::stop_reason`.
    Stopped,
    /// Printed nothing for `stall_timeout`.
    Stalled,
    /// Wrote more than `max_disk_bytes`.
    DiskExceeded,
}

impl Exit {
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

#[derive(Debug, Clone)]
pub struct Finished {
    pub exit: Exit,
    pub elapsed: Duration,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    /// Whether a log hit its size cap (its middle was dropped).
    pub truncated: bool,
    /// Why the watcher stopped the run.
    pub stop_reason: Option<String>,
    /// The sandbox layers and whether each was active (empty when not sandboxed).
    pub layers: Vec<Layer>,
    /// Whether `spec.line_sink` saw every line the run printed.
    pub streamed: bool,
}

/// Sees each line of a run's stdout as it is printed; returning a reason stops the run.
pub type LineWatch = Box<dyn FnMut(&str) -> Option<String> + Send>;

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("cannot prepare run dir {path}: {source}")]
    RunDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
}

/// How a started run can be found again, also after autolab restarts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Handle {
    /// A local process group.
    Pid(u32),
    /// A cluster job: the scheduler (`slurm`, `lsf`) and its job id.
    Job { scheduler: String, id: String },
}

/// Somewhere runs execute.
pub trait Runner: Send + Sync {
    fn name(&self) -> &'static str;

    /// Executes `spec` until it ends, times out, or `cancel` becomes true. `started` is told how
    /// to find the run (process group or job id) as soon as it exists, so it can be recorded
    /// before waiting.
    fn run(
        &self,
        spec: &RunSpec,
        cancel: &AtomicBool,
        started: &mut dyn FnMut(Handle),
        watch: Option<LineWatch>,
    ) -> Result<Finished, RunnerError>;

    /// Waits for a run started by an earlier autolab process, if this runner can (cluster jobs
    /// outlive autolab; local processes die with it, so the local runner cannot).
    fn attach(
        &self,
        _handle: &Handle,
        _spec: &RunSpec,
        _cancel: &AtomicBool,
    ) -> Option<Result<Finished, RunnerError>> {
        None
    }
}

/// Bytes available to unprivileged users on the filesystem holding `path`.
pub fn free_bytes(path: &std::path::Path) -> Option<u64> {
    let s = nix::sys::statvfs::statvfs(path).ok()?;
    Some(s.blocks_available() as u64 * s.fragment_size() as u64)
}
