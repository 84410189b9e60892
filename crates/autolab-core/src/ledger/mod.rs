//! The ledger: every campaign, experiment, run, metric and lifecycle event, in SQLite (WAL).
//!
//! Each lifecycle transition is one transaction that updates the experiment and appends its
//! event, written before anything relies on it.
//!
//! Longer than most files (~520 lines): opening, campaigns (with their events) and experiments
//! (with their transitions) are one transaction boundary and stay together; runs (`runs.rs`),
//! what the LLM path records (`llm.rs`), the control inbox and forgetting are apart.

mod briefs;
mod controls;
mod curves;
mod feed;
mod forget;
mod llm;
mod projects;
mod rows;
mod runs;
mod schema;
mod write_tx;
mod writeups;

pub use briefs::{Brief, Briefs};
pub use controls::Controls;
pub use curves::{Curve, Curves};
pub use feed::{Feed, FeedItem, Pulse};
pub use forget::{Forgotten, forget_campaign};
pub use llm::{Digest, ExpertStats, Transcript};
pub use projects::{Project, ProjectStatus, Projects};
pub use writeups::{Writeup, Writeups};

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use indexmap::IndexMap;
use rusqlite::{Connection, OptionalExtension, params};

use crate::experiment::{Experiment, ProposerKind, State, Verdict};
use crate::ids::{CampaignId, ExperimentId};
use rows::{EXPERIMENT_SELECT, campaign_row, experiment_row};

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "ledger {path} has schema version {found}, newer than this autolab understands ({supported})"
    )]
    TooNew {
        path: String,
        found: i64,
        supported: i64,
    },
    #[error("no campaign `{0}` in the ledger")]
    NoCampaign(String),
    #[error("no experiment #{1} in campaign `{0}`")]
    NoExperiment(String, u32),
}

pub type Result<T> = std::result::Result<T, LedgerError>;

/// A campaign row.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: CampaignId,
    pub tag: String,
    pub base_commit: String,
    pub seed: u64,
    /// Protected path → blob id at campaign start (None: the file did not exist).
    pub protected: IndexMap<String, Option<String>>,
    /// The experiment number of the incumbent, once the baseline has a verdict.
    pub incumbent: Option<u32>,
    pub created_at: f64,
    pub heartbeat: f64,
}

/// The tag prefix of the red-team's side campaigns (one attack each).
pub const REDTEAM_TAG_PREFIX: &str = "redteam-";
/// The tag prefix of an ablation's side campaigns (one variant each).
pub const ABLATION_TAG_PREFIX: &str = "ablate-";

/// Tags of side campaigns: the red-team's attacks and an ablation's variants, each tried in a
/// campaign of its own. They are never the default campaign and never write results.tsv.
pub const SIDE_TAG_PREFIXES: [&str; 2] = [REDTEAM_TAG_PREFIX, ABLATION_TAG_PREFIX];

/// The side-campaign prefix `tag` starts with, if any.
pub fn side_prefix(tag: &str) -> Option<&'static str> {
    SIDE_TAG_PREFIXES.into_iter().find(|p| tag.starts_with(p))
}

impl Campaign {
    pub fn is_side(&self) -> bool {
        side_prefix(&self.tag).is_some()
    }
}

pub struct Ledger {
    conn: Connection,
    path: String,
}

pub(crate) fn wrap(path: &str) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
    move |source| LedgerError::Sqlite {
        path: path.to_string(),
        source,
    }
}

pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

