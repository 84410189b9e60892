//! SLURM: `sbatch --parsable` (script on stdin), one `squeue` per poll for all jobs, then
//! `sacct -c` (the jobcomp file; plain `sacct` needs slurmdbd) and `scontrol show job` for the
//! exit codes of jobs that ended, `scancel` to cancel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use super::ssh::Shell;
use super::{Backend, JobStatus, output_text};
use crate::Exit;

pub(super) struct Slurm;

/// `--export=NONE` keeps the submitter's environment out; the script exports what the run gets.
const TEMPLATE: &str = "#!/bin/bash
#SBATCH --job-name={job_name}
#SBATCH --output={stdout}
#SBATCH --error={stderr}
#SBATCH --time={minutes}
#SBATCH --chdir={workdir}
#SBATCH --export=NONE
{env}
{setup}
cd {workdir_q} || exit 1
exec /bin/sh -c {command}
";

/// Parses `N:S` (exit code, signal).
fn exit_code(s: &str) -> Option<(i32, i32)> {
    let (c, sig) = s.trim().split_once(':')?;
    Some((c.parse().ok()?, sig.parse().ok()?))
}

/// Maps a SLURM state (first word, e.g. `CANCELLED by 0`) and exit code to a status.
pub(super) fn status(state: &str, code: Option<(i32, i32)>) -> JobStatus {
    let state = state
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_end_matches('+');
    let failed = || match code {
        Some((c, _)) if c != 0 => Exit::Code(c),
        Some((_, s)) if s != 0 => Exit::Signal(s),
        _ => Exit::Code(1),
    };
    match state {
        "RUNNING" | "COMPLETING" | "SIGNALING" | "RESIZING" | "STAGE_OUT" => JobStatus::Running,
        "SUSPENDED" | "STOPPED" => JobStatus::Suspended,
        "COMPLETED" => JobStatus::Done(Exit::Code(code.map_or(0, |c| c.0))),
        "FAILED" | "OUT_OF_MEMORY" | "SPECIAL_EXIT" => JobStatus::Done(failed()),
        "TIMEOUT" | "DEADLINE" => JobStatus::Done(Exit::TimedOut),
        "CANCELLED" => JobStatus::Cancelled,
        "NODE_FAIL" | "PREEMPTED" | "BOOT_FAIL" => JobStatus::NodeFailure(state.to_string()),
        _ => JobStatus::Pending,
    }
}

/// Whether a state from squeue needs an exit code from sacct/scontrol.
fn needs_code(state: &str) -> bool {
    matches!(
        state.split_whitespace().next().unwrap_or(""),
        "FAILED" | "OUT_OF_MEMORY" | "SPECIAL_EXIT"
    )
}

impl Backend for Slurm {
    fn template(&self) -> &'static str {
        TEMPLATE
    }

    fn submit_argv(&self, submit_args: &[String]) -> Vec<String> {
        let mut v = vec!["sbatch".to_string(), "--parsable".to_string()];
        v.extend(submit_args.iter().cloned());
        v
    }

    /// `123` or `123;cluster`.
    fn parse_submit(&self, stdout: &str) -> Option<String> {
        let id = stdout.lines().find(|l| !l.trim().is_empty())?;
        let id = id.split(';').next()?.trim();
        (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit() || b == b'_'))
            .then(|| id.to_string())
    }

    fn query(
        &self,
        shell: &Shell,
        ids: &[String],
        queries: &AtomicU64,
    ) -> Result<HashMap<String, JobStatus>, String> {
        let mut found = HashMap::new();
        queries.fetch_add(1, Ordering::SeqCst);
        let argv: Vec<String> = [
            "squeue",
            "-h",
            "-t",
            "all",
            "-j",
            &ids.join(","),
            "-o",
            "%i %T",
        ]
        .map(String::from)
        .to_vec();
        let out = shell.exec(&argv, None).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() && !output_text(&out).contains("Invalid job id") {
            return Err(format!("squeue: {}", output_text(&out)));
        }
        let mut unresolved: Vec<String> = Vec::new();
        let mut states: HashMap<String, String> = HashMap::new();
        for line in text.lines() {
            let mut w = line.split_whitespace();
            let (Some(id), Some(state)) = (w.next(), w.next()) else {
                continue;
            };
            if !ids.iter().any(|i| i == id) {
                continue;
            }
            if needs_code(state) {
                unresolved.push(id.to_string());
                states.insert(id.to_string(), state.to_string());
            } else {
                found.insert(id.to_string(), status(state, None));
            }
        }
        unresolved.extend(
            ids.iter()
                .filter(|i| !found.contains_key(*i) && !states.contains_key(*i))
                .cloned(),
        );
        if unresolved.is_empty() {
            return Ok(found);
        }
        // Jobs that ended (or left squeue): the jobcomp file has state and exit code.
        queries.fetch_add(1, Ordering::SeqCst);
        let argv: Vec<String> = [
            "sacct",
            "-c",
            "-j",
            &unresolved.join(","),
            "-n",
            "-P",
            "-o",
            "JobID,State,ExitCode",
        ]
        .map(String::from)
        .to_vec();
        if let Ok(out) = shell.exec(&argv, None) {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let f: Vec<&str> = line.split('|').collect();
                if f.len() >= 3 && unresolved.iter().any(|i| i == f[0]) {
                    // The last line wins (a requeued job has several).
                    found.insert(f[0].to_string(), status(f[1], exit_code(f[2])));
                }
            }
        }
        for id in unresolved {
            if found.contains_key(&id) {
                continue;
            }
            queries.fetch_add(1, Ordering::SeqCst);
            let argv: Vec<String> = ["scontrol", "show", "job", &id].map(String::from).to_vec();
            let parsed = shell.exec(&argv, None).ok().and_then(|out| {
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                let field = |key: &str| {
                    text.split_whitespace()
                        .find_map(|w| w.strip_prefix(key).map(str::to_string))
                };
                Some(status(
                    &field("JobState=")?,
                    field("ExitCode=").and_then(|c| exit_code(&c)),
                ))
            });
            match (parsed, states.get(&id)) {
                (Some(s), _) => {
                    found.insert(id, s);
                }
                (None, Some(state)) => {
                    found.insert(id, status(state, None));
                }
                (None, None) => {}
            }
        }
        Ok(found)
    }

    fn cancel_argv(&self, id: &str) -> Vec<String> {
        vec!["scancel".into(), id.into()]
    }
}
