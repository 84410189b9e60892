//! The `noise-aware` policy as the campaign applies it: the runs of an experiment and of the
//! incumbent become samples, the noise model comes from every repeated experiment, and the
//! rule ([`crate::judge::noise`]) calls keep, discard, confirm or move onto the incumbent.

use autolab_core::config::ScoreSpec;
use autolab_core::experiment::{Experiment, RunOutcome, State, Verdict};
use autolab_core::ids::ExperimentId;
use autolab_core::ledger::Changes;
use autolab_core::noise_model::NoiseModel;
use autolab_core::score;
use autolab_core::stats::Sample;
use indexmap::IndexMap;
use serde_json::{Value, json};

use super::decide::Verdicts;
use super::jobs::Work;
use crate::EngineError;
use crate::judge::noise::{Call, Rules, call, on_log_scale};

/// A run's score and its metrics.
type Scored = (f64, IndexMap<String, f64>);

impl Verdicts<'_, '_> {
    /// Scores (and metrics) of an experiment's successful runs of its current commit.
    fn samples(&self, exp: &Experiment) -> Result<Vec<Scored>, EngineError> {
        let specs: &IndexMap<String, ScoreSpec> = &self.books.lab.config.metrics.score;
        let halving = super::halving::of(self.books);
        Ok(self
            .books
            .ledger
            .runs(exp.row)?
            .into_iter()
            .filter(|r| r.outcome == RunOutcome::Exited)
            .filter(|r| super::halving::judged(halving, r))
            .filter(|r| r.commit.is_none() || r.commit == exp.commit)
            .filter_map(|r| score::score(&r.metrics, specs).ok().map(|s| (s, r.metrics)))
            .collect())
    }

    /// The run-to-run noise, from every experiment with repeated runs, by level.
    fn noise(&self) -> Result<NoiseModel, EngineError> {
        let mut samples = Vec::new();
        for e in self.books.ledger.experiments(self.books.campaign.id)? {
            let scores: Vec<f64> = self.samples(&e)?.into_iter().map(|(s, _)| s).collect();
            if let Some(s) = Sample::of(&scores) {
                samples.push(s);
            }
        }
        Ok(NoiseModel::new(&samples))
    }

    fn queue_confirmation(
        &mut self,
        row: ExperimentId,
        detail: Value,
        stats: Value,
    ) -> Result<(), EngineError> {
        let ch = Changes {
            stats: Some(stats),
            ..Changes::default()
        };
        self.books
            .ledger
            .transition_with(row, State::Confirming, detail, &ch)?;
        self.jobs.queue.push_front(Work::Run(row));
        Ok(())
    }

