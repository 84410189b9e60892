//! Figures a run wrote, served by name: only plain files directly in the run dir (or its
//! `figures/`), with an image or PDF extension; a run's symlinks and subdirectories are not
//! followed, so a page can show nothing outside what the run wrote.

use std::path::{Path, PathBuf};

const KINDS: &[(&str, &str)] = &[
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("svg", "image/svg+xml"),
    ("pdf", "application/pdf"),
];

/// The content type of a figure named `name`, None for anything else.
pub fn kind(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    KINDS.iter().find(|(e, _)| *e == ext).map(|(_, k)| *k)
}

/// A name that stays in its directory: no separator, no `..`, not hidden.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', '\0'])
        && name.chars().all(|c| !c.is_control())
}

/// The figures of a run dir: `figures/<name>` first, then the run dir's own.
pub fn figures(run_dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for (dir, prefix) in [
        (run_dir.join("figures"), "figures/"),
        (run_dir.to_path_buf(), ""),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| plain_name(n) && kind(n).is_some())
            .map(|n| format!("{prefix}{n}"))
            .collect();
        names.sort();
        out.extend(names);
    }
    out
}

/// The path of figure `name` (as [`figures`] lists it) in `run_dir`, if it is one.
pub fn figure_path(run_dir: &Path, name: &str) -> Option<PathBuf> {
    let (dir, file) = match name.strip_prefix("figures/") {
        Some(f) => (run_dir.join("figures"), f),
        None => (run_dir.to_path_buf(), name),
    };
    if !plain_name(file) || kind(file).is_none() {
        return None;
    }
    let path = dir.join(file);
    let meta = std::fs::symlink_metadata(&path).ok()?;
    // A hard link is another file's name too: only files that are the run's alone.
    use std::os::unix::fs::MetadataExt;
    (meta.file_type().is_file() && meta.nlink() == 1).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_figure_files_of_the_run_dir_are_served() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path();
        std::fs::create_dir(run.join("figures")).unwrap();
        std::fs::write(run.join("figures/loss.png"), b"png").unwrap();
        std::fs::write(run.join("curve.svg"), b"<svg/>").unwrap();
        std::fs::write(run.join("stdout.log"), b"log").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", run.join("leak.png")).unwrap();
        assert_eq!(figures(run), ["figures/loss.png", "curve.svg"]);
        assert!(figure_path(run, "figures/loss.png").is_some());
        assert!(
            figure_path(run, "leak.png").is_none(),
            "a symlink is not a figure"
        );
        assert!(figure_path(run, "stdout.log").is_none());
        assert!(figure_path(run, "../x.png").is_none());
        assert!(figure_path(run, "figures/../../x.png").is_none());
        assert_eq!(kind("A.PNG"), Some("image/png"));
    }
}
