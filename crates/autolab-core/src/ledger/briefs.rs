//! The research brief's versions (`ledger.briefs()`): what the explorer wrote of the lab
//! before any experiment, and each edit the user made of `.autolab/brief.md` since. The brief
//! belongs to the lab, not to one campaign.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Ledger, Result, now, wrap};

/// The ledger's briefs.
pub struct Briefs<'a>(pub(super) &'a Ledger);

/// One version of the brief.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Brief {
    /// 1, 2, …: the order versions were recorded in.
    pub version: i64,
    pub at: f64,
    /// `explorer` (written by the LLM) or `user` (an edit of brief.md).
    pub source: String,
    pub model: Option<String>,
    pub text: String,
}

impl Briefs<'_> {
    /// Records a new version; its number.
    pub fn record(&self, source: &str, model: Option<&str>, text: &str) -> Result<i64> {
        let l = self.0;
        l.conn
            .execute(
                "INSERT INTO briefs (at, source, model, body) VALUES (?1, ?2, ?3, ?4)",
                params![now(), source, model, text],
            )
            .map_err(wrap(&l.path))?;
        Ok(l.conn.last_insert_rowid())
    }

    /// The newest version, if any.
    pub fn latest(&self) -> Result<Option<Brief>> {
        let l = self.0;
        l.conn
            .query_row(
                "SELECT id, at, source, model, body FROM briefs ORDER BY id DESC LIMIT 1",
                [],
                brief_row,
            )
            .optional()
            .map_err(wrap(&l.path))
    }

    /// Every version, oldest first.
    pub fn list(&self) -> Result<Vec<Brief>> {
        let l = self.0;
        let mut stmt = l
            .conn
            .prepare("SELECT id, at, source, model, body FROM briefs ORDER BY id")
            .map_err(wrap(&l.path))?;
        let rows = stmt.query_map([], brief_row).map_err(wrap(&l.path))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(wrap(&l.path))
    }
}

fn brief_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Brief> {
    Ok(Brief {
        version: r.get(0)?,
        at: r.get(1)?,
        source: r.get(2)?,
        model: r.get(3)?,
        text: r.get(4)?,
    })
}
