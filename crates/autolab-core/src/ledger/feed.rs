//! The ledger as a feed for watchers (`autolab serve`): its events in order, each with the
//! campaign and experiment it concerns, read by id so a watcher that reconnects misses nothing,
//! and a pulse of what changes without an event (LLM calls, answered commands, heartbeats).

use rusqlite::params;
use serde::Serialize;

use super::{Ledger, Result, wrap};

/// A view of the ledger for watchers (`ledger.feed()`).
pub struct Feed<'a>(pub(super) &'a Ledger);

/// One event of the ledger, for a watcher.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedItem {
    /// The event's row id: increasing, so "everything after id N" is a replay.
    pub id: i64,
    pub tag: String,
    /// The experiment's number, for an experiment's event.
    pub experiment: Option<u32>,
    pub kind: String,
    pub to: Option<String>,
    pub at: f64,
}

/// What changed without an event: the newest LLM call, the newest answered command, the
/// freshest heartbeat. A watcher compares it with the last one it saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Pulse {
    pub transcript: i64,
    pub control: i64,
    pub heartbeat: f64,
}

impl Feed<'_> {
    /// Events after `id`, oldest first, at most `limit`.
    pub fn after(&self, id: i64, limit: u32) -> Result<Vec<FeedItem>> {
        let l = self.0;
        let mut stmt = l
            .conn
            .prepare_cached(
                "SELECT e.id, c.tag, x.number, e.kind, e.to_state, e.at
                 FROM events e JOIN campaigns c ON c.id = e.campaign_id
                 LEFT JOIN experiments x ON x.id = e.experiment_id
                 WHERE e.id > ?1 ORDER BY e.id LIMIT ?2",
            )
            .map_err(wrap(&l.path))?;
        let rows = stmt
            .query_map(params![id, limit], |r| {
                Ok(FeedItem {
                    id: r.get(0)?,
                    tag: r.get(1)?,
                    experiment: r.get(2)?,
                    kind: r.get(3)?,
                    to: r.get(4)?,
                    at: r.get(5)?,
                })
            })
            .map_err(wrap(&l.path))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(wrap(&l.path))
    }

    /// The newest event's id (0 for none).
    pub fn last_id(&self) -> Result<i64> {
        let l = self.0;
        l.conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))
            .map_err(wrap(&l.path))
    }

    pub fn pulse(&self) -> Result<Pulse> {
        let l = self.0;
        l.conn
            .query_row(
                "SELECT (SELECT COALESCE(MAX(id), 0) FROM transcripts),
                        (SELECT COALESCE(MAX(id), 0) FROM controls WHERE taken_at IS NOT NULL),
                        (SELECT COALESCE(MAX(heartbeat), 0) FROM campaigns)",
                [],
                |r| {
                    Ok(Pulse {
                        transcript: r.get(0)?,
                        control: r.get(1)?,
                        heartbeat: r.get(2)?,
                    })
                },
            )
            .map_err(wrap(&l.path))
    }
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;

    use super::*;

    #[test]
    fn events_come_back_in_order_after_an_id_with_their_campaign_and_experiment() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("ledger.db")).unwrap();
        let c = l
            .create_campaign("t", "abc", 1, &IndexMap::new(), "")
            .unwrap();
        let start = l.feed().last_id().unwrap();
        let row = l
            .propose(c.id, 3, "abc", "baseline", "baseline", None)
            .unwrap();
        l.campaign_event(c.id, "note", &serde_json::json!({}))
            .unwrap();
        let all = l.feed().after(start, 100).unwrap();
        assert_eq!(all.len(), 2, "{all:?}");
        assert!(all[0].id < all[1].id);
        assert_eq!(all[0].tag, "t");
        assert_eq!(all[0].experiment, Some(3));
        assert_eq!(all[0].to.as_deref(), Some("proposed"));
        assert_eq!(all[1].experiment, None);
        assert_eq!(all[1].kind, "note");
        assert_eq!(l.feed().after(all[0].id, 100).unwrap(), all[1..]);
        assert_eq!(l.feed().after(start, 1).unwrap(), all[..1]);
        assert_eq!(l.feed().last_id().unwrap(), all[1].id);
        let _ = row;
        let before = l.feed().pulse().unwrap();
        l.heartbeat(c.id).unwrap();
        assert!(l.feed().pulse().unwrap().heartbeat >= before.heartbeat);
    }
}
