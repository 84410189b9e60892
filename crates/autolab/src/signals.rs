//! Ctrl-C (SIGINT) and SIGTERM ask the campaign to stop cleanly; a second one exits at once.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

pub static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: nix::libc::c_int) {
    if STOP.swap(true, Ordering::SeqCst) {
        // SAFETY: `_exit` is async-signal-safe.
        unsafe { nix::libc::_exit(130) };
    }
}

pub fn install() {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only touches an atomic and calls `_exit`.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

/// Restores the default SIGPIPE (the Rust runtime ignores it, so a closed stdout would be a
/// panic): a command whose reader went away ends quietly.
pub fn default_sigpipe() {
    let action = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: restoring a default disposition.
    let _ = unsafe { sigaction(Signal::SIGPIPE, &action) };
}
