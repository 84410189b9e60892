//! What a slot thread does for one run: the lab's command, then the protected-file check, then
//! (if configured) the evaluation command from pristine protected files.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use autolab_core::git::{GitError, Repo, Worktree};
use autolab_runner::{Exit, Finished, Handle, LineWatch, RunSpec, Runner, RunnerError};
use indexmap::IndexMap;

/// Everything a slot thread needs.
pub(super) struct Job {
    pub runner: Arc<dyn Runner>,
    /// The repository, to reach the worktree's git as autolab recorded it.
    pub repo: Repo,
    pub spec: RunSpec,
    /// The evaluation command's spec, when `[task].evaluate` is set.
    pub evaluate: Option<RunSpec>,
    /// Protected path → blob at campaign start (None: must not exist).
    pub protected: IndexMap<String, Option<String>>,
    /// The campaign's start commit, where pristine protected files come from.
    pub base: String,
    pub cancel: Arc<AtomicBool>,
    pub watch: Option<LineWatch>,
    /// A command run after a clean run (e.g. `python plot.py`); figures go to the run dir.
    pub after: Option<RunSpec>,
    /// Wait for this already started run instead of starting one (after a restart).
    pub attach: Option<Handle>,
}

pub(super) struct RunOutput {
    pub train: Result<Finished, RunnerError>,
    /// What the run broke in its worktree while it ran.
    pub tampered: Tampering,
    pub eval: Option<Result<Finished, RunnerError>>,
}

pub(super) fn execute(job: Job, started: &mut dyn FnMut(Handle)) -> RunOutput {
    let train = match &job.attach {
        Some(handle) => job
            .runner
            .attach(handle, &job.spec, &job.cancel)
            .unwrap_or_else(|| {
                Err(RunnerError::Spawn {
                    command: job.spec.command.clone(),
                    source: std::io::Error::other("this runner cannot re-attach to a run"),
                })
            }),
        None => job.runner.run(&job.spec, &job.cancel, started, job.watch),
    };
    let worktree = job.spec.workdir.clone();
    // What the run left where autolab's own steps write (eval/, after/, figures/) goes first:
    // a planted symlink or metrics file there must not steer autolab (no process of the run
    // is alive any more).
    for own in [&job.evaluate, &job.after]
        .into_iter()
        .flatten()
        .map(|s| s.run_dir.clone())
        .chain([job.spec.run_dir.join("figures")])
    {
        clear_own(&own);
    }
    let opened = job.repo.worktree(&worktree);
    let tampered = match &opened {
        Err(GitError::WorktreeGone { .. }) => Tampering::WorktreeRemoved,
        Err(e) => Tampering::GitUnusable(e.to_string()),
        Ok(wt) => {
            let mut files = tampered(wt, &job.protected);
            if wt.git_file_rewritten {
                files.insert(0, ".git".to_string());
            }
            if files.is_empty() {
                Tampering::None
            } else {
                Tampering::Files(files)
            }
        }
    };
    let ran_clean = matches!(&train, Ok(f) if f.exit == Exit::Code(0));
    let untouched = tampered == Tampering::None;
    let eval = match (job.evaluate, &opened) {
        (Some(spec), Ok(wt)) if ran_clean && untouched => {
            let paths: Vec<&str> = job
                .protected
                .iter()
                .filter(|(_, b)| b.is_some())
                .map(|(p, _)| p.as_str())
                .collect();
            if !paths.is_empty() {
                let mut args = vec!["checkout", job.base.as_str(), "--"];
                args.extend(paths);
                if let Err(e) = wt.run(&args) {
                    return RunOutput {
                        train,
                        tampered,
                        eval: Some(Err(RunnerError::Spawn {
                            command: "restore protected files".into(),
                            source: std::io::Error::other(e.to_string()),
                        })),
                    };
                }
            }
            Some(job.runner.run(&spec, &job.cancel, &mut |_| {}, None))
        }
        _ => None,
    };
    if let Some(spec) = job.after.filter(|_| ran_clean && untouched) {
        let before = std::time::SystemTime::now() - std::time::Duration::from_secs(1);
        if job
            .runner
            .run(&spec, &job.cancel, &mut |_| {}, None)
            .is_ok()
        {
            keep_figures(&worktree, &job.spec.run_dir.join("figures"), before);
        }
    }
    RunOutput {
        train,
        tampered,
        eval,
    }
}

