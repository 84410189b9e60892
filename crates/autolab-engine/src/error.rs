use std::path::Path;

use autolab_core::config::ConfigError;
use autolab_core::git::GitError;
use autolab_core::ledger::LedgerError;
use autolab_core::lock::LockError;

/// What can stop the engine. Experiment failures are verdicts, never errors. Errors say what
/// went wrong; what to do about it is for the program that shows them (the CLI's hints).
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
    /// The lab's setup is wrong in a way the engine found (the hint says how to fix it in
    /// the lab, never which command to run).
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
    #[error("invalid tag `{tag}`{}", refused.as_ref().map(|r| format!(": git refuses the ref name `{r}`")).unwrap_or_default())]
    InvalidTag {
        tag: String,
        /// The ref name git refuses, when that is why.
        refused: Option<String>,
    },
    /// The cluster runner `[runner]` names cannot start.
    #[error("[runner]: {source}")]
    Runner {
        #[source]
        source: autolab_runner::RunnerError,
    },
    /// What defines the campaign changed in the config since it started.
    #[error(
        "{path} changed since campaign `{tag}` started, so its verdicts would not compare:\n{}",
        changes.iter().map(|c| format!("  {c}")).collect::<Vec<_>>().join("\n")
    )]
    ConfigChanged {
        path: String,
        tag: String,
        changes: Vec<String>,
    },
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
}
