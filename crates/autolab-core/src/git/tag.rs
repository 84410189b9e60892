//! Campaign tags: a tag becomes part of branch and ref names (`autolab/<tag>`,
//! `refs/autolab/<tag>/archive/NNNN`) and of paths, so it must satisfy git's ref-format rules
//! before anything is created.

use std::process::{Command, Stdio};

use super::{archive_ref, experiment_branch, incumbent_branch};

/// Whether `tag` is usable in branch names and paths: letters, digits, `-`, `_` and `.`, at
/// most 64 characters, and within git's rules for a ref name component (`git help
/// check-ref-format`): no leading `.` (nor `-`, which git reads as an option), no `..`, not
/// ending in `.` or `.lock`.
pub fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 64
        && !tag.starts_with(['.', '-'])
        && !tag.ends_with('.')
        && !tag.ends_with(".lock")
        && !tag.contains("..")
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The refs a campaign with `tag` would write that git itself refuses, asked of `git
/// check-ref-format` (empty: all fine). An uncertain answer (git not runnable) refuses nothing;
/// the git calls that follow fail with their own error then.
pub fn refs_git_refuses(tag: &str) -> Vec<String> {
    [
        format!("refs/heads/{}", incumbent_branch(tag)),
        format!("refs/heads/{}", experiment_branch(tag, 1)),
        archive_ref(tag, 1),
    ]
    .into_iter()
    .filter(|name| {
        Command::new("git")
            .args(["check-ref-format", name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| !s.success())
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_checked() {
        assert!(valid_tag("nov26"));
        assert!(valid_tag("run-1.b_2"));
        assert!(!valid_tag("a/b"));
        assert!(!valid_tag("-x"));
        assert!(!valid_tag("a..b"));
        assert!(!valid_tag(""));
        assert!(!valid_tag("a."), "git refuses a ref name ending in `.`");
        assert!(!valid_tag("x.lock"));
    }

    #[test]
    fn every_valid_tag_makes_refs_git_accepts() {
        for tag in [
            "a", "a.", "a.b", ".a", "a..b", "a.lock", "lock", "a-", "a_", "A.B-c_1", "a.b.",
            "x.lock.y", "1", "a@b", "a{b", "-", "_",
        ] {
            let git_ok = refs_git_refuses(tag).is_empty();
            if valid_tag(tag) {
                assert!(git_ok, "`{tag}` passes valid_tag but git refuses its refs");
            }
        }
        assert_eq!(
            refs_git_refuses("a.").len(),
            1,
            "only `autolab/a.` ends in a dot"
        );
    }
}
