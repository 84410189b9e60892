//! What a run can see and reach of the host: processes and their keys, capabilities, hostname,
//! SysV IPC, host sockets, the disk, autolab's own files; and how it is stopped.

use super::common::*;
use super::hostile::{hostile_lab, layers_active, run_candidate, walk_size};

fn run_log(lab: &TestLab, number: u32, stream: &str) -> String {
    let p = lab
        .path()
        .join(format!(".autolab/runs/t/{number:04}/0/{stream}.log"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn no_process_environment_of_the_host_reveals_a_key() {
    let lab = hostile_lab(
        "for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < \"$f\"; done 2>/dev/null | grep -i 'api_key' || echo 'no key seen'\n\
         echo \"pids: $(ls -d /proc/[0-9]* | wc -l)\"\necho 'val_loss: 0.4'\n",
        "",
    );
    let secret = "sk-live-proc-environ-0123456789";
    let out = lab
        .cmd()
        .args(["run", "--tag", "t", "--max-experiments", "2"])
        .env("OPENAI_API_KEY", secret)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let log = run_log(&lab, 1, "stdout");
    assert!(!log.contains(secret), "a key was read from /proc: {log}");
    assert!(log.contains("no key seen"), "{log}");
    let pids: usize = log
        .lines()
        .find_map(|l| l.strip_prefix("pids: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    assert!(pids < 20, "the run sees {pids} processes: the host's /proc");
    let shown = lab.autolab(&["show", "1", "--json"]);
    assert!(!stdout(&shown).contains(secret));
    let one = lab.json(&["show", "1", "--json"]);
    assert!(
        layers_active(&one).contains(&"private-proc".to_string()),
        "{one}"
    );
}

#[test]
fn a_run_has_no_capabilities() {
    let lab = hostile_lab(
        "grep -E '^Cap(Eff|Prm|Bnd|Amb)' /proc/self/status\necho 'val_loss: 0.4'\n",
        "",
    );
    let one = run_candidate(&lab);
    let log = run_log(&lab, 1, "stdout");
    for set in ["CapEff", "CapPrm", "CapBnd", "CapAmb"] {
        assert!(
            log.contains(&format!("{set}:\t0000000000000000")),
            "{set} is not empty: {log}"
        );
    }
    assert!(
        layers_active(&one).contains(&"no-capabilities".to_string()),
        "{one}"
    );
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap()
}

#[test]
fn sethostname_does_not_reach_the_host() {
    let before = host_name();
    let lab = hostile_lab(
        "python3 -c 'import socket; socket.sethostname(\"autolab-evil\")' 2>&1 || echo 'sethostname refused'\necho 'val_loss: 0.4'\n",
        "",
    );
    run_candidate(&lab);
    let after = host_name();
    if after != before {
        // Put the machine back before failing.
        let _ = std::fs::write("/proc/sys/kernel/hostname", before.trim());
        panic!("a run renamed the host: {before:?} → {after:?}");
    }
}

fn host_shm_segments() -> usize {
    std::fs::read_to_string("/proc/sysvipc/shm")
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn a_sysv_segment_does_not_outlive_the_run() {
    let before = host_shm_segments();
    let lab = hostile_lab(
        "python3 - <<'PY'\nimport ctypes\nlibc = ctypes.CDLL(None)\nid = libc.shmget(0x4155544f, 4096, 0o1666)\nprint('segment', id)\nPY\necho 'val_loss: 0.4'\n",
        "",
    );
    run_candidate(&lab);
    let log = run_log(&lab, 1, "stdout");
    let id: i64 = log
        .lines()
        .find_map(|l| l.strip_prefix("segment "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(-1);
    assert!(id >= 0, "the run could not make a segment at all: {log}");
    assert_eq!(
        host_shm_segments(),
        before,
        "a SysV segment outlived its run"
    );
}

#[test]
fn a_host_unix_socket_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    listener.set_nonblocking(true).unwrap();
    let lab = hostile_lab(
        &format!(
            "python3 - <<'PY'\nimport socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect('{}')\n    print('unix: connected')\nexcept OSError as e:\n    print('unix: blocked', e)\nPY\necho 'val_loss: 0.4'\n",
            path.display()
        ),
        "",
    );
    run_candidate(&lab);
    let log = run_log(&lab, 1, "stdout");
    assert!(log.contains("unix: blocked"), "{log}");
    assert!(
        listener.accept().is_err(),
        "the host's socket got a connection"
    );
}

/// A lab whose candidate traps SIGTERM, needs a second to finish, and is timed out.
fn graceful_lab(extra_toml: &str) -> TestLab {
    let lab = TestLab::new();
    lab.write(
        "handler.sh",
        "trap 'sleep 1; echo finished > \"$AUTOLAB_RUN_DIR/graceful\"; exit 0' TERM\necho started\nwhile :; do sleep 0.05; done\n",
    );
    // The handler runs in a child of the command's shell, which itself dies of SIGTERM.
    lab.write(
        "run.sh",
        "if [ -n \"$P_MODE\" ]; then sh handler.sh; echo after; else echo 'val_loss: 0.5'; fi\n",
    );
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ncommand = \"sh run.sh\"\neditable = [\"run.sh\"]\ntimeout = \"1s\"\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n\
             [params]\napply = {{ env = \"P_\" }}\nmode = {{ choice = [\"slow-exit\"] }}\n\
             [decide]\npolicy = \"strict\"\n[runner]\nkill_grace = \"3s\"\n{extra_toml}"
        ),
    );
    lab.commit("lab");
    lab
}

fn assert_graceful(lab: &TestLab) {
    let one = run_candidate(lab);
    assert_eq!(one["verdict"], "timeout", "{one}");
    let marker = lab.path().join(".autolab/runs/t/0001/0/graceful");
    assert_eq!(
        std::fs::read_to_string(&marker).ok().as_deref(),
        Some("finished\n"),
        "the SIGTERM handler did not get its kill_grace"
    );
    assert_eq!(leftovers(lab), Vec::<i32>::new());
}

#[test]
fn a_sigterm_handler_gets_its_kill_grace_in_the_sandbox() {
    assert_graceful(&graceful_lab(""));
}

#[test]
fn a_sigterm_handler_gets_its_kill_grace_without_the_sandbox() {
    assert_graceful(&graceful_lab("[sandbox]\nenabled = false\n"));
}

/// Writes `total_mb` in files of `file_mb`, printing the megabytes written after each one.
fn filler(total_mb: u32, file_mb: u32) -> String {
    format!(
        "python3 - <<'PY'\nimport sys\nchunk = b'x' * (1 << 20)\nwritten = 0\nfor i in range({total_mb} // {file_mb}):\n    with open(f'filler{{i}}', 'wb') as f:\n        for _ in range({file_mb}):\n            try:\n                f.write(chunk); f.flush()\n            except OSError as e:\n                print('write failed:', e, flush=True); sys.exit(1)\n            written += 1\n            if written % 10 == 0:\n                print('written', written, flush=True)\nPY\necho 'val_loss: 0.1'\n"
    )
}

fn last_written(log: &str) -> u32 {
    log.lines()
        .filter_map(|l| l.strip_prefix("written "))
        .filter_map(|n| n.trim().parse().ok())
        .next_back()
        .unwrap_or(0)
}

fn assert_stopped_near_budget(lab: &TestLab) {
    let one = run_candidate(lab);
    assert_eq!(one["verdict"], "crashed", "{one}");
    assert_eq!(one["reason"], "disk budget exceeded", "{one}");
    let written = last_written(&run_log(lab, 1, "stdout"));
    assert!(
        (400..600).contains(&written),
        "wrote {written} MB under a 500 MB budget"
    );
    let left = walk_size(&lab.path().join(".autolab"));
    assert!(left < 8 << 20, "{left} bytes left behind in .autolab");
}

#[test]
fn three_gigabytes_in_many_files_are_stopped_near_a_500_mb_budget() {
    assert_stopped_near_budget(&hostile_lab(
        &filler(3000, 100),
        "[sandbox]\nmax_disk_mb = 500\n",
    ));
}

#[test]
fn one_three_gigabyte_file_is_cut_at_a_500_mb_budget() {
    assert_stopped_near_budget(&hostile_lab(
        &filler(3000, 3000),
        "[sandbox]\nmax_disk_mb = 500\n",
    ));
}

#[test]
fn one_file_over_the_budget_is_cut_without_the_sandbox() {
    assert_stopped_near_budget(&hostile_lab(
        &filler(3000, 3000),
        "[sandbox]\nenabled = false\nmax_disk_mb = 500\n",
    ));
}

#[test]
fn max_file_mb_cuts_a_large_file() {
    let lab = hostile_lab(
        "dd if=/dev/zero of=big bs=1M count=20 2>/dev/null\necho \"size: $(stat -c %s big)\"\necho 'val_loss: 0.4'\n",
        "[sandbox]\nmax_file_mb = 5\n",
    );
    run_candidate(&lab);
    let log = run_log(&lab, 1, "stdout");
    assert!(log.contains("size: 5242880\n"), "{log}");
}

#[test]
fn the_checkout_and_the_ledger_are_read_only_to_a_run() {
    let lab = hostile_lab(
        "echo tampered >> ../../../../prepare.py\n\
         echo tampered >> ../../../../.autolab/ledger.db\n\
         echo tampered >> ../../../../.autolab/new-file\n\
         echo 'val_loss: 0.4'\n",
        "",
    );
    run_candidate(&lab);
    assert_eq!(lab.read("prepare.py"), "# the evaluation\n");
    assert!(!lab.path().join(".autolab/new-file").exists());
    let now = std::fs::read(lab.path().join(".autolab/ledger.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&now).contains("tampered"),
        "the ledger was written by a run"
    );
    let err = run_log(&lab, 1, "stderr");
    assert_eq!(err.matches("Permission denied").count(), 3, "{err}");
}

#[test]
fn the_worktree_git_file_is_read_only_to_a_run() {
    let lab = hostile_lab(
        "echo 'gitdir: /nowhere' > .git 2>&1 || echo 'git file: refused'\nrm -f .git 2>&1 || echo 'git file: kept'\necho 'val_loss: 0.4'\n",
        "",
    );
    let one = run_candidate(&lab);
    let log = run_log(&lab, 1, "stdout");
    assert!(log.contains("git file: refused"), "{log}");
    assert!(log.contains("git file: kept"), "{log}");
    assert!(
        layers_active(&one).contains(&"read-only-files".to_string()),
        "{one}"
    );
}

#[test]
fn a_timeout_fires_at_the_timeout() {
    let lab = hostile_lab("sleep 30\n", "");
    let toml = lab
        .read("autolab.toml")
        .replace("timeout = \"20s\"", "timeout = \"2s\"");
    lab.write("autolab.toml", &toml);
    lab.commit("short timeout");
    let one = run_candidate(&lab);
    assert_eq!(one["verdict"], "timeout", "{one}");
    let run = &one["run_list"][0];
    let took = run["ended_at"].as_f64().unwrap() - run["started_at"].as_f64().unwrap();
    // Killed at 2 s plus kill_grace (0.3 s); a timeout counted twice would be 4 s.
    assert!((2.0..3.8).contains(&took), "the run took {took:.2} s");
}

#[test]
fn children_of_a_timed_out_run_die_with_its_group_without_the_sandbox() {
    let lab = hostile_lab(
        "sleep 1000 &\nsh -c 'sleep 1001' &\nsleep 1002\n",
        "[sandbox]\nenabled = false\n",
    );
    let toml = lab
        .read("autolab.toml")
        .replace("timeout = \"20s\"", "timeout = \"1s\"");
    lab.write("autolab.toml", &toml);
    lab.commit("short timeout");
    let one = run_candidate(&lab);
    assert_eq!(one["verdict"], "timeout", "{one}");
    assert_eq!(leftovers(&lab), Vec::<i32>::new(), "a child survived");
}

#[test]
fn a_symlink_loop_or_link_out_in_the_worktree_does_not_trap_or_feed_autolab() {
    let secret = tempfile::tempdir().unwrap();
    let outside = secret.path().join("secret.txt");
    std::fs::write(&outside, "host secret\n").unwrap();
    let lab = hostile_lab(
        &format!(
            "mkdir d; ln -s .. d/a; ln -s .. d/b; ln -s .. d/c\nln -s {} stolen.png\necho 'val_loss: 0.4'\n",
            outside.display()
        ),
        "",
    );
    let toml = lab
        .read("autolab.toml")
        .replace("timeout = \"20s\"", "timeout = \"20s\"\nafter = \"true\"");
    lab.write("autolab.toml", &toml);
    lab.commit("after");
    let one = run_candidate(&lab);
    assert_eq!(one["verdict"], "kept", "{one}");
    let figures = lab.path().join(".autolab/runs/t/0001/0/figures");
    assert!(
        !figures.join("stolen.png").exists(),
        "autolab copied a file the run linked to"
    );
}

/// A lab with an evaluation command and a `lines` metric; the candidate runs `hostile`.
fn evaluated_lab(hostile: &str, extra_task: &str) -> TestLab {
    let lab = hostile_lab(hostile, "");
    lab.write("eval.sh", "echo 'val_loss: 0.9'\n");
    let toml = lab.read("autolab.toml").replace(
        "protected = [\"prepare.py\"]",
        &format!(
            "protected = [\"prepare.py\", \"eval.sh\"]\nevaluate = \"sh eval.sh\"\n{extra_task}"
        ),
    );
    lab.write("autolab.toml", &toml);
    lab.commit("evaluate");
    lab
}

#[test]
fn links_planted_where_autolab_writes_its_own_logs_and_figures_write_nothing_outside() {
    let victim_dir = tempfile::tempdir().unwrap();
    let victim = victim_dir.path().join("target.txt");
    std::fs::write(&victim, "ORIGINAL\n").unwrap();
    let v = victim.display();
    let lab = evaluated_lab(
        &format!(
            "for d in eval after figures; do mkdir -p \"$AUTOLAB_RUN_DIR/$d\"; done\n\
             ln -s {v} \"$AUTOLAB_RUN_DIR/eval/stdout.log\"\n\
             ln -s {v} \"$AUTOLAB_RUN_DIR/after/stderr.log\"\n\
             ln -s {v} \"$AUTOLAB_RUN_DIR/figures/plot.png\"\n\
             echo 'ssh-ed25519 AAAA attacker' > plot.png\n\
             echo 'val_loss: 0.1'\n"
        ),
        "after = \"true\"",
    );
    let one = run_candidate(&lab);
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "ORIGINAL\n",
        "autolab wrote through a link the run planted: {one}"
    );
    assert_eq!(one["metrics"]["val_loss"], 0.9, "{one}");
}

#[test]
fn a_metrics_file_planted_for_the_evaluation_is_not_read() {
    let lab = evaluated_lab(
        "mkdir -p \"$AUTOLAB_RUN_DIR/eval\"\necho '{\"val_loss\": 0.0001}' > \"$AUTOLAB_RUN_DIR/eval/final.json\"\necho 'val_loss: 0.1'\n",
        "",
    );
    let toml = lab.read("autolab.toml").replace(
        "[metrics]\n",
        "[metrics]\nsources = [{ kind = \"lines\" }, { kind = \"json\", file = \"final.json\", pointer = \"\" }]\n",
    );
    lab.write("autolab.toml", &toml);
    lab.commit("json source");
    let one = run_candidate(&lab);
    // The evaluation printed 0.9 and wrote no file: the planted one must not count.
    assert_eq!(
        one["metrics"]["val_loss"], 0.9,
        "a forged score was read: {one}"
    );
}

#[test]
fn a_log_replaced_by_a_fifo_or_a_device_link_does_not_hang_autolab() {
    let lab = hostile_lab(
        "echo 'val_loss: 0.4'\nrm -f \"$AUTOLAB_RUN_DIR/stderr.log\"\nmkfifo \"$AUTOLAB_RUN_DIR/stderr.log\"\nrm -f \"$AUTOLAB_RUN_DIR/stdout.log\"\nln -s /dev/zero \"$AUTOLAB_RUN_DIR/stdout.log\"\n",
        "",
    );
    let out = run_with_limit(&lab, std::time::Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn descriptors_left_open_by_whoever_started_autolab_do_not_reach_a_run() {
    use std::os::unix::process::CommandExt;
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("fdsecret.txt");
    std::fs::write(&secret, "hostsecret\n").unwrap();
    for extra in ["", "[sandbox]\nenabled = false\n"] {
        let lab = hostile_lab(
            "cat <&7 2>/dev/null && echo 'fd 7 open' || echo 'fd 7 closed'\necho 'val_loss: 0.4'\n",
            extra,
        );
        let file = std::fs::File::open(&secret).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        let mut cmd = lab.cmd();
        cmd.args(["run", "--tag", "t", "--max-experiments", "2"]);
        // SAFETY: dup2 between fork and exec, on descriptors this test owns.
        unsafe {
            cmd.pre_exec(move || {
                if nix::libc::dup2(fd, 7) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let log = run_log(&lab, 1, "stdout");
        assert!(!log.contains("hostsecret"), "{extra:?}: {log}");
        assert!(log.contains("fd 7 closed"), "{extra:?}: {log}");
    }
}

#[test]
fn a_run_cannot_write_to_host_devices() {
    let lab = hostile_lab(
        "echo x > /dev/kmsg 2>/dev/null && echo 'kmsg: written' || echo 'kmsg: refused'\necho x > /dev/null && echo 'null: ok'\necho 'val_loss: 0.4'\n",
        "",
    );
    run_candidate(&lab);
    let log = run_log(&lab, 1, "stdout");
    assert!(log.contains("kmsg: refused"), "{log}");
    assert!(log.contains("null: ok"), "{log}");
}

/// Runs baseline + candidate, killing autolab if it takes longer than `limit`.
fn run_with_limit(lab: &TestLab, limit: std::time::Duration) -> std::process::Output {
    let child = lab
        .cmd()
        .args(["run", "--tag", "t", "--max-experiments", "2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    output_within(child, limit)
}
