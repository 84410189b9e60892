//! Live updates: one thread reads the ledger's feed every tick — one query for all watchers,
//! however many are connected — and broadcasts what changed; each page holds a Server-Sent
//! Events stream of it. Events carry their ledger id, so a browser that reconnects sends
//! `Last-Event-ID` and gets what it missed from the ledger before the live ones.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::time::Duration;

use autolab_core::ledger::{FeedItem, Ledger, Pulse};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast;

/// How often the ledger is read.
pub const TICK: Duration = Duration::from_millis(250);
/// Events read (or replayed) at once.
const BATCH: u32 = 500;

#[derive(Debug, Clone)]
pub enum Live {
    Event(FeedItem),
    /// Something changed without an event (an LLM call, an answered command, a heartbeat).
    Pulse,
}

/// Starts the reader thread (it lives as long as the server).
pub fn start(ledger_path: PathBuf, tx: broadcast::Sender<Live>) {
    std::thread::spawn(move || {
        let mut ledger: Option<Ledger> = None;
        let mut last: Option<i64> = None;
        let mut pulse = Pulse::default();
        loop {
            std::thread::sleep(TICK);
            if ledger.is_none() && ledger_path.exists() {
                ledger = Ledger::open_read_only(&ledger_path).ok();
            }
            let Some(l) = &ledger else { continue };
            let feed = l.feed();
            let from = match last {
                Some(id) => id,
                // Watchers started now get what happens from now on (older events by replay).
                None => match feed.last_id() {
                    Ok(id) => id,
                    Err(_) => {
                        ledger = None;
                        continue;
                    }
                },
            };
            match feed.after(from, BATCH) {
                Ok(items) => {
                    last = Some(items.last().map_or(from, |i| i.id));
                    for item in items {
                        let _ = tx.send(Live::Event(item));
                    }
                }
                Err(_) => {
                    ledger = None;
                    continue;
                }
            }
            if let Ok(now) = feed.pulse()
                && now != pulse
            {
                pulse = now;
                let _ = tx.send(Live::Pulse);
            }
        }
    });
}

/// The events after `id` in the ledger (a reconnecting watcher's replay).
pub fn replay(ledger_path: &Path, id: i64) -> Vec<FeedItem> {
    Ledger::open_read_only(ledger_path)
        .and_then(|l| l.feed().after(id, BATCH))
        .unwrap_or_default()
}

fn event(item: &Live) -> Event {
    match item {
        Live::Event(e) => Event::default()
            .id(e.id.to_string())
            .event("ledger")
            .data(serde_json::to_string(e).unwrap_or_default()),
        Live::Pulse => Event::default().event("pulse").data("{}"),
    }
}

/// The stream a page holds: the replay, then what the reader broadcasts (events already
/// replayed are skipped).
pub fn stream(
    replayed: Vec<FeedItem>,
    rx: broadcast::Receiver<Live>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let seen = replayed.last().map(|e| e.id);
    let queue: VecDeque<Live> = replayed.into_iter().map(Live::Event).collect();
    let s =
        futures_util::stream::unfold((queue, rx, seen), |(mut queue, mut rx, seen)| async move {
            loop {
                if let Some(item) = queue.pop_front() {
                    let ev = event(&item);
                    return Some((Ok(ev), (queue, rx, seen)));
                }
                match rx.recv().await {
                    Ok(Live::Event(e)) if seen.is_some_and(|s| e.id <= s) => continue,
                    Ok(item) => return Some((Ok(event(&item)), (queue, rx, seen))),
                    // A slow page missed some: it refreshes everything on the next message.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        return Some((
                            Ok(Event::default().event("pulse").data("{}")),
                            (queue, rx, seen),
                        ));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
