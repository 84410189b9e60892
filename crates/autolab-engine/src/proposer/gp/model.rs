//! The Gaussian process: a Matérn-5/2 kernel with one length scale per coordinate (automatic
//! relevance determination), a signal variance and a learned noise term, on standardized
//! scores. The linear algebra (Cholesky factorization and triangular solves) is nalgebra's.

use nalgebra::{Cholesky, DMatrix, DVector, Dyn};

/// Kernel hyperparameters, in logs (so any real vector is valid).
#[derive(Debug, Clone, PartialEq)]
pub struct Hyper {
    /// log length scale per coordinate.
    pub log_ls: Vec<f64>,
    /// log signal variance.
    pub log_signal: f64,
    /// log noise variance (of a trial with one run; a mean of n runs has 1/n of it).
    pub log_noise: f64,
}

/// The smallest noise variance (standardized units): keeps the factorization stable.
pub const MIN_NOISE: f64 = 1e-6;

impl Hyper {
    #[cfg(test)]
    pub fn as_vec(&self) -> Vec<f64> {
        let mut v = self.log_ls.clone();
        v.push(self.log_signal);
        v.push(self.log_noise);
        v
    }

    pub fn from_vec(v: &[f64]) -> Hyper {
        let d = v.len() - 2;
        Hyper {
            log_ls: v[..d].to_vec(),
            log_signal: v[d],
            log_noise: v[d + 1],
        }
    }

    pub fn noise(&self) -> f64 {
        self.log_noise.exp().max(MIN_NOISE)
    }
}

const SQRT5: f64 = 2.236_067_977_499_79;

/// The Matérn-5/2 correlation at scaled distance r.
fn matern(r: f64) -> f64 {
    (1.0 + SQRT5 * r + 5.0 / 3.0 * r * r) * (-SQRT5 * r).exp()
}

/// Squared scaled distance between `a` and `b`.
fn r2(a: &[f64], b: &[f64], inv_ls2: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .zip(inv_ls2)
        .map(|((x, y), w)| (x - y) * (x - y) * w)
        .sum()
}

/// A fitted process: its training points and what predictions need.
pub struct Gp {
    pub hyper: Hyper,
    pub x: Vec<Vec<f64>>,
    /// Standardized targets.
    pub y: Vec<f64>,
    /// Each point's noise multiplier (1 / its runs).
    pub scale: Vec<f64>,
    chol: Cholesky<f64, Dyn>,
    alpha: DVector<f64>,
    inv_ls2: Vec<f64>,
    signal: f64,
}

/// The covariance of the training points, noise included.
fn covariance(x: &[Vec<f64>], scale: &[f64], h: &Hyper, inv_ls2: &[f64]) -> DMatrix<f64> {
    let n = x.len();
    let signal = h.log_signal.exp();
    let noise = h.noise();
    let mut k = DMatrix::zeros(n, n);
    for i in 0..n {
        for j in 0..i {
            let v = signal * matern(r2(&x[i], &x[j], inv_ls2).sqrt());
            k[(i, j)] = v;
            k[(j, i)] = v;
        }
        k[(i, i)] = signal + noise * scale[i];
    }
    k
}

impl Gp {
    /// The process with hyperparameters `h` through standardized targets `y` at `x`; None when
    /// the covariance cannot be factorized.
    pub fn new(x: Vec<Vec<f64>>, y: Vec<f64>, scale: Vec<f64>, hyper: Hyper) -> Option<Gp> {
        let inv_ls2: Vec<f64> = hyper.log_ls.iter().map(|l| (-2.0 * l).exp()).collect();
        let k = covariance(&x, &scale, &hyper, &inv_ls2);
        let chol = Cholesky::new(k)?;
        let alpha = chol.solve(&DVector::from_column_slice(&y));
        let signal = hyper.log_signal.exp();
        Some(Gp {
            hyper,
            x,
            y,
            scale,
            chol,
            alpha,
            inv_ls2,
            signal,
        })
    }

    /// The same process through other targets at the same points: the covariance, and so its
    /// factorization, does not depend on the targets.
    pub fn retargeted(self, y: Vec<f64>) -> Gp {
        let alpha = self.chol.solve(&DVector::from_column_slice(&y));
        Gp { y, alpha, ..self }
    }

    /// The posterior mean and variance (of the latent function, without noise) at `q`.
    pub fn predict(&self, q: &[f64]) -> (f64, f64) {
        let k = DVector::from_iterator(
            self.x.len(),
            self.x
                .iter()
                .map(|xi| self.signal * matern(r2(xi, q, &self.inv_ls2).sqrt())),
        );
        let mean = k.dot(&self.alpha);
        let v = self.chol.l_dirty().solve_lower_triangular(&k);
        let reduce = v.map_or(0.0, |v| v.norm_squared());
        (mean, (self.signal - reduce).max(1e-12))
    }

    /// The distance from `a` to `b` in length scales.
    pub fn scaled_distance(&self, a: &[f64], b: &[f64]) -> f64 {
        r2(a, b, &self.inv_ls2).sqrt()
    }

    /// The log marginal likelihood of the targets.
    pub fn log_likelihood(&self) -> f64 {
        let n = self.y.len() as f64;
        let y = DVector::from_column_slice(&self.y);
        let fit = -0.5 * y.dot(&self.alpha);
        let det: f64 = self.chol.l_dirty().diagonal().iter().map(|d| d.ln()).sum();
        fit - det - 0.5 * n * (std::f64::consts::TAU).ln()
    }

    /// The gradient of the log marginal likelihood with respect to [`Hyper::as_vec`]:
    /// ½ tr((ααᵀ − K⁻¹) ∂K/∂θ) for each θ.
    pub fn gradient(&self) -> Vec<f64> {
        let n = self.x.len();
        let d = self.inv_ls2.len();
        let k_inv = self.chol.inverse();
        // W = ααᵀ − K⁻¹ (symmetric).
        let mut w = k_inv;
        for i in 0..n {
            for j in 0..n {
                w[(i, j)] = self.alpha[i] * self.alpha[j] - w[(i, j)];
            }
        }
        let mut g = vec![0.0; d + 2];
        for i in 0..n {
            for j in 0..i {
                let r = r2(&self.x[i], &self.x[j], &self.inv_ls2).sqrt();
                let e = (-SQRT5 * r).exp();
                let kij = self.signal * (1.0 + SQRT5 * r + 5.0 / 3.0 * r * r) * e;
                // ∂k/∂log ℓ_c = (5/3) s² (1 + √5 r) e^{−√5 r} (Δ_c / ℓ_c)².
                let common = 5.0 / 3.0 * self.signal * (1.0 + SQRT5 * r) * e;
                let wij = w[(i, j)];
                for (c, gc) in g.iter_mut().enumerate().take(d) {
                    let delta = self.x[i][c] - self.x[j][c];
                    *gc += wij * common * delta * delta * self.inv_ls2[c];
                }
                g[d] += wij * kij;
            }
        }
        // Each off-diagonal pair was summed once: the trace counts it twice, then ×½.
        let noise = self.hyper.noise();
        for i in 0..n {
            let wii = w[(i, i)];
            g[d] += 0.5 * wii * self.signal;
            g[d + 1] += 0.5 * wii * noise * self.scale[i];
        }
        g
    }
}
