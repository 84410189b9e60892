//! Bringing loopback up inside a new network namespace (it starts down).

use nix::libc;

pub fn loopback_up() -> Result<(), String> {
    // SAFETY: plain socket/ioctl syscalls on a zeroed, correctly sized ifreq.
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if sock < 0 {
            return Err(format!("socket: {}", std::io::Error::last_os_error()));
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            ifr.ifr_name[i] = *b as libc::c_char;
        }
        let result = if libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut ifr) < 0 {
            Err(format!("SIOCGIFFLAGS: {}", std::io::Error::last_os_error()))
        } else {
            ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(sock, libc::SIOCSIFFLAGS, &ifr) < 0 {
                Err(format!("SIOCSIFFLAGS: {}", std::io::Error::last_os_error()))
            } else {
                Ok(())
            }
        };
        libc::close(sock);
        result
    }
}
