//! Turning an idea into changed files in a worktree: the built-in coder (SEARCH/REPLACE blocks,
//! re-asked with the exact failure) or an external agent command. The pipeline commits.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use autolab_core::confine::confine;
use autolab_core::git::{Worktree, path_matches};
use autolab_core::ledger::Transcript;
use serde::Serialize;

use super::context::{FileView, summarize};
use super::prompts::Templates;
use super::{CallError, Caller, user};
use crate::agent::edit_blocks::{ApplyError, apply_edit_blocks, parse_edit_blocks};
use crate::agent::ideas::Idea;

/// What the coder is to fix: the crash's log tail and the change so far.
#[derive(Debug, Clone)]
pub struct Fix {
    pub log_tail: String,
    pub diff: String,
}

pub enum CoderSpec {
    Builtin {
        caller: Caller,
        templates: Arc<Templates>,
        attempts: u32,
    },
    Command {
        template: String,
        timeout: Duration,
        scratch: PathBuf,
    },
}

pub struct CodeJob {
    pub coder: Arc<CoderSpec>,
    pub idea: Idea,
    pub expert: Option<String>,
    pub goal: String,
    /// The candidate's worktree, opened as autolab recorded it.
    pub worktree: Worktree,
    pub editable: Vec<String>,
    pub protected: Vec<String>,
    pub fix: Option<Fix>,
}

pub struct CodeOutcome {
    /// The files changed, or why nothing could be.
    pub result: Result<Vec<String>, String>,
    pub transcripts: Vec<Transcript>,
    pub out_of_budget: bool,
    /// The LLM could not be reached: worth trying again later.
    pub unavailable: bool,
}

#[derive(Serialize)]
struct Vars<'a> {
    goal: &'a str,
    idea: &'a Idea,
    files: &'a [FileView],
    fix_log: Option<&'a str>,
    diff: Option<&'a str>,
    failure: Option<&'a str>,
}

pub fn implement(job: CodeJob) -> CodeOutcome {
    match job.coder.as_ref() {
        CoderSpec::Builtin {
            caller,
            templates,
            attempts,
        } => builtin(&job, caller, templates, *attempts),
        CoderSpec::Command {
            template,
            timeout,
            scratch,
        } => external(&job, template, *timeout, scratch),
    }
}

/// The worktree's editable files, path → content. A tracked symlink that leads out of the
/// worktree is not read (its target is not the lab's to show).
fn editable_files(worktree: &Worktree, patterns: &[String]) -> BTreeMap<String, String> {
    let listed = worktree.run(&["ls-files", "-z"]).unwrap_or_default();
    listed
        .split('\0')
        .filter(|f| !f.is_empty() && patterns.iter().any(|p| path_matches(p, f)))
        .filter_map(|f| {
            let file = confine(worktree.path(), f).ok()?;
            std::fs::read_to_string(file)
                .ok()
                .map(|c| (f.to_string(), c))
        })
        .collect()
}

/// Blocks whose path leads out of the worktree once symlinks are followed.
fn refused_paths(
    worktree: &Worktree,
    blocks: &[crate::agent::edit_blocks::EditBlock],
) -> Vec<ApplyError> {
    blocks
        .iter()
        .filter_map(|b| {
            let path = b.path.trim();
            confine(worktree.path(), path)
                .err()
                .map(|refused| ApplyError::Refused {
                    path: path.to_string(),
                    reason: refused.to_string(),
                })
        })
        .collect()
}

