//! Campaigns on a real one-node SLURM cluster (started by scripts/cluster-up.sh): runs are jobs,
//! and a killed autolab re-attaches to its jobs instead of submitting them again.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::common::*;

const CLUSTER_DIR: &str = "/tmp/autolab-cluster";

/// SLURM_CONF of a running cluster, starting it (once, under a lock) if needed.
pub(super) fn slurm() -> Option<String> {
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
        skip("no SLURM cluster (run scripts/cluster-up.sh as root; CI does)");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/cluster-up.sh");
    let _ = Command::new("flock")
        // -o: the daemons the script starts must not inherit (and hold) the lock.
        .args(["-o", "/tmp/autolab-cluster.lock"])
        .arg(&script)
        .arg(CLUSTER_DIR)
        .stdout(Stdio::null())
        .status();
    if ok() {
        Some(conf.display().to_string())
    } else {
        skip(&format!("{} could not start a cluster", script.display()));
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

/// The spiral example with `[runner]` set to `runner_toml`.
fn spiral_on(runner_toml: &str) -> TestLab {
    let lab = TestLab::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/spiral");
    for f in ["prepare.py", "train.py", "params.json"] {
        lab.write(f, &std::fs::read_to_string(root.join(f)).unwrap());
    }
    let toml = std::fs::read_to_string(root.join("autolab.toml"))
        .unwrap()
        .replace("[runner]\nkind = \"local\"\nparallel = 2\n", runner_toml)
        .replace("repeats = 3 ", "repeats = 2 ");
    assert!(toml.contains(runner_toml), "{toml}");
    lab.write("autolab.toml", &toml);
    lab.commit("spiral");
    lab
}

fn assert_campaign_done(lab: &TestLab, n: usize) {
    let rows = lab.json(&["results", "--format", "json"]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), n);
    assert!(rows.iter().all(|r| r["verdict"].is_string()), "{rows:?}");
    assert_eq!(rows[0]["verdict"], "kept");
    let conn = lab.ledger();
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM runs WHERE job IS NULL"),
        0,
        "every run was a job"
    );
}

#[test]
fn a_spiral_campaign_runs_through_slurm_with_two_slots() {
    let Some(conf) = slurm() else { return };
    let lab = spiral_on("[runner]\nkind = \"slurm\"\nparallel = 2\npoll_interval = \"300ms\"\n");
    let out = lab
        .cmd()
        .args(["run", "--tag", "sl", "--max-experiments", "5"])
        .env("SLURM_CONF", &conf)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_campaign_done(&lab, 5);
}

#[test]
fn a_spiral_campaign_runs_through_slurm_over_ssh() {
    let Some(conf) = slurm() else { return };
    let key = Path::new(CLUSTER_DIR).join("ssh/client_key");
    if !key.exists() {
        skip("no test sshd key (scripts/cluster-up.sh starts sshd)");
        return;
    }
    let remote = tempfile::tempdir().unwrap();
    let runner = format!(
        "[runner]\nkind = \"slurm\"\nparallel = 2\npoll_interval = \"300ms\"\nssh = \"root@127.0.0.1\"\nssh_args = [\"-p\", \"2222\", \"-i\", \"{}\", \"-o\", \"StrictHostKeyChecking=no\", \"-o\", \"UserKnownHostsFile=/dev/null\"]\nremote_dir = \"{}\"\n",
        key.display(),
        remote.path().display()
    );
    let lab = spiral_on(&runner);
    let out = lab
        .cmd()
        .args(["run", "--tag", "ssh", "--max-experiments", "5"])
        .env("SLURM_CONF", &conf)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_campaign_done(&lab, 5);
    // The code was shipped: checkouts exist under the remote dir, and logs came back.
    assert!(std::fs::read_dir(remote.path()).unwrap().count() > 0);
    let log =
        std::fs::read_to_string(lab.path().join(".autolab/runs/ssh/0000/0/stdout.log")).unwrap();
    assert!(log.contains("val_loss:"), "{log}");
}

