//! The LLM-driven path of a campaign: ideation and implementation run as jobs off the main
//! thread and overlap with running experiments (look-ahead bounded by the slots); crashed runs
//! go back to the coder with their log tail; every call is recorded and budgeted.

use autolab_core::ids::{CampaignId, ExperimentId};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use autolab_core::config::{Agent, CoderKind};
use autolab_core::experiment::{State, Verdict};
use autolab_core::ledger::{Ledger, Transcript};
use serde_json::json;

use super::outage::Outage;
use super::{Driver, Report, SlotMsg, Work};
use crate::EngineError;
use crate::agent::bandit::{ExpertRecord, pick_expert};
use crate::agent::experts::{Expert, default_experts, parse_experts};
use crate::agent::ideas::{Idea, seed_ideas_from_ai_scientist};
use crate::lab::Lab;
use crate::llm::coder::{CodeJob, CodeOutcome, CoderSpec, Fix, implement};
use crate::llm::context::{self, Phase};
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
    /// Implementations (true: fixes) that waited for the LLM to come back.
    pub deferred: VecDeque<(ExperimentId, bool)>,
    /// Experiments whose code a coder is writing now (in their worktree).
    pub coding: std::collections::HashSet<ExperimentId>,
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
        for s in &cfg.seed_ideas {
            backlog.push_back((
                Idea {
                    title: s.clone(),
                    hypothesis: s.clone(),
                    plan: s.clone(),
                    files: vec![],
                    expected_effect: String::new(),
                    risk: String::new(),
                },
                "seed".to_string(),
            ));
        }
        // Seed ideas already tried (in an earlier run of this campaign) are not tried again.
        let tried: Vec<String> = ledger
            .experiments(campaign)?
            .into_iter()
            .map(|e| e.title)
            .collect();
        backlog.retain(|(i, _)| !tried.contains(&i.title));
        Ok(AgentRuntime {
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
        })
    }
}