impl Ledger {
    pub fn open(path: &Path) -> Result<Ledger> {
        let p = path.display().to_string();
        let wrap = |source| LedgerError::Sqlite {
            path: p.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(wrap)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(wrap)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(wrap)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(wrap)?;
        let mut ledger = Ledger { conn, path: p };
        schema::migrate(&mut ledger.conn).map_err(|e| match e {
            schema::MigrateError::Sqlite(source) => LedgerError::Sqlite {
                path: ledger.path.clone(),
                source,
            },
            schema::MigrateError::TooNew(found) => LedgerError::TooNew {
                path: ledger.path.clone(),
                found,
                supported: schema::VERSION,
            },
        })?;
        Ok(ledger)
    }

    /// Opens an existing ledger for reading only; works on read-only media too.
    pub fn open_read_only(path: &Path) -> Result<Ledger> {
        use rusqlite::OpenFlags;
        let p = path.display().to_string();
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let try_open = |uri: String| -> rusqlite::Result<Connection> {
            let c = Connection::open_with_flags(uri, flags)?;
            c.busy_timeout(std::time::Duration::from_secs(10))?;
            c.query_row("SELECT COUNT(*) FROM campaigns", [], |r| r.get::<_, i64>(0))?;
            Ok(c)
        };
        let conn = try_open(format!("file:{p}"))
            // WAL needs a writable directory for its shared memory; a snapshot read does not.
            .or_else(|_| try_open(format!("file:{p}?immutable=1")))
            .map_err(|source| LedgerError::Sqlite {
                path: p.clone(),
                source,
            })?;
        Ok(Ledger { conn, path: p })
    }

    /// The control inbox of the ledger's campaigns.
    pub fn controls(&self) -> Controls<'_> {
        Controls(self)
    }

    /// Runs `f` as one transaction: every write in it lands, or none does (also when the
    /// process dies in the middle). Nests: the ledger's own writes use savepoints.
    /// At the top level it takes the write lock first (see [`write_tx`]).
    pub fn atomically<T>(&mut self, f: impl FnOnce(&mut Ledger) -> Result<T>) -> Result<T> {
        let top = self.conn.is_autocommit();
        let (begin, commit, rollback) = if top {
            ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
        } else {
            (
                "SAVEPOINT atomically",
                "RELEASE atomically",
                "ROLLBACK TO atomically; RELEASE atomically",
            )
        };
        self.conn.execute_batch(begin).map_err(wrap(&self.path))?;
        match f(self) {
            Ok(v) => {
                if let Err(e) = self.conn.execute_batch(commit) {
                    let _ = self.conn.execute_batch(rollback);
                    return Err(wrap(&self.path)(e));
                }
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.execute_batch(rollback);
                Err(e)
            }
        }
    }

