//! The Tree-structured Parzen Estimator (Bergstra et al. 2011), multivariate as in Optuna:
//! random warm-up, then split the history into a good and a bad group, model each with a
//! Parzen estimator, draw candidates from the good model and propose the one that maximizes
//! l(x) / g(x).

use autolab_core::config::{Goal, ParamKind, ParamSpec};
use serde_json::{Map, Value};

use super::parzen::{Dim, Parzen, Shape};
use super::sampler::{Trial, draw};
use super::{Rng, Sampler, round_sig};

/// TPE over a `[params]` space, minimizing or maximizing the trials' scores.
#[derive(Debug, Clone)]
pub struct TpeSampler {
    /// Whether better scores are lower or higher.
    pub goal: Goal,
    /// Trials drawn at random before the history is modeled.
    pub n_startup: usize,
    /// Candidates drawn from the good model per suggestion.
    pub n_candidates: usize,
    /// Fraction of the trials in the good group (at least one, at most `max_good`).
    pub gamma: f64,
    pub max_good: usize,
    /// Weight of the prior kernel relative to one observation's.
    pub prior_weight: f64,
    /// The smallest bandwidth is the range divided by `min(magic_cap, kernels + 1)`.
    pub magic_cap: f64,
}

impl TpeSampler {
    pub const DEFAULT_STARTUP: usize = 10;

    pub fn new(goal: Goal) -> TpeSampler {
        TpeSampler {
            goal,
            n_startup: knob("AL_STARTUP", 10.0) as usize,
            n_candidates: knob("AL_NCAND", 24.0) as usize,
            gamma: knob("AL_GAMMA", 0.1),
            max_good: knob("AL_MAXGOOD", 25.0) as usize,
            prior_weight: knob("AL_PRIOR", 1.0),
            magic_cap: knob("AL_MAGIC", 100.0),
        }
    }

    /// With `n` random warm-up trials (at least one).
    pub fn with_startup(mut self, n: usize) -> TpeSampler {
        self.n_startup = knob("AL_STARTUP", n as f64) as usize;
        self
    }

    /// How many of `n` trials form the good group.
    fn n_good(&self, n: usize) -> usize {
        let gs = knob("AL_GSQRT", 0.0);
        if gs > 0.0 {
            return ((gs * (n as f64).sqrt()).ceil() as usize).clamp(1, self.max_good.max(1));
        }
        ((self.gamma * n as f64).ceil() as usize).clamp(1, self.max_good.max(1))
    }
}

// TUNING ONLY: remove.
pub(super) fn knob(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Optuna's weights for a group of `n` observations in trial order: the 25 newest weigh 1,
/// older ones ramp down linearly towards 1/n.
fn recency_weights(n: usize) -> Vec<f64> {
    const FLAT: usize = 25;
    if n <= FLAT {
        return vec![1.0; n];
    }
    let ramp = n - FLAT;
    let lo = 1.0 / n as f64;
    (0..n)
        .map(|i| {
            if i >= ramp {
                1.0
            } else if ramp == 1 {
                lo
            } else {
                lo + (1.0 - lo) * i as f64 / (ramp - 1) as f64
            }
        })
        .collect()
}

/// How a parameter maps onto a model dimension.
enum Coder<'a> {
    /// A parameter with a single possible value.
    Fixed(Value),
    Modeled {
        dim: Dim,
        kind: &'a ParamKind,
    },
}

fn coder(kind: &ParamKind) -> Coder<'_> {
    let modeled = |dim| Coder::Modeled { dim, kind };
    match kind {
        ParamKind::Float { low, high } => {
            if low < high && low.is_finite() && high.is_finite() {
                modeled(Dim::Real {
                    low: *low,
                    high: *high,
                })
            } else {
                Coder::Fixed(Value::from(*low))
            }
        }
        ParamKind::LogFloat { low, high } => {
            if *low > 0.0 && low < high && high.is_finite() {
                modeled(Dim::Real {
                    low: low.ln(),
                    high: high.ln(),
                })
            } else {
                Coder::Fixed(Value::from(*low))
            }
        }
        ParamKind::Int { low, high } => {
            if low < high {
                modeled(Dim::Int {
                    low: *low as f64,
                    high: *high as f64,
                })
            } else {
                Coder::Fixed(Value::from(*low))
            }
        }
        ParamKind::Choice(c) => match c.len() {
            0 => Coder::Fixed(Value::Null),
            1 => Coder::Fixed(c[0].clone()),
            n => modeled(Dim::Choice { n }),
        },
    }
}

