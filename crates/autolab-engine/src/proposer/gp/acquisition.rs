//! Where to look next: log expected improvement over the best posterior mean among the scored
//! trials (robust to noise: a lucky draw is not the bar), maximized by a multi-start local
//! search over the encoded space — random points and moves around the best trials, the best
//! few refined by shrinking random steps.

use autolab_core::config::ParamSpec;

use super::model::Gp;
use super::space::{numeric_coordinates, perturb, random_point, snap};
use crate::proposer::Rng;

/// log φ(z) for the standard normal density.
fn log_phi(z: f64) -> f64 {
    -0.5 * z * z - 0.5 * (std::f64::consts::TAU).ln()
}

/// Mills' ratio (1 − Φ(x)) / φ(x) for x > 0, by its continued fraction.
fn mills(x: f64) -> f64 {
    let mut t = 0.0;
    for k in (1..=80).rev() {
        t = f64::from(k) / (x + t);
    }
    1.0 / (x + t)
}

/// log(z Φ(z) + φ(z)), stable far into the left tail: there it is log φ(z) + log(1 − |z| R(|z|))
/// with Mills' ratio R (≈ φ(z)/z²), which does not cancel to nothing as the direct sum does.
pub fn log_h(z: f64) -> f64 {
    if z > -3.0 {
        let cdf = 0.5 * autolab_core::stats::erfc(-z / std::f64::consts::SQRT_2);
        let h = z * cdf + log_phi(z).exp();
        h.max(1e-300).ln()
    } else if z > -1e4 {
        let x = -z;
        log_phi(z) + (1.0 - x * mills(x)).max(1e-300).ln()
    } else {
        let z2 = z * z;
        log_phi(z) + (1.0 / z2 - 3.0 / (z2 * z2)).ln()
    }
}

/// log EI of a point with posterior mean `mu` and variance `var` against the bar `best`
/// (minimizing).
pub fn log_ei(mu: f64, var: f64, best: f64) -> f64 {
    let sd = var.max(1e-18).sqrt();
    log_h((best - mu) / sd) + sd.ln()
}

/// Search settings.
pub struct Search {
    /// Uniform random starting points.
    pub random: usize,
    /// Moves around each of the best trials.
    pub local: usize,
    /// Trials moved around.
    pub best_trials: usize,
    /// Candidates refined, and the refinement steps of each.
    pub refine: usize,
    pub steps: usize,
}

impl Default for Search {
    fn default() -> Self {
        Search {
            random: 384,
            local: 24,
            best_trials: 5,
            refine: 4,
            steps: 24,
        }
    }
}

/// The points by acquisition, best first: (log EI, point). `starts_near` are the best trials'
/// coordinates; `taken` tells points that must not be proposed (tried or pending).
pub fn maximize(
    space: &[ParamSpec],
    gp: &Gp,
    best: f64,
    starts_near: &[Vec<f64>],
    taken: &dyn Fn(&[f64]) -> bool,
    search: &Search,
    rng: &mut Rng,
) -> Vec<(f64, Vec<f64>)> {
    let score = |x: &[f64]| {
        let (mu, var) = gp.predict(x);
        log_ei(mu, var, best)
    };
    let mut points: Vec<Vec<f64>> = (0..search.random)
        .map(|_| random_point(space, rng))
        .collect();
    for x in starts_near.iter().take(search.best_trials) {
        for k in 0..search.local {
            let step = if k % 2 == 0 { 0.05 } else { 0.2 };
            points.push(perturb(space, x, step, 0.2, rng));
        }
    }
    let mut scored: Vec<(f64, Vec<f64>)> = points
        .into_iter()
        .filter(|x| !taken(x))
        .map(|x| (score(&x), x))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.truncate(search.refine.max(1) * 4);
    // Refine the best few: a move is kept when it raises the acquisition.
    let mut refined = Vec::new();
    for (mut value, mut x) in scored.iter().take(search.refine).cloned() {
        let mut step = 0.1;
        for _ in 0..search.steps {
            let y = perturb(space, &x, step, 0.1, rng);
            if taken(&y) {
                step *= 0.7;
                continue;
            }
            let v = score(&y);
            if v > value {
                (value, x) = (v, y);
            } else {
                step *= 0.7;
            }
            if step < 1e-3 {
                break;
            }
        }
        // Then coordinate by coordinate, halving the step down to a ten-thousandth.
        let mut step = 0.05;
        let mut sweeps = 0;
        while step > 1e-4 && sweeps < 64 {
            sweeps += 1;
            let mut moved = false;
            for &c in &numeric_coordinates(space) {
                for sign in [1.0, -1.0] {
                    let mut y = x.clone();
                    y[c] = (y[c] + sign * step).clamp(0.0, 1.0);
                    let y = snap(space, &y);
                    if y == x || taken(&y) {
                        continue;
                    }
                    let v = score(&y);
                    if v > value {
                        (value, x) = (v, y);
                        moved = true;
                    }
                }
            }
            if !moved {
                step *= 0.5;
            }
        }
        refined.push((value, x));
    }
    refined.extend(scored);
    refined.sort_by(|a, b| b.0.total_cmp(&a.0));
    refined
}
