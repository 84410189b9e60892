//! The supervisor's part of the loop: it follows the streak of failed verdicts, pauses the
//! campaign with a diagnosis when the streak is long (`max_consecutive_crashes`) or its last
//! failures die of the same error (`[supervisor] identical_failures`), watches the disk, and
//! sends the campaign's news through `[notify]`. At the end of a paused invocation the LLM,
//! when there is one, reads the failed runs' logs for a better diagnosis.

use autolab_core::experiment::{Experiment, Verdict};
use autolab_core::ids::ExperimentId;
use serde_json::json;

use super::{Driver, Ending, Report};
use crate::EngineError;
use crate::notify::Notifier;
use crate::supervisor::{
    DIAGNOSIS_EVENT, Diagnosis, Failure, disk_diagnosis, error_line, llm_diagnosis, rule_diagnosis,
};

/// The event recording a notification that could not be delivered.
pub(super) const NOTIFY_FAILED_EVENT: &str = "notify-failed";

/// What the supervisor holds between steps.
pub(super) struct Watch {
    pub notifier: Option<Notifier>,
    /// The experiments of the current run of failed verdicts, oldest first.
    pub streak: Vec<ExperimentId>,
    /// Why the supervisor paused this invocation, once it did.
    pub diagnosis: Option<Diagnosis>,
    /// What the supervisor says after the verdict that made it pause is shown.
    pub pending_note: Option<String>,
    /// The LLM spend when this invocation's watch began.
    pub spent_at_start: Option<f64>,
    /// Since when free slots have waited for candidates to be approved, and whether that was
    /// said.
    pub idle_since: Option<std::time::Instant>,
    pub idle_told: bool,
}

impl Watch {
    pub fn new(config: &autolab_core::config::Config, tag: &str) -> Watch {
        Watch {
            notifier: config.notify.as_ref().map(|n| {
                Notifier::start(
                    n,
                    tag,
                    autolab_runner::allowed_env(&config.runner.env_allow),
                )
            }),
            streak: Vec::new(),
            diagnosis: None,
            pending_note: None,
            spent_at_start: None,
            idle_since: None,
            idle_told: false,
        }
    }
}

/// How a failure died, to tell identical ones: its error line, or its timeout's reason.
fn failure_key(f: &Failure) -> Option<String> {
    if f.verdict == "timeout" {
        Some(format!("timeout: {}", f.reason))
    } else {
        error_line(&f.log_tail)
    }
}

/// Whether the run `run` (of experiment `row`, its log `tail`) died of the same error as the
/// last `identical_failures - 1` failed runs of the campaign before it (fix attempts
/// included): then the cause is the environment, not the code, and no fix is asked for.
pub(super) fn same_error_again(
    books: &super::books::Books<'_>,
    run: autolab_core::ids::RunId,
    tail: &str,
) -> Result<bool, EngineError> {
    let k = books.lab.config.supervisor.identical_failures as usize;
    let Some(line) = error_line(tail) else {
        return Ok(false);
    };
    if k < 2 {
        return Ok(false);
    }
    let before = books
        .ledger
        .failed_run_tails(books.campaign.id, run, k - 1)?;
    Ok(before.len() == k - 1
        && before
            .iter()
            .all(|t| error_line(t).as_deref() == Some(line.as_str())))
}