    pub fn judge_noise_aware(&mut self, row: ExperimentId) -> Result<(), EngineError> {
        let exp = self.books.ledger.experiment_by_row(row)?;
        let decide = self.books.lab.config.decide.clone();
        let runs = self.samples(&exp)?;
        let scores: Vec<f64> = runs.iter().map(|(s, _)| *s).collect();
        // No run of its current commit yet (moved onto a newer incumbent): it runs first.
        let Some(cand) = Sample::of(&scores) else {
            self.jobs.queue.push_back(Work::Run(row));
            return Ok(());
        };
        let metrics = mean_metrics(&runs);
        let incumbent = self.books.incumbent()?;

        // The baseline (or a first scored experiment) measures the noise floor.
        let Some(inc) = incumbent.filter(|_| exp.number != 0) else {
            let stats = json!({"policy": "noise-aware", "noise_runs": cand});
            if (cand.n as u32) < decide.repeats {
                return self.queue_confirmation(row, json!({"noise_run": cand.n}), stats);
            }
            let reason = format!(
                "baseline: {} runs, mean {}, sd {}",
                cand.n,
                autolab_core::stats::fmt_value(cand.mean),
                autolab_core::stats::fmt_value(cand.sd)
            );
            let ch = Changes {
                score: Some(cand.mean),
                metrics: Some(metrics),
                stats: Some(stats),
                new_incumbent: Some(exp.number),
                ..Changes::default()
            };
            let detail = json!({"policy": "noise-aware"});
            return self.books.conclude(row, Verdict::Kept, &reason, detail, ch);
        };

        let inc_scores: Vec<f64> = self.samples(&inc)?.into_iter().map(|(s, _)| s).collect();
        let inc_sample = Sample::of(&inc_scores)
            .or_else(|| {
                inc.score.map(|s| Sample {
                    n: 1,
                    mean: s,
                    sd: 0.0,
                })
            })
            .unwrap_or(Sample {
                n: 1,
                mean: f64::NAN,
                sd: 0.0,
            });
        let noise = self.noise()?;
        let goal = self.books.lab.config.score_goal();
        let net = exp.lines_added as i64 - exp.lines_removed as i64;
        let rules = Rules {
            goal,
            min_delta: decide.min_delta,
            confidence: decide.confidence,
            max_confirm: decide.max_confirm,
        };
        // Without the simplicity rule fewer lines win nothing.
        let lines = if decide.simplicity { net } else { net.max(0) };
        let (verdict, cmp, alpha) = call(&cand, &inc_sample, &noise, rules, lines);
        let stats = json!({
            "policy": "noise-aware",
            "test": "welch-one-sided",
            // Positive scores are compared as logs (se and t are then relative).
            "scale": if on_log_scale(&cand, &inc_sample, &noise) { "log" } else { "linear" },
            "confidence": decide.confidence,
            "alpha_per_look": alpha,
            "candidate": cand,
            "incumbent": {"id": inc.number, "n": inc_sample.n, "mean": inc_sample.mean, "sd": inc_sample.sd},
            "noise": noise.at(inc_sample.mean),
            "noise_at_candidate": noise.at(cand.mean),
            "gain": cmp.gain,
            "se": cmp.se,
            "t": finite_or_null(cmp.t),
            "df": finite_or_null(cmp.df),
            "p": cmp.p,
            "call": format!("{verdict:?}"),
        });
        let on_incumbent = inc.commit.as_deref() == Some(exp.parent.as_str());
        let (verdict, reason) = match verdict {
            Call::Confirm => {
                return self.queue_confirmation(row, json!({"confirm": cand.n, "p": cmp.p}), stats);
            }
            Call::Better | Call::Simpler if !on_incumbent => {
                let ch = Changes {
                    stats: Some(stats),
                    ..Changes::default()
                };
                self.books.ledger.transition_with(
                    row,
                    State::Evaluating,
                    json!({"call": "better, stale parent"}),
                    &ch,
                )?;
                return self.rebase(row, inc.commit.clone().unwrap_or_default(), inc.number);
            }
            Call::Better if decide.remeasure && (cand.n as u32) < decide.repeats => {
                return self.queue_confirmation(row, json!({"remeasure": cand.n}), stats);
            }
            Call::Better => (
                Verdict::Kept,
                format!(
                    "beats #{} by {} (p = {} < {}, n = {} vs {})",
                    inc.number,
                    autolab_core::stats::fmt_value(cmp.gain),
                    autolab_core::stats::fmt_p(cmp.p),
                    autolab_core::stats::fmt_p(alpha),
                    cand.n,
                    inc_sample.n
                ),
            ),
            Call::Simpler => (
                Verdict::Simplified,
                format!(
                    "within noise of #{} and {} line(s) shorter",
                    inc.number, -net
                ),
            ),
            Call::NotBetter(why) => (Verdict::Discarded, why),
        };
        let ch = Changes {
            score: Some(cand.mean),
            metrics: Some(metrics),
            stats: Some(stats),
            new_incumbent: verdict.keeps().then_some(exp.number),
            ..Changes::default()
        };
        let detail = json!({"policy": "noise-aware"});
        self.books.conclude(row, verdict, &reason, detail, ch)
    }
}

fn finite_or_null(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

/// Each metric's mean over the runs that reported it.
fn mean_metrics(runs: &[Scored]) -> IndexMap<String, f64> {
    let mut sums: IndexMap<String, (f64, usize)> = IndexMap::new();
    for (_, m) in runs {
        for (k, v) in m {
            if v.is_finite() {
                let e = sums.entry(k.clone()).or_insert((0.0, 0));
                e.0 += v;
                e.1 += 1;
            }
        }
    }
    sums.into_iter()
        .map(|(k, (s, n))| (k, s / n as f64))
        .collect()
}
