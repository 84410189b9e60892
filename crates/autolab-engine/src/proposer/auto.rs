//! `sampler = "auto"` (the default): the Gaussian process while the history is small and the
//! space low-dimensional — where it is strongest and its cubic cost is small — and TPE
//! beyond. The thresholds come from `autolab bench optimizer` (see BENCHMARKS.md).

use autolab_core::config::{Goal, ParamSpec};
use serde_json::{Map, Value};

use super::gp::{self, GpSampler};
use super::sampler::Trial;
use super::{Rng, Sampler, TpeSampler};

/// Trials (finished and pending) up to which the process models the history.
pub const GP_MAX_TRIALS: usize = 200;
/// Encoded coordinates (a choice takes one per option) up to which the process is used.
pub const GP_MAX_DIMS: usize = 24;

pub struct AutoSampler {
    gp: GpSampler,
    tpe: TpeSampler,
}

impl AutoSampler {
    pub fn new(goal: Goal, startup: Option<usize>) -> AutoSampler {
        let mut gp = GpSampler::new(goal);
        let mut tpe = TpeSampler::new(goal);
        if let Some(n) = startup {
            gp = gp.with_startup(n);
            tpe = tpe.with_startup(n);
        }
        AutoSampler { gp, tpe }
    }

    /// Whether the process proposes for this space and history.
    pub fn uses_gp(space: &[ParamSpec], history: &[Trial]) -> bool {
        history.len() < GP_MAX_TRIALS && gp::width(space) <= GP_MAX_DIMS
    }
}

impl Sampler for AutoSampler {
    fn suggest(&self, space: &[ParamSpec], history: &[Trial], rng: &mut Rng) -> Map<String, Value> {
        if Self::uses_gp(space, history) {
            self.gp.suggest(space, history, rng)
        } else {
            self.tpe.suggest(space, history, rng)
        }
    }
}
