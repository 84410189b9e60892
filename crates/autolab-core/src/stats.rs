//! Small, dependency-free statistics for honest verdicts: sample summaries, Student's t
//! distribution, and a one-sided Welch test of "the candidate is better by more than δ".

use serde::{Deserialize, Serialize};

/// n, mean and sample standard deviation of some runs' values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub n: usize,
    pub mean: f64,
    pub sd: f64,
}

/// Whether sums of squares of values this size would overflow or underflow: statistics of
/// such values are computed in units of their size (t, df and p do not depend on units).
pub fn needs_rescaling(size: f64) -> bool {
    size.is_finite() && (size > 1e150 || (size > 0.0 && size < 1e-150))
}

impl Sample {
    pub fn of(xs: &[f64]) -> Option<Sample> {
        if xs.is_empty() || xs.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let size = xs.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        if needs_rescaling(size) {
            let units: Vec<f64> = xs.iter().map(|x| x / size).collect();
            let s = Sample::of(&units)?;
            return Some(Sample {
                n: s.n,
                mean: s.mean * size,
                sd: s.sd * size,
            });
        }
        let n = xs.len();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let sd = if n > 1 {
            (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Some(Sample { n, mean, sd })
    }
}

/// A noise estimate pooled over groups of repeated runs: σ and its degrees of freedom.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    pub sd: f64,
    pub df: f64,
}

/// Pools the within-group variance of samples with n ≥ 2.
pub fn pooled_noise(samples: &[Sample]) -> Option<Noise> {
    let df: usize = samples.iter().filter(|s| s.n > 1).map(|s| s.n - 1).sum();
    if df == 0 {
        return None;
    }
    let size = samples.iter().fold(0.0_f64, |m, s| m.max(s.sd));
    if needs_rescaling(size) {
        let units: Vec<Sample> = samples
            .iter()
            .map(|s| Sample {
                sd: s.sd / size,
                ..*s
            })
            .collect();
        return pooled_noise(&units).map(|n| Noise {
            sd: n.sd * size,
            ..n
        });
    }
    let ss: f64 = samples
        .iter()
        .filter(|s| s.n > 1)
        .map(|s| (s.n - 1) as f64 * s.sd * s.sd)
        .sum();
    Some(Noise {
        sd: (ss / df as f64).sqrt(),
        df: df as f64,
    })
}

/// The outcome of a one-sided test that `candidate` improves on `incumbent` by more than δ.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Improvement in the goal's direction (positive = better).
    pub gain: f64,
    /// Standard error of the gain.
    pub se: f64,
    /// (gain − δ) / se; infinite when there is no noise at all.
    pub t: f64,
    pub df: f64,
    /// One-sided p-value of "gain ≤ δ".
    pub p: f64,
}

/// Welch's t-test, one-sided. A side with a single run has no variance of its own; it borrows
/// the pooled noise estimate (run-to-run noise is a property of the lab, not of one change).
pub fn welch(
    candidate: &Sample,
    incumbent: &Sample,
    noise: Option<Noise>,
    gain: f64,
    min_delta: f64,
) -> Comparison {
    welch_sides(candidate, incumbent, (noise, noise), gain, min_delta)
}

/// [`welch`] where each side borrows the noise at its own level (`borrowed.0` for the
/// candidate, `borrowed.1` for the incumbent) when it has a single run.
pub fn welch_sides(
    candidate: &Sample,
    incumbent: &Sample,
    borrowed: (Option<Noise>, Option<Noise>),
    gain: f64,
    min_delta: f64,
) -> Comparison {
    let size = [
        gain.abs(),
        min_delta.abs(),
        candidate.sd,
        incumbent.sd,
        borrowed.0.map_or(0.0, |n| n.sd),
        borrowed.1.map_or(0.0, |n| n.sd),
    ]
    .into_iter()
    .fold(0.0_f64, f64::max);
    if needs_rescaling(size) {
        let sample = |s: &Sample| Sample {
            n: s.n,
            mean: s.mean / size,
            sd: s.sd / size,
        };
        let noise = |n: Option<Noise>| {
            n.map(|n| Noise {
                sd: n.sd / size,
                ..n
            })
        };
        let c = welch_sides(
            &sample(candidate),
            &sample(incumbent),
            (noise(borrowed.0), noise(borrowed.1)),
            gain / size,
            min_delta / size,
        );
        return Comparison {
            gain,
            se: c.se * size,
            ..c
        };
    }
    let side = |s: &Sample, noise: Option<Noise>| -> (f64, f64) {
        if s.n > 1 {
            (s.sd * s.sd / s.n as f64, (s.n - 1) as f64)
        } else {
            match noise {
                Some(n) => (n.sd * n.sd / s.n as f64, n.df),
                None => (0.0, 1.0),
            }
        }
    };
    let (vc, dfc) = side(candidate, borrowed.0);
    let (vi, dfi) = side(incumbent, borrowed.1);
    let var = vc + vi;
    let se = var.sqrt();
    let excess = gain - min_delta;
    if se <= f64::EPSILON * gain.abs().max(1.0) {
        let (t, p) = if excess > 0.0 {
            (f64::INFINITY, 0.0)
        } else if excess < 0.0 {
            (f64::NEG_INFINITY, 1.0)
        } else {
            (0.0, 0.5)
        };
        return Comparison {
            gain,
            se: 0.0,
            t,
            df: f64::INFINITY,
            p,
        };
    }
    // Welch–Satterthwaite degrees of freedom.
    let mut denom = 0.0;
    if vc > 0.0 {
        denom += vc * vc / dfc;
    }
    if vi > 0.0 {
        denom += vi * vi / dfi;
    }
    let df = if denom > 0.0 {
        (var * var / denom).max(1.0)
    } else {
        1.0
    };
    let t = excess / se;
    Comparison {
        gain,
        se,
        t,
        df,
        p: 1.0 - t_cdf(t, df),
    }
}

