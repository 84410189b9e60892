//! Repeated looks at accumulating data: Pocock's group-sequential boundary.
//!
//! A candidate is tested after its first run and again after each confirmation run. Testing
//! every look at the whole `alpha` would keep pure noise more often than `alpha`; splitting
//! `alpha` evenly across the looks (Bonferroni) is safe but ignores that the looks share their
//! data, so it throws away real gains. Pocock's boundary is the one nominal level, the same at
//! every look, at which a statistic that is pure noise crosses at some look with probability
//! `alpha` exactly: for a one-sided 0.05 over 3 looks, 0.0232 a look instead of 0.0167.
//!
//! The looks are modelled as equally spaced: after j runs the statistic is S_j/√j, where S_j
//! sums j independent standard normal increments. The chance that it never crosses is
//! integrated look by look over a grid (the continuation region of S_j is below c√j), and c
//! is found by bisection. When the looks are more alike than that (an incumbent with few
//! runs, whose noise every look shares), crossing is rarer, so the level stays safe; looks
//! that stop early for futility only make it safer.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::stats::erfc;

/// Grid spacing (in units of one increment's sd). The trapezoid rule at this spacing puts c a
/// little high (about 1e-3): the level comes out slightly smaller, on the safe side.
const H: f64 = 0.05;
/// The grid starts this many sds below 0 at each look (the mass below is negligible).
const LOW: f64 = 7.0;
/// The normal kernel is cut beyond this many sds.
const REACH: f64 = 8.5;

/// The nominal one-sided level to test each of `looks` looks at so that pure noise is called
/// significant at some look with probability `alpha` (one look: `alpha` itself).
pub fn pocock_level(alpha: f64, looks: u32) -> f64 {
    if looks <= 1 || !(alpha > 0.0 && alpha < 1.0) {
        return alpha;
    }
    static CACHE: OnceLock<Mutex<HashMap<(u64, u32), f64>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let key = (alpha.to_bits(), looks);
    if let Some(v) = cache.lock().ok().and_then(|m| m.get(&key).copied()) {
        return v;
    }
    let level = solve(alpha, looks);
    if let Ok(mut m) = cache.lock() {
        m.insert(key, level);
    }
    level
}

/// Upper tail of the standard normal.
fn upper(c: f64) -> f64 {
    0.5 * erfc(c / std::f64::consts::SQRT_2)
}

fn solve(alpha: f64, looks: u32) -> f64 {
    // The boundary lies between the single-look quantile and the Bonferroni one.
    let (mut lo, mut hi) = (0.0_f64, 8.0_f64);
    for _ in 0..28 {
        let c = 0.5 * (lo + hi);
        if crossing(c, looks) > alpha {
            lo = c;
        } else {
            hi = c;
        }
    }
    upper(hi).clamp(alpha / f64::from(looks), alpha)
}

/// The probability that S_j/√j exceeds `c` at some look j ≤ `looks`.
fn crossing(c: f64, looks: u32) -> f64 {
    let density = |x: f64| (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    // Grid of look j: from its boundary c√j down, step H.
    let grid = |j: u32| {
        let top = c * f64::from(j).sqrt();
        let n = ((top + LOW * f64::from(j).sqrt()) / H).ceil() as usize + 1;
        (top, n)
    };
    let trapezoid = |i: usize, n: usize| if i == 0 || i + 1 == n { 0.5 * H } else { H };
    let (mut top, mut n) = grid(1);
    let mut f: Vec<f64> = (0..n).map(|i| density(top - H * i as f64)).collect();
    let reach = (REACH / H).ceil() as isize;
    for j in 2..=looks {
        let (next_top, m) = grid(j);
        let shift = next_top - top;
        // y_k − x_i = shift − H (k − i): the kernel depends on k − i only.
        let kernel: Vec<f64> = (-reach..=reach)
            .map(|d| density(shift - H * d as f64))
            .collect();
        let weighted: Vec<f64> = f
            .iter()
            .enumerate()
            .map(|(i, fi)| trapezoid(i, n) * fi)
            .collect();
        let mut g = vec![0.0; m];
        for (k, gk) in g.iter_mut().enumerate() {
            let from = (k as isize - reach).max(0) as usize;
            let to = ((k as isize + reach) as usize).min(n - 1);
            if from > to {
                continue;
            }
            // kernel index of i: (k − i) + reach.
            let mut s = 0.0;
            for (i, wi) in weighted[from..=to].iter().enumerate() {
                s += wi * kernel[(k as isize - (from + i) as isize + reach) as usize];
            }
            *gk = s;
        }
        f = g;
        top = next_top;
        n = m;
    }
    let stay: f64 = f
        .iter()
        .enumerate()
        .map(|(i, fi)| trapezoid(i, n) * fi)
        .sum();
    (1.0 - stay).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_look_is_the_level_itself() {
        assert_eq!(pocock_level(0.05, 1), 0.05);
        assert_eq!(pocock_level(0.05, 0), 0.05);
        // Degenerate levels pass through: never significant, or always.
        assert_eq!(pocock_level(0.0, 3), 0.0);
        assert_eq!(pocock_level(1.0, 3), 1.0);
    }

    #[test]
    fn matches_pococks_published_boundaries() {
        // One-sided 0.05 (two-sided 0.10): c = 1.875 for 2 looks, 1.992 for 3, 2.067 for 4.
        for (looks, c) in [(2, 1.875), (3, 1.992), (4, 2.067)] {
            let level = pocock_level(0.05, looks);
            let want = upper(c);
            assert!(
                (level - want).abs() < 0.0004,
                "{looks} looks: {level} vs {want}"
            );
        }
        // One-sided 0.025 (two-sided 0.05): c = 2.178 for 2 looks, 2.289 for 3.
        for (looks, c) in [(2, 2.178), (3, 2.289)] {
            let level = pocock_level(0.025, looks);
            assert!((level - upper(c)).abs() < 0.0003, "{looks}: {level}");
        }
    }

    #[test]
    fn between_bonferroni_and_the_whole_level_and_falling_with_looks() {
        let mut last = 0.05;
        for looks in [2, 3, 4, 6, 9] {
            let level = pocock_level(0.05, looks);
            assert!(level > 0.05 / f64::from(looks), "{looks}: {level}");
            assert!(level < last, "{looks}: {level} vs {last}");
            last = level;
        }
    }

    #[test]
    fn crossing_is_the_single_look_tail_at_one_look() {
        for c in [1.0, 1.645, 2.5] {
            assert!((crossing(c, 1) - upper(c)).abs() < 1e-3, "{c}");
        }
    }
}