impl Driver<'_> {
    /// Starts ideation and implementation jobs while the look-ahead allows.
    pub(super) fn launch_prep(&mut self) -> Result<(), EngineError> {
        // Ideas and code for the first candidates are prepared while the baseline runs.
        if self.agent.is_none() || self.ledger.next_number(self.campaign.id)? == 0 {
            return Ok(());
        }
        loop {
            let ready = self
                .queue
                .iter()
                .filter(|w| matches!(w, Work::Run(_)))
                .count() as u32;
            let Some(agent) = self.agent.as_ref() else {
                return Ok(());
            };
            if agent.out_of_budget || self.paused {
                return Ok(());
            }
            // While the LLM is unreachable, nothing goes out before the next try, and then a
            // single call probes it.
            if let Some(o) = agent.outage
                && (Instant::now() < o.retry_at || agent.prep_in_flight > 0)
            {
                return Ok(());
            }
            if let Some(e) = agent.caller.exhausted() {
                self.out_of_budget(e);
                return Ok(());
            }
            let next = self.ledger.next_number(self.campaign.id)?;
            let max = self.opts.max_experiments.unwrap_or(u32::MAX);
            let coding = agent.prep_in_flight - agent.ideas_in_flight;
            let slots = self.parallel as u32;
            // Look-ahead: implement at most one candidate per slot ahead of the runs. Serial
            // (for comparison) works only when nothing else is in the pipeline.
            let (may_code, may_ideate) = if self.opts.serial_agent {
                let idle = agent.prep_in_flight + ready + self.slots.len() as u32 == 0;
                (idle, idle)
            } else {
                let backlog = agent.backlog.len() as u32;
                let coming = agent.ideas_in_flight * agent.cfg.ideas_per_call;
                // Ideation runs ahead on its own, keeping a reserve of ideas for two rounds of
                // slots, with as many calls at once as one round needs.
                let per_call = agent.cfg.ideas_per_call.max(1);
                let calls_at_once = slots.div_ceil(per_call);
                (
                    coding + ready < slots,
                    agent.ideas_in_flight < calls_at_once && backlog + coming < 2 * slots,
                )
            };
            if may_code
                && let Some((row, fixing)) =
                    self.agent.as_mut().and_then(|a| a.deferred.pop_front())
            {
                let fix = if fixing {
                    Some(self.fix_for(row)?)
                } else {
                    None
                };
                self.implement_async(row, fix)?;
                continue;
            }
            let Some(agent) = self.agent.as_ref() else {
                return Ok(());
            };
            let has_backlog = !agent.backlog.is_empty();
            let exhausted = agent.ideas_exhausted;
            let wanted = u64::from(next)
                + agent.backlog.len() as u64
                + u64::from(agent.ideas_in_flight * agent.cfg.ideas_per_call);
            if may_code
                && next < max
                && has_backlog
                && let Some((idea, expert)) =
                    self.agent.as_mut().and_then(|a| a.backlog.pop_front())
            {
                let row = self.propose_idea(next, &idea, &expert)?;
                self.implement_async(row, None)?;
                continue;
            }
            if may_ideate
                && !exhausted
                && wanted < u64::from(max)
                && (!has_backlog || !self.opts.serial_agent)
            {
                self.spawn_ideation()?;
                continue;
            }
            return Ok(());
        }
    }

    fn propose_idea(
        &mut self,
        number: u32,
        idea: &Idea,
        expert: &str,
    ) -> Result<ExperimentId, EngineError> {
        let parent = self.incumbent_commit()?;
        let row =
            self.ledger
                .propose(self.campaign.id, number, &parent, "llm", &idea.title, None)?;
        self.ledger.set_idea(
            row,
            &serde_json::to_value(idea).unwrap_or_default(),
            Some(expert),
        )?;
        let pending = self
            .agent
            .as_mut()
            .map(|a| std::mem::take(&mut a.pending_transcripts))
            .unwrap_or_default();
        for mut t in pending {
            t.experiment = Some(row);
            self.ledger.record_transcript(self.campaign.id, &t)?;
        }
        Ok(row)
    }

    fn spawn_ideation(&mut self) -> Result<(), EngineError> {
        let mut ctx = self.idea_context()?;
        let stats = self.ledger.expert_stats(self.campaign.id)?;
        // The ideas of this call become the experiments after those already coming.
        let position = self.ledger.next_number(self.campaign.id)?
            + self.agent.as_ref().map_or(0, |a| {
                a.backlog.len() as u32 + a.ideas_in_flight * a.cfg.ideas_per_call
            });
        if let Some(used) = self.budget_used(position) {
            ctx.phase = Some(Phase::at(used));
            ctx.budget_used = Some((used * 100.0).round() as u32);
        }
        let refine = ctx.phase == Some(Phase::Refine);
        let Some(agent) = self.agent.as_mut() else {
            return Ok(());
        };
        let records: Vec<ExpertRecord> = agent
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
        let weights: Vec<(String, f64)> = agent
            .experts
            .iter()
            .map(|e| {
                let w = if agent.cfg.disable.contains(&e.name) {
                    0.0
                } else {
                    agent.cfg.weights.get(&e.name).copied().unwrap_or(1.0)
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
        let Some(i) = pick_expert(&records, &weights, &mut agent.rng) else {
            return Err(EngineError::usage(
                "every expert is disabled",
                Some("enable at least one in [agent].disable / weights"),
            ));
        };
        let job = IdeaJob {
            caller: agent.caller.clone(),
            templates: agent.templates.clone(),
            ctx,
            expert: agent.experts[i].clone(),
            n_ideas: agent.cfg.ideas_per_call,
        };
        agent.ideas_in_flight += 1;
        agent.prep_in_flight += 1;
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send(SlotMsg::IdeaReady(Box::new(ideate(job))));
        });
        Ok(())
    }

    /// Checks out the experiment's parent and starts its coder (or a fix of its last crash).
    pub(super) fn implement_async(
        &mut self,
        row: ExperimentId,
        fix: Option<Fix>,
    ) -> Result<(), EngineError> {
        let exp = self.ledger.experiment_by_row(row)?;
        let (idea, expert) = self.ledger.idea(row)?;
        let Some(idea) = idea.and_then(|v| serde_json::from_value::<Idea>(v).ok()) else {
            return self.verdict_without_run(
                row,
                Verdict::Invalid,
                "the experiment's idea is missing",
                None,
            );
        };
        let start = if fix.is_some() {
            exp.commit.clone().unwrap_or(exp.parent.clone())
        } else {
            exp.parent.clone()
        };
        self.ledger
            .transition(&exp, State::Implementing, json!({"fix": fix.is_some()}))?;
        self.worktrees().checkout(exp.number, &start)?;
        let Some(agent) = self.agent.as_mut() else {
            return Ok(());
        };
        let job = CodeJob {
            coder: agent.coder.clone(),
            idea,
            expert: expert.clone(),
            goal: context::goal_text(&self.lab.root, &self.lab.config),
            worktree: self
                .lab
                .repo
                .worktree(&self.lab.worktree(&self.campaign.tag, exp.number))?,
            editable: self.lab.config.task.editable.clone(),
            protected: self.lab.config.task.protected.clone(),
            fix: fix.clone(),
        };
        agent.prep_in_flight += 1;
        agent.coding.insert(row);
        let tx = self.tx.clone();
        let fixing = fix.is_some();
        std::thread::spawn(move || {
            let outcome = implement(job);
            let _ = tx.send(SlotMsg::CodeReady {
                exp: row,
                outcome: Box::new(outcome),
                fix: fixing,
            });
        });
        Ok(())
    }

    pub(super) fn idea_ready(&mut self, outcome: IdeaOutcome) -> Result<(), EngineError> {
        let Some(agent) = self.agent.as_mut() else {
            return Ok(());
        };
        agent.ideas_in_flight = agent.ideas_in_flight.saturating_sub(1);
        agent.prep_in_flight = agent.prep_in_flight.saturating_sub(1);
        let answered = outcome.transcripts.iter().any(|t| t.reply.is_some());
        match outcome.ideas {
            Ok(ideas) => {
                agent.failed_ideations = 0;
                agent.pending_transcripts.extend(outcome.transcripts);
                agent
                    .backlog
                    .extend(ideas.into_iter().map(|i| (i, outcome.expert.clone())));
            }
            Err(why) => {
                if !outcome.unavailable {
                    agent.failed_ideations += 1;
                }
                let failures = agent.failed_ideations;
                for t in &outcome.transcripts {
                    self.ledger.record_transcript(self.campaign.id, t)?;
                }
                self.ledger.campaign_event(
                    self.campaign.id,
                    "ideation-failed",
                    &json!({"expert": outcome.expert, "why": why}),
                )?;
                if outcome.out_of_budget {
                    self.out_of_budget(CallError::Budget {
                        spent: 0.0,
                        limit: 0.0,
                    });
                } else if outcome.unavailable {
                    self.llm_unavailable(&why);
                } else {
                    self.observer.report(Report::Note(format!(
                        "ideation by {} failed: {why}",
                        outcome.expert
                    )));
                    if failures >= MAX_FAILED_IDEATIONS
                        && let Some(agent) = self.agent.as_mut()
                        && !agent.ideas_exhausted
                    {
                        agent.ideas_exhausted = true;
                        self.observer.report(Report::Note(format!(
                            "{failures} ideations failed in a row: asking for no more ideas; \
                             the queued and coded candidates still run, then the campaign pauses"
                        )));
                    }
                }
            }
        }
        if answered {
            self.llm_back()?;
        }
        Ok(())
    }

    pub(super) fn code_ready(
        &mut self,
        row: ExperimentId,
        outcome: CodeOutcome,
        fix: bool,
    ) -> Result<(), EngineError> {
        if let Some(agent) = self.agent.as_mut() {
            agent.prep_in_flight = agent.prep_in_flight.saturating_sub(1);
            agent.coding.remove(&row);
        }
        let answered = outcome.transcripts.iter().any(|t| t.reply.is_some());
        for mut t in outcome.transcripts {
            t.experiment = Some(row);
            self.ledger.record_transcript(self.campaign.id, &t)?;
        }
        if outcome.out_of_budget {
            self.out_of_budget(CallError::Budget {
                spent: 0.0,
                limit: 0.0,
            });
        }
        let exp = self.ledger.experiment_by_row(row)?;
        if exp.state.is_final() {
            return Ok(());
        }
        // Cancelled while its code was being written: the verdict waited for the coder.
        if self.conclude_cancelled(row)? {
            return Ok(());
        }
        if let Some(reason) = self.agent.as_mut().and_then(|a| a.disproven.remove(&row)) {
            return self.verdict_without_run(row, Verdict::Discarded, &reason, None);
        }
        if outcome.unavailable {
            // Not the idea's fault: it waits for the LLM to come back, keeping its number.
            if let Err(why) = &outcome.result {
                if !fix {
                    self.ledger.transition(
                        &exp,
                        State::Proposed,
                        json!({"deferred": "the LLM is unavailable"}),
                    )?;
                }
                if let Some(a) = self.agent.as_mut() {
                    a.deferred.push_back((row, fix));
                }
                self.llm_unavailable(why);
                return Ok(());
            }
        } else if answered {
            self.llm_back()?;
        }
        let changed = match outcome.result {
            Ok(c) => c,
            Err(why) if fix => {
                let reason = format!(
                    "{}; the fix failed: {why}",
                    exp.reason.clone().unwrap_or_else(|| "crashed".into())
                );
                return self.verdict_without_run(row, Verdict::Crashed, &reason, None);
            }
            Err(why) => {
                return self.verdict_without_run(
                    row,
                    Verdict::Invalid,
                    &format!("could not implement: {why}"),
                    None,
                );
            }
        };
        let (_, expert) = self.ledger.idea(row)?;
        let worktree = self.lab.worktree(&self.campaign.tag, exp.number);
        let message = format!(
            "{}\n\nautolab experiment {} by {} ({})\nfiles: {}\n",
            exp.title,
            self.experiment_name(exp.number),
            expert.as_deref().unwrap_or("llm"),
            if fix { "fix" } else { "idea" },
            changed.join(", ")
        );
        let commit = self.lab.repo.worktree(&worktree)?.commit_all(&message)?;
        let detail = json!({"commit": commit, "fix": fix});
        if self.queue_commit(&exp, commit, detail)? {
            self.queue.push_back(Work::Run(row));
        }
        Ok(())
    }
}
