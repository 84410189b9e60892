//! Runs on this machine: `sh -c` in its own session and process group, stdin null, a cleared
//! environment, logs captured with a cap, the whole group killed on timeout, cancel or exit.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::logs::{Pump, StopSignal, spawn_pump};
use crate::sandbox::{HELPER_ARG, HelperArgs, Layer, PidsCgroup};
use crate::{Exit, Finished, Handle, LineWatch, RunSpec, Runner, RunnerError};

/// How often a waiting run checks its cancel flag.
const CANCEL_CHECK: Duration = Duration::from_millis(50);
/// How long the end of a run waits for its killed process group to be gone.
const GROUP_EXIT_LIMIT: Duration = Duration::from_secs(5);
/// How often the disk budget is checked: often enough that a fast writer overshoots by a few
/// megabytes at most, but never spending more than a twentieth of the time measuring.
const DISK_CHECK_MIN: Duration = Duration::from_millis(20);
const DISK_CHECK_MAX: Duration = Duration::from_millis(500);

/// Bytes used by the files below `dir` (not following symlinks).
pub fn disk_usage(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                total += m.blocks() * 512;
            }
        }
    }
    total
}

/// Where the sandbox helper reports a run's layers: `<run dir>.sandbox.json`.
pub fn sandbox_report_path(run_dir: &std::path::Path) -> std::path::PathBuf {
    let name = run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    run_dir.with_file_name(format!("{name}.sandbox.json"))
}

/// The largest file a run may write: its own limit, and never more than the disk budget
/// (one byte over it, so a file cut at the limit shows as over budget).
fn file_limit(max_file: Option<u64>, max_disk: Option<u64>) -> Option<u64> {
    match (max_file, max_disk.map(|d| d.saturating_add(1))) {
        (Some(f), Some(d)) => Some(f.min(d)),
        (f, d) => f.or(d),
    }
}

/// When the disk budget is checked next, paced by what a check costs.
struct DiskWatch {
    next: Instant,
    interval: Duration,
}

impl DiskWatch {
    fn new(start: Instant) -> DiskWatch {
        DiskWatch {
            next: start,
            interval: DISK_CHECK_MIN,
        }
    }

    /// Whether the run holds more than its budget, if a check is due.
    fn over_budget(&mut self, spec: &RunSpec, now: Instant) -> bool {
        if spec.max_disk_bytes.is_none() || now < self.next {
            return false;
        }
        let began = Instant::now();
        let over = self.over_budget_now(spec);
        self.interval = (began.elapsed() * 20).clamp(DISK_CHECK_MIN, DISK_CHECK_MAX);
        self.next = now + self.interval;
        over
    }

    fn over_budget_now(&self, spec: &RunSpec) -> bool {
        spec.max_disk_bytes
            .is_some_and(|max| spec.disk_watch.iter().map(|d| disk_usage(d)).sum::<u64>() > max)
    }

    /// How long until the next check (a long time when there is no budget).
    fn next_in(&self, spec: &RunSpec, now: Instant) -> Duration {
        match spec.max_disk_bytes {
            Some(_) => self.next.saturating_duration_since(now),
            None => DISK_CHECK_MAX,
        }
    }
}

/// What a run that broke its disk budget wrote in its run dir goes; autolab's own records
/// of the run (logs, sandbox report) stay.
fn remove_outputs(run_dir: &std::path::Path) {
    const KEEP: [&str; 2] = ["stdout.log", "stderr.log"];
    let Ok(entries) = std::fs::read_dir(run_dir) else {
        return;
    };
    for e in entries.flatten() {
        if KEEP.iter().any(|k| e.file_name() == *k) {
            continue;
        }
        let p = e.path();
        let _ = match p.symlink_metadata() {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(&p),
            _ => std::fs::remove_file(&p),
        };
    }
}

#[derive(Debug, Default, Clone)]
pub struct LocalRunner;

