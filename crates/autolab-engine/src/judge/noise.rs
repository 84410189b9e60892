//! The `noise-aware` policy: the baseline runs `repeats` times with different seeds to measure
//! the noise; a candidate is kept only when its gain clears `min_delta` by a one-sided Welch
//! test at the configured confidence (each look at Pocock's level for `max_confirm + 1` looks,
//! so confirmation runs do not inflate false keeps); a promising-but-uncertain candidate gets confirmation runs first;
//! within noise, a change that removes code wins.
//!
//! The noise a single run borrows is the noise at its own level ([`NoiseModel`]): measured
//! near it, or scaled from other levels. A verdict that would rest on scaled noise, or a large
//! observed gain the test cannot yet confirm, earns confirmation runs before any verdict.

use autolab_core::config::Goal;
use autolab_core::noise_model::{Basis, NoiseAt, NoiseModel};
use autolab_core::stats::{self, Comparison, Noise, Sample};

/// The one-sided p-value under which an uncertain candidate earns a confirmation run.
const PROMISING_P: f64 = 0.25;
/// An observed gain this large, relative to the incumbent's level, is confirmed before it is
/// discarded, whatever the test says of one run.
const LARGE_GAIN: f64 = 0.10;

/// What the noise-aware policy concludes from the runs so far.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// Significantly better by more than `min_delta`.
    Better,
    /// Not significantly worse, and it removes code.
    Simpler,
    /// Promising but uncertain: run it again.
    Confirm,
    /// Not better (with the reason).
    NotBetter(String),
}

/// What a verdict is judged by: the score's direction and `[decide]`'s thresholds.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub goal: Goal,
    pub min_delta: f64,
    pub confidence: f64,
    pub max_confirm: u32,
}

/// The decision rule, separated from the ledger so it can be tested on numbers. `net_lines`
/// is the candidate's lines added minus removed (for the simplicity tie-break).
pub fn call(
    candidate: &Sample,
    incumbent: &Sample,
    noise: &NoiseModel,
    rules: Rules,
    net_lines: i64,
) -> (Call, Comparison, f64) {
    let Rules {
        goal,
        min_delta,
        confidence,
        max_confirm,
    } = rules;
    let gain = match goal {
        Goal::Minimize => incumbent.mean - candidate.mean,
        Goal::Maximize => candidate.mean - incumbent.mean,
    };
    // The same level at every look, such that pure noise passes at some look with
    // probability 1 − confidence (Pocock's boundary; an even split would throw real gains away).
    let alpha = autolab_core::sequential::pocock_level(1.0 - confidence, max_confirm + 1);
    let (at_c, at_i) = (noise.at(candidate.mean), noise.at(incumbent.mean));
    // Positive scores are compared on a log scale: their noise is then about the same at
    // every level (a relative error) and a gain is a ratio, so a baseline that scatters
    // widely cannot hide a candidate fifty times better. `min_delta` stays on the raw gain.
    let relative = on_log_scale(candidate, incumbent, noise);
    let test = |sign: f64, delta: f64| -> Comparison {
        if relative {
            let ln_gain = sign
                * match goal {
                    Goal::Minimize => incumbent.mean.ln() - candidate.mean.ln(),
                    Goal::Maximize => candidate.mean.ln() - incumbent.mean.ln(),
                };
            let borrowed = (
                at_c.map(|a| relative_noise(a, candidate.mean)),
                at_i.map(|a| relative_noise(a, incumbent.mean)),
            );
            let mut cmp = stats::welch_sides(
                &logged(candidate),
                &logged(incumbent),
                borrowed,
                ln_gain,
                0.0,
            );
            cmp.gain = sign * gain;
            cmp
        } else {
            let borrowed = (at_c.map(NoiseAt::noise), at_i.map(NoiseAt::noise));
            stats::welch_sides(candidate, incumbent, borrowed, sign * gain, delta)
        }
    };
    let cmp = test(1.0, min_delta);
    let looks_left = (candidate.n as u32) < max_confirm + 1;
    // A single run judged by noise scaled from another level is an extrapolation.
    let scaled =
        |s: &Sample, at: Option<NoiseAt>| s.n == 1 && at.is_some_and(|a| a.basis == Basis::Scaled);
    let extrapolated = scaled(candidate, at_c) || scaled(incumbent, at_i);
    let large = incumbent.mean != 0.0 && gain / incumbent.mean.abs() >= LARGE_GAIN;
    let verdict = if cmp.p < alpha && gain > min_delta && !(extrapolated && looks_left) {
        Call::Better
    } else if looks_left && gain > min_delta && (cmp.p < PROMISING_P || extrapolated || large) {
        Call::Confirm
    } else {
        let worse = test(-1.0, 0.0);
        if net_lines < 0 && worse.p >= 1.0 - confidence {
            Call::Simpler
        } else if gain <= min_delta {
            let added = if net_lines > 0 {
                format!(" for {net_lines} added line(s)")
            } else {
                String::new()
            };
            Call::NotBetter(format!(
                "no gain beyond min_delta {min_delta} (gain {}){added}",
                stats::fmt_value(gain)
            ))
        } else {
            Call::NotBetter(format!(
                "gain {} is within noise (p = {}, needs < {})",
                stats::fmt_value(gain),
                stats::fmt_p(cmp.p),
                stats::fmt_p(alpha)
            ))
        }
    };
    (verdict, cmp, alpha)
}

