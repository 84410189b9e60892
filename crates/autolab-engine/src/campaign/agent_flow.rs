//! The LLM-driven path of a campaign: ideation and implementation run as jobs off the main
//! thread and overlap with running experiments (look-ahead bounded by the slots); crashed runs
//! go back to the coder with their log tail (`coding.rs`); lessons are written after each
//! verdict (`lessons.rs`); every call is recorded and budgeted, outages are waited out.
//! About 500 lines: the runtime's state and construction and the ideation that fills its
//! backlog stay together; coding and lessons are apart.

use autolab_core::ids::{CampaignId, ExperimentId};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use autolab_core::config::{Agent, CoderKind};
use autolab_core::ledger::{Ledger, Transcript};
use serde_json::json;

use super::Report;
use super::books::Books;
use super::jobs::{Jobs, SlotMsg};
use super::outage::{Outage, OutageStep};
use crate::EngineError;
use crate::agent::bandit::{ExpertRecord, pick_expert};
use crate::agent::experts::{Expert, default_experts, parse_experts};
use crate::agent::ideas::{Idea, seed_ideas_from_ai_scientist};
use crate::lab::Lab;
use crate::llm::coder::CoderSpec;
use crate::llm::context::Phase;
use crate::llm::prompts::Templates;
use crate::llm::strategist::{IdeaJob, IdeaOutcome, ideate};
use crate::llm::{CallError, Caller};
use crate::proposer::Rng;

/// Consecutive failed ideations that pause the campaign.
const MAX_FAILED_IDEATIONS: u32 = 5;
/// The expert of bold long shots, drawn less often in the refine phase …
const HIGH_RISK_EXPERT: &str = "high-risk";
/// … by this factor on its weight.
const REFINE_HIGH_RISK_WEIGHT: f64 = 0.25;

/// Everything the LLM path needs, built once per campaign.
pub struct AgentRuntime {
    pub cfg: Agent,
    pub caller: Caller,
    pub templates: Arc<Templates>,
    pub experts: Vec<Expert>,
    pub coder: Arc<CoderSpec>,
    pub rng: Rng,
    /// Ideas to try first (`seed_ideas.json`, `[agent].seed_ideas`), then the strategist's.
    pub backlog: VecDeque<(Idea, String)>,
    pub ideas_in_flight: u32,
    pub prep_in_flight: u32,
    pub failed_ideations: u32,
    /// Ideation failed too often in a row: no more ideas are asked for; what is queued or
    /// being coded still runs, then the campaign pauses.
    pub ideas_exhausted: bool,
    pub fix_attempts: std::collections::HashMap<ExperimentId, u32>,
    pub out_of_budget: bool,
    /// Strategist transcripts waiting for the experiment their idea becomes.
    pub pending_transcripts: Vec<Transcript>,
    /// Lesson or compaction calls running (at most one).
    pub lessons_in_flight: u32,
    /// Experiments whose lesson call failed in this invocation (their lesson stays templated).
    pub lessons_failed: std::collections::HashSet<ExperimentId>,
    /// The compaction that failed last, not retried until more lessons come.
    pub digest_failed_through: Option<u32>,
    /// Experiments being implemented that a finished one disproved: discarded on return.
    pub disproven: std::collections::HashMap<ExperimentId, String>,
    /// While the LLM cannot be reached: since when, and when to try again.
    pub outage: Option<Outage>,
    /// The novelty check of new ideas (`[agent] novelty`).
    pub novelty: Option<crate::agent::novelty::NoveltyCheck>,
    /// Implementations (true: fixes) that waited for the LLM to come back.
    pub deferred: VecDeque<(ExperimentId, bool)>,
    /// Experiments whose code a coder is writing now (in their worktree).
    pub coding: std::collections::HashSet<ExperimentId>,
    /// The LLM has been out for longer than `max_outage`: the loop pauses the campaign.
    pub pause_asked: bool,
    /// Crashes judged while the campaign was paused, whose fix starts (and counts) once it
    /// goes on: experiment, the crash's reason, its log tail.
    pub pending_fixes: VecDeque<(ExperimentId, String, String)>,
}

