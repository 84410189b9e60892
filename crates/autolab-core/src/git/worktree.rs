//! An experiment's worktree as autolab recorded it: its path and its admin dir
//! (`<common git dir>/worktrees/<name>`). Git is pointed at both outright, so a `.git` file
//! rewritten by a run (say, to a copy of the repository whose config sets `core.fsmonitor` to
//! the run's script) is never read; it is put back as git wrote it before each use.

use std::path::{Path, PathBuf};

use super::{GitError, Location, Repo, run_at};

/// A worktree of the repository, opened by [`Repo::worktree`].
#[derive(Debug, Clone)]
pub struct Worktree {
    path: PathBuf,
    admin: PathBuf,
    /// Whether its `.git` file said something else than git wrote (and was rewritten).
    pub git_file_rewritten: bool,
}

impl Repo {
    /// Opens the worktree at `path`: finds its admin dir among the repository's (git names it
    /// after the worktree's directory, with a suffix when that is taken, and keeps the name
    /// when the worktree moves, so it is found by the `gitdir` file in it that points back at
    /// `path`), then checks the worktree's `.git` file and rewrites it if it says anything else.
    pub fn worktree(&self, path: &Path) -> Result<Worktree, GitError> {
        let Ok(real) = path.canonicalize() else {
            return Err(GitError::WorktreeGone {
                path: path.to_path_buf(),
            });
        };
        let admin = self
            .admin_dir(&real)
            .ok_or_else(|| GitError::NotAWorktree {
                path: path.to_path_buf(),
            })?;
        let git_file_rewritten =
            restore_git_file(&real, &admin).map_err(|source| GitError::GitFile {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Worktree {
            path: real,
            admin,
            git_file_rewritten,
        })
    }

    /// The admin dir whose `gitdir` file names `<worktree>/.git`.
    fn admin_dir(&self, worktree: &Path) -> Option<PathBuf> {
        let entries = std::fs::read_dir(self.git_dir.join("worktrees")).ok()?;
        entries.flatten().map(|e| e.path()).find(|admin| {
            std::fs::read_to_string(admin.join("gitdir")).is_ok_and(|g| {
                // Absolute as git writes it; relative (to the admin dir) with
                // `worktree.useRelativePaths`.
                let named = admin.join(g.trim_end_matches(['\n', '\r']));
                named.file_name().is_some_and(|n| n == ".git")
                    && named
                        .parent()
                        .and_then(|p| p.canonicalize().ok())
                        .is_some_and(|p| p == worktree)
            })
        })
    }
}

impl Worktree {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs git in this worktree and returns stdout.
    pub fn run(&self, args: &[&str]) -> Result<String, GitError> {
        run_at(
            &Location::Recorded {
                git_dir: &self.admin,
                work_tree: &self.path,
            },
            args,
        )
    }

    /// Commits everything in the worktree as autolab; returns the new commit.
    pub fn commit_all(&self, message: &str) -> Result<String, GitError> {
        self.run(&["add", "-A"])?;
        self.run(&[
            "commit",
            "--quiet",
            "--no-verify",
            "--allow-empty",
            "-m",
            message,
        ])?;
        Ok(self.run(&["rev-parse", "HEAD"])?.trim().to_string())
    }
}

/// Makes `<worktree>/.git` the plain file `gitdir: <admin>` that git writes. Returns whether it
/// had to be rewritten (it was missing, not a regular file, or named another git dir).
fn restore_git_file(worktree: &Path, admin: &Path) -> std::io::Result<bool> {
    let file = worktree.join(".git");
    if git_file_names(&file, worktree, admin) {
        return Ok(false);
    }
    match std::fs::symlink_metadata(&file) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&file)?,
        // A symlink is removed, not written through.
        Ok(_) => std::fs::remove_file(&file)?,
        Err(_) => {}
    }
    std::fs::write(&file, format!("gitdir: {}\n", admin.display()))?;
    Ok(true)
}