/// A score or gain for people and for results.tsv: six decimals (autoresearch's format) in
/// the usual range, and six significant digits with an exponent beyond it, so 1.5e-60 does
/// not read as 0.000000 nor 1e160 as 161 digits. Both forms parse as floats.
pub fn fmt_value(x: f64) -> String {
    let size = x.abs();
    if !x.is_finite() || x == 0.0 || (1e-4..1e12).contains(&size) {
        format!("{x:.6}")
    } else {
        format!("{x:.5e}")
    }
}

/// A p-value or level for people: four decimals, or two significant digits below 0.001 (so a
/// level of 1e-5 does not read as 0).
pub fn fmt_p(p: f64) -> String {
    if p == 0.0 || !p.is_finite() || p >= 0.001 {
        format!("{p:.4}")
    } else {
        format!("{p:.1e}")
    }
}

/// The CDF of Student's t distribution with `df` degrees of freedom.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    if t.is_infinite() {
        return if t > 0.0 { 1.0 } else { 0.0 };
    }
    if df.is_infinite() || df > 1e7 {
        return normal_cdf(t);
    }
    let x = df / (df + t * t);
    let tail = 0.5 * incomplete_beta(df / 2.0, 0.5, x);
    if t >= 0.0 { 1.0 - tail } else { tail }
}

/// The `p`-quantile of Student's t distribution (by bisection on the CDF).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let (mut lo, mut hi) = (-1e3, 1e3);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// The complementary error function, with a fractional error below 1.2e-7 everywhere
/// (the Chebyshev fit published in Numerical Recipes).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

