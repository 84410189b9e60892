//! What the CLI says to do about an engine error, and whether it is the user's input (exit
//! code 2) or a failure (1). The engine's errors say what went wrong; advice that names
//! commands lives here.

use std::path::Path;

use autolab_core::git::GitError;
use autolab_core::ledger::LedgerError;
use autolab_core::lock::LockError;
use autolab_engine::EngineError;

/// Whether this is the user's input being wrong (exit code 2) rather than a failure (1).
pub fn is_usage(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Config(_)
            | EngineError::Usage { .. }
            | EngineError::InvalidTag { .. }
            | EngineError::ConfigChanged { .. }
            | EngineError::Runner { .. }
            | EngineError::TagTaken { .. }
            | EngineError::Git(GitError::NotARepo { .. })
    )
}

/// What to do about it, when there is something to say.
pub fn hint(e: &EngineError) -> Option<String> {
    match e {
        EngineError::Config(e) => e.hint.clone(),
        EngineError::Git(GitError::NotARepo { .. }) => Some(
            "run autolab inside a git repository (`git init && git add -A && git commit -m init`)"
                .into(),
        ),
        EngineError::Git(GitError::NoCommit) => {
            Some("commit your lab first: `git add -A && git commit -m init`".into())
        }
        EngineError::Git(GitError::NotInstalled(_)) => {
            Some("install git (e.g. `apt-get install git`)".into())
        }
        EngineError::Usage { hint, .. } => hint.clone(),
        EngineError::InvalidTag { .. } => Some(
            "a tag is letters, digits, `-`, `_` and `.` (e.g. `nov26`), at most 64 characters, \
             not starting with `.` or `-` and not ending with `.` or `.lock`"
                .into(),
        ),
        EngineError::ConfigChanged { tag, .. } => Some(format!(
            "start a new campaign with another tag (`autolab run --tag {tag}-2`), or put the old values back to resume `{tag}`"
        )),
        EngineError::Runner { .. } => Some(
            "check that the scheduler's commands (sbatch/squeue or bsub/bjobs) work, and ssh if set; `autolab doctor` checks"
                .into(),
        ),
        EngineError::TagTaken { tag, .. } => Some(format!(
            "use a new tag (`autolab run --tag {tag}-2`); the campaign that made these refs ran in another checkout of this repository, or its `.autolab` was moved aside (move it back to resume it). autolab never overwrites them; to reuse the tag, delete them yourself with `git update-ref -d <ref>`"
        )),
        EngineError::Git(GitError::RefMismatch { .. }) => Some(
            "another checkout of this repository (a linked worktree, or a moved `.autolab`) ran this tag and moved the ref; nothing was overwritten. Run that campaign from its own checkout, or start a new campaign with a new tag".into(),
        ),
        EngineError::Locked(LockError::Held { .. }) => Some(
            "wait for it to finish, or stop it (`autolab stop`, Ctrl-C, or kill its pid); `autolab status` in that checkout shows it"
                .into(),
        ),
        EngineError::Ledger(LedgerError::Sqlite { path, .. }) => {
            let dir = Path::new(path).parent().unwrap_or(Path::new("."));
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
            "the lab's command must work unchanged before autolab can improve it; see `autolab show 0`"
                .into(),
        ),
        _ => None,
    }
}
