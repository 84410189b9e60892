//! The git model (DESIGN.md "Git model"), through the git CLI.
//!
//! autolab's git never trusts what a run could have written. Every command gets a fixed
//! identity, no prompts, and [`HARDENING`]: no hooks, no fsmonitor, no signing, no submodule
//! recursion. In an experiment's worktree git is pointed at the git dir and work tree autolab
//! recorded ([`Worktree`]), never at the worktree's `.git` file, which a run can rewrite. The
//! user's checkout (its HEAD, index and files) is never touched: autolab works only in its own
//! worktrees and refs, and moves refs only by compare-and-swap ([`refs`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod merge;
mod pattern;
pub mod refs;
mod tag;
mod worktree;

pub use pattern::path_matches;
pub use refs::Expect;
pub use tag::{refs_git_refuses, valid_tag};
pub use worktree::Worktree;

/// A git failure: the command, and what git said.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git is not installed or not runnable: {0}")]
    NotInstalled(#[source] std::io::Error),
    #[error("a git argument could not be passed: {0}")]
    BadArgument(String),
    #[error("`{dir}` is not inside a git repository")]
    NotARepo { dir: PathBuf },
    #[error("the repository has no commit yet")]
    NoCommit,
    #[error("`git {args}` failed: {stderr}")]
    Failed { args: String, stderr: String },
    #[error("worktree {path} is gone")]
    WorktreeGone { path: PathBuf },
    #[error("{path} is not one of this repository's worktrees")]
    NotAWorktree { path: PathBuf },
    #[error("cannot restore the `.git` file of worktree {path}: {source}")]
    GitFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "ref `{name}` is at {}, but the ledger expected {}; autolab does not overwrite it",
        describe(found.as_deref()),
        describe(expected.as_deref())
    )]
    RefMismatch {
        name: String,
        /// What the ledger recorded (None: the ref must not exist).
        expected: Option<String>,
        /// What the ref is now (None: it does not exist).
        found: Option<String>,
    },
}

fn describe(oid: Option<&str>) -> String {
    match oid {
        Some(o) => format!("commit {}", &o[..o.len().min(12)]),
        None => "nothing (no such ref)".into(),
    }
}

/// Config every git call of autolab runs with, over whatever the repository's config says.
/// Command-line config is passed on to git's child processes too (`GIT_CONFIG_PARAMETERS`).
pub const HARDENING: &[&str] = &[
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "tag.gpgsign=false",
    "-c",
    "submodule.recurse=false",
    "-c",
    "core.untrackedCache=false",
    "-c",
    "user.name=autolab",
    "-c",
    "user.email=autolab@localhost",
];

/// The incumbent line of a campaign.
pub fn incumbent_branch(tag: &str) -> String {
    format!("autolab/{tag}")
}

/// An experiment's own branch. Not `autolab/<tag>/<NNNN>`: git cannot hold a branch
/// `autolab/<tag>` and branches below it at once, so experiments live under `autolab-exp/`.
pub fn experiment_branch(tag: &str, number: u32) -> String {
    format!("autolab-exp/{tag}/{number:04}")
}

/// Where a not-kept experiment's commit stays reachable.
pub fn archive_ref(tag: &str, number: u32) -> String {
    format!("refs/autolab/{tag}/archive/{number:04}")
}

#[derive(Debug, Clone)]
pub struct Repo {
    /// The top level of the user's checkout.
    pub root: PathBuf,
    /// The common git dir (`.git` of the main worktree).
    pub git_dir: PathBuf,
}

