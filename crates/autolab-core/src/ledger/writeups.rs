//! What the write-up keeps: papers (one row per attempt, with its status), reviews and
//! meta-reviews (with the model, temperature and prompt hash), and literature searches (a
//! cache shared by every campaign of the lab, so a query is asked once).

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Ledger, Result, now, wrap};
use crate::ids::CampaignId;

/// The ledger's write-ups (`ledger.writeups()`).
pub struct Writeups<'a>(pub(super) &'a Ledger);

/// One paper attempt, review or meta-review.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Writeup {
    pub id: i64,
    /// `paper`, `review` or `meta-review`.
    pub kind: String,
    pub at: f64,
    /// The PDF (or attempt directory) it is about.
    pub path: Option<String>,
    pub model: Option<String>,
    pub temperature: Option<f64>,
    pub prompt_hash: Option<String>,
    /// JSON: a paper's status and notes, a review's form.
    pub body: serde_json::Value,
}

impl Writeups<'_> {
    /// Records a write-up; its row id.
    pub fn record(&self, campaign: CampaignId, w: &Writeup) -> Result<i64> {
        let l = self.0;
        l.conn
            .execute(
                "INSERT INTO writeups (campaign_id, kind, at, path, model, temperature, prompt_hash, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    campaign,
                    w.kind,
                    now(),
                    w.path,
                    w.model,
                    w.temperature,
                    w.prompt_hash,
                    w.body.to_string()
                ],
            )
            .map_err(wrap(&l.path))?;
        Ok(l.conn.last_insert_rowid())
    }

    /// A campaign's write-ups of one kind, oldest first.
    pub fn list(&self, campaign: CampaignId, kind: &str) -> Result<Vec<Writeup>> {
        let l = self.0;
        let mut stmt = l
            .conn
            .prepare(
                "SELECT id, kind, at, path, model, temperature, prompt_hash, body FROM writeups
                 WHERE campaign_id = ?1 AND kind = ?2 ORDER BY id",
            )
            .map_err(wrap(&l.path))?;
        let rows = stmt
            .query_map(params![campaign, kind], |r| {
                let body: String = r.get(7)?;
                Ok(Writeup {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    at: r.get(2)?,
                    path: r.get(3)?,
                    model: r.get(4)?,
                    temperature: r.get(5)?,
                    prompt_hash: r.get(6)?,
                    body: serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
                })
            })
            .map_err(wrap(&l.path))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(wrap(&l.path))
    }

    /// A cached literature answer (JSON) for `query` at `source`.
    pub fn literature(&self, source: &str, query: &str) -> Result<Option<String>> {
        let l = self.0;
        l.conn
            .query_row(
                "SELECT papers FROM literature WHERE source = ?1 AND query = ?2",
                params![source, query],
                |r| r.get(0),
            )
            .optional()
            .map_err(wrap(&l.path))
    }

    /// Keeps a literature answer (JSON), replacing an older one.
    pub fn keep_literature(&self, source: &str, query: &str, papers: &str) -> Result<()> {
        let l = self.0;
        l.conn
            .execute(
                "INSERT OR REPLACE INTO literature (source, query, papers, at) VALUES (?1, ?2, ?3, ?4)",
                params![source, query, papers, now()],
            )
            .map_err(wrap(&l.path))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> (tempfile::TempDir, Ledger, CampaignId) {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("ledger.db")).unwrap();
        let c = l
            .create_campaign("t", "abc", 7, &indexmap::IndexMap::new(), "")
            .unwrap()
            .id;
        (dir, l, c)
    }

    #[test]
    fn writeups_are_listed_by_kind_in_order_and_forgotten_with_their_campaign() {
        let (_d, mut l, c) = ledger();
        let w = |kind: &str, n: i64| Writeup {
            kind: kind.into(),
            model: Some("m".into()),
            temperature: Some(0.5),
            prompt_hash: Some("h".into()),
            body: serde_json::json!({"n": n}),
            ..Writeup::default()
        };
        l.writeups().record(c, &w("review", 1)).unwrap();
        l.writeups().record(c, &w("paper", 2)).unwrap();
        l.writeups().record(c, &w("review", 3)).unwrap();
        let reviews = l.writeups().list(c, "review").unwrap();
        assert_eq!(
            reviews
                .iter()
                .map(|r| r.body["n"].as_i64())
                .collect::<Vec<_>>(),
            [Some(1), Some(3)]
        );
        assert_eq!(reviews[0].temperature, Some(0.5));
        crate::ledger::forget_campaign(&mut l, "t").unwrap();
        assert!(l.writeups().list(c, "review").unwrap().is_empty());
    }

    #[test]
    fn a_literature_answer_is_kept_per_source_and_query_and_replaced() {
        let (_d, l, _c) = ledger();
        let lit = l.writeups();
        assert_eq!(lit.literature("arxiv", "q").unwrap(), None);
        lit.keep_literature("arxiv", "q", "[1]").unwrap();
        lit.keep_literature("arxiv", "q", "[2]").unwrap();
        lit.keep_literature("openalex", "q", "[3]").unwrap();
        assert_eq!(
            lit.literature("arxiv", "q").unwrap().as_deref(),
            Some("[2]")
        );
        assert_eq!(
            lit.literature("openalex", "q").unwrap().as_deref(),
            Some("[3]")
        );
    }
}
