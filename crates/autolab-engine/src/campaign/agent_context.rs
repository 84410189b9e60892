//! What the LLM path reads from the campaign: the strategist's context and the playbook file.

use autolab_core::ids::ExperimentId;
use std::path::Path;

use std::collections::HashMap;

use autolab_core::experiment::{Experiment, Verdict};
use autolab_core::ledger::Digest;

use super::agent_flow::AgentRuntime;
use super::books::Books;
use crate::EngineError;
use crate::llm::context::{self, IdeaContext, ResultRow};
use crate::playbook::{self, Lesson};

/// What the playbook is made of: the campaign's experiments, who proposed each, their stored
/// lessons (by experiment row) and the newest digest.
pub(super) struct PlaybookMaterial {
    pub exps: Vec<Experiment>,
    experts: Vec<String>,
    pub stored: HashMap<ExperimentId, (String, bool)>,
    pub digest: Option<Digest>,
}

impl PlaybookMaterial {
    pub fn lessons(&self) -> Vec<Lesson<'_>> {
        self.exps
            .iter()
            .zip(&self.experts)
            .map(|(e, x)| Lesson {
                experiment: e,
                expert: Some(x.as_str()),
                text: self.stored.get(&e.row).map(|(t, _)| t.as_str()),
            })
            .collect()
    }
}