/// Whether `file` is a regular file naming `admin` (as git writes it, absolute or relative).
fn git_file_names(file: &Path, worktree: &Path, admin: &Path) -> bool {
    let regular = std::fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_file());
    if !regular {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    let Some(named) = text
        .strip_prefix("gitdir: ")
        .map(|t| t.trim_end_matches(['\n', '\r']))
    else {
        return false;
    };
    let named = worktree.join(named);
    match (named.canonicalize(), admin.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
    }

    fn repo_with_worktree() -> (tempfile::TempDir, Repo, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("lab");
        std::fs::create_dir(&root).unwrap();
        git(&root, &["init", "--quiet"]);
        std::fs::write(root.join("a.txt"), "a\n").unwrap();
        git(&root, &["add", "-A"]);
        git(&root, &["commit", "--quiet", "-m", "init"]);
        let repo = Repo::discover(&root).unwrap();
        // Two worktrees with the same directory name: git gives the second admin dir a suffix.
        let first = dir.path().join("one/wt");
        let path = dir.path().join("two/wt");
        repo.add_worktree(&first, "b1", "HEAD").unwrap();
        repo.add_worktree(&path, "b2", "HEAD").unwrap();
        (dir, repo, path)
    }

    #[test]
    fn the_admin_dir_is_found_by_where_it_points_not_by_name() {
        let (_dir, repo, path) = repo_with_worktree();
        let wt = repo.worktree(&path).unwrap();
        assert!(!wt.git_file_rewritten);
        assert_ne!(
            wt.admin.file_name().unwrap(),
            "wt",
            "{}",
            wt.admin.display()
        );
        assert_eq!(
            wt.run(&["rev-parse", "--abbrev-ref", "HEAD"])
                .unwrap()
                .trim(),
            "b2"
        );
    }

    #[test]
    fn a_rewritten_git_file_is_ignored_and_put_back() {
        let (dir, repo, path) = repo_with_worktree();
        let decoy = dir.path().join("decoy.git");
        git(dir.path(), &["init", "--quiet", "--bare", "decoy.git"]);
        let original = std::fs::read_to_string(path.join(".git")).unwrap();
        std::fs::write(path.join(".git"), format!("gitdir: {}\n", decoy.display())).unwrap();
        let wt = repo.worktree(&path).unwrap();
        assert!(wt.git_file_rewritten);
        assert_eq!(
            Path::new(original.trim().trim_start_matches("gitdir: "))
                .canonicalize()
                .unwrap(),
            Path::new(
                std::fs::read_to_string(path.join(".git"))
                    .unwrap()
                    .trim()
                    .trim_start_matches("gitdir: ")
            )
            .canonicalize()
            .unwrap()
        );
        assert_eq!(
            wt.run(&["rev-parse", "--abbrev-ref", "HEAD"])
                .unwrap()
                .trim(),
            "b2"
        );
    }

    #[test]
    fn a_git_file_replaced_by_a_symlink_is_replaced_not_written_through() {
        let (dir, repo, path) = repo_with_worktree();
        let target = dir.path().join("target.txt");
        std::fs::write(&target, "keep me\n").unwrap();
        std::fs::remove_file(path.join(".git")).unwrap();
        std::os::unix::fs::symlink(&target, path.join(".git")).unwrap();
        let wt = repo.worktree(&path).unwrap();
        assert!(wt.git_file_rewritten);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me\n");
        assert!(
            std::fs::symlink_metadata(path.join(".git"))
                .unwrap()
                .is_file()
        );
    }

    #[test]
    fn a_removed_worktree_is_reported_as_gone() {
        let (_dir, repo, path) = repo_with_worktree();
        std::fs::remove_dir_all(&path).unwrap();
        assert!(matches!(
            repo.worktree(&path),
            Err(GitError::WorktreeGone { .. })
        ));
    }
}
