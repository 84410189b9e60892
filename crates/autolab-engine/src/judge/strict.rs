//! The `strict` policy: keep iff strictly better than the incumbent by more than `min_delta`;
//! a better candidate built on an older incumbent is moved onto the current one first.

use autolab_core::config::Goal;
use autolab_core::score;

/// The incumbent a candidate is judged against.
#[derive(Debug, Clone, Copy)]
pub struct Incumbent<'a> {
    pub number: u32,
    pub score: Option<f64>,
    pub commit: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StrictCall {
    /// Kept, and the new incumbent.
    Keep(String),
    Discard(String),
    /// Better, but built on an older incumbent: move it onto this one and measure again.
    MoveOnto,
}

/// The call on candidate `number` (built on `parent`) that scored `score`.
pub fn call(
    number: u32,
    score: f64,
    parent: &str,
    incumbent: Option<Incumbent<'_>>,
    goal: Goal,
    min_delta: f64,
) -> StrictCall {
    let inc = match incumbent {
        _ if number == 0 => return StrictCall::Keep("baseline".into()),
        None => return StrictCall::Keep("first scored experiment".into()),
        Some(inc) => inc,
    };
    let best = inc.score.unwrap_or(f64::NAN);
    if !score::strictly_better(score, best, goal, min_delta) {
        StrictCall::Discard(format!(
            "score {score:.6} does not beat #{} ({best:.6}, {})",
            inc.number,
            goal.as_str()
        ))
    } else if inc.commit == Some(parent) {
        StrictCall::Keep(format!(
            "score {score:.6} beats #{} ({best:.6})",
            inc.number
        ))
    } else {
        StrictCall::MoveOnto
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INC: Incumbent<'static> = Incumbent {
        number: 3,
        score: Some(0.5),
        commit: Some("c3"),
    };

    #[test]
    fn the_baseline_and_a_first_score_are_kept() {
        let c = |n, inc| call(n, 9.0, "p", inc, Goal::Minimize, 0.0);
        assert_eq!(c(0, Some(INC)), StrictCall::Keep("baseline".into()));
        assert_eq!(
            c(4, None),
            StrictCall::Keep("first scored experiment".into())
        );
    }

    #[test]
    fn only_a_strict_gain_beyond_min_delta_on_the_incumbent_is_kept() {
        let c = |s, parent, goal, d| call(4, s, parent, Some(INC), goal, d);
        assert_eq!(
            c(0.4, "c3", Goal::Minimize, 0.0),
            StrictCall::Keep("score 0.400000 beats #3 (0.500000)".into())
        );
        assert!(matches!(
            c(0.5, "c3", Goal::Minimize, 0.0),
            StrictCall::Discard(_)
        ));
        assert!(matches!(
            c(0.45, "c3", Goal::Minimize, 0.05),
            StrictCall::Discard(_)
        ));
        assert!(matches!(
            c(0.4, "c3", Goal::Maximize, 0.0),
            StrictCall::Discard(_)
        ));
        assert!(matches!(
            c(0.6, "c3", Goal::Maximize, 0.0),
            StrictCall::Keep(_)
        ));
        assert_eq!(
            c(0.6, "c3", Goal::Minimize, 0.0),
            StrictCall::Discard("score 0.600000 does not beat #3 (0.500000, minimize)".into())
        );
        // Better, but on another parent: moved onto the incumbent first.
        assert_eq!(c(0.4, "c2", Goal::Minimize, 0.0), StrictCall::MoveOnto);
        // Worse on another parent: simply discarded.
        assert!(matches!(
            c(0.6, "c2", Goal::Minimize, 0.0),
            StrictCall::Discard(_)
        ));
    }
}
