//! Forgetting a campaign: every row it owns, in one transaction.

use rusqlite::params;

use super::{Ledger, Result, wrap};

/// How many rows forgetting a campaign removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forgotten {
    pub experiments: u64,
    pub runs: u64,
}

/// Deletes campaign `tag` and everything recorded under it (experiments, runs, metrics,
/// events, lessons, digests, transcripts) in one transaction. None: no such campaign.
pub fn forget_campaign(ledger: &mut Ledger, tag: &str) -> Result<Option<Forgotten>> {
    let Some(campaign) = ledger.campaign(tag)? else {
        return Ok(None);
    };
    let id = campaign.id;
    let tx = super::write_tx::write_tx(&mut ledger.conn).map_err(wrap(&ledger.path))?;
    let exps = "SELECT id FROM experiments WHERE campaign_id = ?1";
    let runs = format!("SELECT id FROM runs WHERE experiment_id IN ({exps})");
    let counted = |sql: &str| -> rusqlite::Result<u64> {
        tx.query_row(sql, params![id], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
    };
    let forgotten = Forgotten {
        experiments: counted("SELECT COUNT(*) FROM experiments WHERE campaign_id = ?1")
            .map_err(wrap(&ledger.path))?,
        runs: counted(&format!("SELECT COUNT(*) FROM ({runs})")).map_err(wrap(&ledger.path))?,
    };
    for sql in [
        format!("DELETE FROM metrics WHERE run_id IN ({runs})"),
        format!("DELETE FROM curves WHERE run_id IN ({runs})"),
        format!("DELETE FROM runs WHERE experiment_id IN ({exps})"),
        format!("DELETE FROM lessons WHERE experiment_id IN ({exps})"),
        "DELETE FROM transcripts WHERE campaign_id = ?1".to_string(),
        "DELETE FROM events WHERE campaign_id = ?1".to_string(),
        "DELETE FROM playbook_digests WHERE campaign_id = ?1".to_string(),
        "DELETE FROM controls WHERE campaign_id = ?1".to_string(),
        "DELETE FROM writeups WHERE campaign_id = ?1".to_string(),
        "DELETE FROM experiments WHERE campaign_id = ?1".to_string(),
        "DELETE FROM projects WHERE campaign_id = ?1".to_string(),
        "DELETE FROM campaigns WHERE id = ?1".to_string(),
    ] {
        tx.execute(&sql, params![id]).map_err(wrap(&ledger.path))?;
    }
    tx.commit().map_err(wrap(&ledger.path))?;
    Ok(Some(forgotten))
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;

    use super::*;
    use crate::experiment::RunOutcome;

    #[test]
    fn forgetting_a_campaign_removes_its_rows_and_only_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("ledger.db")).unwrap();
        for tag in ["gone", "kept"] {
            let c = l
                .create_campaign(tag, "abc", 1, &IndexMap::new(), "")
                .unwrap();
            let row = l
                .propose(c.id, 0, "abc", "baseline", "baseline", None)
                .unwrap();
            let (run, _) = l.start_run(row, 1, "r", "abc").unwrap();
            let m = IndexMap::from([("loss".to_string(), 0.5)]);
            l.finish_run(run, RunOutcome::Exited, Some(0), &m, "tail", None)
                .unwrap();
            l.set_lesson(row, "a lesson", false).unwrap();
            l.campaign_event(c.id, "note", &serde_json::json!({}))
                .unwrap();
        }
        let f = forget_campaign(&mut l, "gone").unwrap().unwrap();
        assert_eq!(
            f,
            Forgotten {
                experiments: 1,
                runs: 1
            }
        );
        assert!(l.campaign("gone").unwrap().is_none());
        let kept = l.campaign("kept").unwrap().unwrap();
        assert_eq!(l.experiments(kept.id).unwrap().len(), 1);
        let count = |sql: &str| -> i64 { l.conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        for table in ["experiments", "runs", "metrics", "lessons", "campaigns"] {
            assert_eq!(
                count(&format!("SELECT COUNT(*) FROM {table}")),
                1,
                "{table}"
            );
        }
        assert_eq!(
            count(
                "SELECT COUNT(*) FROM events WHERE campaign_id NOT IN (SELECT id FROM campaigns)"
            ),
            0
        );
        assert!(forget_campaign(&mut l, "gone").unwrap().is_none());
    }
}
