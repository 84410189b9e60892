//! Samplers choose parameter values behind a small trait: random here, TPE in `tpe.rs`.

use autolab_core::config::{ParamKind, ParamSpec};
use serde_json::{Map, Value};

use super::{Rng, lerp, tidy};

/// An experiment as a sampler sees it: finished, or still pending (proposed, running or being
/// confirmed: its point is taken, its score unknown).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trial {
    pub params: Map<String, Value>,
    /// None for crashed, invalid or pending trials.
    pub score: Option<f64>,
    /// Not judged yet.
    pub pending: bool,
    /// The runs its score is the mean of (0 or 1: one).
    pub runs: u32,
}

pub trait Sampler {
    fn suggest(&self, space: &[ParamSpec], history: &[Trial], rng: &mut Rng) -> Map<String, Value>;
}

/// Uniform draws: linear for float and int, log-uniform for log_float.
pub struct RandomSampler;

impl Sampler for RandomSampler {
    fn suggest(
        &self,
        space: &[ParamSpec],
        _history: &[Trial],
        rng: &mut Rng,
    ) -> Map<String, Value> {
        space
            .iter()
            .map(|p| (p.name.clone(), draw(&p.kind, rng)))
            .collect()
    }
}

pub(crate) fn draw(kind: &ParamKind, rng: &mut Rng) -> Value {
    match kind {
        ParamKind::Float { low, high } => {
            Value::from(tidy(lerp(*low, *high, rng.unit()), *low, *high))
        }
        ParamKind::LogFloat { low, high } => {
            let x = (low.ln() + rng.unit() * (high.ln() - low.ln())).exp();
            Value::from(tidy(x, *low, *high))
        }
        ParamKind::Int { low, high } => {
            if high <= low {
                return Value::from(*low);
            }
            // i128: the span of any two i64 bounds fits, and saturates into u64.
            let span = u64::try_from(i128::from(*high) - i128::from(*low) + 1).unwrap_or(u64::MAX);
            Value::from((i128::from(*low) + i128::from(rng.below(span))) as i64)
        }
        ParamKind::Choice(choices) => choices
            .get(rng.below(choices.len() as u64) as usize)
            .cloned()
            .unwrap_or(Value::Null),
    }
}
