//! The git model (DESIGN.md "Git model"), through the git CLI.
//!
//! Every command runs with `-C <dir>`, a fixed identity for autolab's commits, no hooks and no
//! prompts. The user's checkout (its HEAD, index and files) is never touched: autolab works only
//! in its own worktrees and refs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A git failure: the command, and what git said.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("git is not installed or not runnable: {0}")]
    NotInstalled(#[source] std::io::Error),
    #[error("`{dir}` is not inside a git repository")]
    NotARepo { dir: PathBuf },
    #[error("the repository has no commit yet")]
    NoCommit,
    #[error("`git {args}` failed: {stderr}")]
    Failed { args: String, stderr: String },
}

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

/// Whether `tag` is usable in branch names and paths.
pub fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 64
        && !tag.starts_with(['.', '-'])
        && !tag.ends_with(".lock")
        && !tag.contains("..")
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
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
        let out = git_raw(dir, &["rev-parse", "--show-toplevel", "--git-common-dir"])?;
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
        run_in(&self.root, args)
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

    /// Sets `name` (a full ref) to `new`, only if it is now `old` (None: must not exist yet).
    pub fn update_ref(&self, name: &str, new: &str, old: Option<&str>) -> Result<(), GitError> {
        let zero = "0000000000000000000000000000000000000000";
        self.run(&[
            "update-ref",
            "-m",
            "autolab",
            name,
            new,
            old.unwrap_or(zero),
        ])
        .map(|_| ())
    }

    /// Points `name` at `new` whatever it was.
    pub fn force_ref(&self, name: &str, new: &str) -> Result<(), GitError> {
        self.run(&["update-ref", "-m", "autolab", name, new])
            .map(|_| ())
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
        run_in(
            path,
            &["checkout", "--quiet", "--force", "-B", branch, commit],
        )?;
        run_in(path, &["clean", "-ffdxq"]).map(|_| ())
    }

    /// Moves a worktree to `to` (its parent is created), detached from its branch.
    pub fn move_worktree(&self, from: &Path, to: &Path) -> Result<(), GitError> {
        run_in(from, &["checkout", "--quiet", "--detach"])?;
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
        let out = self.run(&["diff", "--name-only", "--no-renames", "-z", from, to])?;
        Ok(out
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect())
    }

    /// Lines added and removed between two commits.
    pub fn line_counts(&self, from: &str, to: &str) -> Result<(u64, u64), GitError> {
        let out = self.run(&["diff", "--numstat", "--no-renames", from, to])?;
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
        self.run(&["diff", "--no-color", from, to])
    }
}

fn collect_locks(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_locks(&p, out);
        } else if p.extension().is_some_and(|x| x == "lock") {
            out.push(p);
        }
    }
}

/// Commits everything in a worktree as autolab; returns the new commit.
pub fn commit_all(worktree: &Path, message: &str) -> Result<String, GitError> {
    run_in(worktree, &["add", "-A"])?;
    run_in(
        worktree,
        &[
            "commit",
            "--quiet",
            "--no-verify",
            "--allow-empty",
            "-m",
            message,
        ],
    )?;
    Ok(run_in(worktree, &["rev-parse", "HEAD"])?.trim().to_string())
}

/// Runs git in `dir` and returns stdout, or the failure with git's stderr.
pub fn run_in(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let out = git_raw(dir, args)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(GitError::Failed {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

fn git_raw(dir: &Path, args: &[&str]) -> Result<std::process::Output, GitError> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=autolab",
            "-c",
            "user.email=autolab@localhost",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.hooksPath=/dev/null",
        ])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .stdin(Stdio::null())
        .output()
        .map_err(GitError::NotInstalled)
}

/// Whether `path` matches a pattern: `*` and `?` within a segment, `**` across segments; a
/// pattern naming a directory matches everything below it.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
    if pattern.is_empty() {
        return false;
    }
    let pat: Vec<&str> = pattern.split('/').collect();
    let segs: Vec<&str> = path.split('/').collect();
    match_segments(&pat, &segs)
        || (!pattern.contains('*') && path.starts_with(&format!("{pattern}/")))
}

fn match_segments(pat: &[&str], segs: &[&str]) -> bool {
    match (pat.first(), segs.first()) {
        (None, None) => true,
        (Some(&"**"), _) => {
            match_segments(&pat[1..], segs) || (!segs.is_empty() && match_segments(pat, &segs[1..]))
        }
        (Some(p), Some(s)) => {
            glob_segment(p.as_bytes(), s.as_bytes()) && match_segments(&pat[1..], &segs[1..])
        }
        _ => false,
    }
}

fn glob_segment(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob_segment(&p[1..], s) || (!s.is_empty() && glob_segment(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob_segment(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob_segment(&p[1..], &s[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_paths() {
        assert!(path_matches("train.py", "train.py"));
        assert!(!path_matches("train.py", "src/train.py"));
        assert!(path_matches("*.py", "model.py"));
        assert!(!path_matches("*.py", "src/model.py"));
        assert!(path_matches("src/**/*.py", "src/a/b/model.py"));
        assert!(path_matches("src/**", "src/x"));
        assert!(path_matches("src", "src/deep/file"));
        assert!(path_matches("**/conf?.json", "a/conf1.json"));
        assert!(!path_matches("", "x"));
    }

    #[test]
    fn tags_are_checked() {
        assert!(valid_tag("nov26"));
        assert!(valid_tag("run-1.b_2"));
        assert!(!valid_tag("a/b"));
        assert!(!valid_tag("-x"));
        assert!(!valid_tag("a..b"));
        assert!(!valid_tag(""));
    }
}
