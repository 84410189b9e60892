//! Successive halving in the loop (`[params]` with a `fidelity` parameter): a candidate's
//! runs climb the rungs (each run's budget recorded on it), a run below the full budget is
//! not judged but waits for its bracket, and the bracket's calls
//! ([`crate::judge::halving`]) promote (a new run of the same experiment at the next budget)
//! or halt (discarded with its rank). Everything is derived from the ledger, so a resumed
//! campaign makes the same calls.

use autolab_core::config::Halving;
use autolab_core::experiment::{Experiment, Run, RunOutcome, State, Verdict};
use autolab_core::ledger::Changes;
use serde_json::json;

use super::books::Books;
use super::jobs::{Jobs, Work};
use crate::EngineError;
use crate::judge::halving::{Call, Member, calls};

/// The lab's successive halving, if it has one.
pub(super) fn of<'a>(books: &'a Books<'_>) -> Option<&'a Halving> {
    books.lab.config.params.as_ref()?.halving.as_ref()
}

/// The budget of a candidate's next run: the rung after the runs it completed, the full
/// budget once it reached it (confirmations).
pub(super) fn next_budget(h: &Halving, runs: &[Run]) -> f64 {
    let done = runs
        .iter()
        .filter(|r| r.outcome == RunOutcome::Exited)
        .count();
    h.rungs[done.min(h.rungs.len() - 1)]
}

/// Whether a run counts for verdicts: any run without halving, else only full-budget runs.
pub(super) fn judged(h: Option<&Halving>, run: &Run) -> bool {
    h.is_none_or(|h| h.judges(run.budget))
}

/// The runs an experiment's score is the mean of: its runs that ran to their end and count
/// for verdicts (under halving, the full-budget ones).
pub(super) fn judged_runs(h: Option<&Halving>, runs: &[Run]) -> u32 {
    runs.iter()
        .filter(|r| r.outcome == RunOutcome::Exited && judged(h, r))
        .count() as u32
}

/// Experiment `exp`'s params with the fidelity set to `budget` (the baseline, which has no
/// params, gets the fidelity alone).
pub(super) fn with_budget(
    h: &Halving,
    params: Option<&serde_json::Value>,
    budget: f64,
) -> Option<serde_json::Value> {
    let mut p = params.cloned().unwrap_or_else(|| json!({}));
    if let serde_json::Value::Object(m) = &mut p {
        m.insert(h.param.clone(), h.value(budget));
    }
    Some(p)
}

/// A scored run below the full budget: recorded as the candidate's result at its rung (it
/// waits for its bracket's call). True when it was one.
pub(super) fn rung_result(
    books: &mut Books<'_>,
    exp: &Experiment,
    run: &Run,
    score: f64,
) -> Result<bool, EngineError> {
    let Some(h) = of(books) else {
        return Ok(false);
    };
    let Some(budget) = run.budget.filter(|b| *b < h.full()) else {
        return Ok(false);
    };
    let rung = h.rungs.iter().position(|r| *r == budget).unwrap_or(0);
    let detail = json!({"run": run.index, "rung": rung, "budget": h.value(budget), "score": score});
    books
        .ledger
        .transition_with(exp.row, State::Evaluating, detail, &Changes::default())?;
    Ok(true)
}

/// After experiment `row`'s run was decided: its bracket's calls, under halving.
pub(super) fn after_verdict(
    books: &mut Books<'_>,
    jobs: &mut Jobs,
    row: autolab_core::ids::ExperimentId,
) -> Result<(), EngineError> {
    if of(books).is_none() {
        return Ok(());
    }
    let number = books.ledger.experiment_by_row(row)?.number;
    step(books, jobs, number)
}