impl Books<'_> {
    /// What the strategist is told.
    pub fn idea_context(&self, agent: &AgentRuntime) -> Result<IdeaContext, EngineError> {
        let config = &self.lab.config;
        let exps = self.ledger.experiments(self.campaign.id)?;
        let incumbent = self.incumbent_commit()?;
        let mut kept: Vec<_> = exps
            .iter()
            .filter(|e| e.verdict.is_some_and(Verdict::keeps) && e.score.is_some())
            .collect();
        let goal = config.score_goal();
        kept.sort_by(|a, b| {
            let (x, y) = (a.score.unwrap_or(0.0), b.score.unwrap_or(0.0));
            if goal == autolab_core::config::Goal::Minimize {
                x.total_cmp(&y)
            } else {
                y.total_cmp(&x)
            }
        });
        let ideas = self.ledger.ideas(self.campaign.id)?;
        let expert_of = |row: ExperimentId| ideas.get(&row).and_then(|(_, x)| x.clone());
        let row_of = |e: &autolab_core::experiment::Experiment, diff: bool| ResultRow {
            id: e.number,
            verdict: e
                .verdict
                .map(|v| v.as_str().to_string())
                .unwrap_or_else(|| e.state.as_str().to_string()),
            score: e.score.map(autolab_core::stats::fmt_value),
            title: e.title.clone(),
            expert: expert_of(e.row),
            reason: e.reason.clone(),
            diff: if diff {
                e.commit
                    .as_ref()
                    .filter(|c| **c != e.parent)
                    .and_then(|c| self.lab.repo.diff(&e.parent, c).ok())
                    .map(|d| context::short_diff(&d))
            } else {
                None
            },
        };
        let leaderboard = kept.iter().take(5).map(|e| row_of(e, false)).collect();
        let recent = exps
            .iter()
            .rev()
            .filter(|e| e.state.is_final() && e.number > 0)
            .take(8)
            .map(|e| row_of(e, true))
            .collect();
        let mut tried = Vec::new();
        let mut tried_pairs = Vec::new();
        for e in &exps {
            let hyp = ideas
                .get(&e.row)
                .and_then(|(i, _)| i.as_ref())
                .and_then(|v| v["hypothesis"].as_str().map(str::to_string))
                .unwrap_or_default();
            tried.push(if hyp.is_empty() {
                e.title.clone()
            } else {
                format!("{} — {hyp}", e.title)
            });
            tried_pairs.push((e.title.clone(), hyp));
        }
        for (i, _) in &agent.backlog {
            tried_pairs.push((i.title.clone(), i.hypothesis.clone()));
        }
        // Ideas a result disproved before they were tried count as tried.
        for event in self
            .ledger
            .campaign_events(self.campaign.id, super::lessons::DROPPED_EVENT)?
        {
            for idea in event["ideas"].as_array().into_iter().flatten() {
                let title = idea["title"].as_str().unwrap_or_default().to_string();
                let hyp = idea["hypothesis"].as_str().unwrap_or_default().to_string();
                tried.push(format!(
                    "{title} — {hyp} (dropped: disproven by #{})",
                    event["by"]
                ));
                tried_pairs.push((title, hyp));
            }
        }
        let steering_file = agent.cfg.steering_file.clone();
        Ok(IdeaContext {
            goal: context::goal_text(&self.lab.root, config),
            metric: config.metrics.primary.clone(),
            goal_direction: format!(
                "{}, score goal {}",
                config
                    .metrics
                    .score
                    .get(&config.metrics.primary)
                    .map(|s| s.goal.as_str())
                    .unwrap_or(""),
                goal.as_str()
            ),
            files: context::editable_files(&self.lab.repo, &incumbent, &config.task.editable),
            leaderboard,
            recent,
            playbook: std::fs::read_to_string(self.lab.paths().playbook()).unwrap_or_default(),
            steering: context::steering(&self.lab.root, &steering_file),
            tried,
            tried_pairs,
            phase: None,
            budget_used: None,
            archive: self.archive()?,
            brief: crate::explore::current_brief(self.lab, &self.ledger)?,
        })
    }

    /// The projects so far, one line each: the idea, its outcome and its review score.
    fn archive(&self) -> Result<Vec<String>, EngineError> {
        let mut out = Vec::new();
        for p in self.ledger.projects().list(self.campaign.id)? {
            let review = match (&p.review, p.score) {
                (Some(r), Some(s)) => format!(
                    "review Overall {s}/10, {}",
                    r["Decision"].as_str().unwrap_or("no decision")
                ),
                _ => "no review yet".into(),
            };
            out.push(format!(
                "{} ({}; {review}): {}",
                p.idea["title"].as_str().unwrap_or("?"),
                p.status.as_str(),
                p.idea["plan"]
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .take(300)
                    .collect::<String>()
            ));
        }
        Ok(out)
    }

    /// The share (0 to 1) of the tightest budget used when experiment `position` starts:
    /// experiments of `--max-experiments`, hours of `--max-hours`, USD of `max_usd`. None when
    /// the campaign has no budget.
    pub fn budget_used(&self, agent: &AgentRuntime, position: u32) -> Option<f64> {
        let experiments = self
            .opts
            .max_experiments
            .map(|max| f64::from(position) / f64::from(max.max(1)));
        let hours = self
            .opts
            .max_hours
            .map(|h| self.started.elapsed().as_secs_f64() / (h * 3600.0));
        let usd = agent.cfg.max_usd.map(|max| agent.caller.spent() / max);
        [experiments, hours, usd]
            .into_iter()
            .flatten()
            .map(|x| x.clamp(0.0, 1.0))
            .reduce(f64::max)
    }

    /// The playbook's material, read from the ledger.
    pub fn playbook_material(&self) -> Result<PlaybookMaterial, EngineError> {
        let exps = self.ledger.experiments(self.campaign.id)?;
        let ideas = self.ledger.ideas(self.campaign.id)?;
        let experts = exps
            .iter()
            .map(|e| {
                ideas
                    .get(&e.row)
                    .and_then(|(_, x)| x.clone())
                    .unwrap_or_else(|| e.proposer.to_string())
            })
            .collect();
        Ok(PlaybookMaterial {
            stored: self.ledger.lessons(self.campaign.id)?,
            digest: self.ledger.digest(self.campaign.id)?,
            exps,
            experts,
        })
    }

    /// Rewrites `.autolab/playbook.md` from the ledger (the LLM path reads it; the optimizer
    /// does not, so it is not written then).
    pub fn write_playbook(&self, agent: &AgentRuntime) -> Result<(), EngineError> {
        let material = self.playbook_material()?;
        let lessons = material.lessons();
        let task = &self.lab.config.task;
        let mut guardrails = vec![
            format!("Only these files may change: {}", task.editable.join(", ")),
            format!(
                "A run must finish within {}",
                autolab_core::config::format_duration(task.timeout)
            ),
            format!(
                "The run must print the metric `{}`",
                self.lab.config.metrics.primary
            ),
        ];
        if !task.protected.is_empty() {
            guardrails.push(format!("Never change: {}", task.protected.join(", ")));
        }
        let text = playbook::render(
            &lessons,
            material.digest.as_ref(),
            &guardrails,
            agent.cfg.playbook_chars as usize,
        );
        let path = self.lab.paths().playbook();
        std::fs::write(&path, text).map_err(|e| EngineError::io(Path::new(&path), e))
    }
}
