//! What a run's recorded end says: nothing (run it again), a verdict by itself (a crash, a
//! timeout, a change to protected files, an early stop), or a score for the policy to judge.

use std::time::Duration;

use autolab_core::config::{ScoreSpec, format_duration};
use autolab_core::experiment::{Run, RunOutcome, Verdict};
use autolab_core::score::{self, ScoreError};
use indexmap::IndexMap;

/// The call on one recorded run.
#[derive(Debug, Clone, PartialEq)]
pub enum RunCall {
    /// It did not end in a way that says anything (still running, cancelled by a stop, lost
    /// with autolab): it runs again.
    Rerun,
    /// Its end is the verdict; `keep_metrics` when what it printed is worth recording.
    Final {
        verdict: Verdict,
        reason: String,
        keep_metrics: bool,
    },
    /// It printed its score: the policy judges it.
    Scored(f64),
}

fn fin(verdict: Verdict, reason: String, keep_metrics: bool) -> RunCall {
    RunCall::Final {
        verdict,
        reason,
        keep_metrics,
    }
}

/// The call on run `r` of a lab scored by `specs` with task timeout `timeout`. The run's note,
/// when autolab wrote one, is the most precise reason.
pub fn call(r: &Run, specs: &IndexMap<String, ScoreSpec>, timeout: Duration) -> RunCall {
    let noted = |default: String| r.note.clone().unwrap_or(default);
    let crash = |reason: String| fin(Verdict::Crashed, reason, true);
    match r.outcome {
        RunOutcome::Running | RunOutcome::Cancelled | RunOutcome::Lost => RunCall::Rerun,
        RunOutcome::Tampered => fin(
            Verdict::Invalid,
            noted("protected files modified during the run".into()),
            false,
        ),
        RunOutcome::OverBudget => crash(noted("disk budget exceeded".into())),
        RunOutcome::Timeout => fin(
            Verdict::Timeout,
            noted(format!(
                "timed out after {} (task.timeout)",
                format_duration(timeout)
            )),
            true,
        ),
        RunOutcome::Failed => crash(noted(match r.exit_code {
            // A shell reports death by signal n as 128 + n.
            Some(code) if code > 128 => format!("killed by signal {}", code - 128),
            Some(code) => format!("exit code {code}"),
            None => r
                .log_tail
                .clone()
                .unwrap_or_else(|| "could not start".into()),
        })),
        RunOutcome::Stopped => fin(Verdict::Discarded, noted("stopped early".into()), true),
        RunOutcome::Exited => match score::score(&r.metrics, specs) {
            Ok(s) => RunCall::Scored(s),
            Err(e @ ScoreError::NotFinite(..)) => crash(e.to_string()),
            Err(e) => {
                // Say what the run did print, so a misnamed metric is plain to see.
                let printed: Vec<&str> = r
                    .metrics
                    .iter()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(k, _)| k.as_str())
                    .collect();
                crash(if printed.is_empty() {
                    format!("{e}; the run printed no metric")
                } else {
                    format!("{e}; the run printed: {}", printed.join(", "))
                })
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use autolab_core::config::{Goal, ScoreSpec};

    use super::*;

    fn run(outcome: RunOutcome, exit_code: Option<i32>, metrics: &[(&str, f64)]) -> Run {
        Run {
            row: autolab_core::ids::RunId(1),
            index: 0,
            seed: 0,
            outcome,
            exit_code,
            pid: None,
            run_dir: String::new(),
            started_at: 0.0,
            ended_at: Some(1.0),
            metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            log_tail: None,
            commit: None,
            note: None,
            sandbox: None,
            job: None,
            budget: None,
        }
    }

    fn specs() -> IndexMap<String, ScoreSpec> {
        IndexMap::from([(
            "val_loss".to_string(),
            ScoreSpec {
                goal: Goal::Minimize,
                weight: 1.0,
            },
        )])
    }

    fn reason(c: RunCall) -> String {
        match c {
            RunCall::Final { reason, .. } => reason,
            other => panic!("not final: {other:?}"),
        }
    }

    const T: Duration = Duration::from_secs(90);

    #[test]
    fn runs_that_said_nothing_run_again() {
        for o in [RunOutcome::Running, RunOutcome::Cancelled, RunOutcome::Lost] {
            assert_eq!(call(&run(o, None, &[]), &specs(), T), RunCall::Rerun);
        }
    }

    #[test]
    fn a_failure_is_named_by_its_exit() {
        let failed = |code| reason(call(&run(RunOutcome::Failed, code, &[]), &specs(), T));
        assert_eq!(failed(Some(137)), "killed by signal 9");
        assert_eq!(failed(Some(129)), "killed by signal 1");
        assert_eq!(failed(Some(128)), "exit code 128");
        assert_eq!(failed(Some(3)), "exit code 3");
        assert_eq!(failed(None), "could not start");
        let mut r = run(RunOutcome::Failed, None, &[]);
        r.log_tail = Some("no such file".into());
        assert_eq!(reason(call(&r, &specs(), T)), "no such file");
        // autolab's own note wins.
        r.note = Some("evaluation failed: Code(2)".into());
        assert_eq!(reason(call(&r, &specs(), T)), "evaluation failed: Code(2)");
    }

    #[test]
    fn each_outcome_has_its_verdict_and_keeps_metrics_only_when_they_mean_something() {
        let m = [("val_loss", 0.5)];
        let cases = [
            (RunOutcome::Tampered, Verdict::Invalid, false),
            (RunOutcome::OverBudget, Verdict::Crashed, true),
            (RunOutcome::Timeout, Verdict::Timeout, true),
            (RunOutcome::Failed, Verdict::Crashed, true),
            (RunOutcome::Stopped, Verdict::Discarded, true),
        ];
        for (outcome, want, keep) in cases {
            match call(&run(outcome, Some(1), &m), &specs(), T) {
                RunCall::Final {
                    verdict,
                    keep_metrics,
                    ..
                } => assert_eq!((verdict, keep_metrics), (want, keep), "{outcome:?}"),
                other => panic!("{outcome:?}: {other:?}"),
            }
        }
        let timeout = reason(call(&run(RunOutcome::Timeout, None, &[]), &specs(), T));
        assert_eq!(timeout, "timed out after 1m30s (task.timeout)");
    }

    #[test]
    fn an_exited_run_is_scored_or_says_what_it_printed() {
        let ok = run(RunOutcome::Exited, Some(0), &[("val_loss", 0.25)]);
        assert_eq!(call(&ok, &specs(), T), RunCall::Scored(0.25));
        let nan = run(RunOutcome::Exited, Some(0), &[("val_loss", f64::NAN)]);
        assert_eq!(reason(call(&nan, &specs(), T)), "metric `val_loss` is NaN");
        let other = run(
            RunOutcome::Exited,
            Some(0),
            &[("loss", 0.3), ("acc", f64::NAN), ("lr", 0.1)],
        );
        assert_eq!(
            reason(call(&other, &specs(), T)),
            "metric `val_loss` was not reported; the run printed: loss, lr"
        );
        let none = run(RunOutcome::Exited, Some(0), &[]);
        assert_eq!(
            reason(call(&none, &specs(), T)),
            "metric `val_loss` was not reported; the run printed no metric"
        );
    }
}