/// Removes whatever is at `path` (a symlink is removed, never followed).
fn clear_own(path: &std::path::Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            let _ = std::fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// Copies `from` (a regular file) to a new file `to`, never through a symlink at either end.
fn copy_plain(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut src = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(from)?;
    if !src.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut dst = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(to)?;
    std::io::copy(&mut src, &mut dst).map(|_| ())
}

/// Copies figures written in the worktree since `since` into `dest`.
fn keep_figures(worktree: &std::path::Path, dest: &std::path::Path, since: std::time::SystemTime) {
    let mut stack = vec![worktree.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            // Never through a symlink: a loop (`d/a -> ..`) would never end, and a link to a
            // file outside would have autolab copy what the run cannot read.
            let Ok(kind) = e.file_type() else {
                continue;
            };
            if kind.is_symlink() {
                continue;
            }
            if kind.is_dir() {
                stack.push(p);
                continue;
            }
            let figure = p
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| ["png", "pdf", "svg", "jpg", "jpeg"].contains(&x));
            let fresh = e
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|m| m >= since);
            if figure && fresh && kind.is_file() {
                // `dest` was cleared before: autolab makes it, so it is no planted link.
                let _ = std::fs::create_dir(dest);
                if let Some(name) = p.file_name() {
                    let _ = copy_plain(&p, &dest.join(name));
                }
            }
        }
    }
}

/// What a run broke in its worktree while it ran; anything but `None` makes it `invalid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tampering {
    None,
    /// Protected files (and `.git`, when the run rewrote it) that differ from what they were.
    Files(Vec<String>),
    /// The worktree is gone.
    WorktreeRemoved,
    /// The worktree is there but git cannot use it.
    GitUnusable(String),
}

impl Tampering {
    /// Why the run is `invalid`, if it is.
    pub fn reason(&self) -> Option<String> {
        match self {
            Tampering::None => None,
            Tampering::Files(files) => Some(format!(
                "protected file(s) modified during the run: {}",
                files.join(", ")
            )),
            Tampering::WorktreeRemoved => Some("worktree removed during the run".into()),
            Tampering::GitUnusable(e) => {
                Some(format!("the worktree's git is unusable after the run: {e}"))
            }
        }
    }
}

/// Protected paths that are not what they were at the campaign start: compared by type and
/// content, so a regular file replaced by a symlink (even to identical content), or reached
/// through a symlinked directory, is a modification; a path that had to stay absent and exists
/// now (as anything, a dangling symlink included) is one too.
fn tampered(wt: &Worktree, protected: &IndexMap<String, Option<String>>) -> Vec<String> {
    let mut out = Vec::new();
    for (path, blob) in protected {
        let file = wt.path().join(path);
        let same = match blob {
            None => std::fs::symlink_metadata(&file).is_err(),
            Some(expected) => {
                regular_all_the_way(wt.path(), path)
                    && wt
                        .run(&["hash-object", "--no-filters", "--", &file.to_string_lossy()])
                        .is_ok_and(|id| id.trim() == expected)
            }
        };
        if !same {
            out.push(path.clone());
        }
    }
    out
}

/// Whether every directory on the way to `rel` is a real directory and `rel` a regular file.
fn regular_all_the_way(root: &Path, rel: &str) -> bool {
    let mut here = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        here.push(part);
        let Ok(meta) = std::fs::symlink_metadata(&here) else {
            return false;
        };
        let last = i + 1 == parts.len();
        if (last && !meta.file_type().is_file()) || (!last && !meta.file_type().is_dir()) {
            return false;
        }
    }
    !parts.is_empty()
}
