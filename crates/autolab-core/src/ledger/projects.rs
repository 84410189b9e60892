//! Projects (`[task] mode = "projects"`): an idea with its series of runs (experiments that
//! carry the project's id and their run index), its notes, paper and review. The finished
//! ones with their review scores are the archive the next ideation reads.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Ledger, Result, now, wrap};
use crate::ids::{CampaignId, ExperimentId};

/// The ledger's projects (`ledger.projects()`).
pub struct Projects<'a>(pub(super) &'a Ledger);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectStatus {
    /// Runs are being planned, coded or run.
    Running,
    /// Its runs are over; plots, paper and review are being made.
    Writing,
    Done,
    /// It ended without a usable run.
    Failed,
}

impl ProjectStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Running => "running",
            ProjectStatus::Writing => "writing",
            ProjectStatus::Done => "done",
            ProjectStatus::Failed => "failed",
        }
    }
    fn parse(s: &str) -> Option<ProjectStatus> {
        Some(match s {
            "running" => ProjectStatus::Running,
            "writing" => ProjectStatus::Writing,
            "done" => ProjectStatus::Done,
            "failed" => ProjectStatus::Failed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Project {
    pub id: i64,
    /// 1, 2, … within the campaign.
    pub number: u32,
    pub idea: serde_json::Value,
    pub expert: Option<String>,
    /// The commit its first run starts from (the campaign's base).
    pub base: String,
    pub status: ProjectStatus,
    /// `notes.txt` as AI-Scientist keeps it: each run's description and result.
    pub notes: String,
    pub dir: Option<String>,
    pub paper: Option<String>,
    /// The review (the meta-review's form when there was an ensemble).
    pub review: Option<serde_json::Value>,
    /// The review's Overall score.
    pub score: Option<f64>,
}

const COLUMNS: &str = "id, number, idea, expert, base, status, notes, dir, paper, review, score";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Project> {
    let idea: String = r.get(2)?;
    let status: String = r.get(5)?;
    let review: Option<String> = r.get(9)?;
    Ok(Project {
        id: r.get(0)?,
        number: r.get(1)?,
        idea: serde_json::from_str(&idea).unwrap_or(serde_json::Value::String(idea)),
        expert: r.get(3)?,
        base: r.get(4)?,
        status: ProjectStatus::parse(&status).unwrap_or(ProjectStatus::Failed),
        notes: r.get(6)?,
        dir: r.get(7)?,
        paper: r.get(8)?,
        review: review.and_then(|t| serde_json::from_str(&t).ok()),
        score: r.get(10)?,
    })
}

impl Projects<'_> {
    /// A new project of `campaign`; its row id.
    pub fn create(
        &self,
        campaign: CampaignId,
        idea: &serde_json::Value,
        expert: Option<&str>,
        base: &str,
    ) -> Result<i64> {
        let l = self.0;
        let number: u32 = l
            .conn
            .query_row(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM projects WHERE campaign_id = ?1",
                params![campaign],
                |r| r.get(0),
            )
            .map_err(wrap(&l.path))?;
        l.conn
            .execute(
                "INSERT INTO projects (campaign_id, number, idea, expert, base, status, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'running', ?6)",
                params![campaign, number, idea.to_string(), expert, base, now()],
            )
            .map_err(wrap(&l.path))?;
        Ok(l.conn.last_insert_rowid())
    }

    pub fn get(&self, id: i64) -> Result<Option<Project>> {
        let l = self.0;
        l.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM projects WHERE id = ?1"),
                params![id],
                row,
            )
            .optional()
            .map_err(wrap(&l.path))
    }

    /// A campaign's projects, oldest first.
    pub fn list(&self, campaign: CampaignId) -> Result<Vec<Project>> {
        let l = self.0;
        let mut stmt = l
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM projects WHERE campaign_id = ?1 ORDER BY number"
            ))
            .map_err(wrap(&l.path))?;
        let rows = stmt
            .query_map(params![campaign], row)
            .map_err(wrap(&l.path))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(wrap(&l.path))
    }

    pub fn set_status(&self, id: i64, status: ProjectStatus) -> Result<()> {
        self.exec(
            "UPDATE projects SET status = ?2 WHERE id = ?1",
            params![id, status.as_str()],
        )
    }

    pub fn set_dir(&self, id: i64, dir: &str) -> Result<()> {
        self.exec(
            "UPDATE projects SET dir = ?2 WHERE id = ?1",
            params![id, dir],
        )
    }

    /// Appends to the project's notes.
    pub fn add_notes(&self, id: i64, text: &str) -> Result<()> {
        self.exec(
            "UPDATE projects SET notes = notes || ?2 WHERE id = ?1",
            params![id, text],
        )
    }

    /// The paper and its review (with its Overall score).
    pub fn set_written(
        &self,
        id: i64,
        paper: Option<&str>,
        review: Option<&serde_json::Value>,
        score: Option<f64>,
    ) -> Result<()> {
        self.exec(
            "UPDATE projects SET paper = ?2, review = ?3, score = ?4 WHERE id = ?1",
            params![id, paper, review.map(|r| r.to_string()), score],
        )
    }

    /// Marks experiment `row` as run `run` of project `id`.
    pub fn add_run(&self, id: i64, row: ExperimentId, run: u32) -> Result<()> {
        self.exec(
            "UPDATE experiments SET project_id = ?2, project_run = ?3 WHERE id = ?1",
            params![row, id, run],
        )
    }

    /// The experiment rows of project `id` with their run index, in order.
    pub fn runs(&self, id: i64) -> Result<Vec<(ExperimentId, u32)>> {
        let l = self.0;
        let mut stmt = l
            .conn
            .prepare("SELECT id, project_run FROM experiments WHERE project_id = ?1 ORDER BY project_run, id")
            .map_err(wrap(&l.path))?;
        let rows = stmt
            .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(wrap(&l.path))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(wrap(&l.path))
    }

    /// The project an experiment belongs to, with its run index.
    pub fn of_experiment(&self, row: ExperimentId) -> Result<Option<(i64, u32)>> {
        let l = self.0;
        l.conn
            .query_row(
                "SELECT project_id, project_run FROM experiments WHERE id = ?1 AND project_id IS NOT NULL",
                params![row],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(wrap(&l.path))
    }

    fn exec(&self, sql: &str, p: impl rusqlite::Params) -> Result<()> {
        let l = self.0;
        l.conn.execute(sql, p).map_err(wrap(&l.path))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_keeps_its_runs_notes_and_review() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("ledger.db")).unwrap();
        let c = l
            .create_campaign("t", "abc", 7, &indexmap::IndexMap::new(), "")
            .unwrap()
            .id;
        let p = l.projects();
        let a = p
            .create(c, &serde_json::json!({"title": "A"}), Some("seed"), "abc")
            .unwrap();
        let b = p
            .create(c, &serde_json::json!({"title": "B"}), None, "abc")
            .unwrap();
        let e1 = l.propose(c, 1, "abc", "llm", "A run 1", None).unwrap();
        let e2 = l.propose(c, 2, "abc", "llm", "A run 2", None).unwrap();
        let p = l.projects();
        p.add_run(a, e2, 2).unwrap();
        p.add_run(a, e1, 1).unwrap();
        p.add_notes(a, "Run 1: x\n").unwrap();
        p.add_notes(a, "Run 2: y\n").unwrap();
        p.set_written(
            a,
            Some("a.pdf"),
            Some(&serde_json::json!({"Overall": 6})),
            Some(6.0),
        )
        .unwrap();
        p.set_status(a, ProjectStatus::Done).unwrap();
        assert_eq!(p.runs(a).unwrap(), vec![(e1, 1), (e2, 2)]);
        assert_eq!(p.of_experiment(e2).unwrap(), Some((a, 2)));
        let all = p.list(c).unwrap();
        assert_eq!(all.iter().map(|x| x.number).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(all[0].notes, "Run 1: x\nRun 2: y\n");
        assert_eq!(
            (all[0].status, all[0].score),
            (ProjectStatus::Done, Some(6.0))
        );
        assert_eq!(all[1].status, ProjectStatus::Running);
        assert_eq!(p.get(b).unwrap().unwrap().idea["title"], "B");
    }

    #[test]
    fn atomically_lands_every_write_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("ledger.db")).unwrap();
        let c = l
            .create_campaign("t", "abc", 7, &indexmap::IndexMap::new(), "")
            .unwrap()
            .id;
        // The second proposal of number 1 fails: the project and the first go too.
        let failed = l.atomically(|l| {
            let row = l.propose(c, 1, "abc", "llm", "a", None)?;
            let p = l
                .projects()
                .create(c, &serde_json::json!({"title": "A"}), None, "abc")?;
            l.projects().add_run(p, row, 1)?;
            l.propose(c, 1, "abc", "llm", "again", None)
        });
        assert!(failed.is_err());
        assert!(l.experiments(c).unwrap().is_empty());
        assert!(l.projects().list(c).unwrap().is_empty());
        let ok = l.atomically(|l| l.propose(c, 1, "abc", "llm", "a", None));
        assert!(ok.is_ok());
        assert_eq!(l.experiments(c).unwrap().len(), 1);
    }
}
