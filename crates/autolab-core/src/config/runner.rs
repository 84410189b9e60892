//! `[runner]`: where runs execute, how many at once, and the limits of a run.

use std::time::Duration;

use serde::Deserialize;

use super::cluster::{self, ClusterSettings};
use super::parse_duration;

type Problem = (String, String, Option<String>);

/// How many runs may go at once: the one rule for `[runner].parallel` and `--parallel`.
pub const PARALLEL: std::ops::RangeInclusive<i64> = 1..=256;

/// `n` as a number of slots, or why it is not one (with the range it must be in).
pub fn check_parallel(n: i64) -> Result<usize, String> {
    if PARALLEL.contains(&n) {
        Ok(n as usize)
    } else {
        Err(format!(
            "{n} slots is out of range: use between {} and {}",
            PARALLEL.start(),
            PARALLEL.end()
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerKind {
    Local,
    Slurm(ClusterSettings),
    Lsf(ClusterSettings),
}

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub kind: RunnerKind,
    pub parallel: usize,
    pub env_allow: Vec<String>,
    pub kill_grace: Duration,
    pub max_log_bytes: u64,
    /// This many crashed/timed-out experiments in a row pause the campaign.
    pub max_consecutive_crashes: u32,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRunner {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    parallel: Option<i64>,
    #[serde(default)]
    env_allow: Vec<String>,
    #[serde(default)]
    kill_grace: Option<String>,
    #[serde(default)]
    max_log_mb: Option<f64>,
    #[serde(default)]
    max_consecutive_crashes: Option<i64>,
    #[serde(default)]
    ssh: Option<String>,
    #[serde(default)]
    ssh_args: Vec<String>,
    #[serde(default)]
    remote_dir: Option<String>,
    #[serde(default)]
    submit_args: Vec<String>,
    #[serde(default)]
    setup: Vec<String>,
    #[serde(default)]
    poll_interval: Option<String>,
    #[serde(default)]
    max_jobs: Option<i64>,
    #[serde(default)]
    resubmit: Option<i64>,
    #[serde(default)]
    script: Option<String>,
}

pub(super) fn validate(r: RawRunner) -> Result<RunnerConfig, Problem> {
    let cluster = || {
        cluster::settings(
            r.ssh.clone(),
            r.ssh_args.clone(),
            r.remote_dir.clone(),
            r.submit_args.clone(),
            r.setup.clone(),
            r.poll_interval.clone(),
            r.max_jobs,
            r.resubmit,
            r.script.clone(),
        )
    };
    let kind = match r.kind.as_deref() {
        None | Some("local") => RunnerKind::Local,
        Some("slurm") => RunnerKind::Slurm(cluster()?),
        Some("lsf") => RunnerKind::Lsf(cluster()?),
        Some(other) => {
            return Err((
                "kind".into(),
                format!("unknown runner `{other}`"),
                Some("valid runners: local, slurm, lsf".into()),
            ));
        }
    };
    let parallel = r.parallel.unwrap_or(1);
    if let Err(why) = check_parallel(parallel) {
        return Err((
            "parallel".into(),
            format!("`parallel = {parallel}` is out of range"),
            Some(why),
        ));
    }
    let kill_grace = match &r.kill_grace {
        None => Duration::from_secs(5),
        Some(s) => parse_duration(s).map_err(|m| ("kill_grace".to_string(), m, None))?,
    };
    let max_log_mb = r.max_log_mb.unwrap_or(64.0);
    if !(max_log_mb.is_finite() && max_log_mb > 0.0) {
        return Err((
            "max_log_mb".into(),
            "`max_log_mb` must be positive".into(),
            None,
        ));
    }
    let max_crashes = r.max_consecutive_crashes.unwrap_or(5);
    if !(1..=10_000).contains(&max_crashes) {
        return Err((
            "max_consecutive_crashes".into(),
            format!("`max_consecutive_crashes = {max_crashes}` must be between 1 and 10000"),
            None,
        ));
    }
    Ok(RunnerConfig {
        kind,
        parallel: parallel as usize,
        env_allow: r.env_allow,
        kill_grace,
        max_log_bytes: (max_log_mb * 1024.0 * 1024.0) as u64,
        max_consecutive_crashes: max_crashes as u32,
    })
}
