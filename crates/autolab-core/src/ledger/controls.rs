//! The control inbox: commands for a campaign written by any process, taken by its loop.

use rusqlite::params;

use super::{Ledger, LedgerError, Result, now, wrap};
use crate::control::{Command, Control};

/// The inbox of the ledger's campaigns (`ledger.controls()`).
pub struct Controls<'a>(&'a Ledger);

impl Ledger {
    pub fn controls(&self) -> Controls<'_> {
        Controls(self)
    }
}

const COLUMNS: &str = "id, command, arg, by, at, taken_at, effect";

impl Controls<'_> {
    /// Writes a command for `campaign`; its row id.
    pub fn push(&self, campaign: i64, command: &Command, by: &str) -> Result<i64> {
        let l = self.0;
        l.conn
            .execute(
                "INSERT INTO controls (campaign_id, command, arg, by, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![campaign, command.name(), command.arg(), by, now()],
            )
            .map_err(wrap(&l.path))?;
        Ok(l.conn.last_insert_rowid())
    }

    /// The commands not taken yet, oldest first.
    pub fn waiting(&self, campaign: i64) -> Result<Vec<Control>> {
        self.select(
            "WHERE campaign_id = ?1 AND taken_at IS NULL ORDER BY id",
            campaign,
        )
    }

    /// The newest `limit` commands, taken or not, oldest first.
    pub fn recent(&self, campaign: i64, limit: u32) -> Result<Vec<Control>> {
        let mut all = self.select(
            &format!("WHERE campaign_id = ?1 ORDER BY id DESC LIMIT {limit}"),
            campaign,
        )?;
        all.reverse();
        Ok(all)
    }

    /// One command by its row id.
    pub fn get(&self, id: i64) -> Result<Option<Control>> {
        Ok(self.select("WHERE id = ?1", id)?.pop())
    }

    /// Marks a command taken, with what it did. A command taken already keeps its first effect.
    pub fn take(&self, id: i64, effect: &str) -> Result<()> {
        let l = self.0;
        l.conn
            .execute(
                "UPDATE controls SET taken_at = ?2, effect = ?3 WHERE id = ?1 AND taken_at IS NULL",
                params![id, now(), effect],
            )
            .map_err(wrap(&l.path))?;
        Ok(())
    }

    fn select(&self, filter: &str, key: i64) -> Result<Vec<Control>> {
        let l = self.0;
        let mut stmt = l
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM controls {filter}"))
            .map_err(wrap(&l.path))?;
        let rows = stmt
            .query_map(params![key], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, f64>(4)?,
                    r.get::<_, Option<f64>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })
            .map_err(wrap(&l.path))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, name, arg, by, at, taken_at, effect) = row.map_err(wrap(&l.path))?;
            let command =
                Command::parse(&name, arg.as_deref()).map_err(|why| LedgerError::BadRow {
                    path: l.path.clone(),
                    row: format!("controls row {id}"),
                    why,
                })?;
            out.push(Control {
                id,
                command,
                by,
                at,
                taken_at,
                effect,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> (tempfile::TempDir, Ledger, i64) {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("l.db")).unwrap();
        let c = l
            .create_campaign("t", "abc", 0, &Default::default(), "")
            .unwrap();
        (dir, l, c.id)
    }

    #[test]
    fn commands_wait_until_taken_and_keep_their_first_effect() {
        let (_d, l, c) = ledger();
        let a = l.controls().push(c, &Command::Pause, "me").unwrap();
        let b = l.controls().push(c, &Command::Cancel(3), "you").unwrap();
        let waiting = l.controls().waiting(c).unwrap();
        assert_eq!(
            waiting.iter().map(|w| &w.command).collect::<Vec<_>>(),
            [&Command::Pause, &Command::Cancel(3)]
        );
        assert_eq!(waiting[1].by, "you");
        l.controls().take(a, "paused").unwrap();
        l.controls().take(a, "again").unwrap();
        let waiting = l.controls().waiting(c).unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].id, b);
        let first = l.controls().get(a).unwrap().unwrap();
        assert_eq!(first.effect.as_deref(), Some("paused"));
        assert!(first.taken_at.is_some());
        assert_eq!(l.controls().recent(c, 1).unwrap()[0].id, b);
    }

    #[test]
    fn a_row_with_an_unknown_command_is_an_error_naming_it() {
        let (_d, l, c) = ledger();
        l.conn
            .execute(
                "INSERT INTO controls (campaign_id, command, by, at) VALUES (?1, 'reboot', 'x', 0)",
                params![c],
            )
            .unwrap();
        let e = l.controls().waiting(c).unwrap_err().to_string();
        assert!(e.contains("controls row") && e.contains("reboot"), "{e}");
    }
}
