//! Dropping every capability for good: the bounding set (so an exec as root regains none),
//! the ambient set, and the effective, permitted and inheritable sets.

use nix::libc;

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct Header {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Drops all capabilities of this process and of what it executes. Call after the last
/// privileged step (mounts, Landlock) and before exec.
pub fn drop_all() -> Result<(), String> {
    // SAFETY: prctl with integer arguments only.
    unsafe {
        let mut cap = 0;
        while libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) == 0 {
            cap += 1;
        }
        // Past the last capability the kernel says EINVAL; anything else is a failure.
        let err = std::io::Error::last_os_error();
        if cap == 0 || err.raw_os_error() != Some(libc::EINVAL) {
            return Err(format!("dropping the bounding set at {cap}: {err}"));
        }
        // Ambient capabilities arrived with Linux 4.3; an older kernel has none to clear.
        let _ = libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
    }
    let header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let data = [Data::default(); 2];
    // SAFETY: header and data are the layout capset(2) expects for version 3.
    let r = unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) };
    if r != 0 {
        return Err(format!("capset: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}
