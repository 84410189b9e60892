//! What an ablation measured and what it says: each variant's runs, and each kept change's
//! contribution with a confidence interval — leave-one-out (the final incumbent against it
//! without the change) and add-one-in (the change alone against the baseline).

use autolab_core::config::Goal;
use autolab_core::stats::{Noise, Sample, t_quantile, welch_sides};
use serde::{Deserialize, Serialize};

use super::line::Change;

/// One variant's measurement: the runs of its side campaign's baseline.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Measured {
    /// The side campaign it was run in (`ablate-…`), if it ran.
    pub tag: Option<String>,
    pub commit: Option<String>,
    /// The scores of its runs; None when it could not be measured (see `why`).
    pub sample: Option<Sample>,
    /// Why there is no sample: the change does not apply alone, the runs failed.
    pub why: Option<String>,
}

impl Measured {
    pub fn missing(why: impl Into<String>) -> Measured {
        Measured {
            tag: None,
            commit: None,
            sample: None,
            why: Some(why.into()),
        }
    }
}

/// A gain in the goal's direction (positive: better) with its confidence interval.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Effect {
    pub gain: f64,
    pub lo: f64,
    pub hi: f64,
}

/// One kept change and its contribution both ways.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Row {
    pub change: Change,
    pub without: Measured,
    pub alone: Measured,
    /// Final incumbent against it without this change.
    pub leave_one_out: Option<Effect>,
    /// This change alone against the baseline.
    pub add_one_in: Option<Effect>,
}

/// An ablation of a campaign's incumbent line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ablation {
    pub tag: String,
    /// What a row is: a kept `change` of code, or a `parameter` the optimizer moved.
    #[serde(default)]
    pub by: String,
    /// Runs per variant.
    pub repeats: u32,
    pub confidence: f64,
    pub goal: String,
    /// The final incumbent's experiment number.
    pub incumbent: u32,
    pub full: Measured,
    pub baseline: Measured,
    /// Final incumbent against the baseline.
    pub total: Option<Effect>,
    pub rows: Vec<Row>,
    /// The pooled run-to-run noise of every variant (σ).
    pub noise_sd: Option<f64>,
    pub at: f64,
}

/// How much better `a` is than `b` in the goal's direction, with a two-sided interval at
/// `confidence`. With the pooled noise of every variant (run-to-run noise is the lab's, not one
/// change's) the standard error is σ·√(1/nₐ + 1/n_b) on its degrees of freedom; without it,
/// Welch's test on the two sides alone.
pub fn effect(
    a: &Measured,
    b: &Measured,
    goal: Goal,
    noise: Option<Noise>,
    confidence: f64,
) -> Option<Effect> {
    let (a, b) = (a.sample?, b.sample?);
    let gain = match goal {
        Goal::Minimize => b.mean - a.mean,
        Goal::Maximize => a.mean - b.mean,
    };
    let (se, df) = match noise {
        Some(n) => (n.sd * (1.0 / a.n as f64 + 1.0 / b.n as f64).sqrt(), n.df),
        None => {
            let cmp = welch_sides(&a, &b, (None, None), gain, 0.0);
            (cmp.se, cmp.df)
        }
    };
    if se == 0.0 || !df.is_finite() {
        return Some(Effect {
            gain,
            lo: gain,
            hi: gain,
        });
    }
    let half = t_quantile(1.0 - (1.0 - confidence) / 2.0, df) * se;
    Some(Effect {
        gain,
        lo: gain - half,
        hi: gain + half,
    })
}

/// Pools the noise of every measured variant.
pub fn pooled(measured: &[&Measured]) -> Option<Noise> {
    let samples: Vec<Sample> = measured.iter().filter_map(|m| m.sample).collect();
    autolab_core::stats::pooled_noise(&samples)
}

fn signed(x: f64) -> String {
    format!("{x:+.4}")
}

fn show_effect(e: Option<Effect>, m: &Measured) -> String {
    match (e, &m.why) {
        (Some(e), _) => format!("{} [{}, {}]", signed(e.gain), signed(e.lo), signed(e.hi)),
        (None, Some(why)) => format!("— ({why})"),
        (None, None) => "—".into(),
    }
}

fn show_sample(m: &Measured) -> String {
    match (&m.sample, &m.why) {
        (Some(s), _) => format!("{:.4} ± {:.4} (n={})", s.mean, s.sd, s.n),
        (None, Some(why)) => format!("not measured: {why}"),
        (None, None) => "not measured".into(),
    }
}

impl Ablation {
    /// The table `autolab ablate` prints and the report carries.
    pub fn render(&self) -> String {
        let pct = (self.confidence * 100.0).round();
        let rows = if self.by == "parameter" {
            "parameter(s) the incumbent moved from the baseline's value"
        } else {
            "change(s) on the incumbent line"
        };
        let mut out = format!(
            "ablation of campaign `{}`: {} {rows} (#{}), {} run(s) per variant (score: {})\n",
            self.tag,
            self.rows.len(),
            self.incumbent,
            self.repeats,
            self.goal
        );
        out.push_str(&format!(
            "  final incumbent   {}\n",
            show_sample(&self.full)
        ));
        out.push_str(&format!(
            "  baseline          {}\n",
            show_sample(&self.baseline)
        ));
        if let Some(t) = self.total {
            out.push_str(&format!(
                "  total gain        {} [{}, {}]\n",
                signed(t.gain),
                signed(t.lo),
                signed(t.hi)
            ));
        }
        out.push_str(&format!(
            "\ncontribution of each change (gain toward the goal, {pct}% CI):\n"
        ));
        let width = self
            .rows
            .iter()
            .map(|r| r.change.title.chars().count().min(40))
            .max()
            .unwrap_or(6)
            .max(6);
        out.push_str(&format!(
            "  {:<6} {:<width$}  {:<34} {}\n",
            "#", "change", "leave-one-out", "add-one-in"
        ));
        for r in &self.rows {
            let title: String = r.change.title.chars().take(40).collect();
            out.push_str(&format!(
                "  #{:<5} {:<width$}  {:<34} {}\n",
                r.change.number,
                title,
                show_effect(r.leave_one_out, &r.without),
                show_effect(r.add_one_in, &r.alone)
            ));
        }
        let sum: f64 = self
            .rows
            .iter()
            .filter_map(|r| r.leave_one_out.map(|e| e.gain))
            .sum();
        if let Some(t) = self.total
            && self.rows.len() > 1
            && self.rows.iter().all(|r| r.leave_one_out.is_some())
        {
            out.push_str(&format!(
                "\nleave-one-out gains add up to {} of the total {}: {}\n",
                signed(sum),
                signed(t.gain),
                if (sum - t.gain).abs() <= (t.hi - t.lo).max(1e-12) {
                    "the changes look independent"
                } else if sum > t.gain {
                    "the changes need each other (removing one loses more than its share)"
                } else {
                    "the changes overlap (with the others in, each adds less than its share)"
                }
            ));
        }
        out
    }
}
