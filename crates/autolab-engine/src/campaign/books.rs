//! The campaign's books: the lab, the ledger, the campaign's row, the options and whoever
//! watches. Everything that reads the record or writes a verdict goes through them; verdicts
//! land here (`conclude.rs`) and wait in `concluded` until the loop reports them.

use std::time::Instant;

use autolab_core::experiment::{Experiment, State};
use autolab_core::git;
use autolab_core::ids::ExperimentId;
use autolab_core::ledger::{Campaign, Changes, Ledger};
use serde_json::json;

use super::worktrees::Worktrees;
use super::{Observer, RunOptions};
use crate::EngineError;
use crate::lab::Lab;
use crate::proposer::Trial;

pub(super) struct Books<'a> {
    pub lab: &'a Lab,
    pub ledger: Ledger,
    pub campaign: Campaign,
    pub opts: &'a RunOptions,
    pub observer: &'a mut dyn Observer,
    /// When this invocation started (for the share of `max_hours` used).
    pub started: Instant,
    /// When this invocation took the lab (ledger time): older commands were never for it.
    pub held_since: f64,
    /// Spare worktrees kept: one per slot.
    pub spares: usize,
    /// Verdicts recorded and not yet reported (crash streak, playbook, lessons, observer):
    /// the loop reports them after the step that reached them.
    pub concluded: Vec<ExperimentId>,
}

impl Books<'_> {
    /// Projects mode: whether `commit` is where the incumbent branch may stand — the base or a
    /// run that was kept. Projects are separate lines, so the branch jumps between them rather
    /// than moving forward; anywhere else, someone else moved it.
    pub fn incumbent_line(&self, commit: &str) -> Result<bool, EngineError> {
        if commit == self.campaign.base_commit {
            return Ok(true);
        }
        Ok(self
            .ledger
            .experiments(self.campaign.id)?
            .iter()
            .any(|e| e.state.keeps() && e.commit.as_deref() == Some(commit)))
    }

    pub fn incumbent(&self) -> Result<Option<Experiment>, EngineError> {
        let c = self.ledger.campaign(&self.campaign.tag)?;
        Ok(match c.and_then(|c| c.incumbent) {
            Some(n) => self.ledger.experiment(self.campaign.id, n)?,
            None => None,
        })
    }

    /// The commit new experiments start from.
    pub fn incumbent_commit(&self) -> Result<String, EngineError> {
        Ok(self
            .incumbent()?
            .and_then(|e| e.commit)
            .unwrap_or_else(|| self.campaign.base_commit.clone()))
    }

    /// The campaign's worktrees, one spare kept per slot.
    pub fn worktrees(&self) -> Worktrees<'_> {
        Worktrees {
            lab: self.lab,
            tag: self.campaign.tag.clone(),
            keep: self.spares,
        }
    }

    pub fn experiment_name(&self, number: u32) -> String {
        format!("{}/{number:04}", self.campaign.tag)
    }

    /// True while the baseline has no verdict yet (candidates wait for it).
    pub fn baseline_pending(&self) -> Result<bool, EngineError> {
        Ok(self
            .ledger
            .experiment(self.campaign.id, 0)?
            .is_none_or(|e| !e.state.is_final()))
    }

    /// Whether the experiment budget allows another experiment.
    pub fn under_budget(&self) -> Result<bool, EngineError> {
        let next = self.ledger.next_number(self.campaign.id)?;
        Ok(self.opts.max_experiments.is_none_or(|max| next < max))
    }

    /// The judged points the optimizer learns from.
    pub fn trials(&self) -> Result<Vec<Trial>, EngineError> {
        let mut out = Vec::new();
        let halving = super::halving::of(self);
        for e in self.ledger.experiments(self.campaign.id)? {
            // A cancelled point was never measured: it tells the optimizer nothing.
            if e.state == State::Cancelled {
                continue;
            }
            let Some(serde_json::Value::Object(params)) = e.params else {
                continue;
            };
            let pending = !e.state.is_final();
            // The runs a score is the mean of (noise-aware repeats and confirmations; under
            // successive halving, its runs at the full budget only).
            let runs = if pending || e.score.is_none() {
                0
            } else {
                super::halving::judged_runs(halving, &self.ledger.runs(e.row)?)
            };
            out.push(Trial {
                params,
                score: if pending { None } else { e.score },
                pending,
                runs,
            });
        }
        Ok(out)
    }

    /// Records a candidate's commit and its line counts: queued to run (with `detail` in the
    /// event), or `invalid` when it breaks the `editable`/`protected` rules. Returns whether
    /// it was queued.
    pub fn queue_commit(
        &mut self,
        exp: &Experiment,
        commit: String,
        detail: serde_json::Value,
    ) -> Result<bool, EngineError> {
        let ch = Changes {
            lines: Some(self.lab.repo.line_counts(&exp.parent, &commit)?),
            commit: Some(commit.clone()),
            ..Changes::default()
        };
        if let Some(reason) = self.rule_violation(&exp.parent, &commit)? {
            self.ledger.transition_with(
                exp.row,
                State::Implementing,
                json!({"commit": commit}),
                &ch,
            )?;
            self.verdict_without_run(
                exp.row,
                autolab_core::experiment::Verdict::Invalid,
                &reason,
                None,
            )?;
            return Ok(false);
        }
        self.ledger
            .transition_with(exp.row, State::Queued, detail, &ch)?;
        Ok(true)
    }

    /// Why a candidate commit breaks the `editable`/`protected` rules, if it does.
    pub fn rule_violation(
        &self,
        parent: &str,
        commit: &str,
    ) -> Result<Option<String>, EngineError> {
        let task = &self.lab.config.task;
        let changed = self.lab.repo.changed_files(parent, commit)?;
        let protected: Vec<&String> = changed
            .iter()
            .filter(|f| task.protected.iter().any(|p| git::path_matches(p, f)))
            .collect();
        if !protected.is_empty() {
            return Ok(Some(format!(
                "changes protected file(s): {}",
                join(&protected)
            )));
        }
        let outside: Vec<&String> = changed
            .iter()
            .filter(|f| !task.editable.iter().any(|p| git::path_matches(p, f)))
            .collect();
        if !outside.is_empty() {
            return Ok(Some(format!(
                "changes file(s) outside `editable`: {}",
                join(&outside)
            )));
        }
        for (path, blob) in &self.campaign.protected {
            if self.lab.repo.blob(commit, path) != *blob {
                return Ok(Some(format!(
                    "protected file `{path}` differs from the campaign start"
                )));
            }
        }
        Ok(None)
    }
}

fn join(files: &[&String]) -> String {
    files
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
