//! The one poller of a runner: asks the scheduler about all of its active jobs with one call
//! per poll, reads what the followed jobs' logs gained (one more call), and hands each waiter
//! its job's state and output through a shared table.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use super::{Inner, JobStatus, MAX_MISSES, WAKE, follow};

pub(super) struct Seen {
    pub(super) status: JobStatus,
    pub(super) misses: u32,
    /// The stdout being followed, if the waiter watches it.
    pub(super) follow: Option<follow::Followed>,
    /// Output read since the waiter last looked.
    pub(super) fresh: Vec<u8>,
    /// When a read last found the log grown.
    pub(super) grew_at: Option<Instant>,
    /// When the log was last read successfully.
    pub(super) read_at: Option<Instant>,
    /// `fresh` does not continue what the waiter saw before (output skipped, log shrank).
    pub(super) gap: bool,
}

#[derive(Default)]
pub(super) struct Table {
    pub(super) jobs: HashMap<String, Seen>,
    pub(super) poller: bool,
}

/// The jobs being waited for, shared between the waiters and the poller thread.
#[derive(Default)]
pub(super) struct Tracker {
    pub(super) table: Mutex<Table>,
    pub(super) changed: Condvar,
    /// Status queries sent to the scheduler (`squeue`/`bjobs` calls, plus fallbacks).
    pub(super) queries: AtomicU64,
    /// Poll rounds done.
    pub(super) polls: AtomicU64,
    /// Shell calls reading followed jobs' logs (one per poll at most).
    pub(super) log_reads: AtomicU64,
    /// Jobs submitted and not yet finished (for `max_jobs`).
    pub(super) active: Mutex<usize>,
    pub(super) slot_freed: Condvar,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers `id` with the poller, starting it if none runs; `log` is its stdout to follow.
pub(super) fn track(inner: &Arc<Inner>, id: &str, log: Option<String>) {
    let mut table = lock(&inner.tracker.table);
    table.jobs.insert(
        id.to_string(),
        Seen {
            status: JobStatus::Pending,
            misses: 0,
            follow: log.map(|path| follow::Followed { path, offset: 0 }),
            fresh: Vec::new(),
            grew_at: None,
            read_at: None,
            gap: false,
        },
    );
    if !table.poller {
        table.poller = true;
        let inner = Arc::clone(inner);
        std::thread::spawn(move || poll_loop(&inner));
    }
}

/// The one poller of a runner: asks about all tracked jobs at once, until none is left.
pub(super) fn poll_loop(inner: &Inner) {
    let t = &inner.tracker;
    loop {
        let ids: Vec<String> = {
            let mut table = lock(&t.table);
            if table.jobs.is_empty() {
                table.poller = false;
                return;
            }
            let mut ids: Vec<String> = table
                .jobs
                .iter()
                .filter(|(_, s)| !s.status.is_terminal())
                .map(|(id, _)| id.clone())
                .collect();
            ids.sort();
            ids
        };
        if !ids.is_empty() {
            t.polls.fetch_add(1, Ordering::SeqCst);
            match inner.backend.query(&inner.shell, &ids, &t.queries) {
                Ok(states) => {
                    let mut table = lock(&t.table);
                    for id in &ids {
                        let Some(seen) = table.jobs.get_mut(id) else {
                            continue;
                        };
                        match states.get(id) {
                            Some(s) => {
                                seen.status = s.clone();
                                seen.misses = 0;
                            }
                            None => {
                                seen.misses += 1;
                                if seen.misses >= MAX_MISSES {
                                    seen.status = JobStatus::Lost;
                                }
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!("polling {} jobs failed: {e}", inner.cfg.scheduler.name()),
            }
            read_logs(inner);
            t.changed.notify_all();
        }
        // Sleep, but wake early when the table empties so the thread does not linger.
        let deadline = Instant::now() + inner.cfg.poll_interval;
        let mut table = lock(&t.table);
        while Instant::now() < deadline && !table.jobs.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            table = t
                .changed
                .wait_timeout(table, left.min(WAKE))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}

/// Reads what the followed running jobs' logs gained, in one shell call.
pub(super) fn read_logs(inner: &Inner) {
    let t = &inner.tracker;
    let jobs: Vec<(String, follow::Followed)> = lock(&t.table)
        .jobs
        .iter()
        .filter(|(_, s)| s.status == JobStatus::Running)
        .filter_map(|(id, s)| s.follow.clone().map(|f| (id.clone(), f)))
        .collect();
    if jobs.is_empty() {
        return;
    }
    let offsets: HashMap<String, u64> = jobs.iter().map(|(id, f)| (id.clone(), f.offset)).collect();
    let marker = follow::new_marker();
    let script = follow::read_script(&jobs, &marker);
    let out = match inner.shell.exec(
        &["sh".to_string(), "-s".to_string()],
        Some(script.as_bytes()),
    ) {
        Ok(out) => out,
        Err(e) => {
            tracing::warn!("reading the logs of {} jobs failed: {e}", jobs.len());
            return;
        }
    };
    t.log_reads.fetch_add(1, Ordering::SeqCst);
    let now = Instant::now();
    let mut table = lock(&t.table);
    for (id, read) in follow::parse_reads(&out.stdout, &offsets, &marker) {
        let Some(seen) = table.jobs.get_mut(&id) else {
            continue;
        };
        let Some(f) = seen.follow.as_mut() else {
            continue;
        };
        seen.read_at = Some(now);
        if read.gap {
            seen.gap = true;
            seen.fresh.clear();
        }
        if !read.bytes.is_empty() {
            seen.grew_at = Some(now);
            seen.fresh.extend_from_slice(&read.bytes);
            let excess = seen.fresh.len().saturating_sub(follow::KEEP_CAP);
            if excess > 0 {
                seen.fresh.drain(..excess);
                seen.gap = true;
            }
        }
        f.offset = read.size;
    }
}
