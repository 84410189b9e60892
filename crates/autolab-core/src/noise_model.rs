//! Run-to-run noise as a function of the score's level. A loss that falls from 4 to 0.01
//! usually gets quieter as it falls: noise measured at the baseline's level would hide every
//! later gain. So the noise at a level is, in order of trust: measured near that level
//! (groups of repeated runs within a factor [`NEAR`] of it), the pooled coefficient of
//! variation scaled to the level (when every measured level has the level's sign), or the
//! noise pooled over all groups.

use serde::{Deserialize, Serialize};

use crate::stats::{Noise, Sample, pooled_noise};

/// Levels within this factor of each other count as the same level.
pub const NEAR: f64 = 2.0;

/// How the noise at a level was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Basis {
    /// From repeated runs near this level.
    Measured,
    /// Scaled from the coefficient of variation measured at other levels: an extrapolation.
    Scaled,
    /// Pooled over every level (levels of both signs: no scaling applies).
    Pooled,
}

/// The noise at one level, and how it was found.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoiseAt {
    pub sd: f64,
    pub df: f64,
    pub basis: Basis,
}

impl NoiseAt {
    pub fn noise(self) -> Noise {
        Noise {
            sd: self.sd,
            df: self.df,
        }
    }
}

/// The groups of repeated runs (n ≥ 2) a campaign has measured.
#[derive(Debug, Clone, Default)]
pub struct NoiseModel {
    groups: Vec<Sample>,
}

impl NoiseModel {
    pub fn new(samples: &[Sample]) -> NoiseModel {
        NoiseModel {
            groups: samples
                .iter()
                .filter(|s| s.n > 1 && s.mean.is_finite() && s.sd.is_finite())
                .copied()
                .collect(),
        }
    }

    /// Whether every measured level is positive (so the noise can be read as relative).
    pub fn positive(&self) -> bool {
        self.groups.iter().all(|g| g.mean > 0.0)
    }

    /// The noise at `level`, or None before any group was repeated.
    pub fn at(&self, level: f64) -> Option<NoiseAt> {
        let pooled = pooled_noise(&self.groups)?;
        let with = |n: Noise, basis| NoiseAt {
            sd: n.sd,
            df: n.df,
            basis,
        };
        if !level.is_finite() || level == 0.0 {
            return Some(with(pooled, Basis::Pooled));
        }
        let near: Vec<Sample> = self
            .groups
            .iter()
            .filter(|g| same_level(g.mean, level))
            .copied()
            .collect();
        if let Some(n) = pooled_noise(&near).filter(|n| n.df >= 2.0) {
            return Some(with(n, Basis::Measured));
        }
        let same_sign = self
            .groups
            .iter()
            .all(|g| g.mean != 0.0 && g.mean.signum() == level.signum());
        if !same_sign {
            return Some(with(pooled, Basis::Pooled));
        }
        let relative: Vec<Sample> = self
            .groups
            .iter()
            .map(|g| Sample {
                sd: g.sd / g.mean.abs(),
                ..*g
            })
            .collect();
        let cv = pooled_noise(&relative)?;
        Some(NoiseAt {
            sd: cv.sd * level.abs(),
            df: cv.df,
            basis: Basis::Scaled,
        })
    }
}

