//! Against the real one-node SLURM cluster of scripts/cluster-up.sh.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use autolab_runner::{ClusterConfig, ClusterRunner, Exit, Handle, Runner, Scheduler};

use super::common::{die_after_submit, env, read, skip, spec, unique};

macro_rules! need_slurm {
    () => {
        if let Some(why) = &env().slurm_missing {
            skip(why);
            return;
        }
    };
}

fn runner() -> ClusterRunner {
    let mut cfg = ClusterConfig::new(Scheduler::Slurm);
    cfg.poll_interval = Duration::from_millis(300);
    cfg.timeout_margin = Duration::from_secs(1);
    ClusterRunner::new(cfg).unwrap()
}

/// How many jobs named `name` the scheduler knows (finished ones stay for MinJobAge = 300 s).
fn jobs_named(name: &str) -> usize {
    let out = std::process::Command::new("squeue")
        .args(["-h", "-t", "all", "-o", "%j"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.trim() == name)
        .count()
}

#[test]
fn slurm_job_succeeds_with_its_output_and_env() {
    need_slurm!();
    let dir = tempfile::tempdir().unwrap();
    let s = spec(
        dir.path(),
        "ok",
        "echo hello; echo oops >&2; echo \"$AUTOLAB_NOTE\"; pwd; echo \"${SECRET_KEY:-none}\"",
        Duration::from_secs(60),
    );
    let mut handles = Vec::new();
    let f = runner()
        .run(&s, &AtomicBool::new(false), &mut |h| handles.push(h), None)
        .unwrap();
    let out = read(&f.stdout);
    assert_eq!(
        f.exit,
        Exit::Code(0),
        "stdout: {out} stderr: {}",
        read(&f.stderr)
    );
    assert!(out.contains("hello\n"), "{out}");
    assert!(out.contains("it's a \"test\" $HOME\n"), "{out}");
    assert!(
        out.contains(&format!("{}\n", dir.path().display())),
        "{out}"
    );
    assert!(out.contains("none\n"), "the submitter's env leaked: {out}");
    assert!(read(&f.stderr).contains("oops"));
    assert!(matches!(&handles[..], [Handle::Job { scheduler, .. }] if scheduler == "slurm"));
    let script = read(&s.run_dir.join("job.sh"));
    assert!(
        script.contains("#SBATCH --time=2\n"),
        "60 s + 1 s margin is 2 minutes: {script}"
    );
}

#[test]
fn slurm_job_exit_code_is_kept() {
    need_slurm!();
    let dir = tempfile::tempdir().unwrap();
    let s = spec(
        dir.path(),
        "three",
        "echo before; exit 3",
        Duration::from_secs(60),
    );
    let f = runner()
        .run(&s, &AtomicBool::new(false), &mut |_| {}, None)
        .unwrap();
    assert_eq!(f.exit, Exit::Code(3));
    assert!(read(&f.stdout).contains("before"));
}

#[test]
fn slurm_job_is_cancelled() {
    need_slurm!();
    let dir = tempfile::tempdir().unwrap();
    let s = spec(
        dir.path(),
        "cancel",
        "echo started; sleep 120",
        Duration::from_secs(300),
    );
    let cancel = AtomicBool::new(false);
    let start = Instant::now();
    let f = std::thread::scope(|sc| {
        sc.spawn(|| {
            std::thread::sleep(Duration::from_secs(4));
            cancel.store(true, Ordering::SeqCst);
        });
        runner().run(&s, &cancel, &mut |_| {}, None).unwrap()
    });
    assert_eq!(f.exit, Exit::Cancelled);
    assert!(
        start.elapsed() < Duration::from_secs(40),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn slurm_local_timeout_cancels_the_job() {
    need_slurm!();
    let dir = tempfile::tempdir().unwrap();
    let s = spec(dir.path(), "slow", "sleep 120", Duration::from_secs(3));
    let start = Instant::now();
    let f = runner()
        .run(&s, &AtomicBool::new(false), &mut |_| {}, None)
        .unwrap();
    assert_eq!(f.exit, Exit::TimedOut);
    assert!(
        start.elapsed() < Duration::from_secs(40),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn slurm_polls_all_jobs_with_one_query() {
    need_slurm!();
    let dir = tempfile::tempdir().unwrap();
    let r = runner();
    let interval = r.config().poll_interval;
    let results: Vec<_> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let r = &r;
                let s = spec(
                    dir.path(),
                    &format!("batch{i}"),
                    &format!("sleep 3; echo job{i}"),
                    Duration::from_secs(60),
                );
                sc.spawn(move || {
                    let start = Instant::now();
                    let f = r
                        .run(&s, &AtomicBool::new(false), &mut |_| {}, None)
                        .unwrap();
                    (f, start.elapsed())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut polls_if_alone = 0;
    for (i, (f, elapsed)) in results.iter().enumerate() {
        assert_eq!(f.exit, Exit::Code(0));
        assert!(read(&f.stdout).contains(&format!("job{i}")));
        polls_if_alone += (elapsed.as_millis() / interval.as_millis()) as u64;
    }
    let stats = r.poll_stats();
    // Four waiters polling alone would send ~4x the queries of one shared poller.
    assert!(
        stats.queries * 2 < polls_if_alone,
        "{stats:?} vs {polls_if_alone} polls if each job polled alone"
    );
}

#[test]
fn slurm_reattach_waits_for_the_same_job() {
    need_slurm!();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("reattach");
    let s = spec(
        dir.path(),
        &name,
        "sleep 2; echo reattached; exit 4",
        Duration::from_secs(60),
    );
    // The first autolab "dies" right after recording the handle.
    let handle = die_after_submit(runner(), &s);
    let f = runner()
        .attach(&handle, &s, &AtomicBool::new(false))
        .expect("slurm jobs can be attached")
        .unwrap();
    assert_eq!(f.exit, Exit::Code(4));
    assert!(read(&f.stdout).contains("reattached"));
    assert_eq!(jobs_named(&format!("autolab-{name}")), 1);
    // Other schedulers' handles are not ours.
    let lsf = Handle::Job {
        scheduler: "lsf".into(),
        id: "1".into(),
    };
    assert!(runner().attach(&lsf, &s, &AtomicBool::new(false)).is_none());
}

#[test]
fn slurm_over_ssh_ships_code_and_fetches_logs() {
    need_slurm!();
    let key = std::env::var("AUTOLAB_SSH_KEY")
        .unwrap_or_else(|_| format!("{}/ssh/client_key", super::common::CLUSTER_DIR));
    if !std::path::Path::new(&key).exists() {
        skip(&format!("no ssh client key at {key}"));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wt = dir.path().join("exp-7");
    std::fs::create_dir_all(&wt).unwrap();
    std::fs::write(wt.join("train.sh"), "echo shipped code; echo result=42\n").unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(&wt)
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "x"]);
    let remote = dir.path().join("remote");
    let mut cfg = ClusterConfig::new(Scheduler::Slurm);
    cfg.poll_interval = Duration::from_millis(300);
    cfg.ssh = Some("root@127.0.0.1".into());
    cfg.ssh_args = [
        "-p",
        "2222",
        "-i",
        &key,
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
    ]
    .map(String::from)
    .to_vec();
    cfg.remote_dir = Some(remote.clone());
    let r = ClusterRunner::new(cfg).unwrap();
    let mut s = spec(
        dir.path(),
        "ssh-run",
        "sh train.sh; pwd; touch made-on-remote",
        Duration::from_secs(60),
    );
    s.workdir = wt.clone();
    let f = r
        .run(&s, &AtomicBool::new(false), &mut |_| {}, None)
        .unwrap();
    let out = read(&f.stdout);
    assert_eq!(f.exit, Exit::Code(0), "{out} {}", read(&f.stderr));
    assert!(out.contains("shipped code\nresult=42\n"), "{out}");
    assert!(
        out.contains(&remote.join("exp-7").display().to_string()),
        "{out}"
    );
    assert!(remote.join("exp-7/made-on-remote").exists());
    // Logs were copied back from the remote run dir.
    assert!(s.run_dir.join("stdout.log").exists());
    // The poller reads the remote log as the job runs: early stopping works over ssh too.
    let mut early = spec(
        dir.path(),
        "ssh-early",
        "i=0; while [ $i -lt 600 ]; do echo \"step: $i\"; i=$((i + 1)); sleep 0.1; done; echo END",
        Duration::from_secs(300),
    );
    early.workdir = wt.clone();
    let watch: autolab_runner::LineWatch =
        Box::new(|line: &str| (line == "step: 3").then(|| "early-stopped at step 3".into()));
    let f = r
        .run(&early, &AtomicBool::new(false), &mut |_| {}, Some(watch))
        .unwrap();
    assert_eq!(f.exit, Exit::Stopped, "{}", read(&f.stderr));
    assert_eq!(f.stop_reason.as_deref(), Some("early-stopped at step 3"));
    assert!(!read(&f.stdout).contains("END"));
}

#[test]
fn slurm_job_is_early_stopped_by_its_watched_lines() {
    need_slurm!();
    let dir = tempfile::tempdir().unwrap();
    let s = spec(
        dir.path(),
        &unique("early"),
        "i=0; while [ $i -lt 600 ]; do echo \"step: $i\"; i=$((i + 1)); sleep 0.1; done; echo END",
        Duration::from_secs(300),
    );
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    let watch: autolab_runner::LineWatch = Box::new(move |line: &str| {
        log.lock().unwrap().push(line.to_string());
        (line == "step: 5").then(|| "early-stopped at step 5".to_string())
    });
    let f = runner()
        .run(&s, &AtomicBool::new(false), &mut |_| {}, Some(watch))
        .unwrap();
    assert_eq!(f.exit, Exit::Stopped, "{}", read(&f.stderr));
    assert_eq!(f.stop_reason.as_deref(), Some("early-stopped at step 5"));
    assert!(!read(&f.stdout).contains("END"), "the job was not stopped");
    let seen = seen.lock().unwrap();
    let expected: Vec<String> = (0..seen.len()).map(|i| format!("step: {i}")).collect();
    assert_eq!(*seen, expected, "every line, in order, once");
    assert!(seen.len() >= 6);
}

#[test]
fn slurm_job_that_falls_silent_is_stalled_and_one_that_talks_is_not() {
    need_slurm!();
    let dir = tempfile::tempdir().unwrap();
    let mut silent = spec(
        dir.path(),
        &unique("silent"),
        // `&&`: cancelling the job signals its processes one by one, and a shell that saw its
        // sleep killed could still echo before its own signal came; END means a full sleep.
        "echo start; sleep 600 && echo END",
        Duration::from_secs(300),
    );
    silent.stall_timeout = Some(Duration::from_secs(5));
    let mut talking = spec(
        dir.path(),
        &unique("talking"),
        "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14; do echo tick $i; sleep 0.5; done",
        Duration::from_secs(300),
    );
    talking.stall_timeout = Some(Duration::from_secs(5));
    let r = runner();
    let (a, b) = std::thread::scope(|sc| {
        let a = sc.spawn(|| r.run(&silent, &AtomicBool::new(false), &mut |_| {}, None));
        let b = sc.spawn(|| r.run(&talking, &AtomicBool::new(false), &mut |_| {}, None));
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    assert_eq!(a.exit, Exit::Stalled, "{}", read(&a.stderr));
    assert!(!read(&a.stdout).contains("END"));
    assert_eq!(b.exit, Exit::Code(0), "{}", read(&b.stderr));
    assert!(read(&b.stdout).contains("tick 14"));
}
