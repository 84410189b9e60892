//! The sandbox helper: `autolab __sandbox <json> -- <program> <args…>`.
//!
//! It joins the run's pids cgroup, enters new PID (and network) namespaces, and forks an init
//! for them. The init brings loopback up, forks the command with rlimits, no-new-privileges
//! and Landlock applied, reaps every process of the namespace, and when the command ends kills
//! whatever it left behind before exiting with the command's status (128 + n for signal n).
//! Killing the helper's process group kills the init, and the kernel then kills the whole
//! namespace, so nothing a run started survives it.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::libc;
use nix::sched::{CloneFlags, unshare};
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getegid, geteuid};

use super::{HelperArgs, Layer, landlock, netns};

/// Runs the helper; returns the exit code to leave with.
pub fn helper_main(args: &[String]) -> i32 {
    let Some(json) = args.first() else {
        eprintln!("autolab sandbox helper: missing arguments");
        return 125;
    };
    let argv: Vec<&String> = match args.iter().position(|a| a == "--") {
        Some(i) => args[i + 1..].iter().collect(),
        None => Vec::new(),
    };
    let Ok(h) = serde_json::from_str::<HelperArgs>(json) else {
        eprintln!("autolab sandbox helper: invalid arguments");
        return 125;
    };
    if argv.is_empty() {
        eprintln!("autolab sandbox helper: no command");
        return 125;
    }
    let mut layers = Vec::new();

    match &h.cgroup_procs {
        Some(procs) => match std::fs::write(procs, "0") {
            Ok(()) => layers.push(Layer::on(
                "pids-cgroup",
                format!("max {} processes", h.spec.max_procs.unwrap_or(0)),
            )),
            Err(e) => layers.push(Layer::off("pids-cgroup", format!("cannot join: {e}"))),
        },
        None => layers.push(Layer::off(
            "pids-cgroup",
            "no writable pids cgroup controller",
        )),
    }

    let root = geteuid().is_root();
    let (uid, gid) = (geteuid(), getegid());
    let mut flags = CloneFlags::CLONE_NEWPID;
    if h.spec.network_none {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    if !root {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    let mut pid_ns = false;
    let mut net_ns = false;
    match unshare(flags) {
        Ok(()) => {
            pid_ns = true;
            net_ns = h.spec.network_none;
            if !root {
                map_ids(uid.as_raw(), gid.as_raw());
            }
        }
        Err(e) => {
            // Without a user namespace an unprivileged user gets neither; say so.
            layers.push(Layer::off("pid-namespace", format!("unshare: {e}")));
            if h.spec.network_none {
                layers.push(Layer::off("network-none", format!("unshare: {e}")));
            }
        }
    }
    if pid_ns {
        layers.push(Layer::on(
            "pid-namespace",
            "everything the run starts dies with it",
        ));
    }
    if !h.spec.network_none {
        layers.push(Layer::off(
            "network-none",
            "network = \"host\" in [sandbox]",
        ));
    }

    // SAFETY: the helper is single-threaded.
    match unsafe { fork() } {
        Err(e) => {
            eprintln!("autolab sandbox helper: fork: {e}");
            125
        }
        Ok(ForkResult::Parent { child }) => wait_for(child),
        Ok(ForkResult::Child) => {
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            if !pid_ns {
                let _ = nix::sys::prctl::set_child_subreaper(true);
            }
            if net_ns {
                match netns::loopback_up() {
                    Ok(()) => layers.push(Layer::on(
                        "network-none",
                        "own network namespace, loopback only",
                    )),
                    Err(e) => layers.push(Layer::off(
                        "network-none",
                        format!("namespace made, loopback down: {e}"),
                    )),
                }
            }
            std::process::exit(init(&h, &argv, layers, pid_ns))
        }
    }
}

/// The namespace's init: start the command, reap everything, clean up, report its status.
fn init(h: &HelperArgs, argv: &[&String], layers: Vec<Layer>, pid_ns: bool) -> i32 {
    // SAFETY: still single-threaded.
    let main = match unsafe { fork() } {
        Err(e) => {
            eprintln!("autolab sandbox helper: fork: {e}");
            return 125;
        }
        Ok(ForkResult::Child) => exec_command(h, argv, layers),
        Ok(ForkResult::Parent { child }) => child,
    };
    let mut code = None;
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(pid, c)) if pid == main => {
                code = Some(c);
                kill_rest(pid_ns);
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == main => {
                code = Some(128 + sig as i32);
                kill_rest(pid_ns);
            }
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => break, // ECHILD: nothing left
        }
    }
    code.unwrap_or(125)
}

