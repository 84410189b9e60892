//! The playbook's lessons on the LLM path: after each verdict the LLM writes the experiment's
//! lesson (one call at a time, off the main thread, under the USD budget); when the lessons
//! outgrow the playbook's budget it compacts the older ones into a digest. Both are stored in
//! the ledger, so a restart writes only what is missing; a failed call leaves the templated
//! lesson in place.

use autolab_core::ids::ExperimentId;
use serde_json::json;

use autolab_core::experiment::{ProposerKind, State, Verdict};

use super::agent_flow::AgentRuntime;
use super::books::Books;
use super::jobs::{Jobs, SlotMsg, Work};
use crate::EngineError;
use crate::llm::context;
use crate::llm::lessons::cap;
use crate::llm::lessons::{
    DigestJob, DigestVars, LessonJob, LessonVars, Written, compact, write_lesson,
};
use crate::playbook;

/// Characters of a crash's log the lesson prompt sees.
const LESSON_LOG_CHARS: usize = 800;
/// The event recording waiting ideas a result disproved (they count as tried).
pub(super) const DROPPED_EVENT: &str = "ideas-dropped";
/// How many of the newest experiments may still get an LLM-written lesson.
const LESSON_WINDOW: u32 = 16;
/// Bullet points a digest may have.
const DIGEST_ITEMS: usize = 12;

