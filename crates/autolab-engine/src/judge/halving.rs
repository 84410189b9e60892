//! Successive halving's calls, as a pure function of a bracket's record: which candidates go
//! on to the next rung and which stop where they are. A bracket is `eta^K` consecutive
//! candidates; rung k is decided once every candidate that entered it has a result there (or
//! a verdict) and the bracket can grow no more; then the best `max(1, entered / eta)` go on
//! (ties to the earlier candidate), the others are halted. The same record always gives the
//! same calls, so a resumed campaign promotes the same candidates.

use autolab_core::config::{Goal, Halving};

/// One candidate of a bracket, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub number: u32,
    /// It has a verdict (crashed, stopped, halted, judged…).
    pub concluded: bool,
    /// Per rung: whether a run at that budget started (and was not cancelled or lost).
    pub entered: Vec<bool>,
    /// Per rung: the score of its run at that budget that ran to its end.
    pub scores: Vec<Option<f64>>,
}

/// What the bracket's record calls for.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// Run candidate `number` at rung `rung`.
    Promote { number: u32, rung: usize },
    /// Candidate `number` stops at rung `rung`: discarded with the reason.
    Halt {
        number: u32,
        rung: usize,
        reason: String,
    },
}

/// The calls a bracket's record makes; `closed`: no candidate will join the bracket.
pub fn calls(h: &Halving, goal: Goal, members: &[Member], closed: bool) -> Vec<Call> {
    let mut out = Vec::new();
    if !closed {
        return out;
    }
    let last = h.rungs.len() - 1;
    for k in 0..last {
        let entered: Vec<&Member> = members.iter().filter(|m| m.entered[k]).collect();
        if entered.is_empty() {
            break;
        }
        let complete = entered.iter().all(|m| m.concluded || m.scores[k].is_some());
        if !complete {
            break;
        }
        let mut ranked: Vec<(&Member, f64)> = entered
            .iter()
            .filter_map(|m| m.scores[k].map(|s| (*m, s)))
            .collect();
        ranked.sort_by(|a, b| {
            let by = match goal {
                Goal::Minimize => a.1.total_cmp(&b.1),
                Goal::Maximize => b.1.total_cmp(&a.1),
            };
            by.then(a.0.number.cmp(&b.0.number))
        });
        let go_on = (entered.len() / h.eta as usize).max(1);
        for (i, (m, s)) in ranked.iter().enumerate() {
            if m.concluded || m.entered[k + 1] {
                continue;
            }
            if i < go_on {
                out.push(Call::Promote {
                    number: m.number,
                    rung: k + 1,
                });
            } else {
                out.push(Call::Halt {
                    number: m.number,
                    rung: k,
                    reason: format!(
                        "halted at {}={}: score {} ranked {} of {} at this budget (the best {go_on} go on to {})",
                        h.param,
                        h.value(h.rungs[k]),
                        short(*s),
                        i + 1,
                        ranked.len(),
                        h.value(h.rungs[k + 1]),
                    ),
                });
            }
        }
    }
    out
}

