//! Refs autolab writes move only by compare-and-swap against what the ledger recorded: a ref
//! that points anywhere else (another checkout of the repository ran the same tag, or the
//! ledger was moved aside) is never overwritten and never moved backwards.

use super::{GitError, Repo};

const ZERO_OID: &str = "0000000000000000000000000000000000000000";

/// What a ref must be before autolab sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect<'a> {
    /// It must not exist yet.
    Absent,
    /// It must point at this commit.
    At(&'a str),
}

impl Repo {
    /// The commit (or other object) a full ref name points at, if it exists.
    pub fn ref_target(&self, name: &str) -> Option<String> {
        self.run(&["rev-parse", "--verify", "--quiet", &format!("{name}^{{}}")])
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// Sets `name` (a full ref) to `new` if it is as `expect` says; done already when it is at
    /// `new`. Anything else is [`GitError::RefMismatch`], and the ref is left as it is. Git
    /// checks the old value again atomically, so a writer in between is refused too.
    pub fn set_ref(&self, name: &str, new: &str, expect: Expect) -> Result<(), GitError> {
        let found = self.ref_target(name);
        if found.as_deref() == Some(new) {
            return Ok(());
        }
        let (matches, old) = match expect {
            Expect::Absent => (found.is_none(), ZERO_OID),
            Expect::At(old) => (found.as_deref() == Some(old), old),
        };
        let mismatch = |found| GitError::RefMismatch {
            name: name.to_string(),
            expected: match expect {
                Expect::Absent => None,
                Expect::At(o) => Some(o.to_string()),
            },
            found,
        };
        if !matches {
            return Err(mismatch(found));
        }
        self.run(&["update-ref", "-m", "autolab", name, new, old])
            .map(|_| ())
            .map_err(|e| match self.ref_target(name) {
                now if now != found => mismatch(now),
                _ => e,
            })
    }

    /// Moves `name` forward to `new`: created when absent, fast-forwarded when it is at an
    /// ancestor of `new`, left alone when it is at `new` or past it (`new` is its ancestor).
    /// A ref on another line is [`GitError::RefMismatch`] with `new` as what was expected.
    pub fn advance_ref(&self, name: &str, new: &str) -> Result<(), GitError> {
        match self.ref_target(name) {
            None => self.set_ref(name, new, Expect::Absent),
            Some(now) if now == new || self.is_ancestor(new, &now) => Ok(()),
            Some(now) if self.is_ancestor(&now, new) => self.set_ref(name, new, Expect::At(&now)),
            Some(now) => Err(GitError::RefMismatch {
                name: name.to_string(),
                expected: Some(new.to_string()),
                found: Some(now),
            }),
        }
    }

    /// Deletes `name` if it points at one of `known`; a ref pointing elsewhere is kept and is
    /// [`GitError::RefMismatch`]. An absent ref is fine.
    pub fn delete_ref_if(&self, name: &str, known: &[&str]) -> Result<(), GitError> {
        let Some(now) = self.ref_target(name) else {
            return Ok(());
        };
        if !known.contains(&now.as_str()) {
            return Err(GitError::RefMismatch {
                name: name.to_string(),
                expected: known.first().map(|k| k.to_string()),
                found: Some(now),
            });
        }
        self.run(&["update-ref", "-m", "autolab", "-d", name, &now])
            .map(|_| ())
    }

    /// Whether `ancestor` is reachable from `descendant` (or is it).
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> bool {
        self.run(&["merge-base", "--is-ancestor", ancestor, descendant])
            .is_ok()
    }

    /// The refs that belong to campaign `tag`: its incumbent branch, experiment branches and
    /// archive refs.
    pub fn refs_of_tag(&self, tag: &str) -> Result<Vec<String>, GitError> {
        let out = self.run(&[
            "for-each-ref",
            "--format=%(refname)",
            &format!("refs/heads/{}", super::incumbent_branch(tag)),
            &format!("refs/heads/autolab-exp/{tag}/"),
            &format!("refs/autolab/{tag}/"),
        ])?;
        Ok(out.lines().map(str::to_string).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn repo_with_two_commits() -> (tempfile::TempDir, Repo, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let o = Command::new("git")
                .arg("-C")
                .arg(dir.path())
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .output()
                .unwrap();
            assert!(o.status.success());
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        };
        git(&["init", "--quiet"]);
        git(&["commit", "--quiet", "--allow-empty", "-m", "one"]);
        let one = git(&["rev-parse", "HEAD"]);
        git(&["commit", "--quiet", "--allow-empty", "-m", "two"]);
        let two = git(&["rev-parse", "HEAD"]);
        let repo = Repo::discover(dir.path()).unwrap();
        (dir, repo, one, two)
    }

    #[test]
    fn a_ref_that_must_not_exist_is_never_overwritten() {
        let (_d, repo, one, two) = repo_with_two_commits();
        let name = "refs/autolab/t/archive/0001";
        repo.set_ref(name, &one, Expect::Absent).unwrap();
        repo.set_ref(name, &one, Expect::Absent).unwrap();
        let err = repo.set_ref(name, &two, Expect::Absent).unwrap_err();
        assert!(
            matches!(&err, GitError::RefMismatch { expected: None, found: Some(f), .. } if *f == one),
            "{err}"
        );
        assert_eq!(repo.ref_target(name).unwrap(), one);
    }

    #[test]
    fn a_ref_moves_only_from_what_was_expected() {
        let (_d, repo, one, two) = repo_with_two_commits();
        let name = "refs/heads/autolab/t";
        repo.set_ref(name, &one, Expect::Absent).unwrap();
        assert!(repo.set_ref(name, &two, Expect::At(&two)).is_err());
        assert_eq!(repo.ref_target(name).unwrap(), one);
        repo.set_ref(name, &two, Expect::At(&one)).unwrap();
        assert_eq!(repo.ref_target(name).unwrap(), two);
    }

    #[test]
    fn advancing_never_moves_a_ref_backwards() {
        let (_d, repo, one, two) = repo_with_two_commits();
        let name = "refs/heads/autolab/t";
        repo.advance_ref(name, &one).unwrap();
        repo.advance_ref(name, &two).unwrap();
        assert_eq!(repo.ref_target(name).unwrap(), two);
        repo.advance_ref(name, &one).unwrap();
        assert_eq!(repo.ref_target(name).unwrap(), two, "moved backwards");
    }

    #[test]
    fn deleting_keeps_a_ref_that_points_elsewhere() {
        let (_d, repo, one, two) = repo_with_two_commits();
        let name = "refs/heads/autolab-exp/t/0001";
        repo.set_ref(name, &two, Expect::Absent).unwrap();
        assert!(repo.delete_ref_if(name, &[&one]).is_err());
        assert_eq!(repo.ref_target(name).unwrap(), two);
        repo.delete_ref_if(name, &[&one, &two]).unwrap();
        assert!(repo.ref_target(name).is_none());
    }
}