impl AgentRuntime {
    /// Builds the runtime: the client (the API key is read from its env var now), experts,
    /// prompts, coder and seed ideas.
    pub fn new(
        lab: &Lab,
        cfg: &Agent,
        ledger: &Ledger,
        campaign: CampaignId,
        seed: u64,
    ) -> Result<AgentRuntime, EngineError> {
        let client = autolab_llm::client(&crate::llm::provider_config(cfg)).map_err(|e| {
            EngineError::usage(
                format!("[agent]: {e}"),
                Some("export the API key in the variable named by [agent].api_key_env (it is never stored), or point base_url at a local server"),
            )
        })?;
        let client: Arc<dyn autolab_llm::LlmClient> = Arc::from(client);
        let caller = Caller::new(
            client,
            &cfg.model,
            cfg.max_tokens,
            cfg.temperature,
            ledger.spent_usd(campaign)?,
            cfg.max_usd,
        );
        let experts_path = cfg
            .experts_file
            .clone()
            .map(|f| lab.root.join(f))
            .or_else(|| {
                let p = lab.root.join("experts.md");
                p.is_file().then_some(p)
            });
        let experts = match experts_path {
            Some(p) => {
                let text = std::fs::read_to_string(&p).map_err(|e| EngineError::io(&p, e))?;
                parse_experts(&text).map_err(|e| {
                    EngineError::usage(
                        format!("{}: {e}", p.display()),
                        Some("experts.md has `## name` sections, each followed by the persona"),
                    )
                })?
            }
            None => default_experts(),
        };
        let templates = Templates::load(
            cfg.prompts_dir
                .as_ref()
                .map(|d| lab.root.join(d))
                .as_deref(),
        )
        .map_err(|e| EngineError::usage(e, Some("fix the template in [agent].prompts_dir")))?;
        let templates = Arc::new(templates);
        let coder = match &cfg.coder {
            CoderKind::Builtin => CoderSpec::Builtin {
                caller: caller.clone(),
                templates: templates.clone(),
                attempts: cfg.edit_attempts,
            },
            CoderKind::Command(t) => CoderSpec::Command {
                template: t.clone(),
                timeout: cfg.coder_timeout,
                scratch: lab.state_dir().join("coder"),
            },
        };
        let mut backlog = VecDeque::new();
        if let Ok(text) = std::fs::read_to_string(lab.root.join("seed_ideas.json")) {
            match seed_ideas_from_ai_scientist(&text) {
                Ok(ideas) => backlog.extend(ideas.into_iter().map(|i| (i, "seed".to_string()))),
                Err(e) => tracing::warn!("seed_ideas.json ignored: {e}"),
            }
        }
        // Projects mode may start from ideas generated earlier (AI-Scientist's `ideas.json`
        // with `--skip-idea-generation`): `[projects] ideas_file`.
        if let Some(file) = lab
            .config
            .projects
            .as_ref()
            .and_then(|p| p.ideas_file.as_ref())
            && let Ok(text) = std::fs::read_to_string(lab.root.join(file))
        {
            match seed_ideas_from_ai_scientist(&text) {
                Ok(ideas) => {
                    for i in ideas {
                        if !backlog
                            .iter()
                            .any(|(b, _): &(Idea, String)| b.title == i.title)
                        {
                            backlog.push_back((i, file.clone()));
                        }
                    }
                }
                Err(e) => tracing::warn!("{file} ignored: {e}"),
            }
        }
        for s in &cfg.seed_ideas {
            backlog.push_back((
                Idea {
                    title: s.clone(),
                    hypothesis: s.clone(),
                    plan: s.clone(),
                    files: vec![],
                    expected_effect: String::new(),
                    risk: String::new(),
                    novelty: None,
                },
                "seed".to_string(),
            ));
        }
        // Seed ideas already tried (in an earlier run of this campaign) are not tried again.
        let mut tried: Vec<String> = ledger
            .experiments(campaign)?
            .into_iter()
            .map(|e| e.title)
            .collect();
        // A project's idea is tried once it is a project (its runs carry other titles).
        tried.extend(
            ledger
                .projects()
                .list(campaign)?
                .into_iter()
                .filter_map(|p| p.idea["title"].as_str().map(str::to_string)),
        );
        backlog.retain(|(i, _)| !tried.contains(&i.title));
        let novelty = cfg
            .novelty
            .as_deref()
            .map(|first| crate::agent::novelty::NoveltyCheck {
                literature: Arc::new(crate::literature::from_config(
                    &lab.config.writeup,
                    Some(first),
                )),
                cache: crate::literature::SharedCache::default(),
                queries: cfg.novelty_queries,
            });
        Ok(AgentRuntime {
            novelty,
            cfg: cfg.clone(),
            caller,
            templates,
            experts,
            coder: Arc::new(coder),
            rng: Rng::for_stream(seed, 0xA6E1),
            backlog,
            ideas_in_flight: 0,
            prep_in_flight: 0,
            failed_ideations: 0,
            ideas_exhausted: false,
            fix_attempts: Default::default(),
            out_of_budget: false,
            pending_transcripts: Vec::new(),
            lessons_in_flight: 0,
            lessons_failed: Default::default(),
            digest_failed_through: None,
            disproven: Default::default(),
            outage: None,
            deferred: VecDeque::new(),
            coding: std::collections::HashSet::new(),
            pause_asked: false,
            pending_fixes: VecDeque::new(),
        })
    }
}

