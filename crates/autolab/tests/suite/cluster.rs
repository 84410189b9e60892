//! Campaigns on a real one-node SLURM cluster (started by scripts/cluster-up.sh): runs are jobs,
//! and a killed autolab re-attaches to its jobs instead of submitting them again.

use std::path::Path;
use std::process::{Command, Stdio};

use super::common::*;

const CLUSTER_DIR: &str = "/tmp/autolab-cluster";

/// SLURM_CONF of a running cluster, starting it (once, under a lock) if needed.
fn slurm() -> Option<String> {
    let conf = Path::new(CLUSTER_DIR).join("slurm.conf");
    let ok = || {
        Command::new("sinfo")
            .env("SLURM_CONF", &conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if conf.exists() && ok() {
        return Some(conf.display().to_string());
    }
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: no SLURM cluster (run scripts/cluster-up.sh as root; CI does)");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/cluster-up.sh");
    let _ = Command::new("flock")
        .arg("/tmp/autolab-cluster.lock")
        .arg(&script)
        .arg(CLUSTER_DIR)
        .stdout(Stdio::null())
        .status();
    if ok() {
        Some(conf.display().to_string())
    } else {
        eprintln!("skipped: {} could not start a cluster", script.display());
        None
    }
}

fn slurm_lab() -> TestLab {
    let lab = TestLab::new();
    lab.write("params.json", "{\"x\": 0.9}\n");
    lab.write("run.sh", "sleep 1\nx=$(sed -n 's/.*\"x\": *\\([0-9.e-]*\\).*/\\1/p' params.json)\necho \"val_loss: $x\"\n");
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"sh run.sh\"\neditable = [\"params.json\"]\ntimeout = \"2m\"\n[metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n\
         [params]\napply = { json = \"params.json\" }\nx = { float = [0.0, 1.0] }\n[decide]\npolicy = \"strict\"\n\
         [runner]\nkind = \"slurm\"\nparallel = 2\npoll_interval = \"200ms\"\n",
    );
    lab.commit("lab");
    lab
}

#[test]
fn a_campaign_runs_as_slurm_jobs_and_reattaches_after_sigkill() {
    let Some(conf) = slurm() else { return };
    let lab = slurm_lab();
    let args = ["run", "--tag", "slurmt", "--max-experiments", "4"];
    let mut child = lab
        .cmd()
        .args(args)
        .env("SLURM_CONF", &conf)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    lab.wait_for("a job submitted", |c| {
        count(
            c,
            "SELECT COUNT(*) FROM runs WHERE job IS NOT NULL AND outcome = 'running'",
        ) >= 1
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let job: String = lab
        .ledger()
        .query_row(
            "SELECT job FROM runs WHERE outcome = 'running' AND job IS NOT NULL LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(job.starts_with("slurm:"), "{job}");

    let out = lab
        .cmd()
        .args(args)
        .env("SLURM_CONF", &conf)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("re-attaching to job"),
        "{}",
        stderr(&out)
    );
    let rows = lab.json(&["results", "--format", "json"]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r["verdict"].is_string()));
    // The interrupted job was waited for, not submitted again: its run is the one that counted.
    let conn = lab.ledger();
    assert_eq!(
        count(
            &conn,
            &format!("SELECT COUNT(*) FROM runs WHERE job = '{job}'")
        ),
        1
    );
    assert_eq!(
        count(
            &conn,
            &format!("SELECT COUNT(*) FROM runs WHERE job = '{job}' AND outcome = 'exited'")
        ),
        1
    );
    // Every run was a SLURM job with its own id.
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM runs WHERE job IS NULL"),
        0
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(DISTINCT job) FROM runs"),
        count(&conn, "SELECT COUNT(*) FROM runs")
    );
}
