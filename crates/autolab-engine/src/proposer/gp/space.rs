//! The search space as the Gaussian process sees it: every parameter mapped into [0, 1] —
//! floats linearly, log-floats in log space, integers to the middle of their own bin, choices
//! one-hot (one coordinate per option) — and back.

use autolab_core::config::{ParamKind, ParamSpec};
use serde_json::{Map, Value};

use crate::proposer::{Rng, lerp, tidy};

/// The coordinates a space takes.
pub fn width(space: &[ParamSpec]) -> usize {
    space.iter().map(|p| dims_of(&p.kind)).sum()
}

fn dims_of(kind: &ParamKind) -> usize {
    match kind {
        ParamKind::Choice(c) => c.len().max(1),
        _ => 1,
    }
}

/// A parameter's value as its coordinates (pushed onto `out`), or None when it is outside the
/// parameter's domain.
fn encode_one(kind: &ParamKind, v: &Value, out: &mut Vec<f64>) -> Option<()> {
    let unit = |x: f64, low: f64, high: f64| {
        if high > low {
            ((x - low) / (high - low)).clamp(0.0, 1.0)
        } else {
            0.5
        }
    };
    match kind {
        ParamKind::Float { low, high } => {
            let x = v.as_f64().filter(|x| x >= low && x <= high)?;
            out.push(unit(x, *low, *high));
        }
        ParamKind::LogFloat { low, high } => {
            let x = v.as_f64().filter(|x| x >= low && x <= high && *x > 0.0)?;
            out.push(unit(x.ln(), low.max(f64::MIN_POSITIVE).ln(), high.ln()));
        }
        ParamKind::Int { low, high } => {
            let x = v.as_i64().filter(|x| x >= low && x <= high)?;
            let bins = (*high as f64 - *low as f64) + 1.0;
            out.push(((x as f64 - *low as f64) + 0.5) / bins);
        }
        ParamKind::Choice(c) => {
            let i = c.iter().position(|o| o == v)?;
            out.extend((0..c.len().max(1)).map(|k| if k == i { 1.0 } else { 0.0 }));
        }
    }
    Some(())
}

/// A trial's values as coordinates, or None when one is missing or outside today's space.
pub fn encode(space: &[ParamSpec], values: &Map<String, Value>) -> Option<Vec<f64>> {
    let mut out = Vec::with_capacity(width(space));
    for p in space {
        encode_one(&p.kind, values.get(&p.name)?, &mut out)?;
    }
    Some(out)
}

/// The values at coordinates `x` (any reals: clamped into the domain, choices by the largest
/// coordinate), rounded like the other samplers'.
pub fn decode(space: &[ParamSpec], x: &[f64]) -> Map<String, Value> {
    let mut at = 0;
    let mut out = Map::new();
    for p in space {
        let n = dims_of(&p.kind);
        let xs = &x[at.min(x.len())..(at + n).min(x.len())];
        at += n;
        let u = xs.first().copied().unwrap_or(0.5).clamp(0.0, 1.0);
        let v = match &p.kind {
            ParamKind::Float { low, high } => Value::from(tidy(lerp(*low, *high, u), *low, *high)),
            ParamKind::LogFloat { low, high } => {
                let (l, h) = (low.max(f64::MIN_POSITIVE).ln(), high.ln());
                Value::from(tidy(lerp(l, h, u).exp(), *low, *high))
            }
            ParamKind::Int { low, high } => {
                let bins = (*high as f64 - *low as f64) + 1.0;
                let k = (u * bins).floor().min(bins - 1.0).max(0.0);
                Value::from((*low as f64 + k) as i64)
            }
            ParamKind::Choice(c) => {
                let best = xs
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f64::NEG_INFINITY),
                        |b, (i, v)| if *v > b.1 { (i, *v) } else { b },
                    );
                c.get(best.0).cloned().unwrap_or(Value::Null)
            }
        };
        out.insert(p.name.clone(), v);
    }
    out
}

/// `x` moved onto the point its values name (an integer to its bin's middle, a choice to its
/// one-hot corner): where the model is asked about what would really run.
pub fn snap(space: &[ParamSpec], x: &[f64]) -> Vec<f64> {
    encode(space, &decode(space, x)).unwrap_or_else(|| x.to_vec())
}

/// The coordinates of numeric parameters (floats, log-floats, integers), which move freely.
pub fn numeric_coordinates(space: &[ParamSpec]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = 0;
    for p in space {
        if !matches!(p.kind, ParamKind::Choice(_)) {
            out.push(at);
        }
        at += dims_of(&p.kind);
    }
    out
}

/// A uniform random point of the space, as coordinates.
pub fn random_point(space: &[ParamSpec], rng: &mut Rng) -> Vec<f64> {
    let mut out = Vec::with_capacity(width(space));
    for p in space {
        match &p.kind {
            ParamKind::Choice(c) => {
                let i = rng.below(c.len().max(1) as u64) as usize;
                out.extend((0..c.len().max(1)).map(|k| if k == i { 1.0 } else { 0.0 }));
            }
            _ => out.push(rng.unit()),
        }
    }
    snap(space, &out)
}

/// `x` moved a little: each continuous coordinate by N(0, step²) (clamped), each choice
/// switched to another option with probability `flip`.
pub fn perturb(space: &[ParamSpec], x: &[f64], step: f64, flip: f64, rng: &mut Rng) -> Vec<f64> {
    let mut out = x.to_vec();
    let mut at = 0;
    for p in space {
        let n = dims_of(&p.kind);
        match &p.kind {
            ParamKind::Choice(c) if c.len() > 1 => {
                if rng.unit() < flip {
                    let i = rng.below(c.len() as u64) as usize;
                    for k in 0..n {
                        out[at + k] = if k == i { 1.0 } else { 0.0 };
                    }
                }
            }
            ParamKind::Choice(_) => {}
            _ => out[at] = (out[at] + step * rng.normal()).clamp(0.0, 1.0),
        }
        at += n;
    }
    snap(space, &out)
}