impl AgentRuntime {
    /// Starts the next lesson (the oldest judged experiment without one) or, when none is
    /// missing, a compaction that is due. One such call runs at a time.
    pub fn launch_lessons(
        &mut self,
        books: &mut Books<'_>,
        jobs: &mut Jobs,
    ) -> Result<(), EngineError> {
        let agent = &*self;
        if !agent.cfg.llm_lessons
            || agent.lessons_in_flight > 0
            || agent.out_of_budget
            || agent
                .outage
                .is_some_and(|o| std::time::Instant::now() < o.retry_at)
            || agent.caller.exhausted().is_some()
        {
            return Ok(());
        }
        let material = books.playbook_material()?;
        // Only recent experiments get an LLM lesson: a campaign resumed from an older ledger
        // does not pay for hundreds of them at once.
        let newest = material.exps.iter().map(|e| e.number).max().unwrap_or(0);
        let missing = material.exps.iter().find(|e| {
            e.number > 0
                && e.number + LESSON_WINDOW > newest
                && e.verdict.is_some()
                && !material.stored.contains_key(&e.row)
                && !agent.lessons_failed.contains(&e.row)
        });
        if let Some(e) = missing {
            let vars = lesson_vars(books, e)?;
            let agent = &mut *self;
            let waiting: Vec<_> = agent.backlog.iter().map(|(i, _)| i).collect();
            let job = LessonJob {
                caller: agent.caller.clone(),
                templates: agent.templates.clone(),
                row: e.row,
                vars: LessonVars {
                    waiting: waiting
                        .iter()
                        .map(|i| format!("{} — {}", i.title, i.hypothesis))
                        .collect(),
                    ..vars
                },
                waiting_titles: waiting.iter().map(|i| i.title.clone()).collect(),
            };
            agent.lessons_in_flight += 1;
            let tx = jobs.tx.clone();
            std::thread::spawn(move || {
                let _ = tx.send(SlotMsg::LessonReady(Box::new(write_lesson(job))));
            });
            return Ok(());
        }
        let lessons = material.lessons();
        let budget = agent.cfg.playbook_chars as usize;
        let Some((through, old)) =
            playbook::compaction_due(&lessons, material.digest.as_ref(), budget)
        else {
            return Ok(());
        };
        if agent.digest_failed_through == Some(through) {
            return Ok(());
        }
        let job = DigestJob {
            caller: agent.caller.clone(),
            templates: agent.templates.clone(),
            through,
            vars: DigestVars {
                goal: context::goal_text(&books.lab.root, &books.lab.config),
                previous: material.digest.as_ref().map(|d| d.text.clone()),
                lessons: old,
                max_items: DIGEST_ITEMS,
                max_chars: budget / 3,
            },
        };
        self.lessons_in_flight += 1;
        let tx = jobs.tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send(SlotMsg::DigestReady(Box::new(compact(job))));
        });
        Ok(())
    }

    /// A lesson call ended: its lesson is stored (or the templated one stays), the playbook is
    /// rewritten and the next lesson starts.
    pub fn lesson_ready(
        &mut self,
        books: &mut Books<'_>,
        jobs: &mut Jobs,
        w: Written,
    ) -> Result<(), EngineError> {
        let row = ExperimentId(w.key);
        for mut t in w.transcripts {
            t.experiment = Some(row);
            books.ledger.record_transcript(books.campaign.id, &t)?;
        }
        if !w.drop.is_empty() {
            self.drop_disproven(books, jobs, row, &w.drop)?;
        }
        let answered = w.transcripts_answered;
        match &w.text {
            Ok(text) => books.ledger.set_lesson(row, text, true)?,
            Err(why) if w.unavailable => {
                // Written once the LLM is back.
                self.lessons_in_flight = self.lessons_in_flight.saturating_sub(1);
                self.llm_unavailable(books, why);
                return Ok(());
            }
            Err(why) => {
                tracing::warn!("the lesson of experiment row {row} was not written: {why}");
                books.ledger.campaign_event(
                    books.campaign.id,
                    "lesson-failed",
                    &json!({"experiment": row, "why": why}),
                )?;
            }
        }
        if answered {
            self.llm_back(books, jobs)?;
        }
        self.written(
            books,
            jobs,
            w.out_of_budget,
            w.text.is_err().then_some(row),
            None,
        )
    }

    /// Drops the waiting ideas that experiment `row`'s result disproved, as its lesson said, and
    /// discards their experiments that have not started running (an implementation in flight
    /// is discarded when it returns).
    fn drop_disproven(
        &mut self,
        books: &mut Books<'_>,
        jobs: &mut Jobs,
        row: ExperimentId,
        titles: &[String],
    ) -> Result<(), EngineError> {
        let number = books.ledger.experiment_by_row(row)?.number;
        let reason = format!("disproven by #{number:04} before it ran");
        let (dropped, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.backlog)
            .into_iter()
            .partition(|(i, _)| titles.contains(&i.title));
        self.backlog = kept.into();
        let mut cancelled = Vec::new();
        for e in books.ledger.experiments(books.campaign.id)? {
            if !titles.contains(&e.title)
                || e.proposer != ProposerKind::Llm
                || jobs.slots.contains_key(&e.row)
            {
                continue;
            }
            if books.ledger.run_count(e.row)? > 0 {
                continue; // it ran (and is being fixed): its own result decides
            }
            // After a restart an experiment left implementing waits in the queue, no coder at
            // work on it.
            let idle =
                e.state == State::Implementing && jobs.queue.contains(&Work::Implement(e.row));
            match e.state {
                State::Queued | State::Proposed | State::Implementing
                    if e.state != State::Implementing || idle =>
                {
                    // Waiting in the queue, or for the LLM to come back.
                    jobs.queue
                        .retain(|w| *w != Work::Run(e.row) && *w != Work::Implement(e.row));
                    self.deferred.retain(|(r, _)| *r != e.row);
                    books.verdict_without_run(e.row, Verdict::Discarded, &reason, None)?;
                    cancelled.push(e.number);
                }
                State::Implementing => {
                    // The coder is at work: discarded when it returns.
                    self.disproven.insert(e.row, reason.clone());
                    cancelled.push(e.number);
                }
                _ => {}
            }
        }
        if dropped.is_empty() && cancelled.is_empty() {
            return Ok(());
        }
        let ideas: Vec<_> = dropped
            .iter()
            .map(|(i, _)| json!({"title": i.title, "hypothesis": i.hypothesis}))
            .collect();
        books.ledger.campaign_event(
            books.campaign.id,
            DROPPED_EVENT,
            &json!({"by": number, "ideas": ideas, "cancelled": cancelled}),
        )?;
        books.observer.report(super::Report::Note(format!(
            "#{number:04} disproved waiting idea(s), not tried: {}",
            titles.join("; ")
        )));
        Ok(())
    }

    /// A compaction call ended: its digest is stored (or old lessons keep being dropped).
    pub fn digest_ready(
        &mut self,
        books: &mut Books<'_>,
        jobs: &mut Jobs,
        w: Written,
    ) -> Result<(), EngineError> {
        let through = w.key as u32;
        for t in &w.transcripts {
            books.ledger.record_transcript(books.campaign.id, t)?;
        }
        if w.transcripts_answered {
            self.llm_back(books, jobs)?;
        }
        match &w.text {
            Ok(text) => books.ledger.add_digest(books.campaign.id, through, text)?,
            Err(why) if w.unavailable => {
                self.lessons_in_flight = self.lessons_in_flight.saturating_sub(1);
                self.llm_unavailable(books, why);
                return Ok(());
            }
            Err(why) => books.ledger.campaign_event(
                books.campaign.id,
                "compaction-failed",
                &json!({"through": through, "why": why}),
            )?,
        }
        self.written(
            books,
            jobs,
            w.out_of_budget,
            None,
            w.text.is_err().then_some(through),
        )
    }

    fn written(
        &mut self,
        books: &mut Books<'_>,
        jobs: &mut Jobs,
        out_of_budget: bool,
        failed_lesson: Option<ExperimentId>,
        failed_digest: Option<u32>,
    ) -> Result<(), EngineError> {
        self.lessons_in_flight = self.lessons_in_flight.saturating_sub(1);
        self.lessons_failed.extend(failed_lesson);
        if failed_digest.is_some() {
            self.digest_failed_through = failed_digest;
        }
        if out_of_budget {
            self.budget_spent(books);
        }
        books.write_playbook(self)?;
        self.launch_lessons(books, jobs)
    }
}