impl AgentRuntime {
    /// Starts ideation and implementation jobs while the look-ahead allows.
    pub fn launch_prep(
        &mut self,
        books: &mut Books<'_>,
        jobs: &mut Jobs,
        paused: bool,
    ) -> Result<(), EngineError> {
        // Ideas and code for the first candidates are prepared while the baseline runs.
        if books.ledger.next_number(books.campaign.id)? == 0 {
            return Ok(());
        }
        loop {
            let ready = jobs.ready() as u32;
            if self.out_of_budget || paused {
                return Ok(());
            }
            // While the LLM is unreachable, nothing goes out before the next try, and then a
            // single call probes it.
            if let Some(o) = self.outage
                && (Instant::now() < o.retry_at || self.prep_in_flight > 0)
            {
                return Ok(());
            }
            if let Some(e) = self.caller.exhausted() {
                self.out_of_budget(books, e);
                return Ok(());
            }
            let next = books.ledger.next_number(books.campaign.id)?;
            let max = books.opts.max_experiments.unwrap_or(u32::MAX);
            let coding = self.prep_in_flight - self.ideas_in_flight;
            let slots = jobs.parallel as u32;
            // Look-ahead: implement at most one candidate per slot ahead of the runs. Serial
            // (for comparison) works only when nothing else is in the pipeline.
            let (may_code, may_ideate) = if books.opts.serial_agent {
                let idle = self.prep_in_flight + ready + jobs.slots.len() as u32 == 0;
                (idle, idle)
            } else {
                let backlog = self.backlog.len() as u32;
                let coming = self.ideas_in_flight * self.cfg.ideas_per_call;
                // Ideation runs ahead on its own, keeping a reserve of ideas for two rounds of
                // slots, with as many calls at once as one round needs.
                let per_call = self.cfg.ideas_per_call.max(1);
                let calls_at_once = slots.div_ceil(per_call);
                (
                    coding + ready < slots,
                    self.ideas_in_flight < calls_at_once && backlog + coming < 2 * slots,
                )
            };
            if may_code && let Some((row, reason, tail)) = self.pending_fixes.pop_front() {
                if !self.try_fix(books, jobs, row, &reason, &tail, true)? {
                    // No fix after all (the budget was spent meanwhile): the crash stands.
                    let metrics = books.ledger.runs(row)?.last().map(|r| r.metrics.clone());
                    let ch = autolab_core::ledger::Changes {
                        metrics,
                        ..Default::default()
                    };
                    books.conclude(
                        row,
                        autolab_core::experiment::Verdict::Crashed,
                        &reason,
                        json!({}),
                        ch,
                    )?;
                }
                continue;
            }
            if may_code && let Some((row, fixing)) = self.deferred.pop_front() {
                let fix = if fixing {
                    Some(self.fix_for(books, row)?)
                } else {
                    None
                };
                self.implement_async(books, jobs, row, fix)?;
                continue;
            }
            let has_backlog = !self.backlog.is_empty();
            let wanted = u64::from(next)
                + self.backlog.len() as u64
                + u64::from(self.ideas_in_flight * self.cfg.ideas_per_call);
            // Projects mode: a new project (and the ideation for it) waits for a free slot
            // among the projects, so each ideation reads every finished project's review.
            let (may_code, may_ideate) = if let Some(cfg) = &books.lab.config.projects {
                let all = books.ledger.projects().list(books.campaign.id)?;
                let room = cfg.max_ideas.is_none_or(|m| (all.len() as u32) < m);
                let open = all
                    .iter()
                    .filter(|p| {
                        matches!(
                            p.status,
                            autolab_core::ledger::ProjectStatus::Running
                                | autolab_core::ledger::ProjectStatus::Writing
                        )
                    })
                    .count() as u32;
                let free = open < slots && room;
                // One ideation at a time: each reads the projects started before it.
                (
                    may_code && free,
                    may_ideate && free && !has_backlog && self.ideas_in_flight == 0,
                )
            } else {
                (may_code, may_ideate)
            };
            if may_code
                && next < max
                && has_backlog
                && let Some((idea, expert)) = self.backlog.pop_front()
            {
                // Projects mode: an idea that is a project already is not made one again.
                if books.lab.config.projects.is_some()
                    && books
                        .ledger
                        .projects()
                        .list(books.campaign.id)?
                        .iter()
                        .any(|p| p.idea["title"].as_str() == Some(idea.title.as_str()))
                {
                    continue;
                }
                let row = self.propose_idea(books, next, &idea, &expert)?;
                self.implement_async(books, jobs, row, None)?;
                continue;
            }
            if may_ideate
                && !self.ideas_exhausted
                && wanted < u64::from(max)
                && (!has_backlog || !books.opts.serial_agent)
            {
                self.spawn_ideation(books, jobs)?;
                continue;
            }
            return Ok(());
        }
    }

