//! Experiment worktrees, recycled: a finished experiment's worktree is moved to a spare pool
//! (at most one per slot) and the next experiment moves it to its own path and checks out its
//! commit, touching only the files that differ. In a repository of tens of thousands of files
//! this turns seconds of `git worktree add` into milliseconds. Spares are removed when the
//! campaign ends.

use std::path::PathBuf;

use autolab_core::git;

use crate::EngineError;
use crate::lab::Lab;

/// A campaign's experiment worktrees and their spare pool (one part of the loop, with one job).
pub(super) struct Worktrees<'a> {
    pub lab: &'a Lab,
    pub tag: String,
    /// How many spares to keep: one per slot.
    pub keep: usize,
}

impl Worktrees<'_> {
    fn spare_dir(&self) -> PathBuf {
        self.lab.paths().spare_worktrees()
    }

    fn spares(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.spare_dir())
            .map(|it| {
                it.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.join(".git").exists())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Gives experiment `number` a worktree at its path with `commit` checked out on its branch.
    pub(super) fn checkout(&self, number: u32, commit: &str) -> Result<(), EngineError> {
        let path = self.lab.worktree(&self.tag, number);
        let branch = git::experiment_branch(&self.tag, number);
        let repo = &self.lab.repo;
        if path.join(".git").exists() && repo.reset_worktree(&path, &branch, commit).is_ok() {
            return Ok(());
        }
        for spare in self.spares() {
            if repo.move_worktree(&spare, &path).is_ok()
                && repo.reset_worktree(&path, &branch, commit).is_ok()
            {
                return Ok(());
            }
            // A spare that cannot be used is dropped.
            repo.remove_worktree(&spare)?;
            repo.remove_worktree(&path)?;
        }
        Ok(repo.add_worktree(&path, &branch, commit)?)
    }

    /// Takes experiment `number`'s worktree away from its path: into the spare pool when it has
    /// room, else removed.
    pub(super) fn release(&self, number: u32) -> Result<(), EngineError> {
        let path = self.lab.worktree(&self.tag, number);
        let repo = &self.lab.repo;
        // A spare keeps none of what its run wrote (a disk filler's files must not linger).
        if path.join(".git").exists()
            && self.spares().len() < self.keep
            && repo
                .worktree(&path)
                .and_then(|w| w.run(&["clean", "-ffdxq"]))
                .is_ok()
        {
            let spare = self.spare_dir().join(format!("{}-{number:04}", self.tag));
            if repo.move_worktree(&path, &spare).is_ok() {
                return Ok(());
            }
        }
        Ok(repo.remove_worktree(&path)?)
    }

    /// Removes the spare pool.
    pub(super) fn drop_spares(&self) -> Result<(), EngineError> {
        for spare in self.spares() {
            self.lab.repo.remove_worktree(&spare)?;
        }
        let _ = std::fs::remove_dir(self.spare_dir());
        Ok(())
    }
}
