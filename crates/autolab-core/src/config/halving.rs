//! Successive halving (`fidelity = true` on one `[params]` entry, `[params] eta`): the marked
//! parameter is the run's budget (epochs, steps), not searched. A candidate runs first at the
//! smallest rung; the best 1/eta of each bracket's rung go on to the next, larger one, and
//! only a run at the full budget (the range's high end) is judged.

use super::params::ParamKind;

/// The fidelity parameter and its rungs.
#[derive(Debug, Clone, PartialEq)]
pub struct Halving {
    /// The budget parameter's name.
    pub param: String,
    /// Whether its values are integers.
    pub integer: bool,
    /// The budgets, smallest first; the last is the full budget.
    pub rungs: Vec<f64>,
    /// The reduction factor: 1/eta of a rung goes on to the next.
    pub eta: u32,
}

impl Halving {
    /// Candidates a bracket holds: eta^(rungs − 1), each starting at the smallest rung.
    pub fn bracket(&self) -> u32 {
        self.eta.pow(self.rungs.len() as u32 - 1)
    }

    /// The full budget.
    pub fn full(&self) -> f64 {
        self.rungs.last().copied().unwrap_or(f64::INFINITY)
    }

    /// Whether a run at `budget` counts for verdicts and reported gains: only the full budget
    /// does (a run with no budget recorded ran before halving, or is the baseline's).
    pub fn judges(&self, budget: Option<f64>) -> bool {
        budget.is_none_or(|b| b >= self.full())
    }

    /// A budget as the parameter's JSON value.
    pub fn value(&self, budget: f64) -> serde_json::Value {
        if self.integer {
            serde_json::Value::from(budget as i64)
        } else {
            serde_json::Value::from(budget)
        }
    }
}

type Problem = (String, String, Option<String>);

/// The most candidates a bracket may hold (its rungs are decided only when it is full).
pub const MAX_BRACKET: u32 = 1000;

/// The rungs of `name`'s range: high, high/eta, high/eta², … down to no less than low.
pub(super) fn rungs(name: &str, kind: &ParamKind, eta: u32) -> Result<Halving, Problem> {
    let (low, high, integer) = match kind {
        ParamKind::Int { low, high } => (*low as f64, *high as f64, true),
        ParamKind::Float { low, high } | ParamKind::LogFloat { low, high } => (*low, *high, false),
        ParamKind::Choice(_) => {
            return Err((
                name.into(),
                format!("parameter `{name}`: a fidelity must be a number (int or float), not a choice"),
                Some("mark the budget parameter, e.g. `epochs = { int = [10, 200], fidelity = true }`".into()),
            ));
        }
    };
    if low <= 0.0 {
        return Err((
            name.into(),
            format!("parameter `{name}`: a fidelity's range must start above 0 (it is a budget)"),
            None,
        ));
    }
    let mut rungs = vec![high];
    loop {
        let next = rungs[rungs.len() - 1] / f64::from(eta);
        let next = if integer { next.round() } else { next };
        if next < low || Some(&next) == rungs.last() {
            break;
        }
        rungs.push(next);
    }
    rungs.reverse();
    if rungs.len() < 2 {
        return Err((
            name.into(),
            format!(
                "parameter `{name}`: the range [{low}, {high}] holds no smaller rung than {high} with eta = {eta} (it needs high ≥ eta × low)"
            ),
            Some("widen the range (e.g. [high/9, high] for three rungs) or lower `eta`".into()),
        ));
    }
    let bracket = eta
        .checked_pow(rungs.len() as u32 - 1)
        .filter(|b| *b <= MAX_BRACKET);
    if bracket.is_none() {
        return Err((
            name.into(),
            format!(
                "parameter `{name}`: {} budgets from {low} to {high} with eta = {eta} make brackets of more than {MAX_BRACKET} candidates",
                rungs.len()
            ),
            Some("narrow the range or raise `eta` (a bracket is eta^(budgets − 1) candidates, e.g. [20, 200] with eta 3: 9)".into()),
        ));
    }
    Ok(Halving {
        param: name.to_string(),
        integer,
        rungs,
        eta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_divide_the_full_budget_by_eta() {
        let h = rungs("epochs", &ParamKind::Int { low: 20, high: 200 }, 3).unwrap();
        assert_eq!(h.rungs, vec![22.0, 67.0, 200.0]);
        assert_eq!((h.bracket(), h.full()), (9, 200.0));
        assert_eq!(h.value(67.0), serde_json::json!(67));
        let h = rungs(
            "t",
            &ParamKind::Float {
                low: 1.0,
                high: 8.0,
            },
            2,
        )
        .unwrap();
        assert_eq!(h.rungs, vec![1.0, 2.0, 4.0, 8.0]);
        assert_eq!(h.bracket(), 8);
        assert_eq!(h.value(2.0), serde_json::json!(2.0));
        // Small integers stop where rounding repeats a rung.
        let h = rungs("n", &ParamKind::Int { low: 1, high: 4 }, 3).unwrap();
        assert_eq!(h.rungs, vec![1.0, 4.0]);
    }

    #[test]
    fn a_fidelity_needs_room_for_two_rungs_and_a_number() {
        assert!(
            rungs(
                "e",
                &ParamKind::Int {
                    low: 100,
                    high: 200
                },
                3
            )
            .is_err()
        );
        assert!(rungs("e", &ParamKind::Choice(vec![]), 3).is_err());
        assert!(
            rungs(
                "e",
                &ParamKind::Float {
                    low: 0.0,
                    high: 1.0
                },
                3
            )
            .is_err()
        );
    }
}
