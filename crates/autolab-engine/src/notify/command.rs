//! A `[notify] command`: `sh -c` in its own process group, with the lab's allowed environment
//! only (no API keys), the event as JSON on its standard input, bounded in time; whatever it
//! leaves running in its group when it ends is killed.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The most of a failing command's stderr kept in its failure.
const STDERR_CAP: u64 = 2000;

fn kill_group(pid: u32) {
    let pgid = nix::unistd::Pid::from_raw(pid as i32);
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
}

/// Runs `command` with `input` on its standard input and only `env` in its environment.
pub fn run_command(
    command: &str,
    input: &str,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<(), String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start sh: {e}"))?;
    let pid = child.id();
    // Written and read beside the wait: a command that reads nothing, or writes much to its
    // stderr, must not hold the delivery past its timeout.
    if let Some(mut stdin) = child.stdin.take() {
        let input = input.to_string();
        std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
    }
    let (etx, erx) = std::sync::mpsc::channel();
    if let Some(stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            let mut text = String::new();
            let mut limited = stderr.take(STDERR_CAP);
            let _ = limited.read_to_string(&mut text);
            // Drain the rest so the command never blocks on a full pipe.
            let mut rest = limited.into_inner();
            let _ = std::io::copy(&mut rest, &mut std::io::sink());
            let _ = etx.send(text);
        });
    }
    let until = Instant::now() + timeout;
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => {
                // Background children of the command die with its group.
                kill_group(pid);
                if status.success() {
                    return Ok(());
                }
                let err = erx
                    .recv_timeout(Duration::from_millis(200))
                    .unwrap_or_default();
                let err = err.trim();
                return Err(match status.code() {
                    Some(c) if err.is_empty() => format!("exit code {c}"),
                    Some(c) => format!("exit code {c}: {err}"),
                    None => "killed by a signal".into(),
                });
            }
            None if Instant::now() >= until => {
                kill_group(pid);
                let _ = child.wait();
                return Err(format!("did not end within {} s", timeout.as_secs()));
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}
