//! Against the fake LSF in tests/fake-lsf (no real LSF can run here).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use autolab_runner::{ClusterConfig, ClusterRunner, Exit, Handle, Runner, Scheduler};

use super::common::{die_after_submit, env, read, spec};

fn runner() -> ClusterRunner {
    let mut cfg = ClusterConfig::new(Scheduler::Lsf);
    cfg.poll_interval = Duration::from_millis(200);
    cfg.timeout_margin = Duration::from_secs(1);
    ClusterRunner::new(cfg).unwrap()
}

/// The fakes' state dir (shared by this process's LSF tests).
fn setup() -> std::path::PathBuf {
    env().fake_lsf_dir.clone()
}

#[test]
fn lsf_job_succeeds_and_fails() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let r = runner();
    let ok = spec(
        dir.path(),
        "ok",
        "echo hi; echo \"$AUTOLAB_NOTE\"",
        Duration::from_secs(60),
    );
    let mut handles = Vec::new();
    let f = r
        .run(&ok, &AtomicBool::new(false), &mut |h| handles.push(h), None)
        .unwrap();
    assert_eq!(f.exit, Exit::Code(0), "{}", read(&f.stderr));
    assert_eq!(read(&f.stdout), "hi\nit's a \"test\" $HOME\n");
    assert!(matches!(&handles[..], [Handle::Job { scheduler, .. }] if scheduler == "lsf"));
    assert!(read(&ok.run_dir.join("job.sh")).contains("#BSUB -W 2\n"));
    let bad = spec(dir.path(), "bad", "exit 3", Duration::from_secs(60));
    let f = r
        .run(&bad, &AtomicBool::new(false), &mut |_| {}, None)
        .unwrap();
    assert_eq!(f.exit, Exit::Code(3));
}

#[test]
fn lsf_job_is_cancelled_and_timed_out() {
    setup();
    let dir = tempfile::tempdir().unwrap();
    let r = runner();
    let s = spec(dir.path(), "c", "sleep 60", Duration::from_secs(60));
    let cancel = AtomicBool::new(false);
    let start = Instant::now();
    let f = std::thread::scope(|sc| {
        sc.spawn(|| {
            std::thread::sleep(Duration::from_secs(1));
            cancel.store(true, Ordering::SeqCst);
        });
        r.run(&s, &cancel, &mut |_| {}, None).unwrap()
    });
    assert_eq!(f.exit, Exit::Cancelled);
    assert!(start.elapsed() < Duration::from_secs(10));
    let s = spec(dir.path(), "t", "sleep 60", Duration::from_secs(1));
    let f = r
        .run(&s, &AtomicBool::new(false), &mut |_| {}, None)
        .unwrap();
    assert_eq!(f.exit, Exit::TimedOut);
}

#[test]
fn lsf_polls_all_jobs_with_one_bjobs() {
    let d = setup();
    let dir = tempfile::tempdir().unwrap();
    let r = runner();
    std::thread::scope(|sc| {
        for i in 0..4 {
            let r = &r;
            let s = spec(
                dir.path(),
                &format!("b{i}"),
                "sleep 2",
                Duration::from_secs(60),
            );
            sc.spawn(move || {
                let f = r
                    .run(&s, &AtomicBool::new(false), &mut |_| {}, None)
                    .unwrap();
                assert_eq!(f.exit, Exit::Code(0));
            });
        }
    });
    let stats = r.poll_stats();
    assert_eq!(stats.queries, stats.polls);
    // Some bjobs call asked about all four jobs at once.
    let calls = read(&d.join("bjobs.calls"));
    assert!(
        calls.lines().any(|l| l.split_whitespace().count() >= 4),
        "{calls}"
    );
}

#[test]
fn lsf_reattach_does_not_submit_again() {
    let d = setup();
    let dir = tempfile::tempdir().unwrap();
    let s = spec(
        dir.path(),
        "re",
        "sleep 1; echo back; exit 5",
        Duration::from_secs(60),
    );
    let handle = die_after_submit(runner(), &s);
    let before = read(&d.join("next"));
    let f = runner()
        .attach(&handle, &s, &AtomicBool::new(false))
        .unwrap()
        .unwrap();
    assert_eq!(f.exit, Exit::Code(5));
    assert_eq!(read(&f.stdout), "back\n");
    assert_eq!(read(&d.join("next")), before, "attach submitted a job");
}