#[test]
fn a_job_scancelled_mid_run_gets_a_verdict_and_the_campaign_goes_on() {
    let Some(conf) = slurm() else { return };
    let lab = TestLab::new();
    lab.write(
        "run.sh",
        "if [ -n \"$P_SLOW\" ]; then sleep 300; fi\necho 'val_loss: 0.5'\n",
    );
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"sh run.sh\"\ntimeout = \"10m\"\n[metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n\
         [params]\napply = { env = \"P_\" }\nslow = { choice = [\"yes\"] }\n[decide]\npolicy = \"strict\"\n\
         [runner]\nkind = \"slurm\"\nparallel = 1\npoll_interval = \"300ms\"\n",
    );
    lab.commit("lab");
    let mut child = lab
        .cmd()
        .args(["run", "--tag", "sc", "--max-experiments", "3"])
        .env("SLURM_CONF", &conf)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    lab.wait_for("the first candidate's job", |c| {
        count(c, "SELECT COUNT(*) FROM runs r JOIN experiments e ON r.experiment_id = e.id WHERE e.number = 1 AND r.job IS NOT NULL AND r.outcome = 'running'") == 1
    });
    let job: String = lab
        .ledger()
        .query_row("SELECT r.job FROM runs r JOIN experiments e ON r.experiment_id = e.id WHERE e.number = 1", [], |r| r.get(0))
        .unwrap();
    let id = job.trim_start_matches("slurm:");
    assert!(
        Command::new("scancel")
            .env("SLURM_CONF", &conf)
            .arg(id)
            .status()
            .unwrap()
            .success()
    );
    lab.wait_for("the second candidate's job", |c| {
        count(c, "SELECT COUNT(*) FROM runs r JOIN experiments e ON r.experiment_id = e.id WHERE e.number = 2 AND r.job IS NOT NULL") == 1
    });
    let second: String = lab
        .ledger()
        .query_row("SELECT r.job FROM runs r JOIN experiments e ON r.experiment_id = e.id WHERE e.number = 2", [], |r| r.get(0))
        .unwrap();
    let _ = Command::new("scancel")
        .env("SLURM_CONF", &conf)
        .arg(second.trim_start_matches("slurm:"))
        .status();
    let status = child.wait().unwrap();
    assert!(status.success());
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["verdict"], "crashed", "{one}");
    assert_eq!(
        lab.json(&["results", "--format", "json"])
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn lsf_through_the_fakes_runs_and_reattaches() {
    let fakes = Path::new(env!("CARGO_MANIFEST_DIR")).join("../autolab-runner/tests/fake-lsf");
    let state = tempfile::tempdir().unwrap();
    let path = format!("{}:{}", fakes.display(), std::env::var("PATH").unwrap());
    let lab = TestLab::new();
    lab.write("params.json", "{\"x\": 0.9}\n");
    lab.write("run.sh", "sleep 0.5\nx=$(sed -n 's/.*\"x\": *\\([0-9.e-]*\\).*/\\1/p' params.json)\necho \"val_loss: $x\"\n");
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"sh run.sh\"\neditable = [\"params.json\"]\n[metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n\
         [params]\napply = { json = \"params.json\" }\nx = { float = [0.0, 1.0] }\n[decide]\npolicy = \"strict\"\n\
         [runner]\nkind = \"lsf\"\nparallel = 2\npoll_interval = \"200ms\"\n",
    );
    lab.commit("lab");
    let args = ["run", "--tag", "lsf", "--max-experiments", "5"];
    let mut child = lab
        .cmd()
        .args(args)
        .env("PATH", &path)
        .env("FAKE_LSF_DIR", state.path())
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
    let out = lab
        .cmd()
        .args(args)
        .env("PATH", &path)
        .env("FAKE_LSF_DIR", state.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("re-attaching to job lsf:"),
        "{}",
        stderr(&out)
    );
    let rows = lab.json(&["results", "--format", "json"]);
    assert_eq!(rows.as_array().unwrap().len(), 5);
    let conn = lab.ledger();
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(DISTINCT job) FROM runs WHERE job LIKE 'lsf:%'"
        ),
        count(&conn, "SELECT COUNT(*) FROM runs WHERE outcome != 'lost'")
    );
}

#[test]
fn doctor_checks_a_slurm_profile_by_running_a_job() {
    let Some(conf) = slurm() else { return };
    let lab = slurm_lab();
    let out = lab
        .cmd()
        .args(["doctor"])
        .env("SLURM_CONF", &conf)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("ok    `sbatch` is available on this host"),
        "{text}"
    );
    assert!(
        text.contains("ok    a trivial job runs on this host (Slurm)"),
        "{text}"
    );
}

