//! LSF: `bsub` (script on stdin), one `bjobs -noheader -o 'jobid stat exit_code' ids…` per poll
//! for all jobs, `bkill` to cancel. Tested against the fakes in `tests/fake-lsf/` only: no
//! open-source LSF exists to test against.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use super::ssh::Shell;
use super::{Backend, JobStatus, output_text};
use crate::Exit;

pub(super) struct Lsf;

/// `-oo`/`-eo` overwrite the logs; `-env none` keeps the submitter's environment out.
const TEMPLATE: &str = "#!/bin/bash
#BSUB -J {job_name}
#BSUB -oo {stdout}
#BSUB -eo {stderr}
#BSUB -W {minutes}
#BSUB -cwd {workdir}
#BSUB -env none
{env}
{setup}
cd {workdir_q} || exit 1
exec /bin/sh -c {command}
";

/// Maps an LSF `stat` and `exit_code` (`-` when none) to a status.
pub(super) fn status(stat: &str, code: &str) -> JobStatus {
    match stat {
        "PEND" | "PROV" | "WAIT" | "PSUSP" => JobStatus::Pending,
        "RUN" => JobStatus::Running,
        "USUSP" | "SSUSP" => JobStatus::Suspended,
        "DONE" => JobStatus::Done(Exit::Code(0)),
        "EXIT" => JobStatus::Done(Exit::Code(match code.parse::<i32>() {
            Ok(c) if c != 0 => c,
            _ => 1,
        })),
        _ => JobStatus::Pending,
    }
}

impl Backend for Lsf {
    fn template(&self) -> &'static str {
        TEMPLATE
    }

    fn submit_argv(&self, submit_args: &[String]) -> Vec<String> {
        let mut v = vec!["bsub".to_string()];
        v.extend(submit_args.iter().cloned());
        v
    }

    /// `Job <123> is submitted to queue <normal>.`
    fn parse_submit(&self, stdout: &str) -> Option<String> {
        stdout.lines().find_map(|l| {
            let rest = l.trim().strip_prefix("Job <")?;
            let (id, tail) = rest.split_once('>')?;
            (tail.contains("is submitted")
                && !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit()))
            .then(|| id.to_string())
        })
    }

    fn query(
        &self,
        shell: &Shell,
        ids: &[String],
        queries: &AtomicU64,
    ) -> Result<HashMap<String, JobStatus>, String> {
        queries.fetch_add(1, Ordering::SeqCst);
        let mut argv: Vec<String> = ["bjobs", "-noheader", "-o", "jobid stat exit_code"]
            .map(String::from)
            .to_vec();
        argv.extend(ids.iter().cloned());
        let out = shell.exec(&argv, None).map_err(|e| e.to_string())?;
        let mut found = HashMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            if w.len() >= 2 && ids.iter().any(|i| i == w[0]) {
                found.insert(
                    w[0].to_string(),
                    status(w[1], w.get(2).copied().unwrap_or("-")),
                );
            }
        }
        // bjobs fails when some job is unknown ("Job <N> is not found"); that is not an error.
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success()
            && found.is_empty()
            && !err
                .lines()
                .all(|l| l.trim().is_empty() || l.contains("not found"))
        {
            return Err(format!("bjobs: {}", output_text(&out)));
        }
        Ok(found)
    }

    fn cancel_argv(&self, id: &str) -> Vec<String> {
        vec!["bkill".into(), id.into()]
    }
}