fn ln_gamma(x: f64) -> f64 {
    // Lanczos approximation (g = 7, n = 9).
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized incomplete beta function I_x(a, b).
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// Continued fraction for the incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-12 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_p_values_keep_their_digits() {
        assert_eq!(fmt_p(0.0232), "0.0232");
        assert_eq!(fmt_p(0.001), "0.0010");
        assert_eq!(fmt_p(0.000_082), "8.2e-5");
        assert_eq!(fmt_p(0.0), "0.0000");
    }

    #[test]
    fn erfc_matches_known_values() {
        for (x, want) in [
            (0.0, 1.0),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_13),
            (2.0, 0.004_677_734_981_047_266),
            (-1.0, 1.842_700_792_949_715),
            (5.0, 1.537_459_794_428_035e-12),
        ] {
            let got = erfc(x);
            assert!(
                ((got - want) / want).abs() < 2e-7,
                "erfc({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn t_distribution_matches_tables() {
        // Two-sided 95 % critical values: df 1 → 12.706, df 5 → 2.571, df 30 → 2.042.
        assert!((t_quantile(0.975, 1.0) - 12.706).abs() < 1e-2);
        assert!((t_quantile(0.975, 5.0) - 2.571).abs() < 1e-3);
        assert!((t_quantile(0.975, 30.0) - 2.042).abs() < 1e-3);
        assert!((t_cdf(0.0, 7.0) - 0.5).abs() < 1e-12);
        assert!((t_cdf(1.96, f64::INFINITY) - 0.975).abs() < 1e-4);
        assert!((t_cdf(-2.0, 10.0) - 0.036_694).abs() < 1e-5);
    }

    #[test]
    fn samples_summarize() {
        let s = Sample::of(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(s.n, 4);
        assert_eq!(s.mean, 2.5);
        assert!((s.sd - 1.290_994).abs() < 1e-6);
        assert!(Sample::of(&[]).is_none());
        assert!(Sample::of(&[f64::NAN]).is_none());
    }

    #[test]
    fn pooled_noise_ignores_single_runs() {
        let a = Sample {
            n: 3,
            mean: 0.0,
            sd: 1.0,
        };
        let b = Sample {
            n: 1,
            mean: 5.0,
            sd: 0.0,
        };
        let c = Sample {
            n: 2,
            mean: 0.0,
            sd: 2.0,
        };
        let n = pooled_noise(&[a, b, c]).unwrap();
        assert_eq!(n.df, 3.0);
        assert!((n.sd - ((2.0 + 4.0) / 3.0f64).sqrt()).abs() < 1e-12);
        assert!(pooled_noise(&[b]).is_none());
    }

    #[test]
    fn values_print_with_six_decimals_in_range_and_an_exponent_beyond() {
        assert_eq!(fmt_value(0.9979), "0.997900");
        assert_eq!(fmt_value(0.0), "0.000000");
        assert_eq!(fmt_value(-123456.5), "-123456.500000");
        assert_eq!(fmt_value(1.5e-60), "1.50000e-60");
        assert_eq!(fmt_value(-1e160), "-1.00000e160");
        assert_eq!(fmt_value(5e-324), "4.94066e-324");
        // Both forms read back as the value, to their digits.
        for x in [0.9979, 1.5e-60, 8.8e99, 1e-4, 1e12] {
            let back: f64 = fmt_value(x).parse().unwrap();
            assert!((back - x).abs() <= 1e-5 * x.abs(), "{x}: {}", fmt_value(x));
        }
    }

    #[test]
    fn huge_and_tiny_values_have_the_statistics_of_ordinary_ones_in_other_units() {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(b.abs());
        let cand = [3.1, 3.4, 2.9];
        let inc = [2.0, 2.3, 1.8, 2.1];
        let c = Sample::of(&cand).unwrap();
        let i = Sample::of(&inc).unwrap();
        let noise = pooled_noise(&[c, i]).unwrap();
        let plain = welch_sides(&c, &i, (Some(noise), None), c.mean - i.mean, 0.1);
        for unit in [1e160, 1e-160, 1e300, 1e-300] {
            let scaled =
                |xs: &[f64]| Sample::of(&xs.iter().map(|x| x * unit).collect::<Vec<_>>()).unwrap();
            let (cs, is) = (scaled(&cand), scaled(&inc));
            assert!(
                close(cs.mean, c.mean * unit) && close(cs.sd, c.sd * unit),
                "{unit}: {cs:?}"
            );
            let ns = pooled_noise(&[cs, is]).unwrap();
            assert!(
                close(ns.sd, noise.sd * unit) && ns.df == noise.df,
                "{unit}: {ns:?}"
            );
            let w = welch_sides(&cs, &is, (Some(ns), None), cs.mean - is.mean, 0.1 * unit);
            assert!(
                close(w.t, plain.t) && close(w.df, plain.df),
                "{unit}: {w:?} vs {plain:?}"
            );
            assert!(
                close(w.p, plain.p) && close(w.se, plain.se * unit),
                "{unit}: {w:?}"
            );
            assert!(w.p < 0.01, "a clear gain stays clear at {unit}: {w:?}");
            assert!(
                close(w.gain, cs.mean - is.mean),
                "the gain in its own units: {w:?}"
            );
        }
    }

    #[test]
    fn welch_separates_signal_from_noise() {
        let inc = Sample {
            n: 5,
            mean: 1.0,
            sd: 0.05,
        };
        let clear = Sample {
            n: 1,
            mean: 0.7,
            sd: 0.0,
        };
        let noise = pooled_noise(&[inc]);
        let c = welch(&clear, &inc, noise, 0.3, 0.0);
        assert!(c.p < 0.01, "{c:?}");
        let within = Sample {
            n: 1,
            mean: 0.98,
            sd: 0.0,
        };
        let c = welch(&within, &inc, noise, 0.02, 0.0);
        assert!(c.p > 0.2, "{c:?}");
        // No noise at all: any real gain is certain, none is impossible.
        let flat = Sample {
            n: 3,
            mean: 1.0,
            sd: 0.0,
        };
        assert_eq!(
            welch(
                &Sample {
                    n: 1,
                    mean: 0.9,
                    sd: 0.0
                },
                &flat,
                pooled_noise(&[flat]),
                0.1,
                0.0
            )
            .p,
            0.0
        );
        assert_eq!(welch(&flat, &flat, pooled_noise(&[flat]), 0.0, 0.0).p, 0.5);
    }
}
