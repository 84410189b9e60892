//! Changes moved between commits without a worktree: a three-way merge of trees
//! (`git merge-tree --write-tree`) and a commit of the tree it wrote. An ablation builds its
//! variants this way: one kept change reverted from the final incumbent, or applied alone to
//! the baseline.

use super::{GitError, Location, Repo, git_output, run_at};

impl Repo {
    /// The tree of `onto` with the change `from → to` applied (a three-way merge with `from`
    /// as the merge base), or None when the change conflicts with what `onto` holds.
    pub fn apply_change(
        &self,
        onto: &str,
        from: &str,
        to: &str,
    ) -> Result<Option<String>, GitError> {
        let base = format!("--merge-base={from}");
        let args = [
            "merge-tree",
            "--write-tree",
            "--no-messages",
            &base,
            onto,
            to,
        ];
        let out = git_output(&Location::Dir(&self.root), &args)?;
        match out.status.code() {
            Some(0) => Ok(Some(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            )),
            // Exit code 1: the merge has conflicts.
            Some(1) => Ok(None),
            _ => Err(GitError::Failed {
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            }),
        }
    }

    /// A new commit of `tree` whose parent is `parent` (no ref points at it yet).
    pub fn commit_tree(&self, tree: &str, parent: &str, message: &str) -> Result<String, GitError> {
        run_at(
            &Location::Dir(&self.root),
            &["commit-tree", tree, "-p", parent, "-m", message],
        )
        .map(|s| s.trim().to_string())
    }

    /// The tree a commit holds.
    pub fn tree_of(&self, commit: &str) -> Option<String> {
        let spec = format!("{commit}^{{tree}}");
        self.run(&["rev-parse", "--verify", "--quiet", &spec])
            .ok()
            .map(|s| s.trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A repository whose line is: base (x=0, y=0) → c1 (x=1) → c2 (y=2) → c3 (x=3).
    fn line() -> (tempfile::TempDir, Repo, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let o = Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        };
        git(&["init", "--quiet"]);
        let mut commits = Vec::new();
        for (file, text) in [("x", "0\n"), ("x", "1\n"), ("y", "2\n"), ("x", "3\n")] {
            if commits.is_empty() {
                std::fs::write(dir.path().join("y"), "0\n").unwrap();
            }
            std::fs::write(dir.path().join(file), text).unwrap();
            git(&["add", "-A"]);
            git(&["commit", "--quiet", "-m", text.trim()]);
            commits.push(git(&["rev-parse", "HEAD"]));
        }
        let repo = Repo::discover(dir.path()).unwrap();
        (dir, repo, commits)
    }

    fn show(repo: &Repo, commit: &str, file: &str) -> String {
        repo.run(&["show", &format!("{commit}:{file}")]).unwrap()
    }

    #[test]
    fn a_change_applies_alone_or_reverts_from_the_tip() {
        let (_d, repo, c) = line();
        // c2 (y=2) alone on the base.
        let tree = repo.apply_change(&c[0], &c[1], &c[2]).unwrap().unwrap();
        let alone = repo.commit_tree(&tree, &c[0], "y alone").unwrap();
        assert_eq!(show(&repo, &alone, "x"), "0\n");
        assert_eq!(show(&repo, &alone, "y"), "2\n");
        assert_eq!(repo.rev_parse(&format!("{alone}^")).unwrap(), c[0]);
        assert_eq!(repo.tree_of(&alone).unwrap(), tree);
        // c2 reverted from the tip: x stays 3, y back to 0.
        let tree = repo.apply_change(&c[3], &c[2], &c[1]).unwrap().unwrap();
        let without = repo.commit_tree(&tree, &c[3], "without y").unwrap();
        assert_eq!(show(&repo, &without, "x"), "3\n");
        assert_eq!(show(&repo, &without, "y"), "0\n");
        // Reverting the last change gives its parent's tree.
        let tree = repo.apply_change(&c[3], &c[3], &c[2]).unwrap().unwrap();
        assert_eq!(Some(tree), repo.tree_of(&c[2]));
    }

    #[test]
    fn a_change_that_conflicts_is_none_and_a_bad_commit_an_error() {
        let (_d, repo, c) = line();
        // c3 (x: 1 → 3) on the base, where x is 0: a conflict.
        assert_eq!(repo.apply_change(&c[0], &c[2], &c[3]).unwrap(), None);
        // c1 reverted from the tip, where c3 rewrote x: a conflict too.
        assert_eq!(repo.apply_change(&c[3], &c[1], &c[0]).unwrap(), None);
        let err = repo
            .apply_change(&c[0], "0123456789012345678901234567890123456789", &c[1])
            .unwrap_err();
        assert!(matches!(err, GitError::Failed { .. }), "{err}");
        assert_eq!(
            repo.tree_of("0123456789012345678901234567890123456789"),
            None
        );
    }
}
