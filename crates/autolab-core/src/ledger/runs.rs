//! Runs: started, found by pid or job, ended with their outcome, metrics and log tail.

use indexmap::IndexMap;
use rusqlite::params;

use super::rows::bad_row;
use super::{Ledger, Result, now, wrap};
use crate::experiment::{JobRef, Run, RunOutcome};
use crate::ids::{CampaignId, ExperimentId, RunId};

impl Ledger {
    /// The log tails of a campaign's newest failed runs but `except`, newest first.
    pub fn failed_run_tails(
        &self,
        campaign: CampaignId,
        except: RunId,
        limit: usize,
    ) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT COALESCE(r.log_tail, '') FROM runs r JOIN experiments e ON r.experiment_id = e.id
                 WHERE e.campaign_id = ?1 AND r.outcome = 'failed' AND r.id != ?2
                 ORDER BY r.started_at DESC, r.id DESC LIMIT ?3",
            )
            .map_err(wrap(&self.path))?;
        let rows = stmt
            .query_map(params![campaign, except, limit as i64], |r| r.get(0))
            .map_err(wrap(&self.path))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(wrap(&self.path))
    }

    pub fn start_run(
        &mut self,
        exp: ExperimentId,
        seed: u64,
        run_dir: &str,
        commit: &str,
    ) -> Result<(RunId, u32)> {
        let tx = super::write_tx::write_tx(&mut self.conn).map_err(wrap(&self.path))?;
        let index: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM runs WHERE experiment_id = ?1",
                [exp],
                |r| r.get(0),
            )
            .map_err(wrap(&self.path))?;
        let dir = run_dir.replace("{run}", &index.to_string());
        tx.execute(
            "INSERT INTO runs (experiment_id, idx, seed, outcome, run_dir, started_at, commit_sha) VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6)",
            params![exp, index, seed as i64, dir, now(), commit],
        )
        .map_err(wrap(&self.path))?;
        let id = RunId(tx.last_insert_rowid());
        tx.commit().map_err(wrap(&self.path))?;
        Ok((id, index as u32))
    }

    /// Records a run's cluster job, so a restarted autolab can re-attach.
    pub fn set_run_job(&self, run: RunId, job: &JobRef) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET job = ?1 WHERE id = ?2",
                params![job.to_string(), run],
            )
            .map(|_| ())
            .map_err(wrap(&self.path))
    }

    pub fn set_run_pid(&self, run: RunId, pid: i64) -> Result<()> {
        self.conn
            .execute("UPDATE runs SET pid = ?1 WHERE id = ?2", params![pid, run])
            .map(|_| ())
            .map_err(wrap(&self.path))
    }

    pub fn finish_run(
        &mut self,
        run: RunId,
        outcome: RunOutcome,
        exit_code: Option<i32>,
        metrics: &IndexMap<String, f64>,
        log_tail: &str,
        note: Option<&str>,
    ) -> Result<()> {
        let tx = super::write_tx::write_tx(&mut self.conn).map_err(wrap(&self.path))?;
        tx.execute(
            "UPDATE runs SET outcome = ?1, exit_code = ?2, ended_at = ?3, log_tail = ?4, note = ?5 WHERE id = ?6",
            params![outcome.as_str(), exit_code, now(), log_tail, note, run],
        )
        .map_err(wrap(&self.path))?;
        for (name, value) in metrics {
            tx.execute(
                "INSERT OR REPLACE INTO metrics (run_id, name, value) VALUES (?1, ?2, ?3)",
                params![run, name, if value.is_nan() { None } else { Some(*value) }],
            )
            .map_err(wrap(&self.path))?;
        }
        tx.commit().map_err(wrap(&self.path))
    }

    /// Records a run's budget under successive halving.
    pub fn set_run_budget(&self, run: RunId, budget: f64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET budget = ?1 WHERE id = ?2",
                params![budget, run],
            )
            .map(|_| ())
            .map_err(wrap(&self.path))
    }

    /// Records which sandbox layers were active for a run (JSON).
    pub fn set_run_sandbox(&self, run: RunId, layers: &serde_json::Value) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET sandbox = ?1 WHERE id = ?2",
                params![layers.to_string(), run],
            )
            .map(|_| ())
            .map_err(wrap(&self.path))
    }

    pub fn runs(&self, exp: ExperimentId) -> Result<Vec<Run>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, idx, seed, outcome, exit_code, pid, run_dir, started_at, ended_at, log_tail, commit_sha, note, sandbox, job, budget FROM runs WHERE experiment_id = ?1 ORDER BY idx")
            .map_err(wrap(&self.path))?;
        let mut runs: Vec<Run> = stmt
            .query_map([exp], |r| {
                Ok(Run {
                    row: r.get(0)?,
                    index: r.get::<_, i64>(1)? as u32,
                    seed: r.get::<_, i64>(2)? as u64,
                    outcome: {
                        let text: String = r.get(3)?;
                        RunOutcome::parse(&text).ok_or_else(|| {
                            bad_row(
                                3,
                                format!(
                                    "runs row {}: unknown outcome `{text}`",
                                    r.get::<_, i64>(0).unwrap_or(0)
                                ),
                            )
                        })?
                    },
                    exit_code: r.get(4)?,
                    pid: r.get(5)?,
                    run_dir: r.get(6)?,
                    started_at: r.get(7)?,
                    ended_at: r.get(8)?,
                    metrics: IndexMap::new(),
                    log_tail: r.get(9)?,
                    commit: r.get(10)?,
                    note: r.get(11)?,
                    sandbox: r
                        .get::<_, Option<String>>(12)?
                        .and_then(|s| serde_json::from_str(&s).ok()),
                    job: match r.get::<_, Option<String>>(13)? {
                        None => None,
                        Some(text) => Some(JobRef::parse(&text).ok_or_else(|| {
                            bad_row(
                                13,
                                format!(
                                    "runs row {}: malformed job `{text}`",
                                    r.get::<_, i64>(0).unwrap_or(0)
                                ),
                            )
                        })?),
                    },
                    budget: r.get(14)?,
                })
            })
            .map_err(wrap(&self.path))?
            .collect::<std::result::Result<_, _>>()
            .map_err(wrap(&self.path))?;
        let mut mstmt = self
            .conn
            .prepare("SELECT name, value FROM metrics WHERE run_id = ?1 ORDER BY rowid")
            .map_err(wrap(&self.path))?;
        for run in &mut runs {
            let values = mstmt
                .query_map([run.row], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<f64>>(1)?.unwrap_or(f64::NAN),
                    ))
                })
                .map_err(wrap(&self.path))?;
            for v in values {
                let (k, x) = v.map_err(wrap(&self.path))?;
                run.metrics.insert(k, x);
            }
        }
        Ok(runs)
    }

    pub fn run_count(&self, exp: ExperimentId) -> Result<u32> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM runs WHERE experiment_id = ?1",
                [exp],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u32)
            .map_err(wrap(&self.path))
    }
}
