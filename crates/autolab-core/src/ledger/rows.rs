//! Ledger rows read back into domain types; stored text no value has is an error naming the row.

use super::Campaign;
use crate::experiment::{Experiment, ProposerKind, State};
use crate::ids::ExperimentId;

pub(super) const EXPERIMENT_SELECT: &str = "SELECT id, number, state, verdict, reason, score, metrics, commit_sha, parent, proposer, title, params, lines_added, lines_removed, finalized, created_at, updated_at, stats FROM experiments";

pub(super) fn experiment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Experiment> {
    let id: i64 = r.get(0)?;
    let state: String = r.get(2)?;
    let metrics: Option<String> = r.get(6)?;
    let params: Option<String> = r.get(11)?;
    let state = State::parse(&state)
        .ok_or_else(|| bad_row(2, format!("experiments row {id}: unknown state `{state}`")))?;
    let verdict =
        match r.get::<_, Option<String>>(3)? {
            None => None,
            Some(v) => Some(State::parse(&v).and_then(State::verdict).ok_or_else(|| {
                bad_row(3, format!("experiments row {id}: unknown verdict `{v}`"))
            })?),
        };
    Ok(Experiment {
        row: ExperimentId(id),
        number: r.get::<_, i64>(1)? as u32,
        state,
        verdict,
        reason: r.get(4)?,
        score: r.get(5)?,
        metrics: metrics
            .and_then(|m| serde_json::from_str(&m).ok())
            .unwrap_or_default(),
        commit: r.get(7)?,
        parent: r.get(8)?,
        proposer: ProposerKind::from(r.get::<_, String>(9)?),
        title: r.get(10)?,
        params: params.and_then(|p| serde_json::from_str(&p).ok()),
        lines_added: r.get::<_, i64>(12)? as u64,
        lines_removed: r.get::<_, i64>(13)? as u64,
        finalized: r.get::<_, i64>(14)? != 0,
        created_at: r.get(15)?,
        updated_at: r.get(16)?,
        stats: r
            .get::<_, Option<String>>(17)?
            .and_then(|s| serde_json::from_str(&s).ok()),
    })
}

/// A stored value no domain type has: an error that names the row and the text found.
pub(super) fn bad_row(column: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, what.into())
}

pub(super) fn campaign_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Campaign> {
    let protected: String = r.get(4)?;
    Ok(Campaign {
        id: r.get(0)?,
        tag: r.get(1)?,
        base_commit: r.get(2)?,
        seed: r.get::<_, i64>(3)? as u64,
        protected: serde_json::from_str(&protected).unwrap_or_default(),
        incumbent: r.get::<_, Option<i64>>(5)?.map(|n| n as u32),
        created_at: r.get(6)?,
        heartbeat: r.get(7)?,
    })
}
