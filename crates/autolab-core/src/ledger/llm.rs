//! What the LLM path records: every call's messages, reply, usage, latency and cost; ideas and
//! the experts who proposed them; the playbook's material (one lesson per judged experiment,
//! LLM-written or templated, and digests that compact the older lessons); fix attempts.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Ledger, Result, now, wrap};
use crate::ids::{CampaignId, ExperimentId};

/// One LLM exchange as the ledger keeps it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Transcript {
    pub experiment: Option<ExperimentId>,
    /// `strategist`, `coder`, `fixer`, …
    pub role: String,
    pub expert: Option<String>,
    pub model: String,
    /// The request's messages, as JSON.
    pub request: String,
    pub reply: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub latency_ms: u64,
    pub cost_usd: f64,
    pub error: Option<String>,
    pub at: f64,
}

/// An experiment's idea (JSON) and the expert who proposed it.
pub type IdeaAndExpert = (Option<serde_json::Value>, Option<String>);

/// How an expert has done in a campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpertStats {
    pub expert: String,
    pub tried: u32,
    pub kept: u32,
    /// Sum of the kept experiments' score gains is not stored; this is the number judged.
    pub judged: u32,
}

/// A compacted summary of a campaign's lessons up to experiment number `through`.
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    pub through: u32,
    pub text: String,
}