impl Runner for LocalRunner {
    fn name(&self) -> &'static str {
        "local"
    }

    fn run(
        &self,
        spec: &RunSpec,
        cancel: &AtomicBool,
        started: &mut dyn FnMut(Handle),
        watch: Option<LineWatch>,
    ) -> Result<Finished, RunnerError> {
        std::fs::create_dir_all(&spec.run_dir).map_err(|source| RunnerError::RunDir {
            path: spec.run_dir.display().to_string(),
            source,
        })?;
        let stdout_path = spec.run_dir.join("stdout.log");
        let stderr_path = spec.run_dir.join("stderr.log");

        // Beside the run dir, not in it: the run cannot rewrite what its sandbox was.
        let report = sandbox_report_path(&spec.run_dir);
        let _ = std::fs::remove_file(&report);
        let mut cgroup = None;
        let mut cmd = match &spec.sandbox {
            None => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c").arg(&spec.command);
                c
            }
            Some(sb) => {
                let mut sb = sb.clone();
                sb.max_file_bytes = file_limit(sb.max_file_bytes, spec.max_disk_bytes);
                static RUNS: AtomicU64 = AtomicU64::new(0);
                let name = format!(
                    "{}-{}",
                    std::process::id(),
                    RUNS.fetch_add(1, Ordering::SeqCst)
                );
                cgroup = PidsCgroup::create(&name, sb.max_procs.unwrap_or(1024)).ok();
                let args = HelperArgs {
                    spec: sb.clone(),
                    cgroup_procs: cgroup.as_ref().map(|c| c.procs_file()),
                    report: report.clone(),
                };
                let mut c = Command::new(&sb.helper);
                c.arg(HELPER_ARG)
                    .arg(serde_json::to_string(&args).unwrap_or_default())
                    .args(["--", "/bin/sh", "-c"])
                    .arg(&spec.command);
                c
            }
        };
        cmd.current_dir(&spec.workdir)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Unsandboxed, the disk budget still bounds any one file.
        let plain_file_limit = match &spec.sandbox {
            None => file_limit(None, spec.max_disk_bytes),
            Some(_) => None,
        };
        // SAFETY: only async-signal-safe calls (setsid, prctl, setrlimit) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
                // Descriptors inherited from whoever started autolab (not ours: ours are
                // close-on-exec) close at exec; the sandbox's helper also closes its own.
                // SAFETY: a plain syscall; CLOSE_RANGE_CLOEXEC only marks descriptors.
                let _ = nix::libc::syscall(nix::libc::SYS_close_range, 3u32, u32::MAX, 4u32);
                if let Some(b) = plain_file_limit {
                    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_FSIZE, b, b)
                        .map_err(std::io::Error::from)?;
                }
                Ok(())
            });
        }
        let start = Instant::now();
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(source) => {
                if let Some(cg) = cgroup {
                    cg.kill_all_and_remove();
                }
                return Err(RunnerError::Spawn {
                    command: spec.command.clone(),
                    source,
                });
            }
        };
        let pgid = Pid::from_raw(child.id() as i32);
        started(Handle::Pid(child.id()));

        let tail_cap = (spec.max_log_bytes / 2).min(1 << 20) as usize;
        let head_cap = spec.max_log_bytes.saturating_sub(tail_cap as u64);
        let stop = StopSignal::default();
        let watch = watch.map(|w| (w, stop.clone()));
        let activity = stop.activity.clone();
        let pumps: Vec<Pump> = [
            child.stdout.take().map(|s| {
                spawn_pump(
                    s,
                    &stdout_path,
                    head_cap,
                    tail_cap,
                    watch,
                    spec.line_sink.clone(),
                    (activity.clone(), start),
                )
            }),
            child.stderr.take().map(|s| {
                spawn_pump(
                    s,
                    &stderr_path,
                    head_cap,
                    tail_cap,
                    None,
                    spec.line_sink.clone(),
                    (activity.clone(), start),
                )
            }),
        ]
        .into_iter()
        .flatten()
        .collect();

        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });

        let deadline = start + spec.timeout;
        let mut forced: Option<Exit> = None;
        let mut disk = DiskWatch::new(start);
        let mut kill_at: Option<Instant> = None;
        let mut killed = false;
        let status = loop {
            let now = Instant::now();
            if forced.is_none() {
                if cancel.load(Ordering::SeqCst) {
                    forced = Some(Exit::Cancelled);
                } else if stop.flag.load(Ordering::SeqCst) {
                    forced = Some(Exit::Stopped);
                } else if spec.stall_timeout.is_some_and(|st| {
                    let last = Duration::from_millis(activity.load(Ordering::SeqCst));
                    now.duration_since(start).saturating_sub(last) > st
                }) {
                    forced = Some(Exit::Stalled);
                } else if disk.over_budget(spec, now) {
                    forced = Some(Exit::DiskExceeded);
                } else if now >= deadline {
                    forced = Some(Exit::TimedOut);
                }
                if forced.is_some() {
                    let _ = killpg(pgid, Signal::SIGTERM);
                    kill_at = Some(now + spec.kill_grace);
                }
            }
            if kill_at.is_some_and(|at| !killed && now >= at) {
                let _ = killpg(pgid, Signal::SIGKILL);
                killed = true;
            }
            let wait = match kill_at {
                Some(at) if !killed => at
                    .saturating_duration_since(now)
                    .max(Duration::from_millis(1)),
                Some(_) => Duration::from_secs(1),
                None => CANCEL_CHECK
                    .min(deadline.saturating_duration_since(now))
                    .min(disk.next_in(spec, now))
                    .max(Duration::from_millis(1)),
            };
            match rx.recv_timeout(wait) {
                Ok(status) => break status.ok(),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break None,
            }
        };
        // A run being stopped gets its whole grace: its shell may be gone while the processes
        // it started still handle SIGTERM.
        if let Some(at) = kill_at.filter(|_| !killed) {
            group::wait_until_gone(pgid, at);
        }
        // Children that outlive the command die with its group, and (sandboxed) everything in
        // its cgroup, however it detached.
        group::kill_group_and_wait(pgid, GROUP_EXIT_LIMIT);
        // A file cut at the size limit, or files written between two checks, count too.
        if forced.is_none() && disk.over_budget_now(spec) {
            forced = Some(Exit::DiskExceeded);
        }
        if forced == Some(Exit::DiskExceeded) {
            remove_outputs(&spec.run_dir);
        }
        if let Some(cg) = cgroup {
            cg.kill_all_and_remove();
        }
        let layers: Vec<Layer> = match &spec.sandbox {
            None => Vec::new(),
            Some(_) => std::fs::read_to_string(&report)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_else(|| {
                    vec![Layer::off("sandbox", "the sandbox helper did not report")]
                }),
        };
        let elapsed = start.elapsed();

        let mut truncated = false;
        for pump in pumps {
            truncated |= pump.finish(spec.kill_grace.max(Duration::from_secs(1)));
        }
        let exit = forced.unwrap_or(match status {
            Some(s) => match (s.code(), s.signal()) {
                (Some(code), _) => Exit::Code(code),
                (None, Some(sig)) => Exit::Signal(sig),
                (None, None) => Exit::Code(-1),
            },
            None => Exit::Code(-1),
        });
        Ok(Finished {
            streamed: spec.line_sink.is_some(),
            exit,
            elapsed,
            stdout: stdout_path,
            stderr: stderr_path,
            truncated,
            layers,
            stop_reason: if exit == Exit::Stopped {
                stop.reason.lock().ok().and_then(|r| r.clone())
            } else {
                None
            },
        })
    }
}

mod group;
#[cfg(test)]
mod tests;
