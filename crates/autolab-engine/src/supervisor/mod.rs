//! The supervisor: what is wrong with a live campaign, in words. When runs fail in a row it
//! finds their common cause — by rules (the error line the log tails share, their exit codes,
//! timeouts), and with an LLM when one is configured — so the campaign pauses with a
//! diagnosis instead of burning its budget; it also watches the disk.

mod llm;
pub mod pace;
mod rules;

pub use llm::{DIAGNOSIS_ROLE, llm_diagnosis};
pub use rules::{error_line, rule_diagnosis};

use serde::{Deserialize, Serialize};

/// The event a diagnosis is recorded as (campaign events), newest first wins.
pub const DIAGNOSIS_EVENT: &str = "diagnosis";

/// One failed experiment as the supervisor sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub number: u32,
    /// `crashed` or `timeout`.
    pub verdict: String,
    pub reason: String,
    pub exit_code: Option<i32>,
    pub log_tail: String,
}

/// What the supervisor concluded, as stored in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// What set it off: `crash_streak`, `identical_failures` or `disk_low`.
    pub trigger: String,
    /// The common cause, one sentence.
    pub cause: String,
    /// What to do about it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
    /// The lines it rests on (the shared error line, the exit codes).
    #[serde(default)]
    pub evidence: Vec<String>,
    /// The experiments it is about.
    #[serde(default)]
    pub experiments: Vec<u32>,
    /// `rules` or `llm`.
    pub by: String,
}

impl Diagnosis {
    /// One line for a person: the cause, then the advice.
    pub fn line(&self) -> String {
        match &self.advice {
            Some(a) => format!("{} — {}", self.cause, a),
            None => self.cause.clone(),
        }
    }
}

pub use autolab_runner::free_bytes;

/// The floor the disk watch keeps when `min_free_disk_mb` is unset: 1 GiB, or 2 % of the
/// file system when that is less (a small disk is not full at 1 GiB free).
fn default_floor(path: &std::path::Path) -> Option<u64> {
    let s = nix::sys::statvfs::statvfs(path).ok()?;
    let size = s.blocks() as u64 * s.fragment_size() as u64;
    Some((1u64 << 30).min(size / 50))
}

/// The disk watch: a diagnosis when less than `min_mb` MiB (unset: [`default_floor`]) are
/// free at `path`; 0 turns it off.
pub fn disk_diagnosis(path: &std::path::Path, min_mb: Option<u64>) -> Option<Diagnosis> {
    let floor = match min_mb {
        Some(0) => return None,
        Some(mb) => mb << 20,
        None => default_floor(path)?,
    };
    let free = free_bytes(path)?;
    (free < floor).then(|| Diagnosis {
        trigger: "disk_low".into(),
        cause: format!(
            "the disk holding the lab is nearly full: {} MiB free, under the floor of {} MiB ([supervisor] min_free_disk_mb)",
            free >> 20,
            floor >> 20
        ),
        advice: Some(
            "free space (old run directories under .autolab/runs, worktrees), then `autolab run` again; lower [supervisor] min_free_disk_mb to go on as is"
                .into(),
        ),
        evidence: vec![format!("{} bytes free at {}", free, path.display())],
        experiments: vec![],
        by: "rules".into(),
    })
}

#[cfg(test)]
mod tests;
