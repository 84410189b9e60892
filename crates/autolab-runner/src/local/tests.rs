use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use super::*;

fn spec(dir: &Path, command: &str, timeout: Duration) -> RunSpec {
    RunSpec {
        command: command.into(),
        workdir: dir.to_path_buf(),
        run_dir: dir.join("run"),
        env: vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("AUTOLAB_SEED".into(), "3".into()),
        ],
        timeout,
        kill_grace: Duration::from_millis(300),
        max_log_bytes: 1 << 20,
        sandbox: None,
        stall_timeout: None,
        max_disk_bytes: None,
        disk_watch: vec![],
        line_sink: None,
    }
}

fn run(spec: &RunSpec) -> Finished {
    LocalRunner
        .run(spec, &AtomicBool::new(false), &mut |_| {}, None)
        .unwrap()
}

/// Whether a process exists and is not a zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

#[test]
fn captures_output_exit_code_and_only_given_env() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: test-only; the variable is only read by the child's environment check.
    unsafe { std::env::set_var("AUTOLAB_TEST_SECRET_KEY", "sk-should-not-leak") };
    let f = run(&spec(
        dir.path(),
        "echo seed=$AUTOLAB_SEED key=${AUTOLAB_TEST_SECRET_KEY:-none}; echo oops >&2; exit 3",
        Duration::from_secs(20),
    ));
    assert_eq!(f.exit, Exit::Code(3));
    assert_eq!(
        std::fs::read_to_string(&f.stdout).unwrap(),
        "seed=3 key=none\n"
    );
    assert_eq!(std::fs::read_to_string(&f.stderr).unwrap(), "oops\n");
}

#[test]
fn stdin_is_null() {
    let dir = tempfile::tempdir().unwrap();
    let f = run(&spec(dir.path(), "cat; echo end", Duration::from_secs(20)));
    assert_eq!(f.exit, Exit::Code(0));
    assert_eq!(std::fs::read_to_string(&f.stdout).unwrap(), "end\n");
}

#[test]
fn timeout_kills_a_group_that_ignores_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(
        dir.path(),
        "trap '' TERM; sleep 1000 & echo $! > child.pid; while true; do sleep 0.05; done",
        Duration::from_millis(500),
    );
    let f = run(&s);
    assert_eq!(f.exit, Exit::TimedOut);
    let pid: i32 = std::fs::read_to_string(dir.path().join("child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!alive(pid), "background child {pid} survived the timeout");
}

#[test]
fn background_children_die_with_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let f = run(&spec(
        dir.path(),
        "sleep 1000 & echo $! > child.pid; echo done",
        Duration::from_secs(20),
    ));
    assert_eq!(f.exit, Exit::Code(0));
    let pid: i32 = std::fs::read_to_string(dir.path().join("child.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!alive(pid), "background child {pid} outlived its command");
}

#[test]
fn cancel_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let cancel = AtomicBool::new(true);
    let f = LocalRunner
        .run(
            &spec(dir.path(), "sleep 1000", Duration::from_secs(600)),
            &cancel,
            &mut |_| {},
            None,
        )
        .unwrap();
    assert_eq!(f.exit, Exit::Cancelled);
}

#[test]
fn huge_output_keeps_head_and_tail_within_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec(
        dir.path(),
        "echo FIRST; head -c 5000000 /dev/zero | tr '\\0' x; echo; echo LAST",
        Duration::from_secs(60),
    );
    s.max_log_bytes = 100_000;
    let f = run(&s);
    assert!(f.truncated);
    let text = std::fs::read_to_string(&f.stdout).unwrap();
    assert!(text.len() < 110_000, "log is {} bytes", text.len());
    assert!(text.starts_with("FIRST\n"));
    assert!(text.ends_with("LAST\n"));
    assert!(text.contains("bytes of output omitted"));
}

#[test]
fn a_missing_workdir_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec(dir.path(), "true", Duration::from_secs(5));
    s.workdir = dir.path().join("nope");
    assert!(
        LocalRunner
            .run(&s, &AtomicBool::new(false), &mut |_| {}, None)
            .is_err()
    );
}

#[test]
fn a_watcher_stops_the_run_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(
        dir.path(),
        "i=0; while true; do i=$((i+1)); echo \"step: $i\"; sleep 0.01; done",
        Duration::from_secs(60),
    );
    let watch: crate::LineWatch =
        Box::new(|line: &str| (line == "step: 5").then(|| "enough at 5".to_string()));
    let f = LocalRunner
        .run(&s, &AtomicBool::new(false), &mut |_| {}, Some(watch))
        .unwrap();
    assert_eq!(f.exit, Exit::Stopped);
    assert_eq!(f.stop_reason.as_deref(), Some("enough at 5"));
    assert!(
        std::fs::read_to_string(&f.stdout)
            .unwrap()
            .contains("step: 5\n")
    );
}