/// A value's coordinate, or None when it is not in the parameter's domain.
fn encode(kind: &ParamKind, v: &Value) -> Option<f64> {
    match kind {
        ParamKind::Float { low, high } => v.as_f64().filter(|x| x >= low && x <= high),
        ParamKind::LogFloat { low, high } => v
            .as_f64()
            .filter(|x| x >= low && x <= high && *x > 0.0)
            .map(f64::ln),
        ParamKind::Int { low, high } => v
            .as_i64()
            .filter(|x| x >= low && x <= high)
            .map(|x| x as f64),
        ParamKind::Choice(c) => c.iter().position(|o| o == v).map(|i| i as f64),
    }
}

/// The value at a coordinate, rounded like the random sampler's and inside the domain.
fn decode(kind: &ParamKind, x: f64) -> Value {
    match kind {
        ParamKind::Float { low, high } => Value::from(round_sig(x).clamp(*low, *high)),
        ParamKind::LogFloat { low, high } => Value::from(round_sig(x.exp()).clamp(*low, *high)),
        ParamKind::Int { low, high } => {
            let v = if x.is_finite() {
                x.round() as i64
            } else {
                *low
            };
            Value::from(v.clamp(*low, *high))
        }
        ParamKind::Choice(c) => c
            .get(x as usize)
            .or_else(|| c.first())
            .cloned()
            .unwrap_or(Value::Null),
    }
}

impl Sampler for TpeSampler {
    fn suggest(&self, space: &[ParamSpec], history: &[Trial], rng: &mut Rng) -> Map<String, Value> {
        let coders: Vec<Coder> = space.iter().map(|p| coder(&p.kind)).collect();
        let modeled: Vec<(usize, Dim, &ParamKind)> = coders
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match c {
                Coder::Modeled { dim, kind } => Some((i, *dim, *kind)),
                Coder::Fixed(_) => None,
            })
            .collect();
        let dims: Vec<Dim> = modeled.iter().map(|(_, d, _)| *d).collect();

        // Trials whose every value lies in today's space, as coordinates and a loss to
        // minimize; a crashed trial (or a non-finite score) has no loss.
        let observed: Vec<(Vec<f64>, Option<f64>)> = history
            .iter()
            .filter_map(|t| {
                let x = modeled
                    .iter()
                    .map(|(i, _, kind)| encode(kind, t.params.get(&space[*i].name)?))
                    .collect::<Option<Vec<f64>>>()?;
                let loss = t.score.filter(|s| s.is_finite()).map(|s| match self.goal {
                    Goal::Minimize => s,
                    Goal::Maximize => -s,
                });
                Some((x, loss))
            })
            .collect();

        if observed.len() < self.n_startup || dims.is_empty() {
            return space
                .iter()
                .zip(&coders)
                .map(|(p, c)| {
                    let v = match c {
                        Coder::Fixed(v) => v.clone(),
                        Coder::Modeled { .. } => draw(&p.kind, rng),
                    };
                    (p.name.clone(), v)
                })
                .collect();
        }