impl Ledger {
    pub fn record_transcript(&mut self, campaign: CampaignId, t: &Transcript) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO transcripts (campaign_id, experiment_id, at, role, expert, model, request, reply,
                   prompt_tokens, completion_tokens, latency_ms, cost_usd, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    campaign,
                    t.experiment,
                    now(),
                    t.role,
                    t.expert,
                    t.model,
                    t.request,
                    t.reply,
                    t.prompt_tokens as i64,
                    t.completion_tokens as i64,
                    t.latency_ms as i64,
                    t.cost_usd,
                    t.error
                ],
            )
            .map(|_| ())
            .map_err(wrap(&self.path))
    }

    pub fn transcripts(&self, experiment: ExperimentId) -> Result<Vec<Transcript>> {
        self.transcripts_where(
            "SELECT experiment_id, role, expert, model, request, reply, prompt_tokens, completion_tokens,
                    latency_ms, cost_usd, error, at FROM transcripts WHERE experiment_id = ?1 ORDER BY id",
            params![experiment],
        )
    }

    /// A campaign's newest LLM calls, newest first, without their prompts (a watcher's list);
    /// replies cut to 300 characters.
    pub fn recent_transcripts(&self, campaign: CampaignId, limit: u32) -> Result<Vec<Transcript>> {
        self.transcripts_where(
            "SELECT experiment_id, role, expert, model, '', substr(reply, 1, 300), prompt_tokens,
                    completion_tokens, latency_ms, cost_usd, error, at
             FROM transcripts WHERE campaign_id = ?1 ORDER BY id DESC LIMIT ?2",
            params![campaign, limit],
        )
    }

    fn transcripts_where(&self, sql: &str, args: impl rusqlite::Params) -> Result<Vec<Transcript>> {
        let mut stmt = self.conn.prepare(sql).map_err(wrap(&self.path))?;
        let rows = stmt
            .query_map(args, |r| {
                Ok(Transcript {
                    experiment: r.get(0)?,
                    role: r.get(1)?,
                    expert: r.get(2)?,
                    model: r.get(3)?,
                    request: r.get(4)?,
                    reply: r.get(5)?,
                    prompt_tokens: r.get::<_, i64>(6)? as u64,
                    completion_tokens: r.get::<_, i64>(7)? as u64,
                    latency_ms: r.get::<_, i64>(8)? as u64,
                    cost_usd: r.get(9)?,
                    error: r.get(10)?,
                    at: r.get(11)?,
                })
            })
            .map_err(wrap(&self.path))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(wrap(&self.path))
    }

    /// USD spent on LLM calls in a campaign.
    pub fn spent_usd(&self, campaign: CampaignId) -> Result<f64> {
        self.conn
            .query_row(
                "SELECT COALESCE(SUM(cost_usd), 0) FROM transcripts WHERE campaign_id = ?1",
                [campaign],
                |r| r.get(0),
            )
            .map_err(wrap(&self.path))
    }

    /// (prompt, completion) tokens spent in a campaign.
    pub fn spent_tokens(&self, campaign: CampaignId) -> Result<(u64, u64)> {
        self.conn
            .query_row(
                "SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0) FROM transcripts WHERE campaign_id = ?1",
                [campaign],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
            .map_err(wrap(&self.path))
    }

    /// Records the idea (JSON) and expert behind an experiment.
    pub fn set_idea(
        &self,
        row: ExperimentId,
        idea: &serde_json::Value,
        expert: Option<&str>,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE experiments SET idea = ?1, expert = ?2 WHERE id = ?3",
                params![idea.to_string(), expert, row],
            )
            .map(|_| ())
            .map_err(wrap(&self.path))
    }

    /// The idea (JSON) and expert of an experiment.
    pub fn idea(&self, row: ExperimentId) -> Result<(Option<serde_json::Value>, Option<String>)> {
        self.conn
            .query_row(
                "SELECT idea, expert FROM experiments WHERE id = ?1",
                [row],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?
                            .and_then(|s| serde_json::from_str(&s).ok()),
                        r.get::<_, Option<String>>(1)?,
                    ))
                },
            )
            .map_err(wrap(&self.path))
    }

    /// The idea (JSON) and expert of every experiment of a campaign, by experiment row, in one
    /// query.
    pub fn ideas(
        &self,
        campaign: CampaignId,
    ) -> Result<std::collections::HashMap<ExperimentId, IdeaAndExpert>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, idea, expert FROM experiments WHERE campaign_id = ?1")
            .map_err(wrap(&self.path))?;
        let rows = stmt
            .query_map([campaign], |r| {
                Ok((
                    r.get::<_, ExperimentId>(0)?,
                    (
                        r.get::<_, Option<String>>(1)?
                            .and_then(|s| serde_json::from_str(&s).ok()),
                        r.get::<_, Option<String>>(2)?,
                    ),
                ))
            })
            .map_err(wrap(&self.path))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(wrap(&self.path))
    }

    /// Each expert's record in a campaign: experiments tried, kept and judged.
    pub fn expert_stats(&self, campaign: CampaignId) -> Result<Vec<ExpertStats>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT expert, COUNT(*), SUM(verdict IN ('kept', 'simplified')), SUM(verdict IS NOT NULL)
                 FROM experiments WHERE campaign_id = ?1 AND expert IS NOT NULL GROUP BY expert",
            )
            .map_err(wrap(&self.path))?;
        let rows = stmt
            .query_map([campaign], |r| {
                Ok(ExpertStats {
                    expert: r.get(0)?,
                    tried: r.get::<_, i64>(1)? as u32,
                    kept: r.get::<_, Option<i64>>(2)?.unwrap_or(0) as u32,
                    judged: r.get::<_, Option<i64>>(3)?.unwrap_or(0) as u32,
                })
            })
            .map_err(wrap(&self.path))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(wrap(&self.path))
    }

    /// Stores (or replaces) the lesson of an experiment.
    pub fn set_lesson(&self, row: ExperimentId, text: &str, by_llm: bool) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO lessons (experiment_id, text, by_llm, at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (experiment_id) DO UPDATE SET text = ?2, by_llm = ?3, at = ?4",
                params![row, text, by_llm, now()],
            )
            .map(|_| ())
            .map_err(wrap(&self.path))
    }

    /// The lessons of a campaign's experiments, by experiment row: (text, written by the LLM).
    pub fn lessons(&self, campaign: CampaignId) -> Result<HashMap<ExperimentId, (String, bool)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT l.experiment_id, l.text, l.by_llm FROM lessons l
                 JOIN experiments e ON e.id = l.experiment_id WHERE e.campaign_id = ?1",
            )
            .map_err(wrap(&self.path))?;
        let rows = stmt
            .query_map([campaign], |r| {
                Ok((r.get::<_, ExperimentId>(0)?, (r.get(1)?, r.get(2)?)))
            })
            .map_err(wrap(&self.path))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(wrap(&self.path))
    }

    /// The lesson of one experiment: (text, written by the LLM).
    pub fn lesson(&self, row: ExperimentId) -> Result<Option<(String, bool)>> {
        self.conn
            .query_row(
                "SELECT text, by_llm FROM lessons WHERE experiment_id = ?1",
                [row],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(wrap(&self.path))
    }

    /// Records a digest of the campaign's lessons up to experiment `through`.
    pub fn add_digest(&self, campaign: CampaignId, through: u32, text: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO playbook_digests (campaign_id, through, text, at) VALUES (?1, ?2, ?3, ?4)",
                params![campaign, through, text, now()],
            )
            .map(|_| ())
            .map_err(wrap(&self.path))
    }

    /// The newest digest of a campaign's lessons.
    pub fn digest(&self, campaign: CampaignId) -> Result<Option<Digest>> {
        self.conn
            .query_row(
                "SELECT through, text FROM playbook_digests WHERE campaign_id = ?1
                 ORDER BY id DESC LIMIT 1",
                [campaign],
                |r| {
                    Ok(Digest {
                        through: r.get::<_, i64>(0)? as u32,
                        text: r.get(1)?,
                    })
                },
            )
            .optional()
            .map_err(wrap(&self.path))
    }

    /// How many fixes of its crashes an experiment has had (counted from its events, so a
    /// restarted orchestrator does not grant new ones).
    pub fn fix_attempts(&self, row: ExperimentId) -> Result<u32> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM events WHERE experiment_id = ?1
                 AND json_extract(detail, '$.fix_attempt') IS NOT NULL",
                [row],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u32)
            .map_err(wrap(&self.path))
    }
}