impl Repo {
    /// Finds the repository containing `dir`.
    pub fn discover(dir: &Path) -> Result<Repo, GitError> {
        let out = git_output(
            &Location::Dir(dir),
            &["rev-parse", "--show-toplevel", "--git-common-dir"],
        )?;
        if !out.status.success() {
            return Err(GitError::NotARepo {
                dir: dir.to_path_buf(),
            });
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let root = PathBuf::from(lines.next().unwrap_or_default());
        let common = PathBuf::from(lines.next().unwrap_or_default());
        let git_dir = if common.is_absolute() {
            common
        } else {
            dir.join(common)
        };
        let git_dir = git_dir.canonicalize().unwrap_or(git_dir);
        Ok(Repo { root, git_dir })
    }

    pub fn run(&self, args: &[&str]) -> Result<String, GitError> {
        run_at(&Location::Dir(&self.root), args)
    }

    pub fn head(&self) -> Result<String, GitError> {
        self.rev_parse("HEAD").ok_or(GitError::NoCommit)
    }

    /// The commit a revision names, if any.
    pub fn rev_parse(&self, rev: &str) -> Option<String> {
        let spec = format!("{rev}^{{commit}}");
        self.run(&["rev-parse", "--verify", "--quiet", &spec])
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// The blob id of `path` at `commit`, or None when the file is absent.
    pub fn blob(&self, commit: &str, path: &str) -> Option<String> {
        let spec = format!("{commit}:{path}");
        self.run(&["rev-parse", "--verify", "--quiet", &spec])
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// Files tracked at `commit`.
    pub fn files_at(&self, commit: &str) -> Result<Vec<String>, GitError> {
        let out = self.run(&["ls-tree", "-r", "-z", "--name-only", commit])?;
        Ok(out
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect())
    }

    pub fn delete_ref(&self, name: &str) -> Result<(), GitError> {
        if self.rev_parse(name).is_some() {
            self.run(&["update-ref", "-d", name])?;
        }
        Ok(())
    }

    /// Creates (or resets) `branch` at `commit`, checked out in a new worktree at `path`.
    pub fn add_worktree(&self, path: &Path, branch: &str, commit: &str) -> Result<(), GitError> {
        if path.exists() {
            self.remove_worktree(path)?;
        }
        let p = path.to_string_lossy();
        self.run(&[
            "worktree", "add", "--quiet", "--force", "-B", branch, &p, commit,
        ])
        .map(|_| ())
    }

    /// Points an existing worktree at `commit` on `branch` (created or reset), and makes its
    /// files exactly the commit's: changed files are rewritten, untracked and ignored ones go.
    /// Only the files that differ are touched, so this is fast in large repositories.
    pub fn reset_worktree(&self, path: &Path, branch: &str, commit: &str) -> Result<(), GitError> {
        let wt = self.worktree(path)?;
        wt.run(&["checkout", "--quiet", "--force", "-B", branch, commit])?;
        wt.run(&["clean", "-ffdxq"]).map(|_| ())
    }

    /// Moves a worktree to `to` (its parent is created), detached from its branch.
    pub fn move_worktree(&self, from: &Path, to: &Path) -> Result<(), GitError> {
        // Detached by moving HEAD alone: the index and files (which the last run may have
        // filled with anything) are not read.
        let wt = self.worktree(from)?;
        let head = wt.run(&["rev-parse", "--verify", "HEAD^{commit}"])?;
        wt.run(&["update-ref", "--no-deref", "HEAD", head.trim()])?;
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| GitError::Failed {
                args: format!("mkdir {}", parent.display()),
                stderr: e.to_string(),
            })?;
        }
        let (f, t) = (from.to_string_lossy(), to.to_string_lossy());
        self.run(&["worktree", "move", &f, &t]).map(|_| ())
    }

    /// Removes a worktree (also one deleted by hand) and forgets it.
    pub fn remove_worktree(&self, path: &Path) -> Result<(), GitError> {
        if path.exists() {
            let p = path.to_string_lossy();
            if self
                .run(&["worktree", "remove", "--force", "--force", &p])
                .is_err()
            {
                std::fs::remove_dir_all(path).map_err(|e| GitError::Failed {
                    args: format!("worktree remove {p}"),
                    stderr: e.to_string(),
                })?;
            }
        }
        self.run(&["worktree", "prune"]).map(|_| ())
    }

    pub fn delete_branch(&self, branch: &str) -> Result<(), GitError> {
        self.delete_ref(&format!("refs/heads/{branch}"))
    }

    /// Removes lock files that only autolab takes: its worktrees' index locks and its refs' locks.
    /// Call only while holding the lab lock. Returns what was removed.
    pub fn remove_stale_locks(&self) -> Vec<PathBuf> {
        let mut removed = Vec::new();
        let mut candidates = Vec::new();
        if let Ok(entries) = std::fs::read_dir(self.git_dir.join("worktrees")) {
            for e in entries.flatten() {
                candidates.push(e.path().join("index.lock"));
                candidates.push(e.path().join("HEAD.lock"));
            }
        }
        for dir in [
            "refs/heads/autolab",
            "refs/heads/autolab-exp",
            "refs/autolab",
        ] {
            collect_locks(&self.git_dir.join(dir), &mut candidates);
        }
        for c in candidates {
            let ours = c.starts_with(self.git_dir.join("refs"))
                || std::fs::read_to_string(c.with_file_name("gitdir"))
                    .is_ok_and(|g| g.contains("/.autolab/worktrees/"));
            if ours && c.is_file() && std::fs::remove_file(&c).is_ok() {
                removed.push(c);
            }
        }
        removed
    }

    /// Files changed between two commits.
    pub fn changed_files(&self, from: &str, to: &str) -> Result<Vec<String>, GitError> {
        let out = self.run(&[
            "diff",
            "--no-ext-diff",
            "--no-textconv",
            "--name-only",
            "--no-renames",
            "-z",
            from,
            to,
        ])?;
        Ok(out
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// Lines added and removed between two commits.
    pub fn line_counts(&self, from: &str, to: &str) -> Result<(u64, u64), GitError> {
        let out = self.run(&[
            "diff",
            "--no-ext-diff",
            "--no-textconv",
            "--numstat",
            "--no-renames",
            from,
            to,
        ])?;
        let mut added = 0;
        let mut removed = 0;
        for line in out.lines() {
            let mut parts = line.split('\t');
            added += parts
                .next()
                .and_then(|a| a.parse::<u64>().ok())
                .unwrap_or(0);
            removed += parts
                .next()
                .and_then(|r| r.parse::<u64>().ok())
                .unwrap_or(0);
        }
        Ok((added, removed))
    }

    pub fn diff(&self, from: &str, to: &str) -> Result<String, GitError> {
        self.run(&[
            "diff",
            "--no-ext-diff",
            "--no-textconv",
            "--no-color",
            from,
            to,
        ])
    }
}

fn collect_locks(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            collect_locks(&p, out);
        } else if p.extension().is_some_and(|x| x == "lock") {
            out.push(p);
        }
    }
}

/// Where git finds the repository for one command.
enum Location<'a> {
    /// Discovered from a directory of the user's checkout (never a worktree a run can write).
    Dir(&'a Path),
    /// Named outright: an experiment worktree's admin dir and its work tree.
    Recorded {
        git_dir: &'a Path,
        work_tree: &'a Path,
    },
}

/// Runs git at `at` and returns stdout, or the failure with git's stderr.
fn run_at(at: &Location, args: &[&str]) -> Result<String, GitError> {
    let out = git_output(at, args)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(GitError::Failed {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

fn git_output(at: &Location, args: &[&str]) -> Result<std::process::Output, GitError> {
    let mut cmd = Command::new("git");
    match at {
        Location::Dir(dir) => {
            cmd.arg("-C").arg(dir);
        }
        Location::Recorded { git_dir, work_tree } => {
            // `-C` only sets the directory relative paths are read from; with the git dir named,
            // git does not look for (or read) a `.git` there.
            cmd.arg("-C")
                .arg(work_tree)
                .arg("--git-dir")
                .arg(git_dir)
                .arg("--work-tree")
                .arg(work_tree);
        }
    }
    cmd.args(HARDENING)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_COMMON_DIR")
        .env_remove("GIT_OBJECT_DIRECTORY")
        .env_remove("GIT_ALTERNATE_OBJECT_DIRECTORIES")
        .env_remove("GIT_EXTERNAL_DIFF")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            // An argument git could not be given (a NUL byte): autolab's fault, not the install's.
            std::io::ErrorKind::InvalidInput => GitError::BadArgument(e.to_string()),
            _ => GitError::NotInstalled(e),
        })
}
