//! The end of a run's process group: SIGKILL is asynchronous, so a run is over only once no
//! live process of its group is left.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How often the group is looked for while its processes die: first soon, then less often
/// (a process stuck in the kernel must not cost a core).
const FIRST_POLL: Duration = Duration::from_millis(2);
const MAX_POLL: Duration = Duration::from_millis(50);

/// Kills every process of group `pgid` and waits (at most `limit`) until none is alive;
/// zombies waiting for a parent to reap them count as dead. Returns whether the group is gone.
pub(crate) fn kill_group_and_wait(pgid: Pid, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    let mut poll = FIRST_POLL;
    loop {
        let _ = killpg(pgid, Signal::SIGKILL);
        if live_members(pgid.as_raw()) == 0 {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(poll);
        poll = (poll * 2).min(MAX_POLL);
    }
}

/// Waits until no live process of group `pgid` is left or `until` passes, without signalling
/// it. Returns whether the group is gone.
pub(crate) fn wait_until_gone(pgid: Pid, until: Instant) -> bool {
    let mut poll = FIRST_POLL;
    loop {
        if live_members(pgid.as_raw()) == 0 {
            return true;
        }
        let now = Instant::now();
        if now >= until {
            return false;
        }
        std::thread::sleep(poll.min(until - now));
        poll = (poll * 2).min(MAX_POLL);
    }
}

/// Processes of group `pgid` that are not zombies, read from `/proc/<pid>/stat`.
fn live_members(pgid: i32) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit()))
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // After the command name in parentheses: state, ppid, pgrp, …
            let mut rest = stat
                .rsplit_once(')')
                .map(|(_, r)| r)
                .unwrap_or("")
                .split_whitespace();
            let state = rest.next().unwrap_or("Z");
            let pgrp = rest.nth(1).and_then(|p| p.parse::<i32>().ok());
            state != "Z" && state != "X" && pgrp == Some(pgid)
        })
        .count()
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;

    use super::*;

    #[test]
    fn a_group_is_gone_once_killed() {
        let mut child = std::process::Command::new("/bin/sh")
            .args(["-c", "sleep 1000 & sleep 1000"])
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = Pid::from_raw(child.id() as i32);
        assert!(live_members(pgid.as_raw()) >= 1);
        assert!(kill_group_and_wait(pgid, Duration::from_secs(10)));
        assert_eq!(live_members(pgid.as_raw()), 0);
        let _ = child.wait();
    }
}
