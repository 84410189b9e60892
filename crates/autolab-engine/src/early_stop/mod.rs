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

/// At most this many metrics of a run are kept as curves, besides the ones asked for.
const MAX_METRICS: usize = 16;
/// A curve holds at most twice this many points while it is read: beyond, every other point
/// goes and only every 2nd (4th, …) point after it is taken, so the whole run stays covered.
const READ_POINTS: usize = 1000;

/// The (step, value) points of `metric` in a log, from lines that carry both.
pub fn curve(log: &str, rule: &EarlyStop) -> Vec<(f64, f64)> {
    log.lines().filter_map(|l| point(l, rule)).collect()
}

/// Every metric a log printed beside `step`, with its points in the order printed: the
/// metrics in `keep` always, others up to 16 (in order of appearance).
pub fn curves(log: &str, step: &str, keep: &[&str]) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut set = CurveSet::new(step, keep);
    for line in log.lines() {
        set.line(line);
    }
    set.done()
}

/// Like [`curves`], from whole log files read line by line (not only their ends), each
/// curve thinned as it is read.
pub fn curves_of_files(
    paths: &[&std::path::Path],
    step: &str,
    keep: &[&str],
) -> Vec<(String, Vec<(f64, f64)>)> {
    use std::io::BufRead;
    let mut set = CurveSet::new(step, keep);
    for path in paths {
        let Ok(f) = autolab_core::open_plain(path) else {
            continue;
        };
        let mut reader = std::io::BufReader::new(f);
        let mut buf = Vec::new();
        while reader.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
            set.line(&String::from_utf8_lossy(&buf));
            buf.clear();
        }
    }
    set.done()
}

/// Curves being read.
struct CurveSet<'a> {
    step: &'a str,
    keep: &'a [&'a str],
    /// Per metric: name, points kept, take every `stride`-th, points seen, the last seen.
    curves: Vec<Reading>,
    others: usize,
}

struct Reading {
    name: String,
    points: Vec<(f64, f64)>,
    stride: usize,
    seen: usize,
    last: (f64, f64),
}

impl<'a> CurveSet<'a> {
    fn new(step: &'a str, keep: &'a [&'a str]) -> CurveSet<'a> {
        CurveSet {
            step,
            keep,
            curves: Vec::new(),
            others: 0,
        }
    }

    fn line(&mut self, line: &str) {
        let m = parse_lines(line);
        let Some(&s) = m.get(self.step).filter(|s| s.is_finite()) else {
            return;
        };
        for (name, &v) in m.iter().filter(|(k, v)| *k != self.step && v.is_finite()) {
            let i = match self.curves.iter().position(|c| c.name == *name) {
                Some(i) => i,
                None => {
                    let kept = self.keep.contains(&name.as_str());
                    if !kept && self.others >= MAX_METRICS {
                        continue;
                    }
                    self.others += usize::from(!kept);
                    self.curves.push(Reading {
                        name: name.clone(),
                        points: Vec::new(),
                        stride: 1,
                        seen: 0,
                        last: (s, v),
                    });
                    self.curves.len() - 1
                }
            };
            let c = &mut self.curves[i];
            if c.seen.is_multiple_of(c.stride) {
                c.points.push((s, v));
                if c.points.len() >= 2 * READ_POINTS {
                    let mut k = 0;
                    c.points.retain(|_| {
                        k += 1;
                        k % 2 == 1
                    });
                    c.stride *= 2;
                }
            }
            c.seen += 1;
            c.last = (s, v);
        }
    }

    fn done(self) -> Vec<(String, Vec<(f64, f64)>)> {
        self.curves
            .into_iter()
            .map(|mut c| {
                if c.points.last() != Some(&c.last) {
                    c.points.push(c.last);
                }
                (c.name, c.points)
            })
            .collect()
    }
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
                "early-stopped at step {step}: {} {value} vs {} {}",
                self.rule.metric,
                self.reference.name(step),
                autolab_core::stats::fmt_value(threshold)
            )
        })
    }
}
