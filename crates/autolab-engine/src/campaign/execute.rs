//! What a slot thread does for one run: the lab's command, then the protected-file check, then
//! (if configured) the evaluation command from pristine protected files.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use autolab_core::git;
use autolab_runner::{Exit, Finished, LineWatch, RunSpec, Runner, RunnerError};
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
}

pub(super) struct RunOutput {
    pub train: Result<Finished, RunnerError>,
    /// Protected files the run changed while it ran.
    pub tampered: Vec<String>,
    pub eval: Option<Result<Finished, RunnerError>>,
}

pub(super) fn execute(job: Job, started: &mut dyn FnMut(u32)) -> RunOutput {
    let train = job.runner.run(&job.spec, &job.cancel, started, job.watch);
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
    RunOutput {
        train,
        tampered,
        eval,
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