/// What the lesson prompt is told about experiment `e`.
fn lesson_vars(
    books: &Books<'_>,
    e: &autolab_core::experiment::Experiment,
) -> Result<LessonVars, EngineError> {
    let config = &books.lab.config;
    let primary = &config.metrics.primary;
    let (idea, expert) = books.ledger.idea(e.row)?;
    let best = books
        .incumbent()?
        .and_then(|i| i.metrics.get(primary).copied())
        .map_or_else(|| "none".to_string(), |v| format!("{v}"));
    let crashed = matches!(
        e.verdict,
        Some(
            autolab_core::experiment::Verdict::Crashed | autolab_core::experiment::Verdict::Timeout
        )
    );
    let log_tail = if crashed {
        books
            .ledger
            .runs(e.row)?
            .last()
            .and_then(|r| r.log_tail.clone())
            .map(|t| {
                let start = t.len().saturating_sub(LESSON_LOG_CHARS);
                let start = (start..t.len())
                    .find(|i| t.is_char_boundary(*i))
                    .unwrap_or(t.len());
                t[start..].to_string()
            })
    } else {
        None
    };
    Ok(LessonVars {
        goal: cap(&context::goal_text(&books.lab.root, config), 2000),
        number: e.number,
        title: e.title.clone(),
        expert,
        hypothesis: idea
            .as_ref()
            .and_then(|v| v["hypothesis"].as_str().map(str::to_string)),
        verdict: e
            .verdict
            .map(|v| v.as_str().to_string())
            .unwrap_or_default(),
        reason: e.reason.clone(),
        metric: primary.clone(),
        value: e
            .metrics
            .get(primary)
            .map_or_else(|| "not reported".to_string(), |v| format!("{v}")),
        best,
        stats: e.stats.as_ref().map(|s| s.to_string()),
        diff: e
            .commit
            .as_ref()
            .filter(|c| **c != e.parent)
            .and_then(|c| books.lab.repo.diff(&e.parent, c).ok())
            .map(|d| context::short_diff(&d)),
        log_tail,
        waiting: Vec::new(),
    })
}