/// Kills every other process of the run: the whole namespace, or (without one) the
/// descendants that were reparented to this subreaper.
fn kill_rest(pid_ns: bool) {
    if pid_ns {
        // In a PID namespace, -1 means every process in it except this init.
        let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
        return;
    }
    let me = std::process::id() as i32;
    for pid in descendants(me) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

fn descendants(root: i32) -> Vec<i32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for (pid, ppid) in &parent_of {
            if *ppid == p && !out.contains(pid) {
                out.push(*pid);
                frontier.push(*pid);
            }
        }
    }
    out
}

/// In the command's process: limits, no-new-privileges, Landlock, the report, then exec.
fn exec_command(h: &HelperArgs, argv: &[&String], mut layers: Vec<Layer>) -> ! {
    let spec = &h.spec;
    let mut limits = Vec::new();
    if let Some(n) = spec.max_procs {
        let applies = !geteuid().is_root();
        if setrlimit(Resource::RLIMIT_NPROC, n, n).is_ok() && applies {
            limits.push(format!("processes {n}"));
        }
    }
    if let Some(b) = spec.max_file_bytes
        && setrlimit(Resource::RLIMIT_FSIZE, b, b).is_ok()
    {
        limits.push(format!("file size {b} B"));
    }
    if setrlimit(Resource::RLIMIT_CORE, 0, 0).is_ok() {
        limits.push("no core dumps".into());
    }
    if let Some(b) = spec.max_address_space
        && setrlimit(Resource::RLIMIT_AS, b, b).is_ok()
    {
        limits.push(format!("address space {b} B"));
    }
    layers.push(Layer::on("rlimits", limits.join(", ")));
    // SAFETY: a plain prctl.
    let nnp = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } == 0;
    layers.push(if nnp {
        Layer::on(
            "no-new-privileges",
            "setuid programs cannot gain privileges",
        )
    } else {
        Layer::off(
            "no-new-privileges",
            std::io::Error::last_os_error().to_string(),
        )
    });
    if spec.landlock {
        let dirs: Vec<&Path> = spec.writable.iter().map(|p| p.as_path()).collect();
        layers.push(match landlock::restrict_writes(&dirs) {
            Ok(detail) => Layer::on("landlock", detail),
            Err(e) => Layer::off("landlock", e),
        });
    } else {
        layers.push(Layer::off("landlock", "landlock = false in [sandbox]"));
    }
    let _ = std::fs::write(
        &h.report,
        serde_json::to_string(&layers).unwrap_or_default(),
    );

    let cargs: Vec<CString> = argv
        .iter()
        .filter_map(|a| CString::new(a.as_bytes()).ok())
        .collect();
    let Some(program) = cargs.first() else {
        std::process::exit(125)
    };
    let err = nix::unistd::execvp(program, &cargs);
    eprintln!(
        "autolab sandbox helper: cannot run {}: {err:?}",
        Path::new(std::ffi::OsStr::from_bytes(program.as_bytes())).display()
    );
    std::process::exit(127)
}

/// Maps the caller's uid/gid into a new user namespace (unprivileged users only).
fn map_ids(uid: u32, gid: u32) {
    let _ = std::fs::write("/proc/self/setgroups", "deny");
    let _ = std::fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"));
    let _ = std::fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"));
}

fn wait_for(child: Pid) -> i32 {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, c)) => return c,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return 125,
        }
    }
}
