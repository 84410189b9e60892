//! Output warping. Scores after a random start are often far from Gaussian: a few trials far
//! better than the rest (Hartmann-6), or a long tail of poor ones (a noisy training run with
//! a bad learning rate). The process is fit both to the standardized scores and to their
//! Yeo–Johnson transform, with the exponent that makes them most Gaussian, and the one that
//! explains the scores better is kept: marginal likelihoods compared with the transform's
//! Jacobian counted, so both are densities of the same scores. The transform is monotone, so
//! the order of trials, the bar and every improvement keep their meaning.

use super::fit::{fit, standardize};
use super::model::Gp;

/// The Yeo–Johnson transform of `y` with exponent `lambda`.
pub fn transform(y: f64, lambda: f64) -> f64 {
    if y >= 0.0 {
        if lambda.abs() < 1e-9 {
            y.ln_1p()
        } else {
            ((y + 1.0).powf(lambda) - 1.0) / lambda
        }
    } else if (lambda - 2.0).abs() < 1e-9 {
        -(-y).ln_1p()
    } else {
        -((1.0 - y).powf(2.0 - lambda) - 1.0) / (2.0 - lambda)
    }
}

/// log of the transform's slope at `y`.
pub fn log_slope(y: f64, lambda: f64) -> f64 {
    if y >= 0.0 {
        (lambda - 1.0) * y.ln_1p()
    } else {
        (1.0 - lambda) * (-y).ln_1p()
    }
}

/// The exponent in [-2, 4] (steps of 0.1) under which `z` is most likely a Gaussian sample.
pub fn most_gaussian(z: &[f64]) -> f64 {
    let n = z.len() as f64;
    let mut best = (f64::NEG_INFINITY, 1.0);
    for k in 0..=60 {
        let lambda = -2.0 + 0.1 * f64::from(k);
        let t: Vec<f64> = z.iter().map(|v| transform(*v, lambda)).collect();
        let mean = t.iter().sum::<f64>() / n;
        let var = t.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        if var <= 0.0 || !var.is_finite() {
            continue;
        }
        let log_jacobian: f64 = z.iter().map(|v| log_slope(*v, lambda)).sum();
        let ll = -0.5 * n * var.ln() + log_jacobian;
        if ll > best.0 {
            best = (ll, lambda);
        }
    }
    best.1
}

/// `ys` transformed with exponent `lambda` and standardized again, with the log of that map's
/// Jacobian (the standardization's mean and sd held as constants): what turns the warped
/// targets' density into one of `ys`.
pub fn warped(ys: &[f64], lambda: f64) -> (Vec<f64>, f64) {
    let t: Vec<f64> = ys.iter().map(|v| transform(*v, lambda)).collect();
    let (u, _, sd) = standardize(&t);
    let log_jacobian =
        ys.iter().map(|v| log_slope(*v, lambda)).sum::<f64>() - u.len() as f64 * sd.ln();
    (u, log_jacobian)
}

/// The process through standardized scores `ys`, or through their warp when that explains
/// them better; with the targets it was fit to.
pub fn fit_warped(x: &[Vec<f64>], ys: &[f64], scale: &[f64]) -> Option<(Gp, Vec<f64>)> {
    let plain = fit(x, ys, scale)?;
    let lambda = most_gaussian(ys);
    if (lambda - 1.0).abs() < 0.05 {
        return Some((plain, ys.to_vec()));
    }
    let (u, log_jacobian) = warped(ys, lambda);
    match fit(x, &u, scale) {
        Some(warped) if warped.log_likelihood() + log_jacobian > plain.log_likelihood() => {
            Some((warped, u))
        }
        _ => Some((plain, ys.to_vec())),
    }
}
