//! Early stopping: a run's streamed `step`/metric lines are compared, step by step, with a
//! reference — the incumbent's curve, or a percentile (the median by default) of the
//! completed runs' curves at the same step. A run clearly worse at `patience` consecutive
//! checkpoints is stopped. "Clearly" means beyond the rule's relative margin and beyond twice
//! the seed-to-seed spread of the baseline's repeated runs at that step, when it was measured:
//! a run within the noise of its reference is never stopped.

mod reference;
#[cfg(test)]
mod tests;

use autolab_core::config::EarlyStop;
use autolab_core::metrics::parse_lines;

pub use reference::Reference;

/// At most this many metrics of a run are kept as curves.
const MAX_METRICS: usize = 16;

/// The (step, value) points of `metric` in a log, from lines that carry both.
pub fn curve(log: &str, rule: &EarlyStop) -> Vec<(f64, f64)> {
    log.lines().filter_map(|l| point(l, rule)).collect()
}

/// Every metric a log printed beside `step` (at most 16, in order of appearance), with its
/// points in the order printed.
pub fn curves(log: &str, step: &str) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut out: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for line in log.lines() {
        let m = parse_lines(line);
        let Some(&s) = m.get(step).filter(|s| s.is_finite()) else {
            continue;
        };
        for (name, &v) in m.iter().filter(|(k, v)| *k != step && v.is_finite()) {
            match out.iter().position(|(n, _)| n == name) {
                Some(i) => out[i].1.push((s, v)),
                None if out.len() < MAX_METRICS => out.push((name.clone(), vec![(s, v)])),
                None => {}
            }
        }
    }
    out
}

fn point(line: &str, rule: &EarlyStop) -> Option<(f64, f64)> {
    let m = parse_lines(line);
    let step = *m.get(&rule.step)?;
    let value = *m.get(&rule.metric)?;
    (step.is_finite() && value.is_finite()).then_some((step, value))
}

/// Watches one run's lines against a reference.
pub struct Watcher {
    reference: Reference,
    /// The baseline's repeated runs' curves: their spread at a step is the noise there.
    noise: Vec<Vec<(f64, f64)>>,
    rule: EarlyStop,
    strikes: u32,
}

impl Watcher {
    /// None when the reference cannot judge anything (no curve, or fewer completed runs than
    /// `min_runs`).
    pub fn new(
        reference: Reference,
        noise: Vec<Vec<(f64, f64)>>,
        rule: EarlyStop,
    ) -> Option<Watcher> {
        reference.usable(rule.min_runs).then(|| Watcher {
            reference: reference.sorted(),
            noise: noise.into_iter().map(reference::sort).collect(),
            rule,
            strikes: 0,
        })
    }

    /// Sees one line; returns the reason to stop, if it is time.
    pub fn line(&mut self, line: &str) -> Option<String> {
        let (step, value) = point(line, &self.rule)?;
        if step < self.rule.min_step {
            return None;
        }
        let Some(threshold) = self.reference.at(step, self.rule.goal, self.rule.min_runs) else {
            // No reference at this step: it neither strikes nor clears.
            return None;
        };
        let noise = reference::spread(&self.noise, step).unwrap_or(0.0);
        let slack = (self.rule.margin * threshold.abs()).max(2.0 * noise);
        let worse = match self.rule.goal {
            autolab_core::config::Goal::Minimize => value > threshold + slack,
            autolab_core::config::Goal::Maximize => value < threshold - slack,
        };
        self.strikes = if worse { self.strikes + 1 } else { 0 };
        (self.strikes >= self.rule.patience).then(|| {
            format!(
                "early-stopped at step {step}: {} {value} vs {} {threshold:.6}",
                self.rule.metric,
                self.reference.name(step)
            )
        })
    }
}
