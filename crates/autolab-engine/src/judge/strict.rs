//! The `strict` policy: keep iff strictly better than the incumbent by more than `min_delta`;
//! a better candidate built on an older incumbent is moved onto the current one first. With
//! the simplicity rule, a candidate that is not worse and removes lines is kept as simpler.

use autolab_core::config::Goal;
use autolab_core::score;
use autolab_core::stats::fmt_value;

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
    /// Not worse, and fewer lines (the simplicity rule): kept as `simplified`.
    Simpler(String),
}

/// How a candidate's code compares in size, and whether simpler code may win a tie.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lines {
    /// Lines added minus lines removed.
    pub net: i64,
    pub simplicity: bool,
}

/// The call on candidate `number` (built on `parent`) that scored `score`.
pub fn call(
    number: u32,
    score: f64,
    parent: &str,
    incumbent: Option<Incumbent<'_>>,
    goal: Goal,
    min_delta: f64,
    lines: Lines,
) -> StrictCall {
    let inc = match incumbent {
        _ if number == 0 => return StrictCall::Keep("baseline".into()),
        None => return StrictCall::Keep("first scored experiment".into()),
        Some(inc) => inc,
    };
    let best = inc.score.unwrap_or(f64::NAN);
    let not_worse = match goal {
        Goal::Minimize => score <= best,
        Goal::Maximize => score >= best,
    };
    if !score::strictly_better(score, best, goal, min_delta) {
        if lines.simplicity && lines.net < 0 && not_worse && inc.commit == Some(parent) {
            return StrictCall::Simpler(format!(
                "score {} is not worse than #{} ({}) with {} line(s) fewer",
                fmt_value(score),
                inc.number,
                fmt_value(best),
                -lines.net
            ));
        }
        let added = if lines.net > 0 {
            format!(" for {} added line(s)", lines.net)
        } else {
            String::new()
        };
        StrictCall::Discard(format!(
            "score {} does not beat #{} ({}, {}){added}",
            fmt_value(score),
            inc.number,
            fmt_value(best),
            goal.as_str()
        ))
    } else if inc.commit == Some(parent) {
        StrictCall::Keep(format!(
            "score {} beats #{} ({})",
            fmt_value(score),
            inc.number,
            fmt_value(best)
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
        let c = |n, inc| call(n, 9.0, "p", inc, Goal::Minimize, 0.0, Lines::default());
        assert_eq!(c(0, Some(INC)), StrictCall::Keep("baseline".into()));
        assert_eq!(
            c(4, None),
            StrictCall::Keep("first scored experiment".into())
        );
    }

    #[test]
    fn only_a_strict_gain_beyond_min_delta_on_the_incumbent_is_kept() {
        let c = |s, parent, goal, d| call(4, s, parent, Some(INC), goal, d, Lines::default());
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

    #[test]
    fn a_tie_that_removes_lines_is_simpler_and_a_non_gain_that_adds_lines_says_so() {
        let simpler = Lines {
            net: -4,
            simplicity: true,
        };
        let c = |s, parent, lines| call(4, s, parent, Some(INC), Goal::Minimize, 0.05, lines);
        assert_eq!(
            c(0.5, "c3", simpler),
            StrictCall::Simpler(
                "score 0.500000 is not worse than #3 (0.500000) with 4 line(s) fewer".into()
            )
        );
        // Better, but not by min_delta: still simpler.
        assert!(matches!(c(0.48, "c3", simpler), StrictCall::Simpler(_)));
        // Worse, or off the incumbent, or the rule off, or no lines removed: discarded.
        assert!(matches!(c(0.51, "c3", simpler), StrictCall::Discard(_)));
        assert!(matches!(c(0.5, "c2", simpler), StrictCall::Discard(_)));
        let off = Lines {
            net: -4,
            simplicity: false,
        };
        assert!(matches!(c(0.5, "c3", off), StrictCall::Discard(_)));
        let same = Lines {
            net: 0,
            simplicity: true,
        };
        assert!(matches!(c(0.5, "c3", same), StrictCall::Discard(_)));
        let more = Lines {
            net: 30,
            simplicity: true,
        };
        assert_eq!(
            c(0.48, "c3", more),
            StrictCall::Discard(
                "score 0.480000 does not beat #3 (0.500000, minimize) for 30 added line(s)".into()
            )
        );
        // Maximizing: not worse means not lower.
        let m = |s| call(4, s, "c3", Some(INC), Goal::Maximize, 0.0, simpler);
        assert!(matches!(m(0.5), StrictCall::Simpler(_)));
        assert!(matches!(m(0.49), StrictCall::Discard(_)));
    }
}