    fn propose_idea(
        &mut self,
        books: &mut Books<'_>,
        number: u32,
        idea: &Idea,
        expert: &str,
    ) -> Result<ExperimentId, EngineError> {
        // Projects mode: each idea is a project, its first run from the base (AI-Scientist).
        let project = books.lab.config.projects.clone();
        let parent = match &project {
            Some(_) => books.campaign.base_commit.clone(),
            None => books.incumbent_commit()?,
        };
        let mut run_idea = idea.clone();
        if let Some(p) = &project {
            run_idea.title = format!("{} — run 1", idea.title)
                .chars()
                .take(200)
                .collect();
            run_idea.plan = format!(
                "{}\n\n(Run 1 of at most {} of this project: plan the series of experiments, then implement the first one.)",
                idea.plan, p.runs_per_idea
            );
        }
        // The experiment, its idea and its project land together (a kill leaves all or none).
        let campaign = books.campaign.id;
        let row = books.ledger.atomically(|l| {
            let row = l.propose(campaign, number, &parent, "llm", &run_idea.title, None)?;
            l.set_idea(
                row,
                &serde_json::to_value(&run_idea).unwrap_or_default(),
                Some(expert),
            )?;
            if project.is_some() {
                let projects = l.projects();
                let id = projects.create(
                    campaign,
                    &serde_json::to_value(idea).unwrap_or_default(),
                    Some(expert),
                    &parent,
                )?;
                projects.add_run(id, row, 1)?;
            }
            Ok(row)
        })?;
        for mut t in std::mem::take(&mut self.pending_transcripts) {
            t.experiment = Some(row);
            books.ledger.record_transcript(books.campaign.id, &t)?;
        }
        Ok(row)
    }

