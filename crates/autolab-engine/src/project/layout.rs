//! A project's directory in AI-Scientist's layout: `.autolab/projects/<tag>/<NN>_<name>/` with
//! the code of its last run, `run_0` (the baseline) … `run_k` (each run's outputs, e.g.
//! `final_info.json`), `notes.txt`, the plots, and the paper and review.

use std::path::{Path, PathBuf};

/// A directory-safe name from an idea's title (AI-Scientist's `Name`).
pub fn name(title: &str) -> String {
    let mut s: String = title
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    while s.contains("__") {
        s = s.replace("__", "_");
    }
    let s = s.trim_matches('_');
    let s: String = s.chars().take(48).collect();
    if s.is_empty() { "idea".into() } else { s }
}

/// The project's directory.
pub fn dir(state_dir: &Path, tag: &str, number: u32, title: &str) -> PathBuf {
    state_dir
        .join("projects")
        .join(tag)
        .join(format!("{number:02}_{}", name(title)))
}

/// Copies a run's directory (its files, three levels of subdirectories) to `to`, replacing it.
/// Symlinks are skipped: a run's directory is the run's, and may point anywhere.
/// Files bigger than this are not copied (checkpoints, datasets): outputs like
/// `final_info.json` and figures are what a project's plots and paper read.
pub const MAX_COPIED_FILE: u64 = 64 << 20;
/// At most this much is copied from one run.
pub const MAX_COPIED_RUN: u64 = 512 << 20;

pub fn copy_run(from: &Path, to: &Path) -> std::io::Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    let mut budget = MAX_COPIED_RUN;
    copy_tree(from, to, 3, &mut budget)
}

fn copy_tree(from: &Path, to: &Path, depth: u32, budget: &mut u64) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)?.flatten() {
        let t = e.file_type()?;
        let target = to.join(e.file_name());
        if t.is_file() {
            let len = e.metadata()?.len();
            if len <= MAX_COPIED_FILE && len <= *budget {
                std::fs::copy(e.path(), &target)?;
                *budget -= len;
            }
        } else if t.is_dir() && depth > 0 && e.file_name() != "tmp" {
            copy_tree(&e.path(), &target, depth - 1, budget)?;
        }
    }
    Ok(())
}

/// Writes the code of `commit` into `dir` (`git archive`), over what is there.
pub fn checkout_code(repo_root: &Path, commit: &str, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // Streamed from git to tar: a large tree is never held in memory.
    let mut archive = std::process::Command::new("git")
        .arg("-C")
        .arg(repo_root)
        .args(["archive", "--format=tar", commit])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run git archive: {e}"))?;
    let Some(stream) = archive.stdout.take() else {
        return Err("git archive gave no output".into());
    };
    let mut tar = std::process::Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(dir)
        .stdin(std::process::Stdio::from(stream))
        .spawn()
        .map_err(|e| format!("cannot run tar: {e}"))?;
    let archived = archive.wait().map_err(|e| format!("git archive: {e}"))?;
    if !archived.success() {
        let _ = tar.wait();
        return Err(format!("git archive {commit} failed"));
    }
    let status = tar.wait().map_err(|e| format!("tar: {e}"))?;
    if !status.success() {
        return Err(format!(
            "tar could not unpack {commit} into {}",
            dir.display()
        ));
    }
    Ok(())
}

/// Removes every symbolic link under `dir`: the project's directory holds code the LLM wrote
/// and files its plot command made, and autolab writes the paper and review there — never
/// through a link to somewhere else.
pub fn clear_links(dir: &Path) {
    fn walk(d: &Path, depth: u32) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let Ok(t) = e.file_type() else { continue };
            if t.is_symlink() {
                let _ = std::fs::remove_file(e.path());
            } else if t.is_dir() && depth > 0 {
                walk(&e.path(), depth - 1);
            }
        }
    }
    walk(dir, 16);
}

/// The PNG files at the top of `dir`, newest first, at most `n`.
pub fn figures(dir: &Path, n: usize) -> Vec<PathBuf> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.path()
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("png"))
        })
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| {
            (
                e.metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH),
                e.path(),
            )
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    found.into_iter().take(n).map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_cleared_and_files_stay() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/keep.txt"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("review.txt")).unwrap();
        std::os::unix::fs::symlink("/tmp", d.path().join("sub/paper")).unwrap();
        clear_links(d.path());
        assert!(std::fs::symlink_metadata(d.path().join("review.txt")).is_err());
        assert!(std::fs::symlink_metadata(d.path().join("sub/paper")).is_err());
        assert!(d.path().join("sub/keep.txt").is_file());
    }

    #[test]
    fn names_are_directory_safe() {
        assert_eq!(
            name("Modeling Threshold-Based Responses in SEIR!"),
            "modeling_threshold_based_responses_in_seir"
        );
        assert_eq!(name("../.."), "idea");
    }
}
