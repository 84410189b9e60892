//! `autolab bench cluster`: scheduler calls per poll with many queued jobs (must not grow with
//! the number of jobs), on the SLURM cluster `SLURM_CONF` names.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use autolab_runner::{ClusterConfig, ClusterRunner, RunSpec, Runner, Scheduler};

use crate::output::CliError;

pub fn cluster(jobs: usize, seconds: u64) -> Result<std::process::ExitCode, CliError> {
    let root = tempfile::Builder::new()
        .prefix("autolab-bench-cluster-")
        .tempdir()?;
    println!("| jobs | polls | scheduler calls | calls per poll |");
    println!("|------|-------|-----------------|----------------|");
    for n in [1usize, 10, jobs] {
        let mut cfg = ClusterConfig::new(Scheduler::Slurm);
        cfg.poll_interval = Duration::from_millis(500);
        let runner = Arc::new(ClusterRunner::new(cfg).map_err(|e| {
            CliError::failure(
                e.to_string(),
                Some("start a cluster: eval \"$(scripts/cluster-up.sh /tmp/autolab-cluster)\""),
            )
        })?);
        let cancel = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for i in 0..n {
            let dir = root.path().join(format!("{n}-{i}"));
            std::fs::create_dir_all(&dir)?;
            let spec = RunSpec {
                command: "sleep 600".into(),
                workdir: dir.clone(),
                run_dir: dir.join("run"),
                env: Vec::new(),
                timeout: Duration::from_secs(3600),
                kill_grace: Duration::from_secs(1),
                max_log_bytes: 1 << 20,
                sandbox: None,
                stall_timeout: None,
                max_disk_bytes: None,
                disk_watch: Vec::new(),
                line_sink: None,
            };
            let (r, c) = (runner.clone(), cancel.clone());
            threads.push(std::thread::spawn(move || {
                r.run(&spec, &c, &mut |_| {}, None)
            }));
        }
        // Let every job be submitted, then count the polls of a steady window.
        std::thread::sleep(Duration::from_secs(3));
        let before = runner.poll_stats();
        std::thread::sleep(Duration::from_secs(seconds));
        let after = runner.poll_stats();
        cancel.store(true, std::sync::atomic::Ordering::SeqCst);
        for t in threads {
            let _ = t.join();
        }
        let polls = after.polls - before.polls;
        let calls = after.queries - before.queries;
        println!(
            "| {n:>4} | {polls:>5} | {calls:>15} | {:>14.2} |",
            calls as f64 / polls.max(1) as f64
        );
    }
    println!(
        "\none `squeue` call per poll for all jobs; with ssh, one ssh round-trip per call (multiplexed)."
    );
    Ok(std::process::ExitCode::SUCCESS)
}
