//! A waiter: follows one job to its end through the poller's table, cancelling it on request,
//! past its deadline, when its watched output says so or when it falls silent.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::poller::{lock, track};
use super::{CANCEL_REPEAT, Inner, JobStatus, STOP_WAIT, WAKE, follow};
use crate::{Exit, LineWatch, RunSpec};

/// How one submitted job ended, from the waiter's point of view.
pub(super) enum Outcome {
    Exit(Exit, Option<String>),
    NodeFailure(String),
}

/// What a waiter watches besides the job's state: its stdout lines (early stopping) and its
/// silence (`stall_timeout`).
pub(super) struct Watching<'a> {
    pub(super) watch: Option<&'a mut LineWatch>,
    pub(super) stall: Option<Duration>,
    /// The unfinished last line of the output so far.
    pub(super) partial: Vec<u8>,
    /// Why the watch asked to stop the job.
    pub(super) stop_reason: Option<String>,
}

impl Watching<'_> {
    fn follows(&self) -> bool {
        self.watch.is_some() || self.stall.is_some()
    }

    /// Feeds new output to the watch; true once it asked to stop. After a `gap` (output
    /// skipped) the unfinished line and the new bytes up to their first newline are dropped,
    /// so no line is made of two pieces.
    fn feed(&mut self, bytes: &[u8], gap: bool) -> bool {
        let mut bytes = bytes;
        if gap {
            self.partial.clear();
            bytes = match bytes.iter().position(|b| *b == b'\n') {
                Some(i) => &bytes[i + 1..],
                None => &[],
            };
        }
        if let Some(w) = self.watch.as_mut() {
            self.partial.extend_from_slice(bytes);
            for line in follow::complete_lines(&mut self.partial) {
                if self.stop_reason.is_none() {
                    self.stop_reason = w(&line);
                }
            }
            self.partial.truncate(64 * 1024);
        }
        self.stop_reason.is_some()
    }
}

/// Waits for job `id` to end, cancelling it on `cancel`, past its deadline, when its watch
/// says so or when it stalls.
pub(super) fn wait_for_job(
    inner: &Arc<Inner>,
    id: &str,
    spec: &RunSpec,
    cancel: &AtomicBool,
    watching: &mut Watching<'_>,
) -> Outcome {
    let log = watching
        .follows()
        .then(|| format!("{}/stdout.log", inner.job_paths(spec).run_dir));
    track(inner, id, log);
    let t = &inner.tracker;
    let limit = spec.timeout + inner.cfg.timeout_margin;
    // Time the job has spent running (suspended or requeued time does not count, as for the
    // scheduler's own limit), and when the job last (re)entered the running state.
    let mut ran = Duration::ZERO;
    let mut running_again: Option<Instant> = None;
    let mut run_before = Duration::ZERO; // `ran` when the job last left the running state
    let mut stopping: Option<(Exit, Instant, Instant)> = None; // reason, first, last cancel
    let status = loop {
        let (status, fresh, gap, grew_at, read_at) = {
            let table = lock(&t.table);
            let mut table = t
                .changed
                .wait_timeout(table, WAKE)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
            match table.jobs.get_mut(id) {
                Some(s) => (
                    Some(s.status.clone()),
                    std::mem::take(&mut s.fresh),
                    std::mem::take(&mut s.gap),
                    s.grew_at,
                    s.read_at,
                ),
                None => (None, Vec::new(), false, None, None),
            }
        };
        let now = Instant::now();
        match status {
            Some(s) if s.is_terminal() => break s,
            Some(JobStatus::Running) => {
                if let Some(at) = running_again {
                    ran = ran.max(run_before + now.duration_since(at));
                }
                running_again.get_or_insert(now);
            }
            Some(_) => {
                run_before = ran;
                running_again = None;
            }
            None => break JobStatus::Lost,
        }
        let watch_stops = watching.feed(&fresh, gap);
        // Stalled: successful reads of the log, while it runs, saw no growth for longer than
        // `stall_timeout` (failed reads and pending or suspended time do not count).
        let stalled = watching.stall.is_some_and(|st| {
            let (Some(since), Some(read)) = (running_again, read_at) else {
                return false;
            };
            let quiet_from = grew_at.map_or(since, |g| g.max(since));
            read > quiet_from && read.duration_since(quiet_from) > st
        });
        match &mut stopping {
            None => {
                let reason = if cancel.load(Ordering::SeqCst) {
                    Some(Exit::Cancelled)
                } else if ran >= limit {
                    Some(Exit::TimedOut)
                } else if watch_stops {
                    Some(Exit::Stopped)
                } else if stalled {
                    Some(Exit::Stalled)
                } else {
                    None
                };
                if let Some(r) = reason {
                    inner.cancel_job(id);
                    stopping = Some((r, now, now));
                }
            }
            Some((reason, first, last)) => {
                if now.duration_since(*first) >= STOP_WAIT {
                    let r = *reason;
                    lock(&t.table).jobs.remove(id);
                    return Outcome::Exit(
                        r,
                        Some(format!(
                            "job {id} did not end within {}s of being cancelled",
                            STOP_WAIT.as_secs()
                        )),
                    );
                }
                if now.duration_since(*last) >= CANCEL_REPEAT {
                    inner.cancel_job(id);
                    *last = now;
                }
            }
        }
    };
    lock(&t.table).jobs.remove(id);
    t.changed.notify_all();
    if let Some((reason, _, _)) = stopping
        && status != JobStatus::Done(Exit::Code(0))
    {
        return Outcome::Exit(reason, None);
    }
    match status {
        JobStatus::Done(e) => Outcome::Exit(e, None),
        JobStatus::Cancelled => Outcome::Exit(
            Exit::Code(1),
            Some(format!("job {id} was cancelled outside autolab")),
        ),
        JobStatus::NodeFailure(s) => Outcome::NodeFailure(s),
        JobStatus::Lost => Outcome::Exit(
            Exit::Code(-1),
            Some(format!("job {id} vanished from the scheduler")),
        ),
        JobStatus::Pending | JobStatus::Running | JobStatus::Suspended => {
            Outcome::Exit(Exit::Code(-1), None)
        }
    }
}
