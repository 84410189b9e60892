//! Which expert to ask next: Thompson sampling over each expert's record of kept
//! experiments.

use crate::proposer::Rng;

/// What one expert's ideas have done so far in this campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpertRecord {
    pub name: String,
    /// Experiments from this expert's ideas that reached a verdict.
    pub tried: u32,
    /// Of those, the ones kept.
    pub kept: u32,
    /// The summed score gain of the kept ones (for reports and prompts; the bandit uses
    /// only `tried` and `kept`).
    pub gain: f64,
}

/// The index in `records` of the expert to ask next, or None when there is none to ask
/// (no records, or every weight is 0).
///
/// Each expert draws a success rate from Beta(1 + kept, 1 + tried − kept) (`kept` is capped
/// at `tried`), multiplied by its weight in `weights` (by name; 1.0 when absent; negative
/// or NaN counts as 0). Weight 0 disables an expert. The highest draw wins, ties going to
/// the first. An untried expert draws from Beta(1, 1), so every enabled expert keeps being
/// asked now and then, and one that is often kept is asked most. The draws come from
/// `rng` in record order, so the same rng state gives the same pick.
pub fn pick_expert(
    records: &[ExpertRecord],
    weights: &[(String, f64)],
    rng: &mut Rng,
) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, record) in records.iter().enumerate() {
        let weight = weights
            .iter()
            .find(|(name, _)| *name == record.name)
            .map_or(1.0, |(_, w)| *w);
        if weight.is_nan() || weight <= 0.0 {
            continue;
        }
        let kept = record.kept.min(record.tried);
        let draw = sample_beta(
            1.0 + f64::from(kept),
            1.0 + f64::from(record.tried - kept),
            rng,
        );
        let score = weight * draw;
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((i, score));
        }
    }
    best.map(|(i, _)| i)
}

/// A draw from Beta(a, b) (a, b > 0) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).
pub fn sample_beta(a: f64, b: f64, rng: &mut Rng) -> f64 {
    let x = sample_gamma(a, rng);
    let y = sample_gamma(b, rng);
    if x + y > 0.0 { x / (x + y) } else { 0.5 }
}

/// A draw from Gamma(shape, 1) (shape > 0) by Marsaglia and Tsang's method; a shape below 1
/// draws Gamma(shape + 1) and scales it by U^(1/shape).
pub fn sample_gamma(shape: f64, rng: &mut Rng) -> f64 {
    if shape.is_nan() || shape <= 0.0 || shape.is_infinite() {
        return 0.0;
    }
    if shape < 1.0 {
        let u = 1.0 - rng.unit(); // (0, 1]
        return sample_gamma(shape + 1.0, rng) * u.powf(1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    // The acceptance rate is above 95% for every shape ≥ 1; the bound only guards against
    // a degenerate generator.
    for _ in 0..1000 {
        let x = standard_normal(rng);
        let v = 1.0 + c * x;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u = 1.0 - rng.unit();
        if u < 1.0 - 0.0331 * x.powi(4) || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
            return d * v;
        }
    }
    d
}

/// A standard normal draw (Box–Muller).
fn standard_normal(rng: &mut Rng) -> f64 {
    let u1 = 1.0 - rng.unit(); // (0, 1], so ln is finite
    let u2 = rng.unit();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
