//! autolab's side of `bench speed`: a real campaign (`run_campaign`, the built-in optimizer,
//! no LLM) on a fresh git copy of the lab, with or without its `[early_stop]`.

use std::sync::atomic::AtomicBool;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use autolab_core::experiment::RunOutcome;
use autolab_core::ledger::Ledger;
use autolab_engine::{Lab, Observer, Report, RunOptions, run_campaign};

use super::labs::{LabSpec, Variant};
use super::{Record, Trial};
use crate::output::CliError;

const TAG: &str = "speed";

/// Every verdict, when it came and what its runs cost.
struct Recorder {
    start: Instant,
    trials: Vec<Trial>,
}

impl Observer for Recorder {
    fn report(&mut self, report: Report) {
        if let Report::Verdict {
            experiment,
            primary,
            run_secs,
            ..
        } = report
        {
            let pruned = experiment
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("early-stopped") || r.starts_with("halted"));
            self.trials.push(Trial {
                end: self.start.elapsed().as_secs_f64(),
                run_secs,
                value: primary.filter(|v| v.is_finite()),
                pruned,
            });
        }
    }
}

/// One campaign of `lab.budget` experiments (the baseline included) with `seed`, with the
/// lab's `[early_stop]` or without, with successive halving on its budget or not.
pub(super) fn run(lab: &LabSpec, variant: Variant, seed: u64) -> Result<Record, CliError> {
    let root = tempfile::Builder::new()
        .prefix("autolab-bench-speed-")
        .tempdir()?;
    let dir = root.path().join(lab.kind.name());
    lab.write_repo(&dir, variant)?;
    let opened = Lab::open(&dir)?;
    let opts = RunOptions {
        tag: TAG.into(),
        max_experiments: Some(lab.budget),
        max_hours: None,
        parallel: Some(2),
        seed: Some(seed),
        sandbox_helper: std::env::current_exe().ok(),
        serial_agent: false,
        base: None,
        base_params: None,
        holder: None,
    };
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut recorder = Recorder {
        start: Instant::now(),
        trials: Vec::new(),
    };
    run_campaign(&opened, &opts, &mut recorder, &AtomicBool::new(false))?;
    let wall = recorder.start.elapsed().as_secs_f64();
    Ok(Record {
        wall,
        runs: runs_of(&opened, started_unix)?,
        trials: recorder.trials,
    })
}

/// Every run of the campaign as it ended (seconds since `start`, a unix time), so a single
/// run that reaches the target counts when it ends, as an Optuna trial does.
fn runs_of(lab: &Lab, start: f64) -> Result<Vec<Trial>, CliError> {
    let ledger = Ledger::open_read_only(&lab.ledger_path())?;
    let Some(campaign) = ledger.campaign(TAG)? else {
        return Ok(Vec::new());
    };
    let mut runs = Vec::new();
    for e in ledger.experiments(campaign.id)? {
        for r in ledger.runs(e.row)? {
            let Some(ended) = r.ended_at else { continue };
            runs.push(Trial {
                end: ended - start,
                run_secs: ended - r.started_at,
                value: r.metrics.get("val_loss").copied().filter(|v| v.is_finite()),
                pruned: r.outcome == RunOutcome::Stopped,
            });
        }
    }
    runs.sort_by(|a, b| a.end.total_cmp(&b.end));
    Ok(runs)
}
