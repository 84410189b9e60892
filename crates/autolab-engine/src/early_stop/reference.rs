//! What a run's curve is compared with at a step: the incumbent's curve (linear between its
//! points, flat after its last, nothing before its first), or a percentile of the completed runs that reached the step.

use autolab_core::config::Goal;

/// The reference curve(s) of a watched run.
pub enum Reference {
    Incumbent(Vec<(f64, f64)>),
    /// The `p`-th percentile from the best side of these completed runs' curves.
    Percentile {
        p: f64,
        curves: Vec<Vec<(f64, f64)>>,
    },
}

/// A curve in step order.
pub(super) fn sort(mut c: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    c.sort_by(|a, b| a.0.total_cmp(&b.0));
    c
}

/// A curve's value at `step`, linear between its points; None outside its steps.
fn within(c: &[(f64, f64)], step: f64) -> Option<f64> {
    let (first, last) = (c.first()?, c.last()?);
    if step < first.0 || step > last.0 {
        return None;
    }
    let i = c.partition_point(|p| p.0 <= step);
    if i == c.len() || c[i - 1].0 == step {
        return Some(c[i - 1].1);
    }
    let (a, b) = (c[i - 1], c[i]);
    Some(a.1 + (b.1 - a.1) * (step - a.0) / (b.0 - a.0))
}

/// The sample standard deviation of the curves that reached `step` (at least two).
pub(super) fn spread(curves: &[Vec<(f64, f64)>], step: f64) -> Option<f64> {
    let v: Vec<f64> = curves.iter().filter_map(|c| within(c, step)).collect();
    if v.len() < 2 {
        return None;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    Some((v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt())
}

/// The `q`-th percentile (0–100) of sorted values, linear between ranks (numpy's default).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

impl Reference {
    pub(super) fn usable(&self, min_runs: u32) -> bool {
        match self {
            Reference::Incumbent(c) => !c.is_empty(),
            Reference::Percentile { curves, .. } => {
                curves.iter().filter(|c| !c.is_empty()).count() >= min_runs as usize
            }
        }
    }

    pub(super) fn sorted(self) -> Reference {
        match self {
            Reference::Incumbent(c) => Reference::Incumbent(sort(c)),
            Reference::Percentile { p, curves } => Reference::Percentile {
                p,
                curves: curves
                    .into_iter()
                    .filter(|c| !c.is_empty())
                    .map(sort)
                    .collect(),
            },
        }
    }

    /// How many completed runs reached `step`.
    fn reached(&self, step: f64) -> usize {
        match self {
            Reference::Incumbent(_) => 1,
            Reference::Percentile { curves, .. } => {
                curves.iter().filter(|c| within(c, step).is_some()).count()
            }
        }
    }

    /// The reference value at `step`; None when fewer than `min_runs` completed runs reached
    /// it (percentile rules).
    pub(super) fn at(&self, step: f64, goal: Goal, min_runs: u32) -> Option<f64> {
        match self {
            // Before its first point the incumbent says nothing; past its last, its last value.
            Reference::Incumbent(c) => {
                within(c, step).or_else(|| (step > c[c.len() - 1].0).then(|| c[c.len() - 1].1))
            }
            Reference::Percentile { p, curves } => {
                let mut v: Vec<f64> = curves.iter().filter_map(|c| within(c, step)).collect();
                if v.len() < min_runs.max(1) as usize {
                    return None;
                }
                v.sort_by(f64::total_cmp);
                let q = match goal {
                    Goal::Minimize => *p,
                    Goal::Maximize => 100.0 - p,
                };
                Some(percentile(&v, q))
            }
        }
    }

    /// The reference as a person reads it, e.g. `median of 5 completed runs`.
    pub(super) fn name(&self, step: f64) -> String {
        match self {
            Reference::Incumbent(_) => "incumbent".into(),
            Reference::Percentile { p, .. } => {
                let n = self.reached(step);
                if *p == 50.0 {
                    format!("median of {n} completed runs")
                } else {
                    format!("{p}th percentile of {n} completed runs")
                }
            }
        }
    }
}
