//! Where autolab's runs execute. One trait, [`Runner`]; this crate has the local runner.
//!
//! A runner takes a [`RunSpec`] (worktree, command, environment, limits), executes it, and
//! reports how it ended. It never decides verdicts: that is the engine's job.

mod env;
mod local;
mod logs;
mod orphans;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use env::allowed_env;
pub use local::LocalRunner;
pub use orphans::kill_run_processes;

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
}

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

/// Somewhere runs execute.
pub trait Runner: Send + Sync {
    fn name(&self) -> &'static str;

    /// Executes `spec` until it ends, times out, or `cancel` becomes true. `started` is told the
    /// process (group) id as soon as the command runs, so it can be recorded before waiting.
    fn run(
        &self,
        spec: &RunSpec,
        cancel: &AtomicBool,
        started: &mut dyn FnMut(u32),
    ) -> Result<Finished, RunnerError>;
}
