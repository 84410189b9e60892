//! Where candidates come from and how their change is made: the proposer (the optimizer, or
//! one plugged in) and the coder that applies a proposal in a worktree. The LLM path proposes
//! and codes through its own jobs ([`super::agent_flow`]); its experiments reach it here.

use autolab_core::experiment::{Experiment, ProposerKind, State, Verdict};
use autolab_core::ids::ExperimentId;
use autolab_core::ledger::Changes;
use serde_json::json;

use super::agent_flow::AgentRuntime;
use super::books::Books;
use super::jobs::Jobs;
use crate::EngineError;
use crate::coder::Coder;
use crate::proposer::{Proposal, Proposer};

/// The proposer and coder of the campaign (without `[agent]`, or plugged in).
pub(super) struct Sources {
    pub proposer: Option<Box<dyn Proposer>>,
    pub coder: Option<Box<dyn Coder>>,
}

impl Sources {
    /// Records the next idea as experiment `number`; the baseline when `number` is 0.
    pub fn propose(
        &mut self,
        books: &mut Books<'_>,
        number: u32,
    ) -> Result<Option<ExperimentId>, EngineError> {
        let parent = books.incumbent_commit()?;
        let proposal = if number == 0 {
            Proposal {
                title: "baseline".into(),
                proposer: "baseline".into(),
                params: books.opts.base_params.clone(),
            }
        } else {
            let history = books.trials()?;
            let Some(proposer) = self.proposer.as_mut() else {
                return Ok(None);
            };
            match proposer.propose(number, &history) {
                // Under successive halving the commit holds the full budget.
                Some(mut p) => {
                    if let Some(h) = super::halving::of(books) {
                        p.params = super::halving::with_budget(h, p.params.as_ref(), h.full());
                    }
                    p
                }
                None => return Ok(None),
            }
        };
        let row = books.ledger.propose(
            books.campaign.id,
            number,
            &parent,
            &proposal.proposer,
            &proposal.title,
            proposal.params.as_ref(),
        )?;
        Ok(Some(row))
    }

    /// Creates the worktree from the experiment's parent, applies its change, commits it and
    /// checks the rules. Returns whether it is ready to run (else it got verdict `invalid`, or
    /// an LLM coder took it and its run is queued when the code is written).
    pub fn implement(
        &self,
        books: &mut Books<'_>,
        jobs: &mut Jobs,
        agent: Option<&mut AgentRuntime>,
        row: ExperimentId,
    ) -> Result<bool, EngineError> {
        let exp = books.ledger.experiment_by_row(row)?;
        if exp.proposer == ProposerKind::Llm
            && let Some(agent) = agent
        {
            // An LLM coder takes time: it runs as a job and the run is queued when it is done.
            agent.implement_async(books, jobs, row, None)?;
            return Ok(false);
        }
        books
            .ledger
            .transition(&exp, State::Implementing, json!({}))?;
        let worktree = books.lab.worktree(&books.campaign.tag, exp.number);
        books.worktrees().checkout(exp.number, &exp.parent)?;

        if exp.number == 0 && (exp.params.is_none() || self.coder.is_none()) {
            // The baseline is the incumbent as it is (with values given, they are applied
            // like a candidate's below).
            let ch = Changes {
                commit: Some(exp.parent.clone()),
                lines: Some((0, 0)),
                ..Changes::default()
            };
            books
                .ledger
                .transition_with(row, State::Queued, json!({"commit": exp.parent}), &ch)?;
            return Ok(true);
        }
        let applied = match &self.coder {
            Some(coder) => coder.implement(&proposal_of(&exp), &worktree),
            None => Err("no coder is configured for this proposer".into()),
        };
        if let Err(reason) = applied {
            books.verdict_without_run(
                row,
                Verdict::Invalid,
                &format!("could not implement: {reason}"),
                None,
            )?;
            return Ok(false);
        }
        let message = format!(
            "{}\n\nautolab experiment {} by {}\n",
            exp.title,
            books.experiment_name(exp.number),
            exp.proposer
        );
        let commit = books.lab.repo.worktree(&worktree)?.commit_all(&message)?;
        let detail = json!({"commit": commit});
        books.queue_commit(&exp, commit, detail)
    }

    /// Applies a params experiment's change again in `worktree` (moved onto a newer
    /// incumbent); None when its change is a commit to carry over instead.
    pub fn reapply(
        &self,
        exp: &Experiment,
        worktree: &std::path::Path,
    ) -> Option<Result<(), String>> {
        match (&exp.params, &self.coder) {
            (Some(_), Some(coder)) => Some(coder.implement(&proposal_of(exp), worktree)),
            _ => None,
        }
    }
}

fn proposal_of(exp: &Experiment) -> Proposal {
    Proposal {
        title: exp.title.clone(),
        proposer: exp.proposer.clone(),
        params: exp.params.clone(),
    }
}
