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
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use nix::libc;
use nix::sched::{CloneFlags, unshare};
use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{
    SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, kill, sigaction, sigprocmask,
};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getegid, geteuid};

use super::{HelperArgs, Layer, caps, landlock, mounts, netns};

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

    let ns = enter_namespaces(&h, &mut layers);
    let keep = kept_paths(&h);

    // SIGTERM is held back until each process has its handler: the helper forwards it to the
    // init, the init to every process of the run, and neither dies of it, so the run gets its
    // whole kill_grace (the runner's SIGKILL ends it after that).
    let term = SigSet::from(Signal::SIGTERM);
    let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&term), None);
    // SAFETY: the helper is single-threaded.
    match unsafe { fork() } {
        Err(e) => {
            eprintln!("autolab sandbox helper: fork: {e}");
            125
        }
        Ok(ForkResult::Parent { child }) => {
            on_sigterm_forward_to(child.as_raw());
            let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&term), None);
            wait_for(child)
        }
        Ok(ForkResult::Child) => {
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            // In a PID namespace, -1 is every process of the run but this init.
            on_sigterm_forward_to(if ns.pid { -1 } else { 0 });
            let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&term), None);
            if !ns.pid {
                let _ = nix::sys::prctl::set_child_subreaper(true);
            }
            if ns.net {
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
            let private = match ns.mount {
                true => own_mounts(&h, &keep, ns.pid, &mut layers),
                false => Vec::new(),
            };
            std::process::exit(init(&h, &argv, layers, &private, ns.pid))
        }
    }
}

/// Which namespaces the run got.
struct Namespaces {
    pid: bool,
    net: bool,
    mount: bool,
}

/// Moves the helper into new PID, mount, UTS and IPC (and network) namespaces, and a user
/// namespace when not root; without the mount, UTS and IPC ones if the machine refuses them.
fn enter_namespaces(h: &HelperArgs, layers: &mut Vec<Layer>) -> Namespaces {
    let root = geteuid().is_root();
    let (uid, gid) = (geteuid(), getegid());
    let mut base = CloneFlags::CLONE_NEWPID;
    if h.spec.network_none {
        base |= CloneFlags::CLONE_NEWNET;
    }
    if !root {
        base |= CloneFlags::CLONE_NEWUSER;
    }
    let full = base | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWIPC;
    let mut ns = Namespaces {
        pid: false,
        net: false,
        mount: false,
    };
    let entered = match unshare(full) {
        Ok(()) => {
            ns.mount = true;
            layers.push(Layer::on(
                "uts-ipc-namespaces",
                "own hostname and SysV IPC, gone with the run",
            ));
            Ok(())
        }
        Err(e) => {
            layers.push(Layer::off("mount-namespace", format!("unshare: {e}")));
            layers.push(Layer::off("uts-ipc-namespaces", format!("unshare: {e}")));
            unshare(base)
        }
    };
    match entered {
        Ok(()) => {
            ns.pid = true;
            ns.net = h.spec.network_none;
            if !root {
                map_ids(uid.as_raw(), gid.as_raw());
            }
            layers.push(Layer::on(
                "pid-namespace",
                "everything the run starts dies with it",
            ));
        }
        Err(e) => {
            // Without a user namespace an unprivileged user gets neither; say so.
            layers.push(Layer::off("pid-namespace", format!("unshare: {e}")));
            if h.spec.network_none {
                layers.push(Layer::off("network-none", format!("unshare: {e}")));
            }
        }
    }
    if !h.spec.network_none {
        layers.push(Layer::off(
            "network-none",
            "network = \"host\" in [sandbox]",
        ));
    }
    ns
}

/// The directories the run must still see inside the private `/tmp`, `/run` and `/dev/shm`:
/// its working directory, the writable ones, those autolab names, and its PATH and HOME.
fn kept_paths(h: &HelperArgs) -> Vec<PathBuf> {
    let mut keep: Vec<PathBuf> = h.spec.writable.clone();
    keep.extend(h.spec.visible.iter().cloned());
    keep.extend(std::env::current_dir().ok());
    if let Some(path) = std::env::var_os("PATH") {
        keep.extend(std::env::split_paths(&path));
    }
    keep.extend(std::env::var_os("HOME").map(PathBuf::from));
    keep.into_iter()
        .filter_map(|p| p.canonicalize().ok())
        .collect()
}

