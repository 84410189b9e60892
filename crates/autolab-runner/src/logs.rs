//! Captures one output stream into a file with a size cap: the first `head` bytes are written
//! as they come, then only the last `tail` bytes are kept in a ring and appended at the end
//! after a marker, so a run printing gigabytes never fills the disk or autolab's memory.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

pub struct Pump {
    done: mpsc::Receiver<bool>,
}

impl Pump {
    /// Waits up to `limit` for the stream to close (a process that escaped the group may hold
    /// it open); returns whether the log was truncated.
    pub fn finish(self, limit: Duration) -> bool {
        self.done.recv_timeout(limit).unwrap_or(false)
    }
}

/// Lines longer than this are cut before they reach the watcher.
const MAX_LINE: usize = 64 * 1024;

/// Where a pump reports that its watcher asked to stop the run.
#[derive(Clone, Default)]
pub struct StopSignal {
    pub flag: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub reason: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// Milliseconds after the run's start at which output was last seen.
    pub activity: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

pub fn spawn_pump<R: Read + Send + 'static>(
    mut src: R,
    path: &Path,
    head: u64,
    tail: usize,
    mut watch: Option<(crate::LineWatch, StopSignal)>,
    sink: Option<crate::LineSink>,
    activity: (
        std::sync::Arc<std::sync::atomic::AtomicU64>,
        std::time::Instant,
    ),
) -> Pump {
    let (tx, rx) = mpsc::channel();
    // A new file, never through a symlink: the run dir is the run's to write in.
    let _ = std::fs::remove_file(path);
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(path)
    };
    std::thread::spawn(move || {
        let Ok(mut file) = file else {
            // Drain so the child never blocks on a full pipe.
            let _ = std::io::copy(&mut src, &mut std::io::sink());
            let _ = tx.send(false);
            return;
        };
        let mut written: u64 = 0;
        let mut ring: VecDeque<u8> = VecDeque::new();
        let mut dropped: u64 = 0;
        let mut buf = [0u8; 16 * 1024];
        let mut line: Vec<u8> = Vec::new();
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            activity.0.store(
                activity.1.elapsed().as_millis() as u64,
                std::sync::atomic::Ordering::SeqCst,
            );
            if watch.is_some() || sink.is_some() {
                for &b in &buf[..n] {
                    if b == b'\n' {
                        let text = String::from_utf8_lossy(&line);
                        if let Some(s) = &sink {
                            (s.0)(&text);
                        }
                        if let Some((w, stop)) = watch.as_mut()
                            && let Some(reason) = w(&text)
                        {
                            if let Ok(mut r) = stop.reason.lock() {
                                r.get_or_insert(reason);
                            }
                            stop.flag.store(true, std::sync::atomic::Ordering::SeqCst);
                        }
                        line.clear();
                    } else if line.len() < MAX_LINE {
                        line.push(b);
                    }
                }
            }
            let mut chunk = &buf[..n];
            if written < head {
                let take = ((head - written) as usize).min(chunk.len());
                let _ = file.write_all(&chunk[..take]);
                written += take as u64;
                chunk = &chunk[take..];
            }
            if !chunk.is_empty() {
                ring.extend(chunk);
                while ring.len() > tail {
                    let excess = ring.len() - tail;
                    ring.drain(..excess);
                    dropped += excess as u64;
                }
            }
        }
        // A last line without a newline is a line too.
        if let Some(s) = &sink
            && !line.is_empty()
        {
            (s.0)(&String::from_utf8_lossy(&line));
        }
        if dropped > 0 {
            let _ = writeln!(file, "\n[autolab: {dropped} bytes of output omitted here]");
        }
        let (a, b) = ring.as_slices();
        let _ = file.write_all(a);
        let _ = file.write_all(b);
        let _ = file.flush();
        let _ = tx.send(dropped > 0);
    });
    Pump { done: rx }
}