impl Driver<'_> {
    /// Follows the streak after a verdict, pausing with a diagnosis when it calls for one, and
    /// sends a new best.
    pub(super) fn supervise_verdict(&mut self, exp: &Experiment) -> Result<(), EngineError> {
        match exp.verdict {
            Some(Verdict::Crashed | Verdict::Timeout) => self.watch.streak.push(exp.row),
            Some(Verdict::Cancelled) | None => {}
            Some(_) => self.watch.streak.clear(),
        }
        if exp.verdict.is_some_and(Verdict::keeps) && exp.number > 0 {
            self.notify_new_best(exp)?;
        }
        if self.watch.diagnosis.is_some() || self.watch.streak.is_empty() {
            return Ok(());
        }
        let cfg = &self.books.lab.config;
        let k = cfg.supervisor.identical_failures as usize;
        let streak = self.watch.streak.len();
        // The identical failures are what the diagnosis is about, not older ones of the
        // streak; only they are read.
        if k > 0 && streak >= k {
            let last = self.failures(&self.watch.streak[streak - k..])?;
            let keys: Vec<Option<String>> = last.iter().map(failure_key).collect();
            if keys[0].is_some() && keys.iter().all(|l| *l == keys[0]) {
                return self.pause_with(rule_diagnosis("identical_failures", &last));
            }
        }
        if self.consecutive_crashes >= cfg.runner.max_consecutive_crashes {
            let all = self.failures(&self.watch.streak)?;
            return self.pause_with(rule_diagnosis("crash_streak", &all));
        }
        Ok(())
    }

    /// The failures of experiment rows `rows`, each with its last run's log.
    fn failures(&self, rows: &[ExperimentId]) -> Result<Vec<Failure>, EngineError> {
        let mut exps = Vec::new();
        for row in rows {
            exps.push(self.books.ledger.experiment_by_row(*row)?);
        }
        self.failures_in(exps)
    }

    /// The failures of experiments `numbers` of this campaign.
    fn failures_of(&self, numbers: &[u32]) -> Result<Vec<Failure>, EngineError> {
        let mut exps = Vec::new();
        for n in numbers {
            if let Some(e) = self.books.ledger.experiment(self.books.campaign.id, *n)? {
                exps.push(e);
            }
        }
        self.failures_in(exps)
    }

    fn failures_in(&self, exps: Vec<Experiment>) -> Result<Vec<Failure>, EngineError> {
        let mut out = Vec::new();
        for e in exps {
            let run = self.books.ledger.runs(e.row)?.pop();
            out.push(Failure {
                number: e.number,
                verdict: e.verdict.map_or("failed", |v| v.as_str()).into(),
                reason: e.reason.unwrap_or_default(),
                exit_code: run.as_ref().and_then(|r| r.exit_code),
                log_tail: run.and_then(|r| r.log_tail).unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// Records `d`, says it, sends it, and pauses the campaign (running runs finish).
    fn pause_with(&mut self, d: Diagnosis) -> Result<(), EngineError> {
        self.record_diagnosis(&d)?;
        if let Some(n) = &self.watch.notifier
            && matches!(d.trigger.as_str(), "identical_failures" | "crash_streak")
        {
            n.send(
                "crash_streak",
                format!("{} failed runs in a row: {}", d.experiments.len(), d.line()),
                serde_json::to_value(&d).unwrap_or_default(),
            );
        }
        self.watch.diagnosis = Some(d);
        self.paused = true;
        Ok(())
    }

    fn record_diagnosis(&mut self, d: &Diagnosis) -> Result<(), EngineError> {
        let books = &mut self.books;
        books.ledger.campaign_event(
            books.campaign.id,
            DIAGNOSIS_EVENT,
            &serde_json::to_value(d).unwrap_or_default(),
        )?;
        let by = if d.by == "llm" { " (LLM)" } else { "" };
        let note = format!(
            "supervisor{by}: {} — pausing; fix the cause, then `autolab run --tag {}` goes on",
            d.line(),
            books.campaign.tag
        );
        // Said after the verdict that set it off is shown.
        match &mut self.watch.pending_note {
            Some(n) => {
                n.push('\n');
                n.push_str(&note);
            }
            None => self.watch.pending_note = Some(note),
        }
        Ok(())
    }

    /// Says what the supervisor has to say (after the verdict line that set it off).
    pub(super) fn say_pending(&mut self) {
        if let Some(note) = self.watch.pending_note.take() {
            for line in note.lines() {
                self.books.observer.report(Report::Note(line.to_string()));
            }
        }
    }

    /// Every heartbeat (and once at the start): the disk, the spend's pace, idle slots, and
    /// failed deliveries recorded.
    pub(super) fn supervise_beat(&mut self) -> Result<(), EngineError> {
        self.record_undelivered()?;
        let min = self.books.lab.config.supervisor.min_free_disk_mb;
        if self.watch.diagnosis.is_none()
            && let Some(d) = disk_diagnosis(&self.books.lab.root, min)
        {
            self.pause_with(d)?;
            self.say_pending();
        }
        if self.watch.diagnosis.is_none()
            && let Some(d) = self.cost_burn()
        {
            self.pause_with(d)?;
            self.say_pending();
        }
        self.watch_idle_slots()
    }

    /// The spend's pace against `--max-hours` (with `[agent] max_usd` and `cost_burn`).
    fn cost_burn(&mut self) -> Option<Diagnosis> {
        let agent = self.agent.as_ref()?;
        let max_usd = agent.cfg.max_usd?;
        let max_hours = self.books.opts.max_hours?;
        if !self.books.lab.config.supervisor.cost_burn {
            return None;
        }
        let now = agent.caller.spent();
        let start = *self.watch.spent_at_start.get_or_insert(now);
        let elapsed = self.books.started.elapsed().as_secs_f64() / 3600.0;
        crate::supervisor::pace::cost_burn(start, now, max_usd, elapsed, max_hours)
    }

    /// Free slots while candidates wait for approval: said (and sent as `waiting`) once they
    /// have waited `[supervisor] idle_after`.
    fn watch_idle_slots(&mut self) -> Result<(), EngineError> {
        let free = self.jobs.parallel.saturating_sub(self.jobs.slots.len());
        let waiting = self.jobs.awaiting.len();
        if free == 0 || waiting == 0 || self.paused {
            self.watch.idle_since = None;
            self.watch.idle_told = false;
            return Ok(());
        }
        let since = *self
            .watch
            .idle_since
            .get_or_insert_with(std::time::Instant::now);
        let waited = since.elapsed();
        if self.watch.idle_told || waited < self.books.lab.config.supervisor.idle_after {
            return Ok(());
        }
        self.watch.idle_told = true;
        let text = crate::supervisor::pace::idle_slots(
            free,
            self.jobs.parallel,
            waiting,
            waited.as_secs_f64(),
        );
        let data = json!({"idle_slots": free, "waiting": waiting, "secs": waited.as_secs_f64()});
        self.books
            .ledger
            .campaign_event(self.books.campaign.id, "idle-slots", &data)?;
        self.books
            .observer
            .report(Report::Note(format!("supervisor: {text}")));
        if let Some(n) = &self.watch.notifier {
            n.send("waiting", text, data);
        }
        Ok(())
    }

    fn record_undelivered(&mut self) -> Result<(), EngineError> {
        let failed = self
            .watch
            .notifier
            .as_ref()
            .map(Notifier::failures)
            .unwrap_or_default();
        self.record_failed(&failed)
    }

    /// Records deliveries that failed as `notify-failed` events.
    fn record_failed(&mut self, failed: &[crate::notify::Undelivered]) -> Result<(), EngineError> {
        for f in failed {
            self.books.ledger.campaign_event(
                self.books.campaign.id,
                NOTIFY_FAILED_EVENT,
                &json!({"event": f.kind, "destination": f.destination, "why": f.why}),
            )?;
        }
        Ok(())
    }

    fn notify_new_best(&mut self, exp: &Experiment) -> Result<(), EngineError> {
        let Some(n) = &self.watch.notifier else {
            return Ok(());
        };
        let books = &self.books;
        let primary = &books.lab.config.metrics.primary;
        let value = exp.metrics.get(primary).copied();
        let baseline = books
            .ledger
            .experiment(books.campaign.id, 0)?
            .and_then(|b| b.metrics.get(primary).copied());
        let shown = |v: Option<f64>| v.map_or("?".into(), |v| format!("{v}"));
        n.send(
            "new_best",
            format!(
                "new best #{} \"{}\": {primary} {} (baseline {})",
                exp.number,
                exp.title,
                shown(value),
                shown(baseline)
            ),
            json!({
                "experiment": exp.number,
                "title": exp.title,
                "score": exp.score,
                "metric": primary,
                "value": value,
                "baseline": baseline,
            }),
        );
        Ok(())
    }

    /// The end of an invocation: the LLM's diagnosis of a pause, the last notifications, and
    /// what could not be delivered recorded.
    pub(super) fn supervise_end(&mut self, ending: Ending) -> Result<(), EngineError> {
        if ending == Ending::Paused {
            self.diagnose_with_llm()?;
        }
        if self.watch.notifier.is_none() {
            return Ok(());
        }
        let books = &self.books;
        let best = books.incumbent()?;
        let primary = &books.lab.config.metrics.primary;
        let best_text = match &best {
            Some(b) => format!(
                "best #{} {primary} {}",
                b.number,
                b.metrics
                    .get(primary)
                    .map_or("?".into(), |v| format!("{v}"))
            ),
            None => "no best yet".into(),
        };
        let count = books.ledger.next_number(books.campaign.id)?;
        let data = json!({
            "ending": format!("{ending:?}").to_lowercase(),
            "best": best.as_ref().map(|b| b.number),
            "score": best.as_ref().and_then(|b| b.score),
            "experiments": count,
            "diagnosis": self.watch.diagnosis,
        });
        if let Some(n) = &self.watch.notifier {
            match ending {
                Ending::Paused => {
                    let why = match &self.watch.diagnosis {
                        Some(d) => d.line(),
                        None if self.user_pause.is_some() => "paused by the user".into(),
                        None => "paused (out of ideas, or the LLM is unreachable)".into(),
                    };
                    n.send("paused", format!("paused: {why}"), data.clone());
                }
                Ending::Budget | Ending::Time | Ending::Spent => {
                    let which = match ending {
                        Ending::Time => "the time budget (max_hours) is reached",
                        Ending::Spent => "the LLM budget (max_usd) is spent",
                        _ => "the experiment budget is reached (or nothing is left to try)",
                    };
                    n.send("budget_reached", which, data.clone());
                }
                Ending::Stopped => {}
            }
            n.send(
                "finished",
                format!(
                    "this run ended ({}): {best_text}, {count} experiments",
                    format!("{ending:?}").to_lowercase()
                ),
                data,
            );
        }
        let undelivered = match self.watch.notifier.as_mut() {
            Some(n) => n.finish(),
            None => Vec::new(),
        };
        let given_up = undelivered
            .iter()
            .filter(|f| f.why.starts_with("given up at the end"))
            .count();
        self.record_failed(&undelivered)?;
        if given_up > 0 {
            self.books.observer.report(Report::Note(format!(
                "{given_up} notification(s) given up at the end: their destination was still busy (recorded as notify-failed events)"
            )));
        }
        Ok(())
    }

    /// The campaign stopped on an error: `finished` says so, and what is queued gets its
    /// timeout to go (failures are not recorded: the ledger may be what failed).
    pub(super) fn supervise_failed(&mut self, e: &EngineError) {
        if let Some(n) = self.watch.notifier.as_mut() {
            n.send(
                "finished",
                format!("this run stopped on an error: {e}"),
                json!({"ending": "error", "error": e.to_string()}),
            );
            n.finish();
        }
    }

    /// Asks the LLM to read the failed runs' logs, when the supervisor paused for failures.
    fn diagnose_with_llm(&mut self) -> Result<(), EngineError> {
        let Some(rules) = self.watch.diagnosis.clone() else {
            return Ok(());
        };
        let Some(agent) = self.agent.as_ref() else {
            return Ok(());
        };
        if rules.trigger == "disk_low"
            || !self.books.lab.config.supervisor.llm_diagnosis
            || agent.caller.exhausted().is_some()
        {
            return Ok(());
        }
        let failures = self.failures_of(&rules.experiments)?;
        let goal = crate::llm::context::goal_text(&self.books.lab.root, &self.books.lab.config);
        let mut log = Vec::new();
        let answer = llm_diagnosis(&agent.caller, &goal, &failures, &rules, &mut log);
        for t in &log {
            self.books
                .ledger
                .record_transcript(self.books.campaign.id, t)?;
        }
        match answer {
            Ok(d) => {
                self.record_diagnosis(&d)?;
                self.say_pending();
                self.watch.diagnosis = Some(d);
            }
            Err(why) => self.books.observer.report(Report::Note(format!(
                "supervisor: the LLM's diagnosis failed ({why}); the rules' one stands"
            ))),
        }
        Ok(())
    }
}
