use std::path::Path;

use autolab_core::config::ConfigError;
use autolab_core::git::GitError;
use autolab_core::ledger::LedgerError;
use autolab_core::lock::LockError;

/// What can stop the engine. Experiment failures are verdicts, never errors.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Locked(#[from] LockError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },
    #[error(
        "tag `{tag}` already has git refs from a campaign this lab's ledger does not know: {}",
        refs.join(", ")
    )]
    TagTaken { tag: String, refs: Vec<String> },
    #[error("the baseline (experiment #0) {verdict}: {reason}")]
    BaselineFailed {
        verdict: String,
        reason: String,
        log: Option<String>,
    },
}

impl EngineError {
    pub fn io(path: &Path, source: std::io::Error) -> EngineError {
        EngineError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    pub fn usage(message: impl Into<String>, hint: Option<&str>) -> EngineError {
        EngineError::Usage {
            message: message.into(),
            hint: hint.map(str::to_string),
        }
    }

    /// What to do about it, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            EngineError::Config(e) => e.hint.clone(),
            EngineError::Git(GitError::NotARepo { .. }) => {
                Some("run autolab inside a git repository (`git init && git add -A && git commit -m init`)".into())
            }
            EngineError::Git(GitError::NoCommit) => Some("commit your lab first: `git add -A && git commit -m init`".into()),
            EngineError::Git(GitError::NotInstalled(_)) => Some("install git (e.g. `apt-get install git`)".into()),
            EngineError::Usage { hint, .. } => hint.clone(),
            EngineError::TagTaken { tag, .. } => Some(format!(
                "use a new tag (`autolab run --tag {tag}-2`); the campaign that made these refs ran in another checkout of this repository, or its `.autolab` was moved aside (move it back to resume it). autolab never overwrites them; to reuse the tag, delete them yourself with `git update-ref -d <ref>`"
            )),
            EngineError::Git(GitError::RefMismatch { .. }) => Some(
                "another checkout of this repository (a linked worktree, or a moved `.autolab`) ran this tag and moved the ref; nothing was overwritten. Run that campaign from its own checkout, or start a new campaign with a new tag".into(),
            ),
            EngineError::Locked(LockError::Held { .. }) => {
                Some("wait for it to finish, or stop it (Ctrl-C, or kill its pid); `autolab status` in that checkout shows it".into())
            }
            EngineError::Ledger(LedgerError::Sqlite { path, .. }) => {
                let dir = std::path::Path::new(path).parent().unwrap_or(std::path::Path::new("."));
                match autolab_runner::free_bytes(dir) {
                    Some(free) if free < 1 << 20 => Some(format!(
                        "the disk holding {} is full ({} KiB free): free some space, then run the same command again; nothing recorded was lost",
                        dir.display(),
                        free / 1024
                    )),
                    _ => Some(format!(
                        "check that {} is writable and has free space; nothing recorded was lost",
                        dir.display()
                    )),
                }
            }
            EngineError::BaselineFailed { .. } => Some(
                "the lab's command must work unchanged before autolab can improve it; see `autolab show 0`".into(),
            ),
            _ => None,
        }
    }

    /// Whether this is the user's input being wrong (exit code 2) rather than a failure (1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            EngineError::Config(_)
                | EngineError::Usage { .. }
                | EngineError::TagTaken { .. }
                | EngineError::Git(GitError::NotARepo { .. })
        )
    }
}
