//! Paths autolab writes (or reads) on a candidate's behalf — from an LLM's edit block, a
//! config value, a params file — stay inside the candidate's worktree. A path is checked as
//! spelled (relative, no `..`, not into `.git`) and as resolved: no symlink on the way, the
//! file itself included, may lead out of the worktree.

use std::path::{Component, Path, PathBuf};

/// Why a path may not be written in a worktree. The messages name the path and the reason,
/// and are shown to the LLM that asked for the write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("`{path}` is an absolute path; use a path relative to the lab root")]
    Absolute { path: String },
    #[error("`{path}` climbs out with `..`; use a path inside the lab, without `..`")]
    ParentSegment { path: String },
    #[error("`{path}` is empty or names the lab root itself, not a file")]
    Empty { path: String },
    #[error("`{path}` is inside `.git`, which belongs to git, not to the lab")]
    GitDir { path: String },
    #[error("`{path}` leads out of the lab through the symlink `{link}`")]
    SymlinkOut { path: String, link: String },
    #[error("`{path}` cannot be checked: {reason}")]
    Unreadable { path: String, reason: String },
}

/// The file `rel` names inside `root`, checked: refused when it is absolute, has a `..`
/// segment, is inside `.git`, or when any existing part of it (each parent directory, and the
/// file itself) is a symlink that resolves outside `root`. `.` segments and doubled slashes
/// are dropped. A symlink that stays inside `root` is allowed.
pub fn confine(root: &Path, rel: &str) -> Result<PathBuf, Refused> {
    let path = rel.to_string();
    let parts = spelled(rel)?;
    let real_root = root.canonicalize().map_err(|e| Refused::Unreadable {
        path: path.clone(),
        reason: format!("the worktree {}: {e}", root.display()),
    })?;
    let mut here = root.to_path_buf();
    let mut walked = String::new();
    for part in &parts {
        here.push(part);
        if !walked.is_empty() {
            walked.push('/');
        }
        walked.push_str(part);
        let Ok(meta) = std::fs::symlink_metadata(&here) else {
            // Nothing exists from here on: it will be created below a checked directory.
            break;
        };
        if !meta.file_type().is_symlink() {
            continue;
        }
        let out = || Refused::SymlinkOut {
            path: path.clone(),
            link: walked.clone(),
        };
        // A dangling symlink would be written through to wherever it points: refused unless
        // that place is inside too.
        let target = match here.canonicalize() {
            Ok(t) => t,
            Err(_) => {
                let link = std::fs::read_link(&here).map_err(|_| out())?;
                let base = here.parent().unwrap_or(root);
                lexical_inside(&base.join(link), &real_root, root).ok_or_else(out)?
            }
        };
        if !target.starts_with(&real_root) {
            return Err(out());
        }
    }
    Ok(root.join(parts.iter().collect::<PathBuf>()))
}

/// The check of [`confine`] that needs no file system: `rel` as its segments, refused when it
/// is absolute, has a `..` segment, names nothing, or is inside `.git`.
pub fn spelled(rel: &str) -> Result<Vec<String>, Refused> {
    let path = rel.to_string();
    if rel.starts_with('/') || Path::new(rel).is_absolute() {
        return Err(Refused::Absolute { path });
    }
    let mut parts = Vec::new();
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => return Err(Refused::ParentSegment { path }),
            Component::RootDir | Component::Prefix(_) => return Err(Refused::Absolute { path }),
        }
    }
    if parts.is_empty() {
        return Err(Refused::Empty { path });
    }
    if parts.iter().any(|p| p == ".git") {
        return Err(Refused::GitDir { path });
    }
    Ok(parts)
}

/// `path` resolved without the file system (`..` popped), if it stays inside the root (spelled
/// `root` or `real_root`); returned against `real_root`.
fn lexical_inside(path: &Path, real_root: &Path, root: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    if let Ok(rest) = out.strip_prefix(root) {
        return Some(real_root.join(rest));
    }
    out.starts_with(real_root).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("wt");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        (dir, root, outside)
    }

    #[test]
    fn plain_relative_paths_are_inside() {
        let (_d, root, _) = setup();
        assert_eq!(
            confine(&root, "./src//new/x.py").unwrap(),
            root.join("src/new/x.py")
        );
    }

    #[test]
    fn spelled_escapes_are_refused() {
        let (_d, root, _) = setup();
        assert!(matches!(
            confine(&root, "src/../../escaped.txt"),
            Err(Refused::ParentSegment { .. })
        ));
        assert!(matches!(
            confine(&root, "/tmp/x"),
            Err(Refused::Absolute { .. })
        ));
        assert!(matches!(
            confine(&root, ".git"),
            Err(Refused::GitDir { .. })
        ));
        assert!(matches!(
            confine(&root, "sub/.git/config"),
            Err(Refused::GitDir { .. })
        ));
        assert!(matches!(confine(&root, "./"), Err(Refused::Empty { .. })));
    }

    #[test]
    fn symlinks_that_lead_out_are_refused_and_those_inside_allowed() {
        let (_d, root, outside) = setup();
        symlink(&outside, root.join("src/out")).unwrap();
        symlink(root.join("src"), root.join("alias")).unwrap();
        symlink(outside.join("file"), root.join("src/link.txt")).unwrap();
        symlink("../../outside/new", root.join("src/dangling")).unwrap();
        let err = confine(&root, "src/out/x.py").unwrap_err();
        assert_eq!(
            err,
            Refused::SymlinkOut {
                path: "src/out/x.py".into(),
                link: "src/out".into()
            }
        );
        assert!(err.to_string().contains("src/out/x.py"));
        assert!(
            confine(&root, "src/link.txt").is_err(),
            "a file symlinked out"
        );
        assert!(
            confine(&root, "src/dangling").is_err(),
            "a dangling link out"
        );
        assert_eq!(
            confine(&root, "alias/x.py").unwrap(),
            root.join("alias/x.py")
        );
    }
}