fn builtin(job: &CodeJob, caller: &Caller, templates: &Templates, attempts: u32) -> CodeOutcome {
    let mut transcripts = Vec::new();
    let files = editable_files(&job.worktree, &job.editable);
    let views: Vec<FileView> = files
        .iter()
        .map(|(p, c)| FileView {
            path: p.clone(),
            content: summarize(c, 24_000),
        })
        .collect();
    let editable = |p: &str| {
        job.editable.iter().any(|e| path_matches(e, p))
            && !job.protected.iter().any(|x| path_matches(x, p))
    };
    let mut failure: Option<String> = None;
    let role = if job.fix.is_some() { "fixer" } else { "coder" };
    for _ in 0..attempts.max(1) {
        let prompt = match templates.render(
            "coder",
            Vars {
                goal: &job.goal,
                idea: &job.idea,
                files: &views,
                fix_log: job.fix.as_ref().map(|f| f.log_tail.as_str()),
                diff: job.fix.as_ref().map(|f| f.diff.as_str()),
                failure: failure.as_deref(),
            },
        ) {
            Ok(p) => p,
            Err(e) => {
                return CodeOutcome {
                    result: Err(e),
                    transcripts,
                    out_of_budget: false,
                    unavailable: false,
                };
            }
        };
        let reply = match caller.call(
            vec![user(prompt)],
            role,
            job.expert.as_deref(),
            &mut transcripts,
        ) {
            Ok(r) => r.text,
            Err(e) => {
                return CodeOutcome {
                    result: Err(e.to_string()),
                    transcripts,
                    out_of_budget: matches!(e, CallError::Budget { .. }),
                    unavailable: matches!(e, CallError::Unavailable(_)),
                };
            }
        };
        let blocks = match parse_edit_blocks(&reply) {
            Ok(b) if b.is_empty() => {
                failure = Some("Your reply had no SEARCH/REPLACE blocks.".into());
                continue;
            }
            Ok(b) => b,
            Err(e) => {
                failure = Some(format!("Your blocks could not be parsed: {e}"));
                continue;
            }
        };
        let mut trial = files.clone();
        let applied = match refused_paths(&job.worktree, &blocks) {
            refused if refused.is_empty() => apply_edit_blocks(&mut trial, &blocks, &editable),
            refused => Err(refused),
        };
        match applied {
            Ok(changed) => {
                for path in &changed {
                    // Checked again right before writing, against the resolved path.
                    let full = match confine(job.worktree.path(), path) {
                        Ok(f) => f,
                        Err(refused) => {
                            return CodeOutcome {
                                result: Err(format!("refused to write: {refused}")),
                                transcripts,
                                out_of_budget: false,
                                unavailable: false,
                            };
                        }
                    };
                    if let Some(parent) = full.parent() {
                        let _ = std::fs::create_dir_all(parent);
                    }
                    let content = trial.get(path).cloned().unwrap_or_default();
                    if let Err(e) = std::fs::write(&full, content) {
                        return CodeOutcome {
                            result: Err(format!("cannot write {path}: {e}")),
                            transcripts,
                            out_of_budget: false,
                            unavailable: false,
                        };
                    }
                }
                return CodeOutcome {
                    result: Ok(changed),
                    transcripts,
                    out_of_budget: false,
                    unavailable: false,
                };
            }
            Err(errors) => {
                failure = Some(
                    errors
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
            }
        }
    }
    CodeOutcome {
        result: Err(format!(
            "the edits did not apply after {attempts} attempt(s): {}",
            failure.unwrap_or_default()
        )),
        transcripts,
        out_of_budget: false,
        unavailable: false,
    }
}

/// Runs an external agent in the worktree; whatever it changes is validated by the pipeline.
fn external(job: &CodeJob, template: &str, timeout: Duration, scratch: &Path) -> CodeOutcome {
    let _ = std::fs::create_dir_all(scratch);
    let message_file = scratch.join(format!("message-{}.md", std::process::id()));
    let mut message = format!(
        "{}\n\nHypothesis: {}\n\nPlan: {}\n",
        job.idea.title, job.idea.hypothesis, job.idea.plan
    );
    if let Some(fix) = &job.fix {
        message.push_str(&format!(
            "\nThe last run crashed. Fix it. The end of its output:\n```\n{}\n```\n",
            fix.log_tail
        ));
    }
    message.push_str(&format!(
        "\nOnly edit these files: {}\n",
        job.editable.join(", ")
    ));
    if let Err(e) = std::fs::write(&message_file, &message) {
        return CodeOutcome {
            result: Err(format!("cannot write the message file: {e}")),
            transcripts: vec![],
            out_of_budget: false,
            unavailable: false,
        };
    }
    let files = editable_files(&job.worktree, &job.editable)
        .into_keys()
        .collect::<Vec<_>>()
        .join(" ");
    let cmd = template
        .replace("{message}", &message_file.to_string_lossy())
        .replace("{files}", &files);
    let result = run_with_timeout(
        &cmd,
        job.worktree.path(),
        timeout,
        &scratch.join("coder.log"),
    );
    let _ = std::fs::remove_file(&message_file);
    // Not into nested repositories: git would run their own config's filters there.
    let changed = job
        .worktree
        .run(&["status", "--porcelain", "-z", "--ignore-submodules=all"])
        .map(|s| {
            s.split('\0')
                .filter(|l| l.len() > 3)
                .map(|l| l[3..].to_string())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let result = match result {
        Err(e) => Err(e),
        Ok(()) if changed.is_empty() => Err(format!("`{cmd}` changed nothing")),
        Ok(()) => Ok(changed),
    };
    CodeOutcome {
        result,
        transcripts: vec![],
        out_of_budget: false,
        unavailable: false,
    }
}

fn run_with_timeout(cmd: &str, dir: &Path, timeout: Duration, log: &Path) -> Result<(), String> {
    let err_file =
        std::fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(err_file))
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the coder `{cmd}`: {e}"))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let err = std::fs::read_to_string(log).unwrap_or_default();
                let tail: String = err
                    .chars()
                    .rev()
                    .take(2000)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                return Err(format!(
                    "the coder `{cmd}` failed ({status}): {}",
                    tail.trim()
                ));
            }
            Ok(None) if start.elapsed() > timeout => {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the coder `{cmd}` timed out"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e.to_string()),
        }
    }
}
