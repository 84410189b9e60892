//! Fitting the process: targets standardized, then the hyperparameters that maximize the
//! marginal likelihood times weak log-normal priors (which keep length scales and noise sane
//! on a handful of trials), by L-BFGS from fixed starting points — no randomness, so the same
//! history always gives the same model.

use super::model::{Gp, Hyper};

/// Bounds of the log hyperparameters: length scale, signal variance, noise variance.
const LS: (f64, f64) = (-4.6, 3.0);
const SIGNAL: (f64, f64) = (-4.6, 4.6);
const NOISE: (f64, f64) = (-13.8, 2.3);

/// Log-normal priors: (mean, sd) of each log hyperparameter.
const LS_PRIOR: (f64, f64) = (-0.7, 1.0);
const SIGNAL_PRIOR: (f64, f64) = (0.0, 1.0);
const NOISE_PRIOR: (f64, f64) = (-4.6, 2.0);

const MAX_ITERS: usize = 60;

fn log_prior(v: &[f64]) -> (f64, Vec<f64>) {
    let d = v.len() - 2;
    let mut lp = 0.0;
    let mut g = vec![0.0; v.len()];
    for (i, x) in v.iter().enumerate() {
        let (m, s) = if i < d {
            LS_PRIOR
        } else if i == d {
            SIGNAL_PRIOR
        } else {
            NOISE_PRIOR
        };
        lp -= 0.5 * ((x - m) / s).powi(2);
        g[i] = -(x - m) / (s * s);
    }
    (lp, g)
}

fn clamp(v: &mut [f64]) {
    let d = v.len() - 2;
    for (i, x) in v.iter_mut().enumerate() {
        let (lo, hi) = if i < d {
            LS
        } else if i == d {
            SIGNAL
        } else {
            NOISE
        };
        *x = x.clamp(lo, hi);
    }
}

/// The negative log posterior and its gradient at `v`, or None where the covariance cannot
/// be factorized.
fn objective(x: &[Vec<f64>], y: &[f64], scale: &[f64], v: &[f64]) -> Option<(f64, Vec<f64>, Gp)> {
    let gp = Gp::new(x.to_vec(), y.to_vec(), scale.to_vec(), Hyper::from_vec(v))?;
    let (lp, gp_prior) = log_prior(v);
    let f = -(gp.log_likelihood() + lp);
    let g = gp
        .gradient()
        .iter()
        .zip(&gp_prior)
        .map(|(a, b)| -(a + b))
        .collect();
    f.is_finite().then_some((f, g, gp))
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// L-BFGS (memory 6) with a backtracking line search, within the bounds; the best process
/// found from `start`.
fn minimize(x: &[Vec<f64>], y: &[f64], scale: &[f64], start: Vec<f64>) -> Option<(f64, Gp)> {
    let mut v = start;
    clamp(&mut v);
    let (mut f, mut g, mut gp) = objective(x, y, scale, &v)?;
    let mut memory: Vec<(Vec<f64>, Vec<f64>, f64)> = Vec::new();
    for _ in 0..MAX_ITERS {
        // Two-loop recursion: the quasi-Newton direction.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(memory.len());
        for (s, yv, rho) in memory.iter().rev() {
            let a = rho * dot(s, &q);
            for (qi, yi) in q.iter_mut().zip(yv) {
                *qi -= a * yi;
            }
            alphas.push(a);
        }
        if let Some((s, yv, _)) = memory.last() {
            let gamma = dot(s, yv) / dot(yv, yv).max(1e-300);
            for qi in q.iter_mut() {
                *qi *= gamma;
            }
        }
        for ((s, yv, rho), a) in memory.iter().zip(alphas.iter().rev()) {
            let b = rho * dot(yv, &q);
            for (qi, si) in q.iter_mut().zip(s) {
                *qi += (a - b) * si;
            }
        }
        let mut dir: Vec<f64> = q.iter().map(|x| -x).collect();
        if dot(&dir, &g) >= 0.0 {
            // Not a descent direction: steepest descent, and forget the curvature.
            dir = g.iter().map(|x| -x).collect();
            memory.clear();
        }
        // Backtracking (Armijo) along the direction, projected into the bounds.
        let mut step = if memory.is_empty() {
            1.0 / dot(&g, &g).sqrt().max(1.0)
        } else {
            1.0
        };
        let mut accepted = None;
        for _ in 0..20 {
            let mut next: Vec<f64> = v.iter().zip(&dir).map(|(a, d)| a + step * d).collect();
            clamp(&mut next);
            if let Some((fn_, gn, gpn)) = objective(x, y, scale, &next)
                && fn_
                    <= f + 1e-4
                        * dot(
                            &g,
                            &next.iter().zip(&v).map(|(a, b)| a - b).collect::<Vec<_>>(),
                        )
            {
                accepted = Some((next, fn_, gn, gpn));
                break;
            }
            step *= 0.5;
        }
        let Some((next, fn_, gn, gpn)) = accepted else {
            break;
        };
        let s: Vec<f64> = next.iter().zip(&v).map(|(a, b)| a - b).collect();
        let yv: Vec<f64> = gn.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &yv);
        let improvement = f - fn_;
        (v, f, g, gp) = (next, fn_, gn, gpn);
        if sy > 1e-10 {
            memory.push((s, yv, 1.0 / sy));
            if memory.len() > 6 {
                memory.remove(0);
            }
        }
        if improvement.abs() < 1e-7 * f.abs().max(1.0) || dot(&g, &g).sqrt() < 1e-5 {
            break;
        }
    }
    Some((f, gp))
}

/// Targets standardized: (y − mean) / sd, with the mean and sd.
pub fn standardize(y: &[f64]) -> (Vec<f64>, f64, f64) {
    let size = y.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    if autolab_core::stats::needs_rescaling(size) {
        // Squares of scores this size overflow (or vanish): standardize them in their units.
        let units: Vec<f64> = y.iter().map(|v| v / size).collect();
        let (z, mean, sd) = standardize(&units);
        return (z, mean * size, sd * size);
    }
    let n = y.len().max(1) as f64;
    let mean = y.iter().sum::<f64>() / n;
    let var = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    // Relative to the scores' size: scores of 1e-12 with a spread of 1e-13 are as informative as
    // any others.
    let sd = if var.sqrt() > 1e-9 * mean.abs() && var > 0.0 {
        var.sqrt()
    } else {
        1.0
    };
    (y.iter().map(|v| (v - mean) / sd).collect(), mean, sd)
}

/// The process through standardized targets `y` at `x` with the most probable
/// hyperparameters (from two fixed starts); None when no covariance could be factorized.
pub fn fit(x: &[Vec<f64>], y: &[f64], scale: &[f64]) -> Option<Gp> {
    let d = x.first().map_or(0, Vec::len);
    let start = |ls: f64, noise: f64| {
        let mut v = vec![ls; d];
        v.push(0.0);
        v.push(noise);
        v
    };
    [start(-0.7, -4.6), start(-1.6, -2.3)]
        .into_iter()
        .filter_map(|s| minimize(x, y, scale, s))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, gp)| gp)
}
