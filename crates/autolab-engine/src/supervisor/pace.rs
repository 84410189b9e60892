//! The supervisor's watches on pace: money spent faster than the time budget allows, and
//! slots idle while candidates wait. Pure functions of what the loop measured.

use super::Diagnosis;

/// The share of `--max-hours` that must have passed before the spend's pace is judged (a
/// campaign's first ideation round costs more than its average).
const SETTLED: f64 = 0.1;

/// A diagnosis when, at this invocation's pace (`spent_now − spent_at_start` USD over
/// `elapsed_h` hours), what is left of `max_usd` runs out in less than half the time left of
/// `max_hours`.
pub fn cost_burn(
    spent_at_start: f64,
    spent_now: f64,
    max_usd: f64,
    elapsed_h: f64,
    max_hours: f64,
) -> Option<Diagnosis> {
    let spent = spent_now - spent_at_start;
    if elapsed_h < SETTLED * max_hours || spent <= 0.0 || elapsed_h <= 0.0 {
        return None;
    }
    let rate = spent / elapsed_h;
    let money_h = (max_usd - spent_now).max(0.0) / rate;
    let time_h = (max_hours - elapsed_h).max(0.0);
    (money_h < 0.5 * time_h).then(|| Diagnosis {
        trigger: "cost_burn".into(),
        cause: format!(
            "the LLM spends ${rate:.2} an hour: the rest of max_usd (${:.2} of ${max_usd:.2}) lasts about {}, while max_hours has {} left",
            (max_usd - spent_now).max(0.0),
            hours(money_h),
            hours(time_h)
        ),
        advice: Some(
            "raise [agent] max_usd, choose a cheaper model, or fewer ideas per round; `autolab run` again goes on at this pace".into(),
        ),
        evidence: vec![format!(
            "${spent:.4} in {} of this run; ${spent_now:.4} in all",
            hours(elapsed_h)
        )],
        experiments: vec![],
        by: "rules".into(),
    })
}

fn hours(h: f64) -> String {
    if h >= 1.0 {
        format!("{h:.1} h")
    } else if h * 60.0 >= 1.0 {
        format!("{:.0} min", h * 60.0)
    } else {
        format!("{:.0} s", (h * 3600.0).max(0.0))
    }
}

/// What to say when `idle` slots of `slots` have had nothing to run for `waited` seconds
/// while `waiting` candidates wait for approval.
pub fn idle_slots(idle: usize, slots: usize, waiting: usize, waited: f64) -> String {
    format!(
        "{idle} of {slots} slot(s) idle for {} while {waiting} candidate(s) wait for approval: `autolab approve N` (or the dashboard) lets them run",
        hours(waited / 3600.0)
    )
}
