//! Hostile experiments: each is contained, gets the expected verdict and reason, and the host
//! is checked afterwards.

use std::io::Read;

use super::common::*;

/// A lab whose baseline prints `val_loss: 0.5` and whose one candidate runs `hostile`.
pub(super) fn hostile_lab(hostile: &str, extra_toml: &str) -> TestLab {
    hostile_lab_protecting(hostile, "[\"prepare.py\"]", extra_toml)
}

/// [`hostile_lab`] with `protected` (a TOML list) as the protected files.
pub(super) fn hostile_lab_protecting(hostile: &str, protected: &str, extra_toml: &str) -> TestLab {
    let lab = TestLab::new();
    lab.write("prepare.py", "# the evaluation\n");
    lab.write("candidate.sh", hostile);
    lab.write(
        "run.sh",
        "if [ -n \"$P_MODE\" ]; then . ./candidate.sh; else echo 'val_loss: 0.5'; fi\n",
    );
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ncommand = \"sh run.sh\"\neditable = [\"run.sh\"]\nprotected = {protected}\ntimeout = \"20s\"\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n\
             [params]\napply = {{ env = \"P_\" }}\nmode = {{ choice = [\"hostile\"] }}\n\
             [decide]\npolicy = \"strict\"\n[runner]\nkill_grace = \"300ms\"\n{extra_toml}"
        ),
    );
    lab.commit("lab");
    lab
}

/// Runs baseline + the hostile candidate; returns `show 1 --json`.
pub(super) fn run_candidate(lab: &TestLab) -> serde_json::Value {
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    lab.json(&["show", "1", "--json"])
}

pub(super) fn layers_active(show: &serde_json::Value) -> Vec<String> {
    show["run_list"][0]["sandbox"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|l| l["active"] == true)
                .map(|l| l["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_fork_bomb_is_contained() {
    let lab = hostile_lab(
        "bomb() { bomb & bomb; }\nbomb\n",
        "[sandbox]\nmax_procs = 64\n",
    );
    let one = run_candidate(&lab);
    assert!(
        ["timeout", "crashed"].contains(&one["verdict"].as_str().unwrap()),
        "{one}"
    );
    assert!(
        layers_active(&one).contains(&"pids-cgroup".to_string()),
        "{one}"
    );
    assert_eq!(leftovers(&lab), Vec::<i32>::new());
}

#[test]
fn a_disk_filler_is_killed_over_its_budget() {
    let lab = hostile_lab(
        "dd if=/dev/zero of=filler bs=1M count=2000 2>/dev/null\necho 'val_loss: 0.1'\n",
        "[sandbox]\nmax_disk_mb = 20\n",
    );
    let one = run_candidate(&lab);
    assert_eq!(one["verdict"], "crashed", "{one}");
    assert_eq!(one["reason"], "disk budget exceeded");
    assert!(
        !lab.path().join(".autolab/worktrees").exists()
            || walk_size(&lab.path().join(".autolab/worktrees")) < 1 << 20
    );
}

pub(super) fn walk_size(dir: &std::path::Path) -> u64 {
    autolab_runner::disk_usage(dir)
}

#[test]
fn a_setsid_daemon_does_not_survive_its_run() {
    let lab = hostile_lab(
        "setsid sh -c 'sleep 1000' &\n( setsid sleep 1001 & ) &\nsleep 0.2\necho 'val_loss: 0.4'\n",
        "",
    );
    let one = run_candidate(&lab);
    assert_eq!(one["verdict"], "kept", "{one}");
    assert_eq!(leftovers(&lab), Vec::<i32>::new(), "a daemon survived");
    let sleepers = std::process::Command::new("pgrep")
        .args(["-f", "sleep 100[01]"])
        .output()
        .unwrap();
    assert_eq!(stdout(&sleepers), "", "a detached sleeper survived");
}

#[test]
fn writes_outside_the_worktree_are_denied() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".bashrc"), "original\n").unwrap();
    let outside = format!("/tmp/autolab-outside-{}", std::process::id());
    let lab = hostile_lab(
        &format!(
            "echo evil >> \"$HOME/.bashrc\"\necho evil > {outside}\necho ok > inside.txt && echo wrote-inside\necho 'val_loss: 0.4'\n"
        ),
        "",
    );
    let out = lab
        .cmd()
        .args(["run", "--tag", "t", "--max-experiments", "2"])
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let one = lab.json(&["show", "1", "--json"]);
    assert!(
        layers_active(&one).contains(&"landlock".to_string()),
        "{one}"
    );
    assert_eq!(
        std::fs::read_to_string(home.path().join(".bashrc")).unwrap(),
        "original\n"
    );
    assert!(
        !std::path::Path::new(&outside).exists(),
        "{outside} was written"
    );
    let log =
        std::fs::read_to_string(lab.path().join(".autolab/runs/t/0001/0/stderr.log")).unwrap();
    assert!(log.contains("Permission denied"), "{log}");
    let out_log =
        std::fs::read_to_string(lab.path().join(".autolab/runs/t/0001/0/stdout.log")).unwrap();
    assert!(
        out_log.contains("wrote-inside"),
        "writing in the worktree must work: {out_log}"
    );
}