#[test]
fn cancel_and_pause_from_another_terminal_reach_slurm_jobs() {
    let Some(conf) = slurm() else { return };
    let lab = TestLab::new();
    // #1 holds until cancelled; the others end at once.
    lab.write(
        "run.sh",
        "case \"$AUTOLAB_EXPERIMENT\" in */0001) sleep 300 ;; esac\necho 'val_loss: 0.5'\n",
    );
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"sh run.sh\"\ntimeout = \"10m\"\n[metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n\
         [params]\napply = { env = \"P_\" }\nx = { float = [0.0, 1.0] }\n[decide]\npolicy = \"strict\"\n\
         [runner]\nkind = \"slurm\"\nparallel = 1\npoll_interval = \"200ms\"\n",
    );
    lab.commit("lab");
    let child = lab
        .cmd()
        .args(["run", "--tag", "ctl", "--max-experiments", "3"])
        .env("SLURM_CONF", &conf)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    lab.wait_for("#1's job", |c| {
        count(c, "SELECT COUNT(*) FROM runs r JOIN experiments e ON r.experiment_id = e.id WHERE e.number = 1 AND r.job IS NOT NULL AND r.outcome = 'running'") == 1
    });
    let job: String = lab
        .ledger()
        .query_row("SELECT r.job FROM runs r JOIN experiments e ON r.experiment_id = e.id WHERE e.number = 1", [], |r| r.get(0))
        .unwrap();
    let id = job.trim_start_matches("slurm:").to_string();
    // Pending or running in SLURM (a cancelled job may show as completing for a moment).
    let queued = |id: &str| {
        let out = Command::new("squeue")
            .env("SLURM_CONF", &conf)
            .args(["--noheader", "--jobs", id, "--format", "%T"])
            .output()
            .unwrap();
        let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
        matches!(state.as_str(), "PENDING" | "RUNNING" | "CONFIGURING")
    };
    assert!(queued(&id), "job {id} is in the queue");
    // Pause first: #1 keeps running; then cancel it.
    let out = lab.autolab(&["pause"]);
    assert!(
        stdout(&out).contains("paused: 1 running"),
        "{}",
        stdout(&out)
    );
    let out = lab.autolab(&["cancel", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    lab.wait_for("#1 cancelled", |c| {
        count(
            c,
            "SELECT COUNT(*) FROM experiments WHERE number = 1 AND verdict = 'cancelled'",
        ) == 1
    });
    assert!(!queued(&id), "job {id} was cancelled in SLURM");
    // Still paused: nothing new was submitted.
    let out = lab.autolab(&["pause"]);
    assert!(stdout(&out).contains("already paused"), "{}", stdout(&out));
    assert_eq!(count(&lab.ledger(), "SELECT COUNT(*) FROM experiments"), 2);
    let out = lab.autolab(&["resume"]);
    assert!(stdout(&out).contains("resumed"), "{}", stdout(&out));
    let out = output_within(child, Duration::from_secs(120));
    assert!(out.status.success(), "{}", stderr(&out));
    let exps = lab.json(&["results", "--format", "json"]);
    let verdicts: Vec<&str> = exps
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["verdict"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(verdicts.len(), 3, "{exps}");
    assert_eq!(verdicts[1], "cancelled", "{exps}");
    assert_ne!(verdicts[2], "cancelled", "{exps}");
}

#[test]
fn projects_run_as_slurm_jobs_with_their_plot() {
    let Some(conf) = slurm() else { return };
    let llm = autolab_llm::fake::FakeServer::from_fn(super::projects::two_lines_llm);
    let lab = super::projects::shell_projects_lab(&llm, "max_ideas = 2\nplot = \"sh plot.sh\"\n");
    lab.write("plot.sh", "ls -d run_* > plotted.txt\n");
    let toml = lab.read("autolab.toml")
        + "[runner]\nkind = \"slurm\"\nparallel = 2\npoll_interval = \"200ms\"\n";
    lab.write("autolab.toml", &toml);
    lab.commit("on slurm, with a plot");
    let out = lab
        .cmd()
        .args(["run", "--tag", "sl", "--max-experiments", "10"])
        .env("SLURM_CONF", &conf)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let conn = lab.ledger();
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM projects WHERE status = 'done'"),
        2,
        "{}",
        stderr(&out)
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM runs WHERE job IS NULL"),
        0,
        "every run was a job"
    );
    let dirs: Vec<String> = conn
        .prepare("SELECT dir FROM projects ORDER BY number")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for d in dirs {
        let plotted =
            std::fs::read_to_string(Path::new(&d).join("plotted.txt")).unwrap_or_default();
        assert!(
            plotted.contains("run_0") && plotted.contains("run_1"),
            "the plot ran in {d}: {plotted:?}"
        );
    }
}