        // The good group: the best gamma-quantile of scored trials (ties go to the earlier
        // trial); everything else, crashed trials included, is the bad group.
        let mut scored: Vec<usize> = (0..observed.len())
            .filter(|i| observed[*i].1.is_some())
            .collect();
        scored.sort_by(|a, b| {
            let (la, lb) = (observed[*a].1, observed[*b].1);
            la.unwrap_or(f64::INFINITY)
                .total_cmp(&lb.unwrap_or(f64::INFINITY))
                .then(a.cmp(b))
        });
        let n_good = self.n_good(observed.len()).min(scored.len());
        let mut is_good = vec![false; observed.len()];
        for i in &scored[..n_good] {
            is_good[*i] = true;
        }
        let group = |good: bool| -> Vec<&[f64]> {
            observed
                .iter()
                .zip(&is_good)
                .filter(|(_, g)| **g == good)
                .map(|((x, _), _)| x.as_slice())
                .collect()
        };
        let (good, mut bad) = (group(true), group(false));
        if knob("AL_GALL", 0.0) > 0.0 {
            bad = observed.iter().map(|(x, _)| x.as_slice()).collect();
        }
        let shape = Shape {
            prior_weight: self.prior_weight,
            magic_cap: self.magic_cap,
            bw_scale: knob("AL_BWG", 1.0),
            scott: knob("AL_SCOTT", 0.0),
            n_dims: dims.len(),
        };
        let shape_bad = Shape {
            bw_scale: knob("AL_BWB", 1.0),
            ..shape
        };
        // good is in trial order; weight by rank when AL_RANKW > 0
        let rw = knob("AL_RANKW", 0.0);
        let eiw = knob("AL_EIW", 0.0);
        let good_w: Vec<f64> = if eiw > 0.0 {
            // threshold: the best bad score (first scored not in good) or worst good
            let thr = scored
                .get(n_good)
                .or(scored.get(n_good.saturating_sub(1)))
                .and_then(|i| observed[*i].1)
                .unwrap_or(0.0);
            let best = scored.first().and_then(|i| observed[*i].1).unwrap_or(0.0);
            let span = (thr - best).max(1e-300);
            (0..observed.len())
                .filter(|i| is_good[*i])
                .map(|i| {
                    let y = observed[i].1.unwrap_or(thr);
                    (eiw * (thr - y) / span).max(0.0) + 1.0 / (n_good as f64)
                })
                .collect()
        } else if rw > 0.0 {
            let idx: Vec<usize> = (0..observed.len()).filter(|i| is_good[*i]).collect();
            idx.iter()
                .map(|i| {
                    let r = scored.iter().position(|j| j == i).unwrap_or(0) as f64;
                    (1.0 - r / (n_good as f64 + 1.0)).powf(rw)
                })
                .collect()
        } else {
            recency_weights(good.len())
        };
        let l = Parzen::fit(&dims, &good, &good_w, shape);
        let g = Parzen::fit(&dims, &bad, &recency_weights(bad.len()), shape_bad);

        let mut candidates: Vec<(f64, Vec<f64>)> = if knob("AL_INDEP", 0.0) > 0.0 {
            let gw = recency_weights(bad.len());
            let x: Vec<f64> = (0..dims.len())
                .map(|d| {
                    let gp: Vec<Vec<f64>> = good.iter().map(|p| vec![p[d]]).collect();
                    let bp: Vec<Vec<f64>> = bad.iter().map(|p| vec![p[d]]).collect();
                    let gr: Vec<&[f64]> = gp.iter().map(Vec::as_slice).collect();
                    let br: Vec<&[f64]> = bp.iter().map(Vec::as_slice).collect();
                    let l1 = Parzen::fit(&dims[d..d + 1], &gr, &good_w, shape);
                    let g1 = Parzen::fit(&dims[d..d + 1], &br, &gw, shape_bad);
                    let mut best = (f64::NEG_INFINITY, 0.0);
                    for _ in 0..self.n_candidates.max(1) {
                        let c = l1.sample(rng);
                        let a = l1.log_pdf(&c) - g1.log_pdf(&c);
                        if a > best.0 {
                            best = (a, c[0]);
                        }
                    }
                    best.1
                })
                .collect();
            vec![(0.0, x)]
        } else {
            let nmix = (knob("AL_MIXC", 0.0) * self.n_candidates as f64) as usize;
            (0..self.n_candidates.max(1))
                .map(|i| {
                    let x = if i < nmix {
                        // per-dim mixing: each coordinate from an independently chosen kernel
                        let parts: Vec<Vec<f64>> = (0..dims.len()).map(|_| l.sample(rng)).collect();
                        (0..dims.len()).map(|d| parts[d][d]).collect()
                    } else {
                        l.sample(rng)
                    };
                    (l.log_pdf(&x) - g.log_pdf(&x), x)
                })
                .collect()
        };
        // Best first; a stable sort keeps the draw order among equals.
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0));

        let values_of = |x: &[f64]| -> Map<String, Value> {
            let mut coords = modeled.iter().zip(x);
            space
                .iter()
                .zip(&coders)
                .map(|(p, c)| {
                    let v = match c {
                        Coder::Fixed(v) => v.clone(),
                        Coder::Modeled { kind, .. } => coords
                            .next()
                            .map(|(_, x)| decode(kind, *x))
                            .unwrap_or(Value::Null),
                    };
                    (p.name.clone(), v)
                })
                .collect()
        };
        let seen = |m: &Map<String, Value>| {
            history
                .iter()
                .any(|t| m.iter().all(|(k, v)| t.params.get(k) == Some(v)))
        };
        // The best candidate that was not tried already; a repeat only when all were.
        let mut first = None;
        for (_, x) in &candidates {
            let m = values_of(x);
            if !seen(&m) {
                return m;
            }
            first.get_or_insert(m);
        }
        first.unwrap_or_else(|| values_of(&candidates[0].1))
    }
}
