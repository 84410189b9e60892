//! Parzen estimators for TPE: mixtures of products of truncated Gaussians (numbers) and
//! smoothed categorical distributions (choices), one kernel per observation plus a prior.

use super::Rng;

/// One dimension of the search space as TPE models it. Log-scaled parameters arrive already
/// in log space, so every numeric dimension is linear here.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Dim {
    /// Real numbers in `[low, high]`.
    Real { low: f64, high: f64 },
    /// Integers `low..=high`; a kernel puts on each integer its mass of `[k - 0.5, k + 0.5]`.
    Int { low: f64, high: f64 },
    /// Option indices `0..n`.
    Choice { n: usize },
}

impl Dim {
    /// The interval a numeric kernel lives on, or None for choices.
    fn support(self) -> Option<(f64, f64)> {
        match self {
            Dim::Real { low, high } => Some((low, high)),
            Dim::Int { low, high } => Some((low - 0.5, high + 0.5)),
            Dim::Choice { .. } => None,
        }
    }
}

/// Weight of the prior kernel (uniform-ish over the whole space) relative to one observation's.
const PRIOR_WEIGHT: f64 = 1.0;

/// The "magic clip": no bandwidth is below `range / min(MAGIC_CAP, kernels + 1)`.
const MAGIC_CAP: f64 = 100.0;

/// Kernels of one dimension, one per observation and the prior last.
#[derive(Debug, Clone)]
enum Kernels {
    Numeric {
        low: f64,
        high: f64,
        int: bool,
        mus: Vec<f64>,
        sigmas: Vec<f64>,
        /// ln of each kernel's mass inside `[low, high]` (its truncation constant).
        log_mass: Vec<f64>,
    },
    Choice {
        /// Per kernel: ln of the probability of each option.
        log_probs: Vec<Vec<f64>>,
    },
}

/// A weighted mixture of product kernels over all dimensions.
#[derive(Debug, Clone)]
pub(super) struct Parzen {
    log_weights: Vec<f64>,
    cumulative: Vec<f64>,
    dims: Vec<Kernels>,
}

impl Parzen {
    /// Fits the estimator to `points` (each a vector over `dims`) with per-point `weights`.
    pub fn fit(dims: &[Dim], points: &[&[f64]], weights: &[f64]) -> Parzen {
        let mut w: Vec<f64> = weights.to_vec();
        w.push(PRIOR_WEIGHT);
        let total: f64 = w.iter().sum();
        let w: Vec<f64> = w.iter().map(|x| x / total).collect();
        let mut acc = 0.0;
        let cumulative = w
            .iter()
            .map(|x| {
                acc += x;
                acc
            })
            .collect();
        let dims = dims
            .iter()
            .enumerate()
            .map(|(d, dim)| {
                let column: Vec<f64> = points.iter().map(|p| p[d]).collect();
                kernels(*dim, &column)
            })
            .collect();
        Parzen {
            log_weights: w.iter().map(|x| x.ln()).collect(),
            cumulative,
            dims,
        }
    }

    /// Draws one point: picks a kernel by weight, then each coordinate from that kernel.
    pub fn sample(&self, rng: &mut Rng) -> Vec<f64> {
        let u = rng.unit();
        let last = self.cumulative.len().saturating_sub(1);
        let k = self.cumulative.iter().position(|c| u < *c).unwrap_or(last);
        self.dims.iter().map(|d| sample_kernel(d, k, rng)).collect()
    }

    /// ln of the mixture density (mass, for integers and choices) at `x`.
    pub fn log_pdf(&self, x: &[f64]) -> f64 {
        let terms: Vec<f64> = self
            .log_weights
            .iter()
            .enumerate()
            .map(|(k, lw)| {
                lw + self
                    .dims
                    .iter()
                    .zip(x)
                    .map(|(d, v)| log_kernel(d, k, *v))
                    .sum::<f64>()
            })
            .collect();
        log_sum_exp(&terms)
    }
}

fn kernels(dim: Dim, column: &[f64]) -> Kernels {
    match dim {
        Dim::Choice { n } => {
            // Each observation: its option gets 1, every option gets prior / n_kernels; the
            // prior kernel is uniform.
            let n_kernels = column.len() + 1;
            let base = PRIOR_WEIGHT / n_kernels as f64;
            let mut log_probs: Vec<Vec<f64>> = column
                .iter()
                .map(|v| {
                    let hit = *v as usize;
                    let total = base * n as f64 + 1.0;
                    (0..n)
                        .map(|i| ((base + if i == hit { 1.0 } else { 0.0 }) / total).ln())
                        .collect()
                })
                .collect();
            log_probs.push(vec![-(n as f64).ln(); n]);
            Kernels::Choice { log_probs }
        }
        Dim::Real { .. } | Dim::Int { .. } => {
            let (low, high) = dim.support().unwrap_or((0.0, 1.0));
            let mut mus = column.to_vec();
            let mut sigmas = bandwidths(column, low, high);
            mus.push(0.5 * (low + high));
            sigmas.push(high - low);
            let log_mass = mus
                .iter()
                .zip(&sigmas)
                .map(|(m, s)| log_normal_mass((low - m) / s, (high - m) / s))
                .collect();
            Kernels::Numeric {
                low,
                high,
                int: matches!(dim, Dim::Int { .. }),
                mus,
                sigmas,
                log_mass,
            }
        }
    }
}