    fn spawn_ideation(
        &mut self,
        books: &mut Books<'_>,
        jobs: &mut Jobs,
    ) -> Result<(), EngineError> {
        let mut ctx = books.idea_context(self)?;
        let stats = books.ledger.expert_stats(books.campaign.id)?;
        // The ideas of this call become the experiments after those already coming.
        let position = books.ledger.next_number(books.campaign.id)?
            + self.backlog.len() as u32
            + self.ideas_in_flight * self.cfg.ideas_per_call;
        if let Some(used) = books.budget_used(self, position) {
            ctx.phase = Some(Phase::at(used));
            ctx.budget_used = Some((used * 100.0).round() as u32);
        }
        let refine = ctx.phase == Some(Phase::Refine);
        let records: Vec<ExpertRecord> = self
            .experts
            .iter()
            .map(|e| {
                let s = stats.iter().find(|s| s.expert == e.name);
                ExpertRecord {
                    name: e.name.clone(),
                    tried: s.map_or(0, |s| s.judged),
                    kept: s.map_or(0, |s| s.kept),
                    gain: 0.0,
                }
            })
            .collect();
        let weights: Vec<(String, f64)> = self
            .experts
            .iter()
            .map(|e| {
                let w = if self.cfg.disable.contains(&e.name) {
                    0.0
                } else {
                    self.cfg.weights.get(&e.name).copied().unwrap_or(1.0)
                };
                // Near the end of the budget, long shots give way to refinements.
                let w = if refine && e.name == HIGH_RISK_EXPERT {
                    w * REFINE_HIGH_RISK_WEIGHT
                } else {
                    w
                };
                (e.name.clone(), w)
            })
            .collect();
        let Some(i) = pick_expert(&records, &weights, &mut self.rng) else {
            return Err(EngineError::usage(
                "every expert is disabled",
                Some("enable at least one in [agent].disable / weights"),
            ));
        };
        let job = IdeaJob {
            caller: self.caller.clone(),
            templates: self.templates.clone(),
            ctx,
            expert: self.experts[i].clone(),
            n_ideas: self.cfg.ideas_per_call,
            novelty: self.novelty.clone(),
        };
        self.ideas_in_flight += 1;
        self.prep_in_flight += 1;
        let tx = jobs.tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send(SlotMsg::IdeaReady(Box::new(ideate(job))));
        });
        Ok(())
    }

    pub fn idea_ready(
        &mut self,
        books: &mut Books<'_>,
        jobs: &mut Jobs,
        outcome: IdeaOutcome,
    ) -> Result<(), EngineError> {
        self.ideas_in_flight = self.ideas_in_flight.saturating_sub(1);
        self.prep_in_flight = self.prep_in_flight.saturating_sub(1);
        let answered = outcome.transcripts.iter().any(|t| t.reply.is_some());
        match outcome.ideas {
            Ok(ideas) => {
                self.failed_ideations = 0;
                self.pending_transcripts.extend(outcome.transcripts);
                for idea in ideas {
                    if let Some(n) = &idea.novelty {
                        books.ledger.campaign_event(
                            books.campaign.id,
                            "novelty-checked",
                            &json!({"title": idea.title, "expert": outcome.expert, "novelty": n}),
                        )?;
                        if n.is_known() {
                            books.observer.report(Report::Note(format!(
                                "idea \"{}\" looks known ({}): it is tried after the others",
                                idea.title,
                                n.closest.first().map_or(String::new(), |c| c.title.clone())
                            )));
                        }
                    }
                    // Known ideas wait behind every other idea, also later ones.
                    let known = idea.novelty.as_ref().is_some_and(|n| n.is_known());
                    let at = if known {
                        self.backlog.len()
                    } else {
                        self.backlog
                            .iter()
                            .position(|(i, _)| i.novelty.as_ref().is_some_and(|n| n.is_known()))
                            .unwrap_or(self.backlog.len())
                    };
                    self.backlog.insert(at, (idea, outcome.expert.clone()));
                }
            }
            Err(why) => {
                if !outcome.unavailable {
                    self.failed_ideations += 1;
                }
                let failures = self.failed_ideations;
                for t in &outcome.transcripts {
                    books.ledger.record_transcript(books.campaign.id, t)?;
                }
                books.ledger.campaign_event(
                    books.campaign.id,
                    "ideation-failed",
                    &json!({"expert": outcome.expert, "why": why}),
                )?;
                if outcome.out_of_budget {
                    self.budget_spent(books);
                } else if outcome.unavailable {
                    self.llm_unavailable(books, &why);
                } else {
                    books.observer.report(Report::Note(format!(
                        "ideation by {} failed: {why}",
                        outcome.expert
                    )));
                    if failures >= MAX_FAILED_IDEATIONS && !self.ideas_exhausted {
                        self.ideas_exhausted = true;
                        books.observer.report(Report::Note(format!(
                            "{failures} ideations failed in a row: asking for no more ideas; \
                             the queued and coded candidates still run, then the campaign pauses"
                        )));
                    }
                }
            }
        }
        if answered {
            self.llm_back(books, jobs)?;
        }
        Ok(())
    }

    /// A call found the LLM unreachable: wait before the next one, and ask the loop to pause
    /// once it has been out for `max_outage` ([`Outage::failed`]).
    pub fn llm_unavailable(&mut self, books: &mut Books<'_>, why: &str) {
        let now = Instant::now();
        let (retry, max_outage) = (self.cfg.outage_retry, self.cfg.max_outage);
        let step = self
            .outage
            .get_or_insert(Outage::new(now))
            .failed(now, retry, max_outage);
        let note = match step {
            OutageStep::Counted => return,
            OutageStep::Pause(out_for) => {
                self.pause_asked = true;
                format!(
                    "the LLM has been unavailable for {} (max_outage): pausing; running the campaign again resumes it. Last error: {why}",
                    autolab_core::config::format_duration(out_for)
                )
            }
            OutageStep::Wait(wait) => format!(
                "the LLM is unavailable ({why}); trying again in {}",
                autolab_core::config::format_duration(wait)
            ),
        };
        books.observer.report(Report::Note(note));
    }

    /// The LLM answered: an outage is over, and lessons it held up are written now.
    pub fn llm_back(&mut self, books: &mut Books<'_>, jobs: &mut Jobs) -> Result<(), EngineError> {
        if self.outage.take().is_some() {
            self.launch_lessons(books, jobs)?;
        }
        Ok(())
    }

    /// Whether the campaign should wait for the LLM to come back: implementations wait for
    /// it, or it is out while new experiments may still be proposed.
    pub fn llm_pending(&self, books: &Books<'_>) -> Result<bool, EngineError> {
        if !self.deferred.is_empty() || !self.pending_fixes.is_empty() {
            return Ok(true);
        }
        Ok(self.outage.is_some() && books.under_budget()?)
    }

    /// A job came back saying `max_usd` is spent: [`Self::out_of_budget`] with what it cost.
    pub fn budget_spent(&mut self, books: &mut Books<'_>) {
        let e = CallError::Budget {
            spent: self.caller.spent(),
            limit: self.cfg.max_usd.unwrap_or(0.0),
        };
        self.out_of_budget(books, e);
    }

    pub fn out_of_budget(&mut self, books: &mut Books<'_>, e: CallError) {
        if !self.out_of_budget {
            self.out_of_budget = true;
            books.observer.report(Report::Note(format!(
                "{e}: running experiments finish, then the campaign stops"
            )));
        }
    }
}
