//! A lab for the scripted runner: one editable file, a proposer that always edits it, and
//! a campaign `t` run with a time budget (a loop that waits forever fails instead of hanging).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use autolab_core::ledger::Ledger;
use autolab_engine::proposer::{Proposal, Proposer, Trial};
use autolab_engine::{Lab, Observer, Parts, RunOptions, run_campaign_with};

use super::common::{Appender, commit_all};
use super::fake_runner::Scripted;

/// Always proposes another line in a.txt.
pub struct Again;
impl Proposer for Again {
    fn propose(&mut self, _: u32, _: &[Trial]) -> Option<Proposal> {
        Some(Proposal {
            title: "edit a.txt".into(),
            proposer: "test".into(),
            params: None,
        })
    }
}

/// A lab whose command the scripted runner never executes.
pub fn lab(dir: &Path, extra: &str) -> Lab {
    std::fs::write(dir.join("a.txt"), "").unwrap();
    std::fs::write(
        dir.join("autolab.toml"),
        format!(
            "[task]\ncommand = \"false\"\neditable = [\"a.txt\"]\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n\
             [decide]\npolicy = \"strict\"\n{extra}"
        ),
    )
    .unwrap();
    commit_all(dir);
    Lab::open(dir).unwrap()
}

pub fn run(
    lab: &Lab,
    max: u32,
    runner: Arc<Scripted>,
    observer: &mut dyn Observer,
) -> autolab_engine::Summary {
    try_run(lab, max, runner, observer).unwrap()
}

/// [`run`], its error kept.
pub fn try_run(
    lab: &Lab,
    max: u32,
    runner: Arc<Scripted>,
    observer: &mut dyn Observer,
) -> Result<autolab_engine::Summary, autolab_engine::EngineError> {
    run_parallel(lab, max, None, runner, observer)
}

/// [`run`] with `parallel` slots.
pub fn run_with(
    lab: &Lab,
    max: u32,
    parallel: usize,
    runner: Arc<Scripted>,
    observer: &mut dyn Observer,
) -> autolab_engine::Summary {
    run_parallel(lab, max, Some(parallel), runner, observer).unwrap()
}

fn run_parallel(
    lab: &Lab,
    max: u32,
    parallel: Option<usize>,
    runner: Arc<Scripted>,
    observer: &mut dyn Observer,
) -> Result<autolab_engine::Summary, autolab_engine::EngineError> {
    let opts = RunOptions {
        tag: "t".into(),
        max_experiments: Some(max),
        parallel,
        // A loop that waits for a command that never comes ends instead of hanging the test.
        max_hours: Some(30.0 / 3600.0),
        ..RunOptions::default()
    };
    let parts = Parts {
        proposer: Some(Box::new(Again)),
        coder: Some(Box::new(Appender)),
        runner: Some(runner),
    };
    run_campaign_with(lab, &opts, observer, &AtomicBool::new(false), parts)
}

pub fn experiments(root: &Path) -> Vec<autolab_core::experiment::Experiment> {
    let ledger = Ledger::open(&root.join(".autolab/ledger.db")).unwrap();
    let c = ledger.campaign("t").unwrap().unwrap();
    ledger.experiments(c.id).unwrap()
}