/// Whether the comparison is made on the log scale: every level involved is positive.
pub fn on_log_scale(candidate: &Sample, incumbent: &Sample, noise: &NoiseModel) -> bool {
    candidate.mean > 0.0 && incumbent.mean > 0.0 && noise.positive()
}

/// A sample of positive values on the log scale (delta method: ln of the mean, sd relative).
fn logged(s: &Sample) -> Sample {
    Sample {
        n: s.n,
        mean: s.mean.ln(),
        sd: s.sd / s.mean,
    }
}

/// The noise at a level as a relative error (the sd of the log).
fn relative_noise(at: NoiseAt, level: f64) -> Noise {
    Noise {
        sd: at.sd / level,
        df: at.df,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize, mean: f64, sd: f64) -> Sample {
        Sample { n, mean, sd }
    }

    /// Noise measured at level 1.0: five runs, sd 0.02.
    fn noise() -> NoiseModel {
        NoiseModel::new(&[sample(5, 1.0, 0.02)])
    }
    /// Minimize, no min_delta, 95 % confidence, up to 2 confirmations.
    const RULES: Rules = Rules {
        goal: Goal::Minimize,
        min_delta: 0.0,
        confidence: 0.95,
        max_confirm: 2,
    };

    #[test]
    fn a_clear_improvement_is_kept() {
        let (c, cmp, _) = call(
            &sample(1, 0.80, 0.0),
            &sample(5, 1.0, 0.02),
            &noise(),
            RULES,
            0,
        );
        assert_eq!(c, Call::Better, "{cmp:?}");
        let (c, _, _) = call(
            &sample(1, 1.2, 0.0),
            &sample(5, 1.0, 0.02),
            &noise(),
            Rules {
                goal: Goal::Maximize,
                ..RULES
            },
            0,
        );
        assert_eq!(c, Call::Better);
    }

    #[test]
    fn a_pure_noise_change_is_rejected() {
        let (c, _, _) = call(
            &sample(3, 0.995, 0.02),
            &sample(5, 1.0, 0.02),
            &noise(),
            RULES,
            0,
        );
        assert!(matches!(c, Call::NotBetter(_)), "{c:?}");
        let (c, _, _) = call(
            &sample(1, 1.03, 0.0),
            &sample(5, 1.0, 0.02),
            &noise(),
            RULES,
            0,
        );
        assert!(matches!(c, Call::NotBetter(_)), "a worse candidate: {c:?}");
    }

    #[test]
    fn the_uncertain_band_asks_for_confirmation_until_looks_run_out() {
        let (c, cmp, _) = call(
            &sample(1, 0.975, 0.0),
            &sample(5, 1.0, 0.02),
            &noise(),
            RULES,
            0,
        );
        assert_eq!(c, Call::Confirm, "{cmp:?}");
        let (c, _, _) = call(
            &sample(3, 0.975, 0.02),
            &sample(5, 1.0, 0.02),
            &noise(),
            RULES,
            0,
        );
        assert!(
            matches!(c, Call::NotBetter(_) | Call::Better),
            "no fourth look: {c:?}"
        );
        assert_ne!(c, Call::Confirm);
    }

    #[test]
    fn min_delta_must_be_cleared() {
        let (c, _, _) = call(
            &sample(1, 0.80, 0.0),
            &sample(5, 1.0, 0.0),
            &NoiseModel::new(&[sample(5, 1.0, 0.0)]),
            Rules {
                min_delta: 0.25,
                ..RULES
            },
            0,
        );
        assert!(matches!(c, Call::NotBetter(_)), "{c:?}");
    }

    #[test]
    fn within_noise_the_shorter_change_wins() {
        let (c, _, _) = call(
            &sample(1, 1.005, 0.0),
            &sample(5, 1.0, 0.02),
            &noise(),
            Rules {
                max_confirm: 0,
                ..RULES
            },
            -12,
        );
        assert_eq!(c, Call::Simpler);
        let (c, _, _) = call(
            &sample(1, 1.005, 0.0),
            &sample(5, 1.0, 0.02),
            &noise(),
            Rules {
                max_confirm: 0,
                ..RULES
            },
            3,
        );
        assert!(matches!(c, Call::NotBetter(_)));
        let (c, _, _) = call(
            &sample(1, 1.2, 0.0),
            &sample(5, 1.0, 0.02),
            &noise(),
            Rules {
                max_confirm: 0,
                ..RULES
            },
            -12,
        );
        assert!(
            matches!(c, Call::NotBetter(_)),
            "clearly worse is not simpler: {c:?}"
        );
    }

    #[test]
    fn deterministic_labs_behave_like_strict() {
        let flat = NoiseModel::new(&[sample(3, 0.5, 0.0)]);
        let (c, _, _) = call(&sample(1, 0.4, 0.0), &sample(3, 0.5, 0.0), &flat, RULES, 0);
        assert_eq!(c, Call::Better);
        let (c, _, _) = call(&sample(1, 0.5, 0.0), &sample(3, 0.5, 0.0), &flat, RULES, 0);
        assert!(matches!(c, Call::NotBetter(_)));
    }

    /// The new user's SGD lab: the noise was measured at the baseline's level (4.3, sd 0.19);
    /// the incumbent is now at 0.358 and a candidate scores 0.184, one run each.
    #[test]
    fn a_two_fold_gain_far_below_the_baselines_level_is_confirmed_then_kept() {
        let measured = NoiseModel::new(&[sample(3, 4.3, 0.19)]);
        let inc = sample(1, 0.358, 0.0);
        let (c, cmp, _) = call(&sample(1, 0.184, 0.0), &inc, &measured, RULES, 0);
        assert_eq!(c, Call::Confirm, "{cmp:?}");
        // Two more runs near 0.184: the noise is now measured at that level, and it is small.
        let (c, cmp, _) = call(&sample(3, 0.184, 0.008), &inc, &measured, RULES, 0);
        assert_eq!(c, Call::Better, "{cmp:?}");
        // With the absolute noise of the baseline's level (today's model) it was discarded.
        let absolute = stats::welch(
            &sample(1, 0.184, 0.0),
            &inc,
            stats::pooled_noise(&[sample(3, 4.3, 0.19)]),
            0.174,
            0.0,
        );
        assert!(absolute.p > PROMISING_P, "{absolute:?}");
    }

    #[test]
    fn scaled_noise_never_keeps_a_single_run_while_looks_are_left() {
        let measured = NoiseModel::new(&[sample(3, 4.0, 0.04)]);
        // Clearly significant on scaled noise, but scaled noise is an extrapolation.
        let (c, cmp, _) = call(
            &sample(1, 0.3, 0.0),
            &sample(3, 0.5, 0.01),
            &measured,
            RULES,
            0,
        );
        assert!(cmp.p < 0.001, "{cmp:?}");
        assert_eq!(c, Call::Confirm);
        // Without looks left, the test decides.
        let none_left = Rules {
            max_confirm: 0,
            ..RULES
        };
        let (c, _, _) = call(
            &sample(1, 0.3, 0.0),
            &sample(3, 0.5, 0.01),
            &measured,
            none_left,
            0,
        );
        assert_eq!(c, Call::Better);
    }

    #[test]
    fn a_large_observed_gain_is_confirmed_before_a_discard() {
        // Very noisy lab: one run 15 % better is far from significant (p ≈ 0.4) ...
        let loud = NoiseModel::new(&[sample(3, 1.0, 0.5)]);
        let (c, cmp, _) = call(&sample(1, 0.85, 0.0), &sample(3, 1.0, 0.5), &loud, RULES, 0);
        assert!(cmp.p > PROMISING_P, "{cmp:?}");
        assert_eq!(c, Call::Confirm, "a 15 % gain is confirmed first");
        // ... a 5 % one is not worth the runs.
        let (c, _, _) = call(&sample(1, 0.95, 0.0), &sample(3, 1.0, 0.5), &loud, RULES, 0);
        assert!(matches!(c, Call::NotBetter(_)), "{c:?}");
        // And once its looks are spent, a large but insignificant gain is discarded.
        let (c, _, _) = call(&sample(3, 0.85, 0.5), &sample(3, 1.0, 0.5), &loud, RULES, 0);
        assert!(matches!(c, Call::NotBetter(_)), "{c:?}");
    }

    #[test]
    fn the_confidence_is_spent_across_the_looks() {
        // No looks left (n = 3 = max_confirm + 1): every look is tested at Pocock's level for
        // 3 looks at 0.05, 0.0232, so a p between it and 0.05 is not enough…
        let measured = NoiseModel::new(&[sample(5, 1.0, 0.02)]);
        let (c, cmp, alpha) = call(
            &sample(3, 0.964, 0.02),
            &sample(5, 1.0, 0.02),
            &measured,
            RULES,
            0,
        );
        assert!((alpha - 0.02316).abs() < 2e-4, "{alpha}");
        assert!(cmp.p > alpha && cmp.p < 0.05, "p = {}", cmp.p);
        assert!(matches!(c, Call::NotBetter(_)), "{c:?}");
        // …while a p between the even split (0.05 / 3) and Pocock's level is a real gain the
        // even split threw away.
        let (c, cmp, alpha) = call(
            &sample(3, 0.956, 0.02),
            &sample(5, 1.0, 0.02),
            &measured,
            RULES,
            0,
        );
        assert!(cmp.p > 0.05 / 3.0 && cmp.p < alpha, "p = {}", cmp.p);
        assert_eq!(c, Call::Better, "{cmp:?}");
    }

    /// A newcomer's SGD lab: a badly started baseline scatters (4.58, 9.29, 3.23); a candidate
    /// scores 0.100, 0.094, 0.099. On the raw scale no gain could ever pass (t ≤ 3.1 at
    /// df ≈ 2); as a ratio the gain is plain.
    #[test]
    fn a_fifty_fold_gain_over_a_scattered_baseline_is_kept() {
        let baseline = sample(3, 5.70, 3.18);
        let measured = NoiseModel::new(&[baseline]);
        let (c, cmp, alpha) = call(&sample(3, 0.0977, 0.0032), &baseline, &measured, RULES, 0);
        assert_eq!(c, Call::Better, "{cmp:?}");
        assert!(cmp.p < alpha, "{cmp:?}");
        // The raw gain is reported, not its log.
        assert!((cmp.gain - (5.70 - 0.0977)).abs() < 1e-9, "{cmp:?}");
        // Scores of both signs are compared on the raw scale.
        let mixed = NoiseModel::new(&[baseline, sample(3, -1.0, 0.1)]);
        let (c, _, _) = call(&sample(3, 0.0977, 0.0032), &baseline, &mixed, RULES, 0);
        assert!(matches!(c, Call::NotBetter(_)), "{c:?}");
    }

    // Pinned after `cargo mutants` (each of these survived a mutation of `call`).

    #[test]
    fn a_worse_candidate_is_not_kept_when_maximizing() {
        let max = Rules {
            goal: Goal::Maximize,
            ..RULES
        };
        // A clear gain of 0.2 is not one beyond min_delta 0.3.
        let (c, _, _) = call(
            &sample(3, 1.2, 0.02),
            &sample(5, 1.0, 0.02),
            &noise(),
            Rules {
                min_delta: 0.3,
                ..max
            },
            0,
        );
        assert!(matches!(c, Call::NotBetter(_)), "{c:?}");
        let (c, _, _) = call(
            &sample(3, 0.8, 0.02),
            &sample(5, 1.0, 0.02),
            &noise(),
            max,
            0,
        );
        assert!(matches!(c, Call::NotBetter(_)), "{c:?}");
    }

    #[test]
    fn a_second_look_is_still_a_look_left() {
        let (c, cmp, _) = call(
            &sample(2, 0.975, 0.02),
            &sample(5, 1.0, 0.02),
            &noise(),
            RULES,
            0,
        );
        assert_eq!(c, Call::Confirm, "{cmp:?}");
    }

    #[test]
    fn a_gain_of_exactly_min_delta_is_not_a_gain() {
        let flat = NoiseModel::new(&[sample(5, 1.0, 0.0)]);
        let rules = Rules {
            min_delta: 0.25,
            ..RULES
        };
        let (c, _, _) = call(&sample(1, 0.75, 0.0), &sample(5, 1.0, 0.0), &flat, rules, 0);
        match c {
            Call::NotBetter(why) => {
                assert!(why.starts_with("no gain beyond min_delta 0.25"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_large_gain_is_large_relative_to_the_incumbents_level() {
        // At level 2, a gain of 0.1 is 5 %: not large, and far from significant.
        let loud = NoiseModel::new(&[sample(3, 2.0, 1.0)]);
        let (c, _, _) = call(&sample(1, 1.9, 0.0), &sample(3, 2.0, 1.0), &loud, RULES, 0);
        assert!(matches!(c, Call::NotBetter(_)), "{c:?}");
        // A gain of 0.3 is 15 %: confirmed first.
        let (c, _, _) = call(&sample(1, 1.7, 0.0), &sample(3, 2.0, 1.0), &loud, RULES, 0);
        assert_eq!(c, Call::Confirm);
    }
}
