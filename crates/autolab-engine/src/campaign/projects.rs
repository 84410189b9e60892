//! Projects mode's part of the loop (`[task] mode = "projects"`): after each verdict of a
//! project's run, its outputs are copied into the project's directory and the planner is
//! asked for the notes and the next run (a job); its next run starts from this run's commit
//! (the last one that scored, after a failure), never from the incumbent. When the planner
//! says done, the runs are used up or the budget ends, the project is written (plots, paper,
//! review: a job) and its review score joins the archive the next ideation reads.

use std::collections::HashSet;
use std::sync::Arc;

use autolab_core::experiment::Verdict;
use autolab_core::ids::ExperimentId;
use autolab_core::ledger::{ProjectStatus, Writeup};
use serde_json::json;

use super::Report;
use super::agent_flow::AgentRuntime;
use super::books::Books;
use super::jobs::{Jobs, SlotMsg};
use crate::EngineError;
use crate::agent::ideas::Idea;
use crate::project::{RunSummary, facts, layout, plan, write};

pub(super) struct ProjectRuntime {
    pub cfg: autolab_core::config::Projects,
    /// Projects whose planner or writer job is out.
    pub busy: HashSet<i64>,
}

impl ProjectRuntime {
    /// After a restart (and whenever the loop has nothing in flight): a project whose runs are
    /// all judged asks its planner again; one that was being written is written again. (A run
    /// still open is resumed by reconciliation, and its verdict brings its project on.) So no
    /// project is left open with nothing to move it.
    pub fn resume(
        &mut self,
        books: &mut Books<'_>,
        jobs: &mut Jobs,
        agent: &mut AgentRuntime,
    ) -> Result<(), EngineError> {
        // While the LLM is out, nothing is asked before its next try.
        if agent
            .outage
            .is_some_and(|o| std::time::Instant::now() < o.retry_at)
        {
            return Ok(());
        }
        for p in books.ledger.projects().list(books.campaign.id)? {
            if self.busy.contains(&p.id) {
                continue;
            }
            match p.status {
                ProjectStatus::Writing => self.finish(books, jobs, agent, p.id)?,
                ProjectStatus::Running => {
                    let runs = books.ledger.projects().runs(p.id)?;
                    let mut open = false;
                    for (row, _) in &runs {
                        open |= !books.ledger.experiment_by_row(*row)?.state.is_final();
                    }
                    match runs.last() {
                        Some((row, _)) if !open => {
                            self.after_verdict(books, jobs, agent, *row, false)?
                        }
                        None => books
                            .ledger
                            .projects()
                            .set_status(p.id, ProjectStatus::Failed)?,
                        _ => {}
                    }
                }
                ProjectStatus::Done | ProjectStatus::Failed => {}
            }
        }
        Ok(())
    }

    /// The runs of project `id` so far as the planner sees them, and its baseline (run 0).
    fn summaries(
        books: &Books<'_>,
        id: i64,
    ) -> Result<(Option<RunSummary>, Vec<RunSummary>), EngineError> {
        let summary = |e: &autolab_core::experiment::Experiment, index: u32| RunSummary {
            index,
            experiment: e.number,
            title: e.title.clone(),
            verdict: e
                .verdict
                .map(|v| v.as_str().to_string())
                .unwrap_or_else(|| e.state.as_str().to_string()),
            score: e.score,
            metrics: serde_json::to_value(&e.metrics).unwrap_or_default(),
            reason: e.reason.clone(),
            lines: (e.lines_added, e.lines_removed),
        };
        let baseline = books
            .ledger
            .experiment(books.campaign.id, 0)?
            .map(|b| summary(&b, 0));
        let mut runs = Vec::new();
        for (row, index) in books.ledger.projects().runs(id)? {
            let e = books.ledger.experiment_by_row(row)?;
            if e.state.is_final() {
                runs.push(summary(&e, index));
            }
        }
        Ok((baseline, runs))
    }

    fn project_dir(books: &Books<'_>, p: &autolab_core::ledger::Project) -> std::path::PathBuf {
        let title = p.idea["title"].as_str().unwrap_or("idea");
        layout::dir(
            &books.lab.paths().state_dir(),
            &books.campaign.tag,
            p.number,
            title,
        )
    }

