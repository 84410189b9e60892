//! Gaussian-process Bayesian optimisation (`sampler = "gp"`): after a random warm-up, a
//! Matérn-5/2 process with automatic relevance determination and a learned noise term is fit
//! to the scored trials (`fit.rs`, `model.rs`) over the encoded space (`space.rs`: log-floats
//! in log space, integers by bin, choices one-hot) — to the scores themselves or to their
//! Yeo–Johnson warp, whichever the likelihood prefers (`warp.rs`) — with a prior mean worse
//! than every trial (`prior.rs`), and the next point maximizes log expected improvement
//! (`acquisition.rs`). Trials still pending (proposed or running) are believed to score the
//! model's mean there (kriging believer), so parallel slots spread out; a crashed trial counts
//! as the worst score seen; a trial that is the mean of several runs gets its noise divided by
//! their number. While every score is alike the proposals stay random. Everything is seeded
//! and history-determined.

mod acquisition;
mod fit;
mod model;
mod prior;
mod space;
mod warp;

#[cfg(test)]
use acquisition::{log_ei, log_h};
use fit::standardize;
use model::Gp;
use prior::with_pessimistic_mean;
pub use space::width;
use warp::fit_warped;

use autolab_core::config::{Goal, ParamSpec};
use serde_json::{Map, Value};

use super::sampler::Trial;
use super::{RandomSampler, Rng, Sampler};

/// Distance (in length scales) around a pending point where nothing else is proposed.
const PENDING_RADIUS: f64 = 0.1;

/// The Gaussian-process sampler.
#[derive(Debug, Clone)]
pub struct GpSampler {
    pub goal: Goal,
    /// Trials drawn at random before the history is modeled.
    pub n_startup: usize,
}

impl GpSampler {
    pub const DEFAULT_STARTUP: usize = 10;

    pub fn new(goal: Goal) -> GpSampler {
        GpSampler {
            goal,
            n_startup: Self::DEFAULT_STARTUP,
        }
    }

    pub fn with_startup(mut self, n: usize) -> GpSampler {
        self.n_startup = n.max(1);
        self
    }
}

impl Sampler for GpSampler {
    fn suggest(&self, space: &[ParamSpec], history: &[Trial], rng: &mut Rng) -> Map<String, Value> {
        let loss = |s: f64| match self.goal {
            Goal::Minimize => s,
            Goal::Maximize => -s,
        };
        let mut scored: Vec<(Vec<f64>, f64, f64)> = Vec::new();
        let mut crashed: Vec<Vec<f64>> = Vec::new();
        let mut pending: Vec<Vec<f64>> = Vec::new();
        for t in history {
            let Some(x) = space::encode(space, &t.params) else {
                continue;
            };
            match (t.pending, t.score.filter(|s| s.is_finite())) {
                (true, _) => pending.push(x),
                (false, Some(s)) => scored.push((x, loss(s), 1.0 / f64::from(t.runs.max(1)))),
                (false, None) => crashed.push(x),
            }
        }
        if scored.len() + crashed.len() < self.n_startup || scored.len() < 2 {
            return RandomSampler.suggest(space, history, rng);
        }
        let worst = scored.iter().map(|s| s.1).fold(f64::NEG_INFINITY, f64::max);
        let mut x: Vec<Vec<f64>> = scored.iter().map(|s| s.0.clone()).collect();
        let mut y: Vec<f64> = scored.iter().map(|s| s.1).collect();
        let mut scale: Vec<f64> = scored.iter().map(|s| s.2).collect();
        for c in crashed {
            x.push(c);
            y.push(worst);
            scale.push(1.0);
        }
        // All alike: the scores say nothing about where to look, and a process fit to them would
        // only chase its own uncertainty, to the corners.
        if y.iter().all(|v| *v == y[0]) {
            return RandomSampler.suggest(space, history, rng);
        }
        let (ys, _, _) = standardize(&y);
        let Some((gp, _)) = fit_warped(&x, &ys, &scale) else {
            return RandomSampler.suggest(space, history, rng);
        };
        let gp = with_pessimistic_mean(gp);
        // The bar: the best posterior mean among the scored trials.
        let n_scored = scored.len();
        let best = x[..n_scored]
            .iter()
            .map(|p| gp.predict(p).0)
            .fold(f64::INFINITY, f64::min);
        let mut order: Vec<usize> = (0..n_scored).collect();
        order.sort_by(|a, b| gp.y[*a].total_cmp(&gp.y[*b]));
        let near: Vec<Vec<f64>> = order.iter().map(|i| x[*i].clone()).collect();
        // Kriging believer: each pending point scores the current mean there, and that score
        // counts for the bar too (so the point itself offers no improvement).
        let mut best = best;
        let model = if pending.is_empty() {
            gp
        } else {
            let mut bx = gp.x.clone();
            let mut by = gp.y.clone();
            let mut bs = gp.scale.clone();
            for p in &pending {
                let believed = gp.predict(p).0;
                best = best.min(believed);
                by.push(believed);
                bx.push(p.clone());
                bs.push(1.0);
            }
            match Gp::new(bx, by, bs, gp.hyper.clone()) {
                Some(b) => b,
                None => gp,
            }
        };
        let seen = |m: &Map<String, Value>| {
            history
                .iter()
                .any(|t| m.iter().all(|(k, v)| t.params.get(k) == Some(v)))
        };
        // A point within a tenth of a length scale of a pending one is taken too: believing
        // the mean there leaves the acquisition barely lower, and two slots would measure
        // nearly the same thing.
        let taken = |p: &[f64]| {
            seen(&space::decode(space, p))
                || pending
                    .iter()
                    .any(|q| model.scaled_distance(p, q) < PENDING_RADIUS)
        };
        let ranked = acquisition::maximize(
            space,
            &model,
            best,
            &near,
            &taken,
            &acquisition::Search::default(),
            rng,
        );
        match ranked.first() {
            Some((_, p)) => space::decode(space, p),
            None => RandomSampler.suggest(space, history, rng),
        }
    }
}

#[cfg(test)]
mod tests;