/// A score without trailing zeros (an exponent form keeps its digits).
fn short(x: f64) -> String {
    let s = autolab_core::stats::fmt_value(x);
    if s.contains('e') {
        return s;
    }
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn halving() -> Halving {
        Halving {
            param: "epochs".into(),
            integer: true,
            rungs: vec![2.0, 6.0, 18.0],
            eta: 3,
        }
    }

    /// Candidate `n` with its scores so far (None: not entered), nothing concluded.
    fn member(n: u32, scores: &[Option<f64>]) -> Member {
        let mut s = scores.to_vec();
        s.resize(3, None);
        Member {
            number: n,
            concluded: false,
            entered: s.iter().map(|x| x.is_some()).collect(),
            scores: s,
        }
    }

    fn nine(scores: [f64; 9]) -> Vec<Member> {
        (1..=9)
            .map(|n| member(n, &[Some(scores[n as usize - 1])]))
            .collect()
    }

    #[test]
    fn the_best_third_goes_on_and_the_rest_is_halted() {
        let m = nine([0.5, 0.1, 0.9, 0.3, 0.8, 0.2, 0.7, 0.6, 0.4]);
        let c = calls(&halving(), Goal::Minimize, &m, true);
        let promoted: Vec<u32> = c
            .iter()
            .filter_map(|c| match c {
                Call::Promote { number, rung: 1 } => Some(*number),
                _ => None,
            })
            .collect();
        assert_eq!(promoted, vec![2, 6, 4]);
        let halted = c.iter().filter(|c| matches!(c, Call::Halt { .. })).count();
        assert_eq!(halted, 6);
        assert!(c.contains(&Call::Halt {
            number: 9,
            rung: 0,
            reason: "halted at epochs=2: score 0.4 ranked 4 of 9 at this budget (the best 3 go on to 6)"
                .into()
        }));
        // Maximizing: the other end.
        let c = calls(&halving(), Goal::Maximize, &m, true);
        assert!(c.contains(&Call::Promote { number: 3, rung: 1 }));
        assert!(!c.contains(&Call::Promote { number: 2, rung: 1 }));
    }

    #[test]
    fn nothing_is_decided_while_the_bracket_can_grow_or_a_rung_runs() {
        let m = nine([0.5, 0.1, 0.9, 0.3, 0.8, 0.2, 0.7, 0.6, 0.4]);
        assert!(calls(&halving(), Goal::Minimize, &m, false).is_empty());
        let mut running = m.clone();
        running[4].scores[0] = None; // entered, no result yet
        assert!(calls(&halving(), Goal::Minimize, &running, true).is_empty());
        // A crashed one (concluded, no score) does not hold the rung up; it still counts
        // among those that entered.
        running[4].concluded = true;
        let c = calls(&halving(), Goal::Minimize, &running, true);
        assert_eq!(
            c.iter()
                .filter(|c| matches!(c, Call::Promote { .. }))
                .count(),
            3
        );
    }

    #[test]
    fn later_rungs_and_calls_already_carried_out() {
        // 2, 6, 4 were promoted; 2 and 6 ran at rung 1, 4 is running; the others halted.
        let mut m = nine([0.5, 0.1, 0.9, 0.3, 0.8, 0.2, 0.7, 0.6, 0.4]);
        for x in &mut m {
            x.concluded = ![2, 6, 4].contains(&x.number);
        }
        m[1].entered[1] = true;
        m[1].scores[1] = Some(0.05);
        m[5].entered[1] = true;
        m[5].scores[1] = Some(0.01);
        m[3].entered[1] = true;
        // Rung 0's calls are done; rung 1 waits for #4.
        assert!(calls(&halving(), Goal::Minimize, &m, true).is_empty());
        m[3].scores[1] = Some(0.2);
        let c = calls(&halving(), Goal::Minimize, &m, true);
        assert_eq!(c.len(), 3, "{c:?}");
        assert_eq!(c[0], Call::Promote { number: 6, rung: 2 });
        assert!(matches!(
            &c[1],
            Call::Halt {
                number: 2,
                rung: 1,
                ..
            }
        ));
        assert!(matches!(
            &c[2],
            Call::Halt {
                number: 4,
                rung: 1,
                ..
            }
        ));
    }

    #[test]
    fn the_full_budget_is_judged_elsewhere() {
        // #6 ran at every budget: nothing more is called for it here (its verdict is the
        // judge's), and the others' calls are done.
        let mut m = nine([0.5, 0.1, 0.9, 0.3, 0.8, 0.2, 0.7, 0.6, 0.4]);
        for x in &mut m {
            x.concluded = x.number != 6;
        }
        for k in 1..3 {
            m[5].entered[k] = true;
            m[5].scores[k] = Some(0.01);
        }
        m[1].entered[1] = true;
        m[1].scores[1] = Some(0.05);
        m[3].entered[1] = true;
        m[3].scores[1] = Some(0.2);
        assert_eq!(calls(&halving(), Goal::Minimize, &m, true), vec![]);
    }

    #[test]
    fn a_short_bracket_promotes_at_least_one_and_ties_go_to_the_earlier() {
        let m = vec![member(10, &[Some(0.3)]), member(11, &[Some(0.3)])];
        let c = calls(&halving(), Goal::Minimize, &m, true);
        assert_eq!(
            c[0],
            Call::Promote {
                number: 10,
                rung: 1
            }
        );
        assert!(matches!(&c[1], Call::Halt { number: 11, .. }));
    }
}