/// In the init, in the new mount namespace: private propagation, a fresh `/proc`, private
/// shared directories, read-only files. Each step is reported; a failed one is off. Returns
/// the private directories the run may write in as a whole.
fn own_mounts(
    h: &HelperArgs,
    keep: &[PathBuf],
    pid_ns: bool,
    layers: &mut Vec<Layer>,
) -> Vec<PathBuf> {
    if let Err(e) = mounts::private_propagation() {
        layers.push(Layer::off("mount-namespace", e));
        return Vec::new();
    }
    layers.push(Layer::on("mount-namespace", "the run's mounts are its own"));
    layers.push(match (pid_ns, mounts::fresh_proc()) {
        (true, Ok(())) => Layer::on("private-proc", "/proc shows only the run's processes"),
        (true, Err(e)) => Layer::off("private-proc", e),
        (false, _) => Layer::off("private-proc", "no PID namespace"),
    });
    let mut writable = Vec::new();
    layers.push(
        match mounts::mask_shared_dirs(keep, h.spec.private_tmp_bytes) {
            Ok(dirs) => {
                let names: Vec<String> = dirs.iter().map(|m| m.dir.display().to_string()).collect();
                writable.extend(
                    dirs.into_iter()
                        .filter(|m| !m.holds_host_paths)
                        .map(|m| m.dir),
                );
                Layer::on("private-tmp", format!("empty private {}", names.join(", ")))
            }
            Err(e) => Layer::off("private-tmp", e),
        },
    );
    if !h.spec.read_only.is_empty() {
        layers.push(match mounts::read_only(&h.spec.read_only) {
            Ok(files) => Layer::on("read-only-files", files.join(", ")),
            Err(e) => Layer::off("read-only-files", e),
        });
    }
    writable
}

/// Set once a SIGTERM arrived: the run is being stopped.
static TERMINATING: AtomicBool = AtomicBool::new(false);
/// Where a SIGTERM is passed on (0: nowhere; -1: the whole PID namespace).
static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward_sigterm(_: libc::c_int) {
    if !TERMINATING.swap(true, Ordering::SeqCst) {
        let to = FORWARD_TO.load(Ordering::SeqCst);
        if to != 0 {
            // SAFETY: kill is async-signal-safe.
            unsafe { libc::kill(to, libc::SIGTERM) };
        }
    }
}

/// Catches SIGTERM (without restarting interrupted calls) and passes it on to `to` once.
fn on_sigterm_forward_to(to: i32) {
    FORWARD_TO.store(to, Ordering::SeqCst);
    let action = SigAction::new(
        SigHandler::Handler(forward_sigterm),
        SaFlags::empty(),
        SigSet::empty(),
    );
    // SAFETY: the handler only touches atomics and calls kill.
    let _ = unsafe { sigaction(Signal::SIGTERM, &action) };
}

/// The namespace's init: start the command, reap everything, clean up, report its status.
/// When the run is being stopped, the others get their grace: the init waits for them.
fn init(
    h: &HelperArgs,
    argv: &[&String],
    layers: Vec<Layer>,
    private: &[PathBuf],
    pid_ns: bool,
) -> i32 {
    let term = SigSet::from(Signal::SIGTERM);
    let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&term), None);
    // SAFETY: still single-threaded.
    let main = match unsafe { fork() } {
        Err(e) => {
            eprintln!("autolab sandbox helper: fork: {e}");
            return 125;
        }
        Ok(ForkResult::Child) => {
            let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
            // SAFETY: restoring the default disposition.
            let _ = unsafe { sigaction(Signal::SIGTERM, &default) };
            let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&term), None);
            exec_command(h, argv, layers, private)
        }
        Ok(ForkResult::Parent { child }) => child,
    };
    let _ = sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&term), None);
    let mut code = None;
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(pid, c)) if pid == main => {
                code = Some(c);
                if !TERMINATING.load(Ordering::SeqCst) {
                    kill_rest(pid_ns);
                }
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == main => {
                code = Some(128 + sig as i32);
                if !TERMINATING.load(Ordering::SeqCst) {
                    kill_rest(pid_ns);
                }
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
fn exec_command(
    h: &HelperArgs,
    argv: &[&String],
    mut layers: Vec<Layer>,
    private: &[PathBuf],
) -> ! {
    let spec = &h.spec;
    // Opened now, written last: after Landlock the report's directory is not writable.
    let report = std::fs::File::create(&h.report).ok();
    // Enter the working directory again by name: a directory bound back into the private
    // /tmp is a new mount, and read-only files are mounted on that one.
    if let Ok(cwd) = std::env::current_dir() {
        let _ = std::env::set_current_dir(cwd);
    }
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
        let dirs: Vec<&Path> = spec
            .writable
            .iter()
            .chain(private)
            .map(|p| p.as_path())
            .collect();
        layers.push(match landlock::restrict_writes(&dirs) {
            Ok(detail) => Layer::on("landlock", detail),
            Err(e) => Layer::off("landlock", e),
        });
    } else {
        layers.push(Layer::off("landlock", "landlock = false in [sandbox]"));
    }
    layers.push(match caps::drop_all() {
        Ok(()) => Layer::on(
            "no-capabilities",
            "every capability dropped, also across exec",
        ),
        Err(e) => Layer::off("no-capabilities", e),
    });
    if let Some(mut f) = report {
        use std::io::Write;
        let _ = f.write_all(
            serde_json::to_string(&layers)
                .unwrap_or_default()
                .as_bytes(),
        );
    }
    // Only stdin, stdout and stderr reach the command: descriptors whoever started autolab
    // left open (a file, a socket) would bypass every other layer.
    // SAFETY: close_range on descriptors this process no longer needs.
    let closed = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) } == 0;
    if !closed {
        for fd in 3..1024 {
            // SAFETY: closing descriptors this process no longer needs.
            unsafe { libc::close(fd) };
        }
    }

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
