//! The cluster part of `[runner]` (kind = "slurm" or "lsf").

use std::time::Duration;

use super::parse_duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// `user@host` or an ssh-config alias; None runs the scheduler's commands on this host.
    pub ssh: Option<String>,
    pub ssh_args: Vec<String>,
    /// Where code is shipped to on the remote side.
    pub remote_dir: Option<String>,
    /// Extra submit arguments, e.g. `["--gres=gpu:1", "-p", "gpu"]`.
    pub submit_args: Vec<String>,
    /// Lines run in the job script before the command (module loads, venv activation).
    pub setup: Vec<String>,
    pub poll_interval: Duration,
    pub max_jobs: usize,
    /// Resubmissions after NODE_FAIL / PREEMPTED.
    pub resubmit: u32,
    /// A job-script template replacing the built-in one.
    pub script: Option<String>,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn settings(
    ssh: Option<String>,
    ssh_args: Vec<String>,
    remote_dir: Option<String>,
    submit_args: Vec<String>,
    setup: Vec<String>,
    poll_interval: Option<String>,
    max_jobs: Option<i64>,
    resubmit: Option<i64>,
    script: Option<String>,
) -> Result<ClusterSettings, (String, String, Option<String>)> {
    let poll_interval = match poll_interval {
        None => Duration::from_secs(5),
        Some(s) => parse_duration(&s).map_err(|m| ("poll_interval".to_string(), m, None))?,
    };
    let max_jobs = max_jobs.unwrap_or(64);
    if !(1..=10_000).contains(&max_jobs) {
        return Err((
            "max_jobs".into(),
            format!("`max_jobs = {max_jobs}` must be between 1 and 10000"),
            None,
        ));
    }
    let resubmit = resubmit.unwrap_or(2);
    if !(0..=20).contains(&resubmit) {
        return Err((
            "resubmit".into(),
            format!("`resubmit = {resubmit}` must be between 0 and 20"),
            None,
        ));
    }
    if ssh.is_some() && remote_dir.is_none() {
        return Err((
            "remote_dir".into(),
            "with `ssh`, autolab needs `remote_dir`: where experiments are checked out on the cluster".into(),
            Some("e.g. remote_dir = \"/scratch/me/autolab\"".into()),
        ));
    }
    Ok(ClusterSettings {
        ssh,
        ssh_args,
        remote_dir,
        submit_args,
        setup,
        poll_interval,
        max_jobs: max_jobs as usize,
        resubmit: resubmit as u32,
        script,
    })
}
