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
    copy_run_within(from, to, MAX_COPIED_FILE, MAX_COPIED_RUN)
}

/// [`copy_run`] with its limits given.
fn copy_run_within(from: &Path, to: &Path, max_file: u64, max_total: u64) -> std::io::Result<()> {
    if std::fs::symlink_metadata(to).is_ok() {
        if std::fs::symlink_metadata(to)?.file_type().is_dir() {
            std::fs::remove_dir_all(to)?;
        } else {
            std::fs::remove_file(to)?;
        }
    }
    let mut budget = max_total;
    copy_tree(from, to, 3, max_file, &mut budget)
}

fn copy_tree(
    from: &Path,
    to: &Path,
    depth: u32,
    max_file: u64,
    budget: &mut u64,
) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)?.flatten() {
        let t = e.file_type()?;
        let target = to.join(e.file_name());
        if t.is_file() {
            let len = e.metadata()?.len();
            if len <= max_file && len <= *budget {
                std::fs::copy(e.path(), &target)?;
                *budget -= len;
            }
        } else if t.is_dir() && depth > 0 && e.file_name() != "tmp" {
            copy_tree(&e.path(), &target, depth - 1, max_file, budget)?;
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
        // The lab's repository, whatever the caller's environment points git at.
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_COMMON_DIR")
        .env_remove("GIT_OBJECT_DIRECTORY")
        .env_remove("GIT_ALTERNATE_OBJECT_DIRECTORIES")
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
    fn a_run_is_copied_within_its_limits_without_links_or_tmp() {
        let d = tempfile::tempdir().unwrap();
        let (from, to) = (d.path().join("run"), d.path().join("proj/run_1"));
        std::fs::create_dir_all(from.join("a/b/c/d")).unwrap();
        std::fs::create_dir_all(from.join("tmp")).unwrap();
        std::fs::write(from.join("final_info.json"), "{}").unwrap();
        std::fs::write(from.join("big.bin"), vec![0u8; 100]).unwrap();
        std::fs::write(from.join("a/b/c/deep.txt"), "3").unwrap();
        std::fs::write(from.join("a/b/c/d/deeper.txt"), "4 levels").unwrap();
        std::fs::write(from.join("tmp/scratch"), "x").unwrap();
        std::fs::write(from.join("w1.txt"), "0123456789").unwrap();
        std::fs::write(from.join("w2.txt"), "0123456789").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", from.join("passwd")).unwrap();
        // An old copy (here a link planted in its place) is replaced, not followed.
        std::fs::create_dir_all(d.path().join("proj")).unwrap();
        std::os::unix::fs::symlink("/tmp", &to).unwrap();
        copy_run_within(&from, &to, 50, 14).unwrap();
        assert!(to.join("final_info.json").is_file());
        assert!(!to.join("big.bin").exists(), "over the per-file limit");
        assert!(to.join("a/b/c/deep.txt").is_file());
        assert!(!to.join("a/b/c/d").exists(), "deeper than three levels");
        assert!(!to.join("tmp").exists() && !to.join("passwd").exists());
        let words = ["w1.txt", "w2.txt"]
            .iter()
            .filter(|f| to.join(f).exists())
            .count();
        assert_eq!(
            words, 1,
            "the total limit (14 bytes) leaves room for one of the two"
        );
        assert!(
            !std::fs::symlink_metadata(&to)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[test]
    fn the_code_of_a_commit_is_checked_out_and_a_bad_commit_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .arg("-C")
                .arg(d.path())
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .output()
                .unwrap();
            assert!(
                ok.status.success(),
                "{}",
                String::from_utf8_lossy(&ok.stderr)
            );
            String::from_utf8_lossy(&ok.stdout).trim().to_string()
        };
        git(&["init", "-q"]);
        std::fs::create_dir_all(d.path().join("latex")).unwrap();
        std::fs::write(d.path().join("latex/template.tex"), "T").unwrap();
        git(&["add", "-A"]);
        git(&["commit", "-qm", "c"]);
        let head = git(&["rev-parse", "HEAD"]);
        let out = d.path().join("out");
        checkout_code(d.path(), &head, &out).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("latex/template.tex")).unwrap(),
            "T"
        );
        assert!(checkout_code(d.path(), "0000000000000000000000000000000000000000", &out).is_err());
    }

    #[test]
    fn figures_are_the_newest_pngs_at_the_top() {
        let d = tempfile::tempdir().unwrap();
        for (i, f) in ["a.png", "b.PNG", "c.txt"].iter().enumerate() {
            std::fs::write(d.path().join(f), "x").unwrap();
            let t = std::time::SystemTime::UNIX_EPOCH
                + std::time::Duration::from_secs(1_000 + i as u64);
            std::fs::File::options()
                .write(true)
                .open(d.path().join(f))
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        let got: Vec<String> = figures(d.path(), 5)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(got, ["b.PNG", "a.png"]);
        assert_eq!(figures(d.path(), 1).len(), 1);
    }

    #[test]
    fn a_project_directory_is_numbered_under_its_campaign() {
        assert_eq!(
            dir(Path::new("/s"), "t", 3, "Lower beta"),
            Path::new("/s/projects/t/03_lower_beta")
        );
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
