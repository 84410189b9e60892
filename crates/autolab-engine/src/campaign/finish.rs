//! The end of a run, recorded: how it ended, its metrics (from the whole output stream where
//! it was seen, else the end of its logs), its log tail and sandbox layers; then its verdict
//! is queued.

use autolab_core::ids::{ExperimentId, RunId};
use std::io::Read;

use autolab_core::config::format_duration;
use autolab_core::experiment::{RunOutcome, State};
use autolab_core::metrics::{self, RunOutputs};
use autolab_runner::Exit;
use serde_json::json;

use super::books::Books;
use super::execute::RunOutput;
use super::jobs::{Jobs, Work};
use crate::EngineError;

/// How much of a run's output the ledger keeps as its tail.
const TAIL_LINES: usize = 40;
/// How much of each log is read to find metrics (its end, where summaries are).
const METRIC_READ_BYTES: u64 = 4 << 20;

impl Jobs {
    /// Records how a run ended (outcome, metrics, log tail, sandbox), then queues its verdict.
    pub fn finish_run(
        &mut self,
        books: &mut Books<'_>,
        row: ExperimentId,
        run: RunId,
        output: RunOutput,
    ) -> Result<(), EngineError> {
        let stream = self.slots.remove(&row).and_then(|s| s.stream);
        let exp = books.ledger.experiment_by_row(row)?;
        let finished = match output.train {
            Ok(f) => f,
            Err(e) => {
                let empty = Default::default();
                books.ledger.finish_run(
                    run,
                    RunOutcome::Failed,
                    None,
                    &empty,
                    &e.to_string(),
                    None,
                )?;
                self.queue.push_front(Work::Decide(row, run));
                return Ok(());
            }
        };
        if !finished.layers.is_empty() {
            books.ledger.set_run_sandbox(
                run,
                &serde_json::to_value(&finished.layers).unwrap_or_default(),
            )?;
        }
        if finished.exit == Exit::Cancelled {
            books.ledger.finish_run(
                run,
                RunOutcome::Cancelled,
                None,
                &Default::default(),
                "",
                None,
            )?;
            if self.conclude_cancelled(books, row)? {
                return Ok(());
            }
            let back = if exp.state == State::Confirming {
                State::Confirming
            } else {
                State::Queued
            };
            books
                .ledger
                .transition(&exp, back, json!({"cancelled": "campaign stopped"}))?;
            return Ok(());
        }
        let train_log = format!(
            "{}{}",
            read_end(&finished.stdout),
            read_end(&finished.stderr)
        );
        let run_dir = finished
            .stdout
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default();
        let worktree = books.lab.worktree(&books.campaign.tag, exp.number);
        let (outcome, code) = match finished.exit {
            Exit::Code(0) => (RunOutcome::Exited, Some(0)),
            Exit::Code(c) => (RunOutcome::Failed, Some(c)),
            Exit::Signal(s) => (RunOutcome::Failed, Some(128 + s)),
            Exit::TimedOut | Exit::Stalled => (RunOutcome::Timeout, None),
            Exit::Cancelled => (RunOutcome::Cancelled, None),
            Exit::Stopped => (RunOutcome::Stopped, None),
            Exit::DiskExceeded => (RunOutcome::OverBudget, None),
        };
        let mut note = match finished.exit {
            Exit::Stalled => Some(format!(
                "stalled: no output for {}",
                format_duration(books.lab.config.task.stall_timeout.unwrap_or_default())
            )),
            Exit::DiskExceeded => Some("disk budget exceeded".to_string()),
            _ => finished.stop_reason.clone(),
        };
        let outcome = match output.tampered.reason() {
            None => outcome,
            Some(reason) => {
                note = Some(reason);
                RunOutcome::Tampered
            }
        };
        // What the stream reader saw counts only if it saw the whole output of the run that
        // produced the metrics.
        let streamed_whole = match &output.eval {
            None => finished.streamed,
            Some(Ok(ev)) => ev.streamed,
            Some(Err(_)) => false,
        };
        let streamed = stream.filter(|_| streamed_whole).map(|r| r.seen());
        // With an evaluation command, metrics come from its output only.
        let (log, outcome, code, metric_dir) = match output.eval {
            None => (train_log.clone(), outcome, code, run_dir.clone()),
            Some(Ok(ev)) => {
                let log = format!("{}{}", read_end(&ev.stdout), read_end(&ev.stderr));
                let dir = ev
                    .stdout
                    .parent()
                    .map(|p| p.to_path_buf())
                    .unwrap_or_default();
                match ev.exit {
                    Exit::Code(0) => (log, outcome, code, dir),
                    other => {
                        note = Some(format!("evaluation failed: {other:?}"));
                        (log, RunOutcome::Failed, Some(1), dir)
                    }
                }
            }
            Some(Err(e)) => {
                note = Some(format!("evaluation could not run: {e}"));
                (
                    train_log.clone(),
                    RunOutcome::Failed,
                    Some(1),
                    run_dir.clone(),
                )
            }
        };
        let mut collected = metrics::collect_with(
            &books.lab.config.metrics.sources,
            &RunOutputs {
                log: &log,
                run_dir: &metric_dir,
                worktree: &worktree,
            },
            streamed.as_ref(),
        );
        crate::mlflow::collect(
            &books.lab.config.metrics.sources,
            &run_dir,
            outcome == RunOutcome::Exited,
            &mut collected,
        );
        let config = &books.lab.config;
        drop_unusable(&mut collected, &config.metrics.score, config.step_key());
        for (name, line) in streamed.iter().flat_map(|s| &s.ignored) {
            let used = match collected.values.get(name) {
                Some(v) => format!("the value used, {v}, came from an earlier line"),
                None => "no value was read".to_string(),
            };
            collected.problems.push(format!(
                "the last line mentioning `{name}` is not a metric line and was not read: `{line}` ({used}); print `{name}: <value>`"
            ));
        }
        let mut tail = tail_lines(&train_log, TAIL_LINES);
        for p in &collected.problems {
            tail.push_str(&format!("\n[autolab: {p}]"));
        }
        if let Some(n) = &note {
            tail.push_str(&format!("\n[autolab: {n}]"));
        }
        books.ledger.finish_run(
            run,
            outcome,
            code,
            &collected.values,
            &tail,
            note.as_deref(),
        )?;
        let config = &books.lab.config;
        let mut keep: Vec<&str> = config.metrics.score.keys().map(String::as_str).collect();
        keep.extend(config.early_stop.as_ref().map(|e| e.metric.as_str()));
        let curves = crate::early_stop::curves_of_files(
            &[finished.stdout.as_path(), finished.stderr.as_path()],
            config.step_key(),
            &keep,
        );
        books.ledger.record_curves(run, &curves)?;
        self.queue.push_front(Work::Decide(row, run));
        Ok(())
    }
}

/// The last `METRIC_READ_BYTES` of a log, as text.
pub(super) fn read_end(path: &std::path::Path) -> String {
    use std::io::{Seek, SeekFrom};
    // The run dir is the run's: a log replaced by a FIFO or a link to /dev/zero is no log.
    let Ok(mut f) = autolab_core::open_plain(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > METRIC_READ_BYTES {
        let _ = f.seek(SeekFrom::Start(len - METRIC_READ_BYTES));
    }
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

pub(crate) fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Values that are not metrics of the run: a `step` key, or `[early_stop] step` (it counts, it
/// does not measure), and
/// non-finite values of metrics that are not scored (recorded as missing for that metric
/// only, with a note; a scored one stays, so the run is judged crashed for it).
fn drop_unusable(
    collected: &mut metrics::Collected,
    score: &indexmap::IndexMap<String, autolab_core::config::ScoreSpec>,
    step: &str,
) {
    let mut notes = Vec::new();
    collected.values.retain(|name, value| {
        if score.contains_key(name) {
            return true;
        }
        if name == "step" || name == step {
            return false;
        }
        if !value.is_finite() {
            notes.push(format!("metric `{name}` was {value}: recorded as missing"));
            return false;
        }
        true
    });
    collected.problems.extend(notes);
}