/// Whether two levels of the same sign are within a factor [`NEAR`] of each other.
fn same_level(a: f64, b: f64) -> bool {
    if a == 0.0 || b == 0.0 || a.signum() != b.signum() {
        return false;
    }
    let (a, b) = (a.abs(), b.abs());
    a.max(b) / a.min(b) <= NEAR
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(n: usize, mean: f64, sd: f64) -> Sample {
        Sample { n, mean, sd }
    }

    #[test]
    fn no_repeated_runs_no_noise() {
        let m = NoiseModel::new(&[group(1, 4.0, 0.0)]);
        assert_eq!(m.at(4.0), None);
    }

    #[test]
    fn noise_measured_near_a_level_is_used_as_measured() {
        let m = NoiseModel::new(&[group(3, 4.3, 0.19), group(3, 0.4, 0.02)]);
        let at = m.at(0.3).unwrap();
        assert_eq!(at.basis, Basis::Measured);
        assert!((at.sd - 0.02).abs() < 1e-12, "{at:?}");
        assert_eq!(at.df, 2.0);
        let at = m.at(5.0).unwrap();
        assert_eq!(at.basis, Basis::Measured);
        assert!((at.sd - 0.19).abs() < 1e-12, "{at:?}");
    }

    #[test]
    fn noise_far_from_any_measured_level_is_scaled_by_the_level() {
        let m = NoiseModel::new(&[group(3, 4.0, 0.2)]);
        let at = m.at(0.4).unwrap();
        assert_eq!(at.basis, Basis::Scaled);
        assert!((at.sd - 0.02).abs() < 1e-12, "{at:?}");
        // Just beyond the factor of two, scaled; just within, measured.
        assert_eq!(m.at(1.99).unwrap().basis, Basis::Scaled);
        assert_eq!(m.at(2.0).unwrap().basis, Basis::Measured);
        assert_eq!(m.at(8.0).unwrap().basis, Basis::Measured);
        assert_eq!(m.at(8.01).unwrap().basis, Basis::Scaled);
        // Negative levels (maximized metrics entering negated) scale by magnitude.
        let neg = NoiseModel::new(&[group(3, -4.0, 0.2)]);
        let at = neg.at(-0.4).unwrap();
        assert_eq!(at.basis, Basis::Scaled);
        assert!((at.sd - 0.02).abs() < 1e-12);
    }

    #[test]
    fn levels_of_both_signs_fall_back_to_the_pooled_noise() {
        let m = NoiseModel::new(&[group(3, 4.0, 0.2), group(3, -4.0, 0.4)]);
        let at = m.at(0.4).unwrap();
        assert_eq!(at.basis, Basis::Pooled);
        assert!((at.sd - (0.1f64).sqrt()).abs() < 1e-12, "{at:?}");
        assert_eq!(m.at(0.0).unwrap().basis, Basis::Pooled);
        let one_sign = NoiseModel::new(&[group(3, 4.0, 0.2)]);
        assert_eq!(one_sign.at(-0.4).unwrap().basis, Basis::Pooled);
    }

    #[test]
    fn a_single_near_group_of_two_runs_is_not_enough_to_count_as_measured() {
        let m = NoiseModel::new(&[group(3, 4.0, 0.2), group(2, 0.4, 0.5)]);
        assert_eq!(m.at(0.4).unwrap().basis, Basis::Scaled);
        let m = NoiseModel::new(&[group(3, 4.0, 0.2), group(2, 0.4, 0.5), group(2, 0.5, 0.5)]);
        assert_eq!(m.at(0.4).unwrap().basis, Basis::Measured);
    }

    // Pinned after `cargo mutants`.
    #[test]
    fn positivity_non_finite_levels_and_signs_are_told_apart() {
        assert!(NoiseModel::new(&[group(3, 4.0, 0.2), group(3, 0.5, 0.1)]).positive());
        assert!(!NoiseModel::new(&[group(3, 4.0, 0.2), group(3, -0.5, 0.1)]).positive());
        assert!(!NoiseModel::new(&[group(3, 0.0, 0.2)]).positive());
        let m = NoiseModel::new(&[group(3, 4.0, 0.2)]);
        assert_eq!(m.at(f64::NAN).unwrap().basis, Basis::Pooled);
        assert_eq!(m.at(f64::INFINITY).unwrap().basis, Basis::Pooled);
        assert!(!same_level(-4.0, 4.0));
        assert!(!same_level(0.0, 0.0));
        assert!(same_level(-4.0, -3.0));
    }
}
