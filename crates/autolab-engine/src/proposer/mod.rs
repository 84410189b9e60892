//! Proposers produce ideas; this module has the built-in optimizer.

mod auto;
mod gp;
mod parzen;
mod rng;
mod sampler;
mod tpe;

use autolab_core::config::{Goal, ParamKind, ParamsConfig, Sampler as SamplerKind};
use serde_json::{Map, Value};

pub use auto::AutoSampler;
pub use gp::GpSampler;
pub use rng::Rng;
pub use sampler::{RandomSampler, Sampler, Trial};
pub use tpe::TpeSampler;

/// An idea for the next experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub title: String,
    pub proposer: autolab_core::experiment::ProposerKind,
    /// Parameter values, for proposers that tune declared params.
    pub params: Option<Value>,
}

/// Something that turns a campaign's history into the next idea.
pub trait Proposer {
    /// The idea for experiment `number`, or None when it has nothing more to try.
    fn propose(&mut self, number: u32, history: &[Trial]) -> Option<Proposal>;
}

/// The built-in optimizer over `[params]`.
pub struct Optimizer {
    space: ParamsConfig,
    seed: u64,
    sampler: Box<dyn Sampler>,
}

impl Optimizer {
    /// The optimizer over `space`, seeded, for scores whose better direction is `goal`.
    pub fn new(space: ParamsConfig, seed: u64, goal: Goal) -> Optimizer {
        let startup = space.startup.map(|n| n as usize);
        let sampler: Box<dyn Sampler> = match space.sampler {
            SamplerKind::Random => Box::new(RandomSampler),
            SamplerKind::Tpe => Box::new(
                TpeSampler::new(goal).with_startup(startup.unwrap_or(TpeSampler::DEFAULT_STARTUP)),
            ),
            SamplerKind::Gp => Box::new(
                GpSampler::new(goal).with_startup(startup.unwrap_or(GpSampler::DEFAULT_STARTUP)),
            ),
            SamplerKind::Auto => Box::new(AutoSampler::new(goal, startup)),
        };
        Optimizer {
            space,
            seed,
            sampler,
        }
    }
}

impl Proposer for Optimizer {
    fn propose(&mut self, number: u32, history: &[Trial]) -> Option<Proposal> {
        // Each experiment's draw depends only on the campaign seed, its number and the history
        // (TPE's model; the random sampler ignores it), so a resumed campaign proposes exactly
        // what an uninterrupted one would from the same finished experiments.
        let mut rng = Rng::for_stream(self.seed, u64::from(number));
        let space = &self.space.space;
        let tried = |v: &Map<String, Value>| history.iter().any(|t| &t.params == v);
        // A point already tried is drawn again a few times before it is accepted (in a small
        // finite space, once every point was tried, points repeat).
        let mut values = self.sampler.suggest(space, history, &mut rng);
        for _ in 0..REDRAWS {
            if !tried(&values) {
                break;
            }
            values = self.sampler.suggest(space, history, &mut rng);
        }
        Some(Proposal {
            title: title_of(&values),
            proposer: "optimizer".into(),
            params: Some(Value::Object(values)),
        })
    }
}

/// Draws made to find an untried point before a tried one is proposed again.
const REDRAWS: usize = 16;

/// `lr=0.0123 hidden=37 activation=relu`
pub fn title_of(values: &Map<String, Value>) -> String {
    values
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `x` rounded to `digits` significant digits, in decimal (the value is printed and read
/// back), so it neither overflows for tiny values nor leaves residues like 887999999.9999999
/// for large ones.
fn round_to(x: f64, digits: usize) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    format!("{:.*e}", digits.saturating_sub(1), x)
        .parse()
        .unwrap_or(x)
}

/// `x` rounded for a parameter ranging over [`low`, `high`]: to 4 significant digits, or more
/// when the range is narrow next to its values (on [1000, 1000.001] four digits would make every
/// value 1000), and inside the range.
pub(crate) fn tidy(x: f64, low: f64, high: f64) -> f64 {
    let width = high - low;
    let digits = if width > 0.0 && width.is_finite() && x != 0.0 {
        let extra = (x.abs().log10().floor() - width.log10().floor()).max(0.0) as usize;
        (4 + extra).min(17)
    } else {
        4
    };
    round_to(x, digits).clamp(low, high)
}

/// The point a fraction `u` (0 to 1) of the way from `low` to `high`, without overflowing when
/// the range spans most of the floats.
pub(crate) fn lerp(low: f64, high: f64, u: f64) -> f64 {
    low * (1.0 - u) + high * u
}

/// Whether a value lies in a parameter's domain.
pub fn in_domain(kind: &ParamKind, v: &Value) -> bool {
    match kind {
        ParamKind::Float { low, high } | ParamKind::LogFloat { low, high } => {
            v.as_f64().is_some_and(|x| x >= *low && x <= *high)
        }
        ParamKind::Int { low, high } => v.as_i64().is_some_and(|x| x >= *low && x <= *high),
        ParamKind::Choice(c) => c.contains(v),
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tpe_tests;
