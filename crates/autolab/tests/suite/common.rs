//! A throwaway lab: a git repository with an autolab.toml and a shell-script experiment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use rusqlite::Connection;

pub struct TestLab {
    pub dir: tempfile::TempDir,
}

/// A script whose behaviour the optimizer picks through `P_MODE` (env apply); the baseline
/// (no mode) prints `val_loss: 0.5`.
pub const MODES: &str = r#"#!/bin/sh
case "$P_MODE" in
  crash) echo "boom: something broke" >&2; exit 3 ;;
  hang) trap '' TERM; while true; do sleep 0.05; done ;;
  bg) sleep 1000 & echo $! > "$AUTOLAB_RUN_DIR/bg.pid"; echo "val_loss: 0.4" ;;
  nometric) echo "training done" ;;
  nan) echo "---"; echo "val_loss: nan" ;;
  better) echo "val_loss: 0.3" ;;
  *) echo "---"; echo "val_loss: 0.5" ;;
esac
"#;

impl TestLab {
    pub fn new() -> TestLab {
        let dir = tempfile::tempdir().unwrap();
        let lab = TestLab { dir };
        lab.git(&["init", "--quiet", "--initial-branch=main"]);
        lab
    }

    /// A lab running `run.sh` whose candidates all use mode `mode`.
    pub fn with_mode(mode: &str, extra_toml: &str) -> TestLab {
        let lab = TestLab::new();
        lab.write("run.sh", MODES);
        lab.write(
            "autolab.toml",
            &format!(
                r#"[task]
command = "sh run.sh"
editable = ["run.sh"]
timeout = "3s"

[metrics]
score = {{ val_loss = {{ goal = "minimize" }} }}

[params]
apply = {{ env = "P_" }}
mode = {{ choice = ["{mode}"] }}

[runner]
kill_grace = "300ms"
{extra_toml}
"#
            ),
        );
        lab.commit("lab");
        lab
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, name: &str, text: &str) {
        let p = self.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, text).unwrap();
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path().join(name)).unwrap()
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(self.path())
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn commit(&self, msg: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "--quiet", "-m", msg]);
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_autolab"));
        c.current_dir(self.path())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        c
    }

    pub fn autolab(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.autolab(args);
        assert!(
            out.status.success(),
            "autolab {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn ledger(&self) -> Connection {
        Connection::open(self.path().join(".autolab/ledger.db")).unwrap()
    }

    /// Waits (bounded) until `cond` holds on the ledger.
    pub fn wait_for(&self, what: &str, cond: impl Fn(&Connection) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.path().join(".autolab/ledger.db").exists()
                && let Ok(conn) = Connection::open(self.path().join(".autolab/ledger.db"))
                && cond(&conn)
            {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for: {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The worktrees git knows besides the main checkout.
    pub fn extra_worktrees(&self) -> Vec<String> {
        self.git(&["worktree", "list", "--porcelain"])
            .lines()
            .filter_map(|l| l.strip_prefix("worktree "))
            .map(PathBuf::from)
            .filter(|p| p.canonicalize().ok() != self.path().canonicalize().ok())
            .map(|p| p.display().to_string())
            .collect()
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Whether a process exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|rest| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

pub fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or(-1)
}

/// Processes anywhere on the host that carry this lab's run dirs in their environment.
pub fn leftovers(lab: &TestLab) -> Vec<i32> {
    let marker = format!("AUTOLAB_RUN_DIR={}", lab.path().display());
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        if env
            .split(|b| *b == 0)
            .any(|v| v.starts_with(marker.as_bytes()))
            && alive(pid)
        {
            pids.push(pid);
        }
    }
    pids
}

/// Says why a test cannot run here and returns; under CI (`CI` set), where everything is
/// installed, a skip is a failure instead.
pub fn skip(why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("CI is set, so no test may skip, but: {why}");
    }
    eprintln!("skipped: {why}");
}

/// Waits (bounded) for a child to exit and returns its output.
pub fn output_within(child: std::process::Child, limit: Duration) -> Output {
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-9", &id.to_string()])
                .status();
            panic!("autolab did not exit within {limit:?}");
        }
    }
}

/// Starts `autolab` with `args` (stderr discarded) and returns once one of its runs is
/// running (recorded with its pid).
pub fn spawn_until_running(lab: &TestLab, args: &[&str]) -> std::process::Child {
    let child = lab.cmd().args(args).stderr(Stdio::null()).spawn().unwrap();
    lab.wait_for("a run to be running", |c| {
        count(
            c,
            "SELECT COUNT(*) FROM runs WHERE outcome = 'running' AND pid IS NOT NULL",
        ) >= 1
    });
    child
}

/// The last message of a chat request the fake LLM received (what the model is asked now).
pub fn last_message(r: &autolab_llm::fake::Recorded) -> String {
    r.json()
        .and_then(|v| {
            v["messages"].as_array()?.last()?["content"]
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_default()
}