/// Applies the calls of the bracket holding candidate `number`.
pub(super) fn step(books: &mut Books<'_>, jobs: &mut Jobs, number: u32) -> Result<(), EngineError> {
    let Some(h) = of(books).cloned() else {
        return Ok(());
    };
    if number == 0 {
        return Ok(());
    }
    let size = h.bracket();
    let first = (number - 1) / size * size + 1;
    let mut members = Vec::new();
    let mut rows = Vec::new();
    for n in first..first + size {
        let Some(exp) = books.ledger.experiment(books.campaign.id, n)? else {
            continue;
        };
        let runs = books.ledger.runs(exp.row)?;
        members.push(member(books, &h, &exp, &runs));
        rows.push(exp);
    }
    let closed = members.len() as u32 >= size || !books.under_budget()?;
    for call in calls(&h, books.lab.config.score_goal(), &members, closed) {
        match call {
            Call::Promote { number, rung } => {
                let Some(exp) = rows.iter().find(|e| e.number == number) else {
                    continue;
                };
                let queued = jobs.queue.contains(&Work::Run(exp.row));
                if queued || jobs.slots.contains_key(&exp.row) {
                    continue;
                }
                books.ledger.transition(
                    exp,
                    State::Queued,
                    json!({"promoted": rung, "budget": h.value(h.rungs[rung])}),
                )?;
                jobs.queue.push_front(Work::Run(exp.row));
            }
            Call::Halt {
                number,
                rung,
                reason,
            } => {
                let Some(exp) = rows.iter().find(|e| e.number == number) else {
                    continue;
                };
                jobs.drop_work(exp.row);
                books.conclude(
                    exp.row,
                    Verdict::Discarded,
                    &reason,
                    json!({"halted": rung}),
                    Changes::default(),
                )?;
            }
        }
    }
    Ok(())
}

/// Every bracket with a candidate still open.
pub(super) fn sweep(books: &mut Books<'_>, jobs: &mut Jobs) -> Result<(), EngineError> {
    let Some(size) = of(books).map(Halving::bracket) else {
        return Ok(());
    };
    let open: std::collections::BTreeSet<u32> = books
        .ledger
        .experiments(books.campaign.id)?
        .iter()
        .filter(|e| e.number > 0 && !e.state.is_final())
        .map(|e| (e.number - 1) / size * size + 1)
        .collect();
    for first in open {
        step(books, jobs, first)?;
    }
    Ok(())
}

/// A candidate's record for the bracket's calls.
fn member(books: &Books<'_>, h: &Halving, exp: &Experiment, runs: &[Run]) -> Member {
    let specs = &books.lab.config.metrics.score;
    let at = |k: usize| runs.iter().filter(move |r| r.budget == Some(h.rungs[k]));
    Member {
        number: exp.number,
        concluded: exp.state.is_final(),
        entered: (0..h.rungs.len())
            .map(|k| at(k).any(|r| !matches!(r.outcome, RunOutcome::Cancelled | RunOutcome::Lost)))
            .collect(),
        scores: (0..h.rungs.len())
            .map(|k| {
                at(k)
                    .filter(|r| r.outcome == RunOutcome::Exited)
                    .find_map(|r| autolab_core::score::score(&r.metrics, specs).ok())
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(outcome: RunOutcome, budget: Option<f64>) -> Run {
        Run {
            row: autolab_core::ids::RunId(0),
            index: 0,
            seed: 0,
            outcome,
            exit_code: Some(0),
            pid: None,
            run_dir: String::new(),
            started_at: 0.0,
            ended_at: Some(1.0),
            metrics: Default::default(),
            log_tail: None,
            commit: None,
            note: None,
            sandbox: None,
            job: None,
            budget,
        }
    }

    #[test]
    fn only_full_budget_runs_that_ended_count_for_the_mean() {
        let h = Halving {
            param: "epochs".into(),
            integer: true,
            rungs: vec![2.0, 6.0, 18.0],
            eta: 3,
        };
        let runs = [
            run(RunOutcome::Exited, Some(2.0)),
            run(RunOutcome::Exited, Some(6.0)),
            run(RunOutcome::Exited, Some(18.0)),
            run(RunOutcome::Stopped, Some(18.0)),
            run(RunOutcome::Exited, Some(18.0)),
        ];
        assert_eq!(judged_runs(Some(&h), &runs), 2);
        // Without halving every run that ended counts.
        assert_eq!(judged_runs(None, &runs), 4);
    }
}