    /// Copies experiment `number`'s last run directory to `<project>/run_<index>`.
    fn copy_run(
        books: &mut Books<'_>,
        row: ExperimentId,
        dir: &std::path::Path,
        index: u32,
    ) -> Result<(), EngineError> {
        if let Some(run) = books.ledger.runs(row)?.last() {
            let from = std::path::Path::new(&run.run_dir);
            if from.is_dir()
                && let Err(e) = layout::copy_run(from, &dir.join(format!("run_{index}")))
            {
                books.observer.report(Report::Note(format!(
                    "could not copy {} into the project: {e}",
                    from.display()
                )));
            }
        }
        Ok(())
    }

    /// A project's run got its verdict: its outputs join the project, the planner is asked.
    pub fn after_verdict(
        &mut self,
        books: &mut Books<'_>,
        jobs: &mut Jobs,
        agent: &mut AgentRuntime,
        row: ExperimentId,
        held: bool,
    ) -> Result<(), EngineError> {
        let Some((id, index)) = books.ledger.projects().of_experiment(row)? else {
            return Ok(());
        };
        let Some(project) = books.ledger.projects().get(id)? else {
            return Ok(());
        };
        if project.status != ProjectStatus::Running || self.busy.contains(&id) {
            return Ok(());
        }
        let dir = Self::project_dir(books, &project);
        books
            .ledger
            .projects()
            .set_dir(id, &dir.display().to_string())?;
        if !dir.join("run_0").exists() {
            let base = books.ledger.experiment(books.campaign.id, 0)?;
            if let Some(b) = base {
                Self::copy_run(books, b.row, &dir, 0)?;
            }
        }
        Self::copy_run(books, row, &dir, index)?;
        if held {
            // Paused: no LLM call now; the idle loop asks the planner once it resumes.
            return Ok(());
        }
        let exp = books.ledger.experiment_by_row(row)?;
        if exp.verdict == Some(Verdict::Cancelled) {
            return self.finish(books, jobs, agent, id);
        }
        let idea: Idea = serde_json::from_value(project.idea.clone()).map_err(|e| {
            EngineError::usage(
                format!("project {} has an unreadable idea: {e}", project.number),
                None,
            )
        })?;
        let (baseline, runs) = Self::summaries(books, id)?;
        let job = plan::PlanJob {
            caller: agent.caller.clone(),
            project: id,
            idea,
            baseline,
            runs,
            runs_per_idea: self.cfg.runs_per_idea,
            command: books.lab.config.task.command.clone(),
        };
        self.busy.insert(id);
        agent.prep_in_flight += 1;
        let tx = jobs.tx.clone();
        let run = index;
        std::thread::spawn(move || {
            // A panic still answers the loop, which would otherwise wait for it forever.
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| plan::plan(job)))
                .unwrap_or_else(|_| {
                    plan::PlanOutcome::failed(id, run, "the planner thread panicked")
                });
            let _ = tx.send(SlotMsg::PlanReady(Box::new(out)));
        });
        Ok(())
    }

    /// The planner answered: the notes are kept; the next run starts, or the project ends.
    pub fn plan_ready(
        &mut self,
        books: &mut Books<'_>,
        jobs: &mut Jobs,
        agent: &mut AgentRuntime,
        out: plan::PlanOutcome,
    ) -> Result<(), EngineError> {
        agent.prep_in_flight = agent.prep_in_flight.saturating_sub(1);
        self.busy.remove(&out.project);
        for t in &out.transcripts {
            books.ledger.record_transcript(books.campaign.id, t)?;
        }
        let id = out.project;
        let Some(project) = books.ledger.projects().get(id)? else {
            return Ok(());
        };
        if let Some(why) = out.unavailable.as_deref() {
            // Not the project's end: it waits for the LLM, and the idle loop asks again.
            agent.llm_unavailable(books, why);
            return Ok(());
        }
        if out.transcripts.iter().any(|t| t.reply.is_some()) {
            agent.llm_back(books, jobs)?;
        }
        let notes = if out.notes.is_empty() {
            format!(
                "## Run {}\n(no notes: {})\n\n",
                out.run,
                out.error.clone().unwrap_or_default()
            )
        } else {
            format!("## Run {}\n{}\n\n", out.run, out.notes)
        };
        // Asked again after a restart: the run's notes are written once.
        let all_notes = if project.notes.contains(&format!("## Run {}\n", out.run)) {
            project.notes.clone()
        } else {
            books.ledger.projects().add_notes(id, &notes)?;
            format!("{}{notes}", project.notes)
        };
        let dir = Self::project_dir(books, &project);
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("notes.txt"), all_notes);
        if out.out_of_budget {
            agent.out_of_budget = true;
        }
        let next = books.ledger.next_number(books.campaign.id)?;
        let under = books.under_budget()? && !agent.out_of_budget;
        match out.next {
            Some(idea) if under => {
                // From the last run that scored (a failed run's change is not built on).
                let runs = books.ledger.projects().runs(id)?;
                let mut parent = project.base.clone();
                for (row, _) in &runs {
                    let e = books.ledger.experiment_by_row(*row)?;
                    if e.score.is_some()
                        && matches!(
                            e.verdict,
                            Some(Verdict::Kept | Verdict::Simplified | Verdict::Discarded)
                        )
                    {
                        parent = e.commit.clone().unwrap_or(parent);
                    }
                }
                let campaign = books.campaign.id;
                let expert = project.expert.clone();
                let row = books.ledger.atomically(|l| {
                    let row = l.propose(campaign, next, &parent, "llm", &idea.title, None)?;
                    l.set_idea(
                        row,
                        &serde_json::to_value(&idea).unwrap_or_default(),
                        expert.as_deref(),
                    )?;
                    l.projects().add_run(id, row, out.run + 1)?;
                    Ok(row)
                })?;
                books.observer.report(Report::Note(format!(
                    "project {} \"{}\": run {} is {}",
                    project.number,
                    project.idea["title"].as_str().unwrap_or(""),
                    out.run + 1,
                    idea.title
                )));
                agent.implement_async(books, jobs, row, None)
            }
            _ => {
                if let Some(e) = &out.error {
                    books.observer.report(Report::Note(format!(
                        "project {}: the planner failed ({e}); the project ends with its {} run(s)",
                        project.number, out.run
                    )));
                }
                self.finish(books, jobs, agent, id)
            }
        }
    }

    /// Ends project `id`: its directory in AI-Scientist's layout, then plots, paper, review.
    pub fn finish(
        &mut self,
        books: &mut Books<'_>,
        jobs: &mut Jobs,
        agent: &mut AgentRuntime,
        id: i64,
    ) -> Result<(), EngineError> {
        let Some(project) = books.ledger.projects().get(id)? else {
            return Ok(());
        };
        books
            .ledger
            .projects()
            .set_status(id, ProjectStatus::Writing)?;
        let dir = Self::project_dir(books, &project);
        let (baseline, runs) = Self::summaries(books, id)?;
        // The code of the project's last run that scored (else its base).
        let mut code = project.base.clone();
        let mut changes = Vec::new();
        for (row, _) in books.ledger.projects().runs(id)? {
            let e = books.ledger.experiment_by_row(row)?;
            if e.score.is_some()
                && let Some(c) = &e.commit
            {
                code = c.clone();
                changes.push(crate::writeup::paper::Change {
                    id: e.number,
                    title: e.title.clone(),
                    hypothesis: project.idea["hypothesis"].as_str().map(str::to_string),
                    diff: books.lab.repo.diff(&e.parent, c).unwrap_or_default(),
                });
            }
        }
        if let Err(why) = layout::checkout_code(&books.lab.root, &code, &dir) {
            books
                .observer
                .report(Report::Note(format!("project {}: {why}", project.number)));
        }
        // The runs' outputs over whatever the code carries under the same names (a template's
        // own `run_0`): they are what the plots and the paper read.
        if let Some(b) = books.ledger.experiment(books.campaign.id, 0)? {
            Self::copy_run(books, b.row, &dir, 0)?;
        }
        for (row, index) in books.ledger.projects().runs(id)? {
            Self::copy_run(books, row, &dir, index)?;
        }
        // The code may carry links (`review.txt -> ~/.bashrc`): none survive into the write-up.
        layout::clear_links(&dir);
        let plot = self.cfg.plot.as_ref().map(|cmd| {
            let spec = jobs.plot_spec(books, &dir, cmd);
            (Arc::clone(&jobs.runner), spec)
        });
        let config = &books.lab.config;
        let title = project.idea["title"].as_str().unwrap_or("idea").to_string();
        let job = write::WriteJob {
            caller: agent.caller.clone(),
            project: id,
            dir: dir.clone(),
            plot,
            report: facts::report(
                &config.metrics.primary,
                config.score_goal(),
                baseline.as_ref(),
                &runs,
            ),
            goal: format!(
                "{}\n\nThe idea studied: {}\n{}",
                crate::llm::context::goal_text(&books.lab.root, config),
                title,
                project.idea["plan"].as_str().unwrap_or("")
            ),
            changes,
            notes: project.notes.clone(),
            settings: config.writeup.clone(),
            // A project without a run that scored has nothing to write about.
            paper: self.cfg.paper && runs.iter().any(|r| r.score.is_some()),
            review: self.cfg.review && runs.iter().any(|r| r.score.is_some()),
            literature: crate::literature::from_config(&config.writeup, None),
            pdf_name: format!("{}.pdf", layout::name(&title)),
        };
        self.busy.insert(id);
        agent.prep_in_flight += 1;
        books.observer.report(Report::Note(format!(
            "project {} \"{title}\": {} run(s) done; writing it up in {}",
            project.number,
            runs.len(),
            dir.display()
        )));
        let tx = jobs.tx.clone();
        std::thread::spawn(move || {
            let w = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write::write(job)))
                .unwrap_or_else(|_| write::Written::failed(id, "the write-up thread panicked"));
            let _ = tx.send(SlotMsg::ProjectWritten(Box::new(w)));
        });
        Ok(())
    }

    /// The project's write-up is done: paper and review join the ledger and the archive.
    pub fn written(
        &mut self,
        books: &mut Books<'_>,
        agent: &mut AgentRuntime,
        w: write::Written,
    ) -> Result<(), EngineError> {
        agent.prep_in_flight = agent.prep_in_flight.saturating_sub(1);
        self.busy.remove(&w.project);
        for t in &w.transcripts {
            books.ledger.record_transcript(books.campaign.id, t)?;
        }
        let Some(project) = books.ledger.projects().get(w.project)? else {
            return Ok(());
        };
        let pdf = w.pdf.as_ref().map(|p| p.display().to_string());
        if pdf.is_some() {
            books.ledger.writeups().record(
                books.campaign.id,
                &Writeup {
                    kind: "paper".into(),
                    path: pdf.clone(),
                    model: Some(agent.caller.model.clone()),
                    body: json!({"status": "compiled", "project": project.number, "attempts": w.paper_attempts, "notes": w.notes}),
                    ..Writeup::default()
                },
            )?;
        }
        let row = |kind: &str, r: &crate::writeup::review::Review| Writeup {
            kind: kind.into(),
            path: pdf.clone(),
            model: Some(agent.caller.model.clone()),
            temperature: r.temperature.map(f64::from),
            prompt_hash: Some(r.prompt_hash.clone()),
            body: r.form.clone(),
            ..Writeup::default()
        };
        for r in &w.reviews {
            books
                .ledger
                .writeups()
                .record(books.campaign.id, &row("review", r))?;
        }
        if let Some(m) = &w.meta {
            books
                .ledger
                .writeups()
                .record(books.campaign.id, &row("meta-review", m))?;
        }
        books.ledger.projects().set_written(
            w.project,
            pdf.as_deref(),
            w.review().map(|r| &r.form),
            w.score(),
        )?;
        let (_, runs) = Self::summaries(books, w.project)?;
        let status = if runs.iter().any(|r| r.score.is_some()) {
            ProjectStatus::Done
        } else {
            ProjectStatus::Failed
        };
        books.ledger.projects().set_status(w.project, status)?;
        books.ledger.campaign_event(
            books.campaign.id,
            "project-done",
            &json!({"project": project.number, "status": status, "pdf": pdf, "score": w.score(), "notes": w.notes}),
        )?;
        books.observer.report(Report::Note(format!(
            "project {} \"{}\" {}: {}{}",
            project.number,
            project.idea["title"].as_str().unwrap_or(""),
            status.as_str(),
            pdf.as_deref().unwrap_or("no paper"),
            w.score()
                .map(|s| format!(", review {s}/10"))
                .unwrap_or_default()
        )));
        for n in &w.notes {
            books
                .observer
                .report(Report::Note(format!("project {}: {n}", project.number)));
        }
        Ok(())
    }
}
