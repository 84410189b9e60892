//! A lab: the user's git repository with an `autolab.toml` at its root, and autolab's paths in it.

use std::io::Write;
use std::path::{Path, PathBuf};

use autolab_core::StatePaths;
use autolab_core::config::Config;
use autolab_core::git::Repo;

use crate::EngineError;

#[derive(Debug, Clone)]
pub struct Lab {
    pub root: PathBuf,
    pub repo: Repo,
    pub config: Config,
    /// The config file's text, stored with a new campaign.
    pub config_text: String,
}

impl Lab {
    /// Opens the lab containing `dir`: its git repository and its validated config.
    pub fn open(dir: &Path) -> Result<Lab, EngineError> {
        let repo = Repo::discover(dir)?;
        let root = repo.root.clone();
        let config = Config::load_lab(&root)?;
        let config_text = std::fs::read_to_string(&config.path).unwrap_or_default();
        Ok(Lab {
            root,
            repo,
            config,
            config_text,
        })
    }

    /// Where autolab keeps its state in this lab.
    pub fn paths(&self) -> StatePaths {
        StatePaths::new(&self.root)
    }

    pub fn state_dir(&self) -> PathBuf {
        self.paths().state_dir()
    }

    pub fn ledger_path(&self) -> PathBuf {
        self.paths().ledger()
    }

    pub fn lock_path(&self) -> PathBuf {
        self.paths().lock()
    }

    /// The lock every checkout of the repository shares: in the common git dir (not named
    /// `*.lock`, which git and autolab take for their own stale lock files).
    pub fn repo_lock_path(&self) -> PathBuf {
        self.repo.git_dir.join("autolab-run-lock")
    }

    pub fn worktree(&self, tag: &str, number: u32) -> PathBuf {
        self.paths().worktree(tag, number)
    }

    pub fn run_dir(&self, tag: &str, number: u32, run: u32) -> PathBuf {
        self.paths().run_dir(tag, number, run)
    }

    pub fn results_path(&self) -> PathBuf {
        self.paths().results_tsv()
    }

    /// Creates `.autolab/` and git-ignores it and `results.tsv` through `.git/info/exclude`
    /// (tracked files, `.gitignore` included, are never edited).
    pub fn prepare_state_dir(&self) -> Result<(), EngineError> {
        std::fs::create_dir_all(self.state_dir())
            .map_err(|e| EngineError::io(&self.state_dir(), e))?;
        exclude(&self.repo, &[".autolab/", "/results.tsv"])
            .map_err(|e| EngineError::io(&self.repo.git_dir, e))
    }
}

/// Adds patterns to `.git/info/exclude` unless already there.
pub fn exclude(repo: &Repo, patterns: &[&str]) -> std::io::Result<()> {
    let path = repo.git_dir.join("info").join("exclude");
    std::fs::create_dir_all(path.parent().unwrap_or(&repo.git_dir))?;
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    let missing: Vec<&&str> = patterns
        .iter()
        .filter(|p| !existing.lines().any(|l| l.trim() == **p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)?;
    if !existing.is_empty() && !existing.ends_with('\n') {
        writeln!(f)?;
    }
    writeln!(f, "# autolab")?;
    for p in missing {
        writeln!(f, "{p}")?;
    }
    Ok(())
}