    /// AI-Scientist-style projects (`[task] mode = "projects"`).
    pub fn projects(&self) -> Projects<'_> {
        Projects(self)
    }

    /// The research brief's versions.
    pub fn briefs(&self) -> Briefs<'_> {
        Briefs(self)
    }

    /// The learning curves runs streamed (`step` and a metric on one line).
    pub fn curves(&self) -> Curves<'_> {
        Curves(self)
    }

    /// Papers, reviews and the literature cache.
    pub fn writeups(&self) -> Writeups<'_> {
        Writeups(self)
    }

    /// The ledger as a feed for watchers.
    pub fn feed(&self) -> Feed<'_> {
        Feed(self)
    }

    // ---- campaigns ----------------------------------------------------------------------

    pub fn create_campaign(
        &mut self,
        tag: &str,
        base_commit: &str,
        seed: u64,
        protected: &IndexMap<String, Option<String>>,
        config_text: &str,
    ) -> Result<Campaign> {
        let protected_json = serde_json::to_string(protected).unwrap_or_else(|_| "{}".into());
        let t = now();
        let tx = write_tx::write_tx(&mut self.conn).map_err(wrap(&self.path))?;
        tx.execute(
            "INSERT INTO campaigns (tag, base_commit, seed, protected, config, created_at, heartbeat)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![tag, base_commit, seed as i64, protected_json, config_text, t],
        )
        .map_err(wrap(&self.path))?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO events (campaign_id, experiment_id, at, kind, detail) VALUES (?1, NULL, ?2, 'campaign-created', ?3)",
            params![id, t, serde_json::json!({"base": base_commit, "seed": seed}).to_string()],
        )
        .map_err(wrap(&self.path))?;
        tx.commit().map_err(wrap(&self.path))?;
        self.campaign(tag)?
            .ok_or_else(|| LedgerError::NoCampaign(tag.into()))
    }

    pub fn campaign(&self, tag: &str) -> Result<Option<Campaign>> {
        self.conn
            .query_row(
                "SELECT id, tag, base_commit, seed, protected, incumbent, created_at, heartbeat FROM campaigns WHERE tag = ?1",
                [tag],
                campaign_row,
            )
            .optional()
            .map_err(wrap(&self.path))
    }

    pub fn campaigns(&self) -> Result<Vec<Campaign>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, tag, base_commit, seed, protected, incumbent, created_at, heartbeat FROM campaigns ORDER BY id")
            .map_err(wrap(&self.path))?;
        let rows = stmt.query_map([], campaign_row).map_err(wrap(&self.path))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(wrap(&self.path))
    }

    /// The most recently active campaign, never a side one (the red-team's: named only by
    /// their tag).
    pub fn latest_campaign(&self) -> Result<Option<Campaign>> {
        Ok(self
            .campaigns()?
            .into_iter()
            .filter(|c| !c.is_side())
            .max_by(|a, b| a.heartbeat.total_cmp(&b.heartbeat)))
    }

    /// The `autolab.toml` text the campaign runs under (as of its last start).
    pub fn campaign_config(&self, campaign: CampaignId) -> Result<String> {
        self.conn
            .query_row(
                "SELECT config FROM campaigns WHERE id = ?1",
                [campaign],
                |r| r.get(0),
            )
            .map_err(wrap(&self.path))
    }

    /// Records a changed config: the new text, and an event with what changed, at once.
    pub fn change_campaign_config(
        &mut self,
        campaign: CampaignId,
        text: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        let tx = write_tx::write_tx(&mut self.conn).map_err(wrap(&self.path))?;
        tx.execute(
            "UPDATE campaigns SET config = ?1 WHERE id = ?2",
            params![text, campaign],
        )
        .map_err(wrap(&self.path))?;
        tx.execute(
            "INSERT INTO events (campaign_id, experiment_id, at, kind, detail) VALUES (?1, NULL, ?2, 'config_changed', ?3)",
            params![campaign, now(), detail.to_string()],
        )
        .map_err(wrap(&self.path))?;
        tx.commit().map_err(wrap(&self.path))
    }

    /// A campaign-level event (not tied to one experiment), e.g. a failed ideation.
    pub fn campaign_event(
        &self,
        campaign: CampaignId,
        kind: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO events (campaign_id, experiment_id, at, kind, detail) VALUES (?1, NULL, ?2, ?3, ?4)",
                params![campaign, now(), kind, detail.to_string()],
            )
            .map(|_| ())
            .map_err(wrap(&self.path))
    }

    /// When the campaign's newest event happened, if it has any.
    pub fn campaign_last_event_at(&self, campaign: CampaignId) -> Result<Option<f64>> {
        self.conn
            .query_row(
                "SELECT MAX(at) FROM events WHERE campaign_id = ?1",
                [campaign],
                |r| r.get::<_, Option<f64>>(0),
            )
            .map_err(wrap(&self.path))
    }

    /// When a campaign's events of one kind happened (seconds since the epoch), oldest first.
    pub fn campaign_event_times(&self, campaign: CampaignId, kind: &str) -> Result<Vec<f64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT at FROM events WHERE campaign_id = ?1 AND kind = ?2 ORDER BY id")
            .map_err(wrap(&self.path))?;
        let rows = stmt
            .query_map(params![campaign, kind], |r| r.get::<_, f64>(0))
            .map_err(wrap(&self.path))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(wrap(&self.path))
    }

    /// The experiment numbers a campaign's events of one kind name (`{"experiment": N}`).
    pub fn campaign_event_numbers(&self, campaign: CampaignId, kind: &str) -> Result<Vec<u32>> {
        Ok(self
            .campaign_events(campaign, kind)?
            .iter()
            .filter_map(|v| v["experiment"].as_u64())
            .filter_map(|n| u32::try_from(n).ok())
            .collect())
    }

    /// The details of a campaign's events of one kind, oldest first.
    pub fn campaign_events(
        &self,
        campaign: CampaignId,
        kind: &str,
    ) -> Result<Vec<serde_json::Value>> {
        let mut stmt = self
            .conn
            .prepare("SELECT detail FROM events WHERE campaign_id = ?1 AND kind = ?2 ORDER BY id")
            .map_err(wrap(&self.path))?;
        let rows = stmt
            .query_map(params![campaign, kind], |r| r.get::<_, Option<String>>(0))
            .map_err(wrap(&self.path))?;
        let mut out = Vec::new();
        for r in rows {
            if let Some(v) = r
                .map_err(wrap(&self.path))?
                .and_then(|d| serde_json::from_str(&d).ok())
            {
                out.push(v);
            }
        }
        Ok(out)
    }

    pub fn heartbeat(&self, campaign: CampaignId) -> Result<()> {
        self.conn
            .execute(
                "UPDATE campaigns SET heartbeat = ?1 WHERE id = ?2",
                params![now(), campaign],
            )
            .map(|_| ())
            .map_err(wrap(&self.path))
    }

    // ---- experiments --------------------------------------------------------------------

    /// The number the next experiment of a campaign gets.
    pub fn next_number(&self, campaign: CampaignId) -> Result<u32> {
        let n: Option<i64> = self
            .conn
            .query_row(
                "SELECT MAX(number) FROM experiments WHERE campaign_id = ?1",
                [campaign],
                |r| r.get(0),
            )
            .map_err(wrap(&self.path))?;
        Ok(n.map(|n| n as u32 + 1).unwrap_or(0))
    }

    /// Records a new experiment in state `proposed`.
    pub fn propose(
        &mut self,
        campaign: CampaignId,
        number: u32,
        parent: &str,
        proposer: impl Into<ProposerKind>,
        title: &str,
        params: Option<&serde_json::Value>,
    ) -> Result<ExperimentId> {
        let proposer: ProposerKind = proposer.into();
        let t = now();
        let tx = write_tx::write_tx(&mut self.conn).map_err(wrap(&self.path))?;
        tx.execute(
            "INSERT INTO experiments (campaign_id, number, state, parent, proposer, title, params, created_at, updated_at)
             VALUES (?1, ?2, 'proposed', ?3, ?4, ?5, ?6, ?7, ?7)",
            params![campaign, number, parent, proposer.as_str(), title, params.map(|p| p.to_string()), t],
        )
        .map_err(wrap(&self.path))?;
        let id = ExperimentId(tx.last_insert_rowid());
        tx.execute(
            "INSERT INTO events (campaign_id, experiment_id, at, kind, to_state, detail) VALUES (?1, ?2, ?3, 'transition', 'proposed', ?4)",
            params![campaign, id, t, serde_json::json!({"proposer": proposer.as_str(), "title": title}).to_string()],
        )
        .map_err(wrap(&self.path))?;
        tx.commit().map_err(wrap(&self.path))?;
        Ok(id)
    }

    /// Moves an experiment to `to`, with an event carrying `detail`, in one transaction.
    pub fn transition(
        &mut self,
        exp: &Experiment,
        to: State,
        detail: serde_json::Value,
    ) -> Result<()> {
        self.transition_with(exp.row, to, detail, &Changes::default())
    }

    /// Like [`Ledger::transition`], also setting fields of the experiment.
    pub fn transition_with(
        &mut self,
        row: ExperimentId,
        to: State,
        detail: serde_json::Value,
        ch: &Changes,
    ) -> Result<()> {
        let t = now();
        let tx = write_tx::write_tx(&mut self.conn).map_err(wrap(&self.path))?;
        let (campaign, from): (i64, String) = tx
            .query_row(
                "SELECT campaign_id, state FROM experiments WHERE id = ?1",
                [row],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(wrap(&self.path))?;
        tx.execute(
            "UPDATE experiments SET state = ?1, updated_at = ?2,
               verdict = ?3,
               commit_sha = COALESCE(?4, commit_sha),
               parent = COALESCE(?5, parent),
               reason = COALESCE(?6, reason),
               score = COALESCE(?7, score),
               metrics = COALESCE(?8, metrics),
               lines_added = COALESCE(?9, lines_added),
               lines_removed = COALESCE(?10, lines_removed),
               stats = COALESCE(?12, stats)
             WHERE id = ?11",
            params![
                to.as_str(),
                t,
                to.verdict().map(Verdict::as_str),
                ch.commit,
                ch.parent,
                ch.reason,
                ch.score,
                ch.metrics
                    .as_ref()
                    .map(|m| serde_json::to_string(m).unwrap_or_default()),
                ch.lines.map(|l| l.0 as i64),
                ch.lines.map(|l| l.1 as i64),
                row,
                ch.stats.as_ref().map(|s| s.to_string())
            ],
        )
        .map_err(wrap(&self.path))?;
        if let Some(n) = ch.new_incumbent {
            tx.execute(
                "UPDATE campaigns SET incumbent = ?1 WHERE id = ?2",
                params![n, campaign],
            )
            .map_err(wrap(&self.path))?;
        }
        tx.execute(
            "INSERT INTO events (campaign_id, experiment_id, at, kind, from_state, to_state, detail) VALUES (?1, ?2, ?3, 'transition', ?4, ?5, ?6)",
            params![campaign, row, t, from, to.as_str(), detail.to_string()],
        )
        .map_err(wrap(&self.path))?;
        tx.commit().map_err(wrap(&self.path))
    }

    /// Marks a final experiment's git effects (refs, worktree removal) as done.
    pub fn mark_finalized(&mut self, row: ExperimentId) -> Result<()> {
        self.conn
            .execute("UPDATE experiments SET finalized = 1 WHERE id = ?1", [row])
            .map(|_| ())
            .map_err(wrap(&self.path))
    }

    pub fn experiments(&self, campaign: CampaignId) -> Result<Vec<Experiment>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "{EXPERIMENT_SELECT} WHERE campaign_id = ?1 ORDER BY number"
            ))
            .map_err(wrap(&self.path))?;
        let rows = stmt
            .query_map([campaign], experiment_row)
            .map_err(wrap(&self.path))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(wrap(&self.path))
    }

    pub fn experiment(&self, campaign: CampaignId, number: u32) -> Result<Option<Experiment>> {
        self.conn
            .query_row(
                &format!("{EXPERIMENT_SELECT} WHERE campaign_id = ?1 AND number = ?2"),
                params![campaign, number],
                experiment_row,
            )
            .optional()
            .map_err(wrap(&self.path))
    }

    pub fn experiment_by_row(&self, row: ExperimentId) -> Result<Experiment> {
        self.conn
            .query_row(
                &format!("{EXPERIMENT_SELECT} WHERE id = ?1"),
                [row],
                experiment_row,
            )
            .map_err(wrap(&self.path))
    }

    /// Events of one experiment: (time, kind, from, to, detail).
    pub fn events(&self, row: ExperimentId) -> Result<Vec<Event>> {
        let mut stmt = self
            .conn
            .prepare("SELECT at, kind, from_state, to_state, detail FROM events WHERE experiment_id = ?1 ORDER BY id")
            .map_err(wrap(&self.path))?;
        let rows = stmt
            .query_map([row], |r| {
                Ok(Event {
                    at: r.get(0)?,
                    kind: r.get(1)?,
                    from: r.get(2)?,
                    to: r.get(3)?,
                    detail: r
                        .get::<_, Option<String>>(4)?
                        .and_then(|d| serde_json::from_str(&d).ok()),
                })
            })
            .map_err(wrap(&self.path))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(wrap(&self.path))
    }
}

/// Fields a transition may set alongside the state.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    pub commit: Option<String>,
    pub parent: Option<String>,
    pub reason: Option<String>,
    pub score: Option<f64>,
    pub metrics: Option<IndexMap<String, f64>>,
    pub lines: Option<(u64, u64)>,
    /// The statistics the verdict rests on.
    pub stats: Option<serde_json::Value>,
    /// Makes this experiment the campaign's incumbent, in the same transaction.
    pub new_incumbent: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub at: f64,
    pub kind: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub detail: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests;
