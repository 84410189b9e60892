//! Early stopping: a run's streamed `step`/metric lines are compared with the incumbent's
//! curve at the same step; a run clearly worse (beyond a relative margin) at `patience`
//! consecutive checkpoints is stopped.

use autolab_core::config::{EarlyStop, Goal};
use autolab_core::metrics::parse_lines;

/// The (step, value) points of `metric` in a log, from lines that carry both.
pub fn curve(log: &str, rule: &EarlyStop) -> Vec<(f64, f64)> {
    log.lines().filter_map(|l| point(l, rule)).collect()
}

fn point(line: &str, rule: &EarlyStop) -> Option<(f64, f64)> {
    let m = parse_lines(line);
    let step = *m.get(&rule.step)?;
    let value = *m.get(&rule.metric)?;
    (step.is_finite() && value.is_finite()).then_some((step, value))
}

/// Watches one run's lines against a reference curve.
pub struct Watcher {
    reference: Vec<(f64, f64)>,
    rule: EarlyStop,
    goal: Goal,
    strikes: u32,
}

impl Watcher {
    /// None when the reference curve is empty (nothing to compare with).
    pub fn new(mut reference: Vec<(f64, f64)>, rule: EarlyStop, goal: Goal) -> Option<Watcher> {
        reference.sort_by(|a, b| a.0.total_cmp(&b.0));
        (!reference.is_empty()).then_some(Watcher {
            reference,
            rule,
            goal,
            strikes: 0,
        })
    }

    /// The reference value at `step`: linear between known steps, flat beyond them.
    fn at(&self, step: f64) -> f64 {
        let r = &self.reference;
        let i = r.partition_point(|p| p.0 <= step);
        if i == 0 {
            return r[0].1;
        }
        if i == r.len() {
            return r[r.len() - 1].1;
        }
        let (a, b) = (r[i - 1], r[i]);
        a.1 + (b.1 - a.1) * (step - a.0) / (b.0 - a.0)
    }

    /// Sees one line; returns the reason to stop, if it is time.
    pub fn line(&mut self, line: &str) -> Option<String> {
        let (step, value) = point(line, &self.rule)?;
        if step < self.rule.min_step {
            return None;
        }
        let reference = self.at(step);
        let slack = self.rule.margin * reference.abs();
        let worse = match self.goal {
            Goal::Minimize => value > reference + slack,
            Goal::Maximize => value < reference - slack,
        };
        self.strikes = if worse { self.strikes + 1 } else { 0 };
        (self.strikes >= self.rule.patience).then(|| {
            format!(
                "early-stopped at step {step}: {} {value} vs incumbent {reference:.6}",
                self.rule.metric
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> EarlyStop {
        EarlyStop {
            metric: "val_loss".into(),
            step: "step".into(),
            margin: 0.1,
            patience: 2,
            min_step: 0.0,
        }
    }

    fn incumbent() -> Vec<(f64, f64)> {
        curve(
            &(1..=10)
                .map(|s| format!("step: {s} val_loss: {}\n", 1.0 / f64::from(s)))
                .collect::<String>(),
            &rule(),
        )
    }

    #[test]
    fn reads_curves_from_both_line_styles() {
        let c = curve(
            "step: 1 val_loss: 0.9\nnoise\nMETRIC step=2 val_loss=0.8\nstep: 3\n",
            &rule(),
        );
        assert_eq!(c, vec![(1.0, 0.9), (2.0, 0.8)]);
    }

    #[test]
    fn stops_a_clearly_worse_curve() {
        let mut w = Watcher::new(incumbent(), rule(), Goal::Minimize).unwrap();
        assert_eq!(w.line("step: 1 val_loss: 1.05"), None); // within margin
        assert_eq!(w.line("step: 2 val_loss: 0.9"), None); // worse: strike 1
        let reason = w.line("step: 3 val_loss: 0.8").unwrap(); // worse: strike 2
        assert!(reason.starts_with("early-stopped at step 3"), "{reason}");
    }

    #[test]
    fn spares_a_better_or_noisy_curve() {
        let mut w = Watcher::new(incumbent(), rule(), Goal::Minimize).unwrap();
        for s in 1..=10 {
            let v = 0.9 / f64::from(s);
            assert_eq!(w.line(&format!("step: {s} val_loss: {v}")), None);
        }
        let mut w = Watcher::new(incumbent(), rule(), Goal::Minimize).unwrap();
        // One bad checkpoint between good ones never reaches patience.
        for (s, v) in [(2, 0.9), (3, 0.3), (4, 0.9), (5, 0.19)] {
            assert_eq!(w.line(&format!("step: {s} val_loss: {v}")), None);
        }
    }

    #[test]
    fn interpolates_between_reference_steps() {
        let w = Watcher::new(vec![(0.0, 1.0), (10.0, 0.0)], rule(), Goal::Minimize).unwrap();
        assert!((w.at(5.0) - 0.5).abs() < 1e-12);
        assert_eq!(w.at(20.0), 0.0);
        assert!(Watcher::new(vec![], rule(), Goal::Minimize).is_none());
    }
}