#[test]
fn outbound_connections_are_cut_but_loopback_inside_works() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!(
        r#"python3 - <<'PY'
import socket, threading
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2)
    print("outbound: connected")
except OSError as e:
    print("outbound: blocked", e)
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
p = srv.getsockname()[1]
threading.Thread(target=lambda: srv.accept()[0].sendall(b"hi"), daemon=True).start()
c = socket.create_connection(("127.0.0.1", p), timeout=2)
print("loopback:", c.recv(2).decode())
PY
echo 'val_loss: 0.4'
"#
    );
    let lab = hostile_lab(&script, "");
    let one = run_candidate(&lab);
    let log =
        std::fs::read_to_string(lab.path().join(".autolab/runs/t/0001/0/stdout.log")).unwrap();
    assert!(log.contains("outbound: blocked"), "{log}");
    assert!(log.contains("loopback: hi"), "{log}");
    assert!(
        listener.accept().is_err(),
        "the host's listener got a connection"
    );
    assert!(layers_active(&one).contains(&"network-none".to_string()));
}

#[test]
fn rewriting_a_protected_file_during_the_run_is_invalid() {
    let lab = hostile_lab("echo '# rigged' > prepare.py\necho 'val_loss: 0.0'\n", "");
    let one = run_candidate(&lab);
    assert_eq!(one["verdict"], "invalid", "{one}");
    assert_eq!(
        one["reason"],
        "protected file(s) modified during the run: prepare.py"
    );
    assert_eq!(lab.read("prepare.py"), "# the evaluation\n");
}

#[test]
fn a_gigabyte_on_stdout_keeps_head_and_tail_only() {
    let lab = hostile_lab(
        "head -c 1000000000 /dev/zero | tr '\\0' 'x'\necho\necho 'val_loss: 0.4'\n",
        "max_log_mb = 1\n",
    );
    let one = run_candidate(&lab);
    assert_eq!(one["verdict"], "kept", "{one}");
    let size = std::fs::metadata(lab.path().join(".autolab/runs/t/0001/0/stdout.log"))
        .unwrap()
        .len();
    assert!(size < 2 << 20, "log is {size} bytes");
}

#[test]
fn secrets_never_reach_an_experiment_or_any_output() {
    let lab = hostile_lab("env\necho 'val_loss: 0.4'\n", "");
    let secret = "sk-live-do-not-leak-0123456789";
    let out = lab
        .cmd()
        .args(["run", "--tag", "t", "--max-experiments", "2"])
        .env("OPENAI_API_KEY", secret)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("HF_TOKEN", secret)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!stdout(&out).contains(secret) && !stderr(&out).contains(secret));
    let mut everything = Vec::new();
    for entry in walk(lab.path()) {
        let mut f = std::fs::File::open(&entry).unwrap();
        f.read_to_end(&mut everything).unwrap();
    }
    let hay = String::from_utf8_lossy(&everything);
    assert!(
        hay.contains("AUTOLAB_SEED="),
        "the env dump should be in the log"
    );
    assert!(
        !hay.contains(secret),
        "a secret reached a file under the lab"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_stalled_run_is_killed() {
    let lab = hostile_lab("echo started\nsleep 30\necho 'val_loss: 0.1'\n", "");
    let toml = lab.read("autolab.toml").replace(
        "timeout = \"20s\"",
        "timeout = \"20s\"\nstall_timeout = \"1s\"",
    );
    lab.write("autolab.toml", &toml);
    lab.commit("stall");
    let one = run_candidate(&lab);
    assert_eq!(one["verdict"], "timeout", "{one}");
    assert_eq!(one["reason"], "stalled: no output for 1.0s");
}

#[test]
fn the_metric_comes_from_the_evaluation_command_not_the_training_output() {
    let lab = TestLab::new();
    lab.write("prepare.py", "import sys\npred = float(open('pred.txt').read())\nprint(f'val_loss: {abs(pred - 0.25):.6f}')\n");
    lab.write(
        "train.sh",
        "echo \"${P_PRED:-0.75}\" > pred.txt\necho 'val_loss: 0.0'\n",
    );
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"sh train.sh\"\nevaluate = \"python3 prepare.py\"\neditable = [\"train.sh\"]\nprotected = [\"prepare.py\"]\n\
         [metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n\
         [params]\napply = { env = \"P_\" }\npred = { choice = [0.3] }\n[decide]\npolicy = \"strict\"\n",
    );
    lab.commit("lab");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = lab.json(&["results", "--format", "json"]);
    assert_eq!(
        rows[0]["metrics"]["val_loss"], 0.5,
        "baseline: |0.75 - 0.25|, not the training's 0.0"
    );
    assert!((rows[1]["metrics"]["val_loss"].as_f64().unwrap() - 0.05).abs() < 1e-9);
    assert_eq!(rows[1]["verdict"], "kept");
}

#[test]
fn consecutive_crashes_pause_the_campaign_resumably() {
    let lab = TestLab::with_mode(
        "crash",
        "max_consecutive_crashes = 2\n[decide]\npolicy = \"strict\"\n",
    );
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "10"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("paused"), "{}", stderr(&out));
    let n = lab
        .json(&["results", "--format", "json"])
        .as_array()
        .unwrap()
        .len();
    assert!(n <= 4, "{n} experiments ran before the pause");
}
