//! Landlock through its three syscalls: writes (create, remove, write, truncate, …) only
//! beneath the allowed directories; reads and execution stay unrestricted.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::libc;

const WRITE_FILE: u64 = 1 << 1;
const REMOVE_DIR: u64 = 1 << 4;
const REMOVE_FILE: u64 = 1 << 5;
const MAKE_CHAR: u64 = 1 << 6;
const MAKE_DIR: u64 = 1 << 7;
const MAKE_REG: u64 = 1 << 8;
const MAKE_SOCK: u64 = 1 << 9;
const MAKE_FIFO: u64 = 1 << 10;
const MAKE_BLOCK: u64 = 1 << 11;
const MAKE_SYM: u64 = 1 << 12;
const REFER: u64 = 1 << 13;
const TRUNCATE: u64 = 1 << 14;
const IOCTL_DEV: u64 = 1 << 15;
const RULE_PATH_BENEATH: libc::c_int = 1;
const CREATE_RULESET_VERSION: libc::c_uint = 1;

#[repr(C, packed)]
struct PathBeneath {
    allowed_access: u64,
    parent_fd: i32,
}

/// The kernel's Landlock ABI version, if Landlock is available.
pub fn abi() -> Option<i64> {
    // SAFETY: the documented way to query the ABI: null attr, size 0, the version flag.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    (v > 0).then_some(v)
}

/// The device files a run may write to: the harmless pseudo-devices, terminals, and GPUs
/// (CUDA and ROCm talk to theirs by ioctl). Not disks, loop devices, `/dev/kmsg` or consoles.
fn writable_devices() -> Vec<std::path::PathBuf> {
    const PLAIN: [&str; 8] = [
        "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts",
    ];
    const GPU_PREFIXES: [&str; 3] = ["nvidia", "dri", "kfd"];
    let Ok(entries) = std::fs::read_dir("/dev") else {
        return Vec::new();
    };
    let mut out: Vec<std::path::PathBuf> = entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            PLAIN.contains(&name.as_ref()) || GPU_PREFIXES.iter().any(|p| name.starts_with(p))
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// Restricts this process (and its future children) for good. Call in a single-threaded
/// process right before exec.
pub fn restrict_writes(writable: &[&Path]) -> Result<String, String> {
    let abi = abi().ok_or("Landlock is not available in this kernel")?;
    let mut handled = WRITE_FILE
        | REMOVE_DIR
        | REMOVE_FILE
        | MAKE_CHAR
        | MAKE_DIR
        | MAKE_REG
        | MAKE_SOCK
        | MAKE_FIFO
        | MAKE_BLOCK
        | MAKE_SYM;
    let mut file_rights = WRITE_FILE;
    if abi >= 2 {
        handled |= REFER;
    }
    if abi >= 3 {
        handled |= TRUNCATE;
        file_rights |= TRUNCATE;
    }
    if abi >= 5 {
        handled |= IOCTL_DEV;
        file_rights |= IOCTL_DEV;
    }
    let attr: u64 = handled;
    // SAFETY: attr is a valid landlock_ruleset_attr prefix of the given size.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const u64,
            std::mem::size_of::<u64>(),
            0u32,
        )
    };
    if fd < 0 {
        return Err(format!(
            "landlock_create_ruleset: {}",
            std::io::Error::last_os_error()
        ));
    }
    let fd = fd as libc::c_int;
    let mut allowed = Vec::new();
    let mut rules: Vec<(&Path, u64)> = writable.iter().map(|p| (*p, handled)).collect();
    let devices = writable_devices();
    rules.extend(devices.iter().map(|d| (d.as_path(), file_rights)));
    for (path, rights) in rules {
        let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
            continue;
        };
        // SAFETY: a valid NUL-terminated path.
        let pfd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if pfd < 0 {
            continue;
        }
        let rule = PathBeneath {
            allowed_access: rights,
            parent_fd: pfd,
        };
        // SAFETY: rule is a valid landlock_path_beneath_attr; fd is our ruleset.
        let r = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                fd,
                RULE_PATH_BENEATH,
                &rule as *const PathBeneath,
                0u32,
            )
        };
        // SAFETY: pfd was opened above.
        unsafe { libc::close(pfd) };
        if r == 0 {
            allowed.push(path.display().to_string());
        }
    }
    // SAFETY: plain prctl/syscall; fd is our ruleset.
    let r = unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        libc::syscall(libc::SYS_landlock_restrict_self, fd, 0u32)
    };
    // SAFETY: fd was created above.
    unsafe { libc::close(fd) };
    if r != 0 {
        return Err(format!(
            "landlock_restrict_self: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(format!("ABI {abi}; writable: {}", allowed.join(", ")))
}
