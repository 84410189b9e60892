//! Where autolab keeps its state in a lab, in one place: `.autolab/` (ledger, lock, worktrees,
//! run dirs, steering notes, playbook, probes) and `results.tsv` at the root. No config is
//! needed, so read-only commands use it too.

use std::path::{Path, PathBuf};

/// The state directory's name at a lab's root.
pub const STATE_DIR: &str = ".autolab";

/// The paths of the lab whose root is `root`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatePaths {
    root: PathBuf,
}

impl StatePaths {
    pub fn new(root: &Path) -> StatePaths {
        StatePaths {
            root: root.to_path_buf(),
        }
    }

    pub fn state_dir(&self) -> PathBuf {
        self.root.join(STATE_DIR)
    }

    pub fn ledger(&self) -> PathBuf {
        self.state_dir().join("ledger.db")
    }

    /// Held by the live `autolab run` (or `forget`) of this lab.
    pub fn lock(&self) -> PathBuf {
        self.state_dir().join("lock")
    }

    /// The steering notes `autolab steer` writes.
    pub fn steering(&self) -> PathBuf {
        self.state_dir().join("steering.md")
    }

    pub fn playbook(&self) -> PathBuf {
        self.state_dir().join("playbook.md")
    }

    /// The explorer's research brief (the user may edit it; each edit is a new version).
    pub fn brief(&self) -> PathBuf {
        self.state_dir().join("brief.md")
    }

    /// Where the explorer's commands run.
    pub fn explore_dir(&self) -> PathBuf {
        self.state_dir().join("explore")
    }

    /// Where `init --probe` tries the lab's command.
    pub fn probes(&self) -> PathBuf {
        self.state_dir().join("probe")
    }

    /// A campaign's worktrees.
    pub fn worktrees(&self, tag: &str) -> PathBuf {
        self.state_dir().join("worktrees").join(tag)
    }

    pub fn worktree(&self, tag: &str, number: u32) -> PathBuf {
        self.worktrees(tag).join(format!("{number:04}"))
    }

    /// Worktrees made ahead of time, ready for the next experiments.
    pub fn spare_worktrees(&self) -> PathBuf {
        self.state_dir().join("worktrees").join(".spare")
    }

    /// A campaign's run dirs.
    pub fn runs(&self, tag: &str) -> PathBuf {
        self.state_dir().join("runs").join(tag)
    }

    pub fn run_dir(&self, tag: &str, number: u32, run: u32) -> PathBuf {
        self.runs(tag)
            .join(format!("{number:04}"))
            .join(run.to_string())
    }

    /// autoresearch's results file, at the lab's root.
    pub fn results_tsv(&self) -> PathBuf {
        self.root.join("results.tsv")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout() {
        let p = StatePaths::new(Path::new("/lab"));
        assert_eq!(p.ledger(), Path::new("/lab/.autolab/ledger.db"));
        assert_eq!(
            p.worktree("t", 7),
            Path::new("/lab/.autolab/worktrees/t/0007")
        );
        assert_eq!(
            p.run_dir("t", 7, 2),
            Path::new("/lab/.autolab/runs/t/0007/2")
        );
        assert_eq!(
            p.spare_worktrees(),
            Path::new("/lab/.autolab/worktrees/.spare")
        );
        assert_eq!(p.results_tsv(), Path::new("/lab/results.tsv"));
    }
}
