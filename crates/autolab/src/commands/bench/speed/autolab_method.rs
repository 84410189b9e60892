//! autolab's side of `bench speed`: a real campaign (`run_campaign`, the built-in optimizer,
//! no LLM) on a fresh git copy of the lab, with or without its `[early_stop]`.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use autolab_engine::{Lab, Observer, Report, RunOptions, run_campaign};

use super::labs::LabSpec;
use super::{Record, Trial};
use crate::output::CliError;

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
                .is_some_and(|r| r.contains("early-stopped"));
            self.trials.push(Trial {
                end: self.start.elapsed().as_secs_f64(),
                run_secs,
                value: primary.filter(|v| v.is_finite()),
                pruned,
            });
        }
    }
}

/// One campaign of `lab.budget` experiments (the baseline included) with `seed`.
pub(super) fn run(lab: &LabSpec, early_stop: bool, seed: u64) -> Result<Record, CliError> {
    let root = tempfile::Builder::new()
        .prefix("autolab-bench-speed-")
        .tempdir()?;
    let dir = root.path().join(lab.kind.name());
    lab.write_repo(&dir, early_stop)?;
    let opened = Lab::open(&dir)?;
    let opts = RunOptions {
        tag: "speed".into(),
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
    let mut recorder = Recorder {
        start: Instant::now(),
        trials: Vec::new(),
    };
    run_campaign(&opened, &opts, &mut recorder, &AtomicBool::new(false))?;
    Ok(Record {
        wall: recorder.start.elapsed().as_secs_f64(),
        trials: recorder.trials,
    })
}
