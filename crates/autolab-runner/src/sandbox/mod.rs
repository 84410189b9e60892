//! Sandbox layers for local runs, each best-effort and reported, never silently assumed:
//! a pids cgroup (fork bombs; every descendant found and killed), a PID namespace whose init
//! reaps and, on exit, kills everything the run started (also `setsid` daemons), a mount
//! namespace with a fresh `/proc` and private `/tmp`, `/run` and `/dev/shm`, own UTS and IPC
//! namespaces, a network namespace with only loopback up, rlimits (processes, file size, core
//! dumps, address space), no-new-privileges, Landlock write rules, and no capabilities.
//!
//! The namespaced part runs in a helper process (`autolab __sandbox …`, see [`helper_main`]),
//! because setting up namespaces and Landlock between fork and exec of a multi-threaded
//! program is unsafe; the helper is single-threaded.

mod caps;
mod cgroup;
mod helper;
mod landlock;
mod mounts;
mod netns;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use cgroup::PidsCgroup;
pub use helper::helper_main;

/// The argument that makes the autolab binary act as the sandbox helper.
pub const HELPER_ARG: &str = "__sandbox";

/// What a run's sandbox should be.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SandboxSpec {
    /// The program that acts as the helper (the autolab binary), called with [`HELPER_ARG`].
    pub helper: PathBuf,
    /// Landlock: writes only beneath these directories (plus device files).
    pub landlock: bool,
    pub writable: Vec<PathBuf>,
    /// A new network namespace with only loopback.
    pub network_none: bool,
    /// Processes at once (pids cgroup, else RLIMIT_NPROC where it applies).
    pub max_procs: Option<u64>,
    /// Largest file a run may write (RLIMIT_FSIZE).
    pub max_file_bytes: Option<u64>,
    /// Address space (RLIMIT_AS), off unless set.
    pub max_address_space: Option<u64>,
    /// Paths the run must still see beneath the private `/tmp`, `/run` and `/dev/shm` (its
    /// working directory, the writable ones, PATH and HOME are kept without being named).
    #[serde(default)]
    pub visible: Vec<PathBuf>,
    /// Files and directories mounted read-only for the run (the worktree's `.git` file).
    #[serde(default)]
    pub read_only: Vec<PathBuf>,
    /// Size of each private tmpfs (`/tmp`, `/run`, `/dev/shm`); the kernel's default if None.
    #[serde(default)]
    pub private_tmp_bytes: Option<u64>,
}

/// One layer and whether it is active for a run, with why not.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Layer {
    pub name: String,
    pub active: bool,
    pub detail: String,
}

impl Layer {
    pub fn on(name: &str, detail: impl Into<String>) -> Layer {
        Layer {
            name: name.into(),
            active: true,
            detail: detail.into(),
        }
    }

    pub fn off(name: &str, detail: impl Into<String>) -> Layer {
        Layer {
            name: name.into(),
            active: false,
            detail: detail.into(),
        }
    }
}

/// What the helper is told, as its one JSON argument.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HelperArgs {
    pub spec: SandboxSpec,
    /// The pids cgroup's `cgroup.procs` to join first, if the runner made one.
    pub cgroup_procs: Option<PathBuf>,
    /// Where the helper writes the layers it set up (JSON), before the command starts.
    pub report: PathBuf,
}