/// Per-observation bandwidths: the larger gap to a sorted neighbour (the range's ends count as
/// neighbours, except that the outermost observations use their inner gap), clipped to
/// `[range / min(MAGIC_CAP, n + 2), range]` (Hyperopt's and Optuna's rule and "magic clip").
fn bandwidths(mus: &[f64], low: f64, high: f64) -> Vec<f64> {
    let range = high - low;
    let n = mus.len();
    let min_sigma = range / MAGIC_CAP.min(n as f64 + 2.0);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| mus[*a].total_cmp(&mus[*b]).then(a.cmp(b)));
    let mut sorted = Vec::with_capacity(n + 2);
    sorted.push(low);
    sorted.extend(order.iter().map(|i| mus[*i]));
    sorted.push(high);
    let mut sigmas = vec![range; n];
    for (rank, i) in order.iter().enumerate() {
        let j = rank + 1;
        let left = sorted[j] - sorted[j - 1];
        let right = sorted[j + 1] - sorted[j];
        let s = if n >= 2 && rank == 0 {
            right
        } else if n >= 2 && rank == n - 1 {
            left
        } else {
            left.max(right)
        };
        sigmas[*i] = s.clamp(min_sigma, range);
    }
    sigmas
}

fn sample_kernel(d: &Kernels, k: usize, rng: &mut Rng) -> f64 {
    match d {
        Kernels::Choice { log_probs } => {
            let probs = &log_probs[k];
            let u = rng.unit();
            let mut acc = 0.0;
            for (i, lp) in probs.iter().enumerate() {
                acc += lp.exp();
                if u < acc {
                    return i as f64;
                }
            }
            (probs.len().saturating_sub(1)) as f64
        }
        Kernels::Numeric {
            low,
            high,
            int,
            mus,
            sigmas,
            ..
        } => {
            let (mu, sigma) = (mus[k], sigmas[k]);
            // Rejection from the untruncated Gaussian: every kernel's centre lies inside the
            // support and its width is at most the range, so at least a third is accepted.
            let mut x = mu.clamp(*low, *high);
            for _ in 0..64 {
                let y = mu + sigma * gaussian(rng);
                if y >= *low && y <= *high {
                    x = y;
                    break;
                }
            }
            if *int {
                (x.round()).clamp(*low + 0.5, *high - 0.5)
            } else {
                x
            }
        }
    }
}

fn log_kernel(d: &Kernels, k: usize, x: f64) -> f64 {
    match d {
        Kernels::Choice { log_probs } => {
            let i = x as usize;
            log_probs[k].get(i).copied().unwrap_or(f64::NEG_INFINITY)
        }
        Kernels::Numeric {
            int,
            mus,
            sigmas,
            log_mass,
            ..
        } => {
            let (mu, sigma) = (mus[k], sigmas[k]);
            if *int {
                log_normal_mass((x - 0.5 - mu) / sigma, (x + 0.5 - mu) / sigma) - log_mass[k]
            } else {
                let z = (x - mu) / sigma;
                -0.5 * z * z - sigma.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln() - log_mass[k]
            }
        }
    }
}

/// A standard normal draw (Box–Muller).
fn gaussian(rng: &mut Rng) -> f64 {
    let u1 = 1.0 - rng.unit(); // (0, 1]
    let u2 = rng.unit();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

pub(super) fn log_sum_exp(xs: &[f64]) -> f64 {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + xs.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// ln of the standard normal mass of `[a, b]`, computed on the tail side for accuracy.
fn log_normal_mass(a: f64, b: f64) -> f64 {
    let m = if a >= 0.0 {
        upper_tail(a) - upper_tail(b)
    } else if b <= 0.0 {
        upper_tail(-b) - upper_tail(-a)
    } else {
        1.0 - upper_tail(-a) - upper_tail(b)
    };
    m.max(f64::MIN_POSITIVE).ln()
}

/// P(Z > z) for a standard normal Z.
fn upper_tail(z: f64) -> f64 {
    0.5 * autolab_core::stats::erfc(z / std::f64::consts::SQRT_2)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn densities_integrate_to_one() {
        let dims = [
            Dim::Real {
                low: -1.0,
                high: 2.0,
            },
            Dim::Int {
                low: 3.0,
                high: 9.0,
            },
            Dim::Choice { n: 3 },
        ];
        let pts: Vec<Vec<f64>> = vec![
            vec![0.1, 4.0, 0.0],
            vec![1.9, 9.0, 2.0],
            vec![0.1, 4.0, 0.0],
        ];
        let refs: Vec<&[f64]> = pts.iter().map(Vec::as_slice).collect();
        let p = Parzen::fit(&dims, &refs, &[1.0, 1.0, 0.5]);
        // Midpoint rule over the real dimension, exact sums over the others.
        let steps = 3000;
        let h = 3.0 / f64::from(steps);
        let mut total = 0.0;
        for i in 0..steps {
            let x = -1.0 + (f64::from(i) + 0.5) * h;
            for k in 3..=9 {
                for c in 0..3 {
                    total += p.log_pdf(&[x, f64::from(k), f64::from(c)]).exp() * h;
                }
            }
        }
        assert!((total - 1.0).abs() < 1e-3, "total mass {total}");
    }

    #[test]
    fn samples_stay_in_the_support() {
        let dims = [
            Dim::Real {
                low: 0.0,
                high: 1.0,
            },
            Dim::Int {
                low: 1.0,
                high: 2.0,
            },
        ];
        let pts = [vec![0.0, 1.0], vec![1.0, 2.0]];
        let refs: Vec<&[f64]> = pts.iter().map(Vec::as_slice).collect();
        let p = Parzen::fit(&dims, &refs, &[1.0, 1.0]);
        let mut rng = Rng::new(3);
        for _ in 0..2000 {
            let x = p.sample(&mut rng);
            assert!((0.0..=1.0).contains(&x[0]), "{x:?}");
            assert!(x[1] == 1.0 || x[1] == 2.0, "{x:?}");
        }
    }
}
