//! The playbook's material: one lesson per judged experiment (LLM-written or templated) and
//! digests that compact the older lessons of a campaign.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use super::{Ledger, Result, now, wrap};
use crate::ids::{CampaignId, ExperimentId};

/// A compacted summary of a campaign's lessons up to experiment number `through`.
#[derive(Debug, Clone, PartialEq)]
pub struct Digest {
    pub through: u32,
    pub text: String,
}

impl Ledger {
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
