//! What a slot thread does for one run: the lab's command, then the protected-file check, then
//! (if configured) the evaluation command from pristine protected files.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use autolab_core::git;
use autolab_runner::{Exit, Finished, Handle, LineWatch, RunSpec, Runner, RunnerError};
use indexmap::IndexMap;

/// Everything a slot thread needs.
pub(super) struct Job {
    pub runner: Arc<dyn Runner>,
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
    /// Protected files the run changed while it ran.
    pub tampered: Vec<String>,
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
    let tampered = tampered(&worktree, &job.protected);
    let ran_clean = matches!(&train, Ok(f) if f.exit == Exit::Code(0));
    let eval = match job.evaluate {
        Some(spec) if ran_clean && tampered.is_empty() => {
            let paths: Vec<&str> = job
                .protected
                .iter()
                .filter(|(_, b)| b.is_some())
                .map(|(p, _)| p.as_str())
                .collect();
            if !paths.is_empty() {
                let mut args = vec!["checkout", job.base.as_str(), "--"];
                args.extend(paths);
                if let Err(e) = git::run_in(&worktree, &args) {
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
    if let Some(spec) = job.after.filter(|_| ran_clean && tampered.is_empty()) {
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
            if p.is_dir() {
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
            if figure && fresh {
                let _ = std::fs::create_dir_all(dest);
                if let Some(name) = p.file_name() {
                    let _ = std::fs::copy(&p, dest.join(name));
                }
            }
        }
    }
}

/// Protected files whose content in the worktree differs from the campaign start.
fn tampered(
    worktree: &std::path::Path,
    protected: &IndexMap<String, Option<String>>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (path, blob) in protected {
        let file: PathBuf = worktree.join(path);
        match blob {
            None => {
                if file.exists() {
                    out.push(path.clone());
                }
            }
            Some(expected) => {
                let p = file.to_string_lossy();
                let actual = git::run_in(worktree, &["hash-object", "--no-filters", "--", &p])
                    .map(|s| s.trim().to_string());
                if actual.as_deref().ok() != Some(expected.as_str()) {
                    out.push(path.clone());
                }
            }
        }
    }
    out
}
