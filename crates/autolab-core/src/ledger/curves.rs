//! Learning curves (`ledger.curves()`): the `(step, value)` points each run printed for a
//! metric on lines that also carry its step. Early stopping compares a running run with the
//! completed runs' curves, and the dashboard draws them.

use rusqlite::params;
use serde::Serialize;

use super::{Ledger, Result, wrap};
use crate::ids::{CampaignId, RunId};

/// At most this many points are kept of one run's curve for one metric (evenly thinned,
/// the last point always kept).
pub const MAX_POINTS: usize = 1000;

/// The ledger's learning curves.
pub struct Curves<'a>(pub(super) &'a Ledger);

/// One run's curve of one metric, in step order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    pub run: RunId,
    /// The experiment's number in its campaign (0: the baseline).
    pub experiment: u32,
    pub metric: String,
    pub points: Vec<(f64, f64)>,
}

/// At most `MAX_POINTS` of `points`, evenly spread, the first and last kept.
pub fn thin(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    let last = points.len() - 1;
    (0..MAX_POINTS)
        .map(|i| points[i * last / (MAX_POINTS - 1)])
        .collect()
}

impl Ledger {
    /// Records a run's curves (replacing what it had for those metrics).
    pub fn record_curves(
        &mut self,
        run: RunId,
        curves: &[(String, Vec<(f64, f64)>)],
    ) -> Result<()> {
        if curves.is_empty() {
            return Ok(());
        }
        let tx = super::write_tx::write_tx(&mut self.conn).map_err(wrap(&self.path))?;
        for (metric, points) in curves {
            tx.execute(
                "DELETE FROM curves WHERE run_id = ?1 AND metric = ?2",
                params![run, metric],
            )
            .map_err(wrap(&self.path))?;
            for (step, value) in thin(points) {
                if step.is_finite() && value.is_finite() {
                    tx.execute(
                        "INSERT OR REPLACE INTO curves (run_id, metric, step, value) VALUES (?1, ?2, ?3, ?4)",
                        params![run, metric, step, value],
                    )
                    .map_err(wrap(&self.path))?;
                }
            }
        }
        tx.commit().map_err(wrap(&self.path))
    }
}

impl Curves<'_> {
    /// A run's curves, one a metric, by metric name.
    pub fn of_run(&self, run: RunId) -> Result<Vec<Curve>> {
        self.query(
            "SELECT c.run_id, e.number, c.metric, c.step, c.value FROM curves c
             JOIN runs r ON r.id = c.run_id JOIN experiments e ON e.id = r.experiment_id
             WHERE c.run_id = ?1 ORDER BY c.metric, c.step",
            params![run],
        )
    }

    /// The curves of `metric` of a campaign's runs that ran to their end (outcome `exited`)
    /// with a value of metric `scored` (a run that exited without its final metric did not
    /// complete), in run order.
    pub fn completed(
        &self,
        campaign: CampaignId,
        metric: &str,
        scored: &str,
    ) -> Result<Vec<Curve>> {
        self.query(
            "SELECT c.run_id, e.number, c.metric, c.step, c.value FROM curves c
             JOIN runs r ON r.id = c.run_id JOIN experiments e ON e.id = r.experiment_id
             WHERE e.campaign_id = ?1 AND c.metric = ?2 AND r.outcome = 'exited'
               AND EXISTS (SELECT 1 FROM metrics m WHERE m.run_id = r.id AND m.name = ?3
                           AND m.value IS NOT NULL)
             ORDER BY c.run_id, c.step",
            params![campaign, metric, scored],
        )
    }

    fn query(&self, sql: &str, args: impl rusqlite::Params) -> Result<Vec<Curve>> {
        let l = self.0;
        let mut stmt = l.conn.prepare(sql).map_err(wrap(&l.path))?;
        let rows = stmt
            .query_map(args, |r| {
                Ok((
                    r.get::<_, RunId>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, f64>(3)?,
                    r.get::<_, f64>(4)?,
                ))
            })
            .map_err(wrap(&l.path))?;
        let mut out: Vec<Curve> = Vec::new();
        for row in rows {
            let (run, experiment, metric, step, value) = row.map_err(wrap(&l.path))?;
            match out.last_mut() {
                Some(c) if c.run == run && c.metric == metric => c.points.push((step, value)),
                _ => out.push(Curve {
                    run,
                    experiment,
                    metric,
                    points: vec![(step, value)],
                }),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_ends_and_the_cap() {
        let points: Vec<(f64, f64)> = (0..5000).map(|i| (f64::from(i), 1.0)).collect();
        let t = thin(&points);
        assert_eq!(t.len(), MAX_POINTS);
        assert_eq!(t[0].0, 0.0);
        assert_eq!(t[MAX_POINTS - 1].0, 4999.0);
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0));
        let few = &points[..10];
        assert_eq!(thin(few), few.to_vec());
    }
}
