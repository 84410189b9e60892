//! The control inbox: commands for a campaign written by any process, taken by its loop.

use rusqlite::params;
use rusqlite::types::Value;

use super::{Ledger, Result, now, wrap};
use crate::control::{Command, Control};
use crate::ids::CampaignId;

/// The inbox of the ledger's campaigns (`ledger.controls()`).
pub struct Controls<'a>(pub(super) &'a Ledger);

const COLUMNS: &str = "id, command, arg, by, at, taken_at, effect";

impl Controls<'_> {
    /// Writes a command for `campaign`; its row id.
    pub fn push(&self, campaign: CampaignId, command: &Command, by: &str) -> Result<i64> {
        let l = self.0;
        l.conn
            .execute(
                "INSERT INTO controls (campaign_id, command, arg, by, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![campaign, command.name(), command.arg(), by, now()],
            )
            .map_err(wrap(&l.path))?;
        Ok(l.conn.last_insert_rowid())
    }

    /// The commands not taken yet, oldest first. A row no command can be read from (written
    /// by hand, or by a newer autolab) is taken here and answered as refused, with why: it
    /// never stops the loop that reads the inbox.
    pub fn waiting(&self, campaign: CampaignId) -> Result<Vec<Control>> {
        let mut out = Vec::new();
        for row in self.select(
            "WHERE campaign_id = ?1 AND taken_at IS NULL ORDER BY id",
            campaign,
        )? {
            match row {
                Ok(c) => out.push(c),
                Err((id, why)) => self.take(id, &format!("refused: unreadable: {why}"))?,
            }
        }
        Ok(out)
    }

    /// The newest `limit` commands that can be read, taken or not, oldest first.
    pub fn recent(&self, campaign: CampaignId, limit: u32) -> Result<Vec<Control>> {
        let mut all: Vec<Control> = self
            .select(
                &format!("WHERE campaign_id = ?1 ORDER BY id DESC LIMIT {limit}"),
                campaign,
            )?
            .into_iter()
            .flatten()
            .collect();
        all.reverse();
        Ok(all)
    }

    /// One command by its row id (none when missing or unreadable).
    pub fn get(&self, id: i64) -> Result<Option<Control>> {
        Ok(self.select("WHERE id = ?1", id)?.pop().and_then(|r| r.ok()))
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

    /// The rows `filter` selects: each a command, or its id and why it cannot be read. Values
    /// are read as whatever SQLite holds, so a wrongly typed column is an unreadable row, not
    /// an error.
    fn select(
        &self,
        filter: &str,
        key: impl rusqlite::ToSql,
    ) -> Result<Vec<std::result::Result<Control, (i64, String)>>> {
        let l = self.0;
        let mut stmt = l
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM controls {filter}"))
            .map_err(wrap(&l.path))?;
        let rows = stmt
            .query_map(params![key], |r| {
                let mut values = Vec::with_capacity(7);
                for i in 0..7 {
                    values.push(r.get::<_, Value>(i)?);
                }
                Ok(values)
            })
            .map_err(wrap(&l.path))?;
        let mut out = Vec::new();
        for row in rows {
            let v = row.map_err(wrap(&l.path))?;
            let Value::Integer(id) = v[0] else {
                continue;
            };
            out.push(control(id, &v).map_err(|why| (id, why)));
        }
        Ok(out)
    }
}

/// A control from its row's values (id, command, arg, by, at, taken_at, effect).
fn control(id: i64, v: &[Value]) -> std::result::Result<Control, String> {
    let text = |i: usize, what: &str| match &v[i] {
        Value::Text(t) => Ok(Some(t.clone())),
        Value::Integer(n) => Ok(Some(n.to_string())),
        Value::Null => Ok(None),
        _ => Err(format!("its {what} is not text")),
    };
    let time = |i: usize, what: &str| match v[i] {
        Value::Real(t) => Ok(Some(t)),
        Value::Integer(t) => Ok(Some(t as f64)),
        Value::Null => Ok(None),
        _ => Err(format!("its {what} is not a time")),
    };
    let name = text(1, "command")?.unwrap_or_default();
    let arg = text(2, "argument")?;
    let command = Command::parse(&name, arg.as_deref())?;
    Ok(Control {
        id,
        command,
        by: text(3, "author")?.unwrap_or_default(),
        at: time(4, "time")?.unwrap_or(0.0),
        taken_at: time(5, "time taken")?,
        effect: text(6, "effect")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> (tempfile::TempDir, Ledger, CampaignId) {
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
    fn an_unreadable_row_is_refused_with_why_and_the_others_still_come() {
        let (_d, l, c) = ledger();
        for (command, arg, at) in [
            ("'reboot'", "NULL", "0"),
            ("'cancel'", "'abc'", "0"),
            ("'steer'", "NULL", "0"),
            ("'pause'", "NULL", "'noon'"),
            ("'pause'", "x'00'", "0"),
        ] {
            l.conn
                .execute(
                    &format!(
                        "INSERT INTO controls (campaign_id, command, arg, by, at) VALUES (?1, {command}, {arg}, 'x', {at})"
                    ),
                    params![c],
                )
                .unwrap();
        }
        let good = l.controls().push(c, &Command::Pause, "me").unwrap();
        let waiting = l.controls().waiting(c).unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].id, good);
        let effects: Vec<String> = l
            .conn
            .prepare("SELECT effect FROM controls WHERE id < ?1 ORDER BY id")
            .unwrap()
            .query_map([good], |r| r.get(0))
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        assert_eq!(
            effects,
            [
                "refused: unreadable: unknown command `reboot`",
                "refused: unreadable: `cancel` needs an experiment number, found `abc`",
                "refused: unreadable: `steer` needs its text, found none",
                "refused: unreadable: its time is not a time",
                "refused: unreadable: its argument is not text",
            ]
        );
        assert_eq!(
            l.controls().waiting(c).unwrap().len(),
            1,
            "refused once, then gone"
        );
        assert_eq!(
            l.controls().recent(c, 10).unwrap().len(),
            1,
            "status sees the readable one"
        );
    }
}
