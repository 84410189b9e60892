//! `autolab bench noise`: on a lab whose metric is pure noise (no candidate can matter), how
//! many candidates does each verdict policy keep? Every keep is noise mistaken for progress.

use std::path::Path;
use std::sync::atomic::AtomicBool;

use autolab_core::ledger::Ledger;
use autolab_engine::{Lab, Observer, Report, RunOptions, run_campaign};

use crate::output::CliError;

struct Quiet;
impl Observer for Quiet {
    fn report(&mut self, _: Report) {}
}

/// A run prints val_loss ~ N(0.5, 0.05), drawn from the experiment's name and the seed: a
/// candidate's change has no effect at all.
const NOISE_SH: &str = r#"h=$(printf '%s' "$AUTOLAB_EXPERIMENT:$AUTOLAB_SEED" | cksum | cut -d' ' -f1)
awk -v h="$h" 'BEGIN { srand(h); u1 = rand(); u2 = rand(); if (u1 < 1e-12) u1 = 1e-12;
  z = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2); printf "val_loss: %.6f\n", 0.5 + 0.05 * z }'
"#;

fn make_lab(dir: &Path, policy: &str) -> Result<(), CliError> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("noise.sh"), NOISE_SH)?;
    std::fs::write(dir.join("params.json"), "{\"x\": 0.5}\n")?;
    std::fs::write(
        dir.join("autolab.toml"),
        format!(
            r#"[task]
command = "sh noise.sh"
editable = ["params.json"]
timeout = "1m"
[metrics]
score = {{ val_loss = {{ goal = "minimize" }} }}
[params]
apply = {{ json = "params.json" }}
sampler = "random"
x = {{ float = [0.0, 1.0] }}
[decide]
policy = "{policy}"
[runner]
parallel = 2
"#
        ),
    )?;
    super::commit_lab(dir)
}

/// (candidates, kept, runs) of one campaign.
fn campaign(dir: &Path, candidates: u32, seed: u64) -> Result<(u32, u32, u32), CliError> {
    let lab = Lab::open(dir)?;
    let opts = RunOptions {
        tag: format!("noise{seed}"),
        max_experiments: Some(candidates + 1),
        max_hours: None,
        parallel: None,
        seed: Some(seed),
        sandbox_helper: std::env::current_exe().ok(),
        serial_agent: false,
        base: None,
        base_params: None,
        holder: None,
    };
    run_campaign(&lab, &opts, &mut Quiet, &AtomicBool::new(false))?;
    let ledger = Ledger::open(&lab.ledger_path())?;
    let c = ledger
        .campaign(&opts.tag)?
        .ok_or_else(|| CliError::failure("campaign vanished", None))?;
    let mut kept = 0;
    let mut runs = 0;
    let mut n = 0;
    for e in ledger
        .experiments(c.id)?
        .into_iter()
        .filter(|e| e.number > 0)
    {
        n += 1;
        runs += ledger.run_count(e.row)?;
        if e.verdict
            .is_some_and(autolab_core::experiment::Verdict::keeps)
        {
            kept += 1;
        }
    }
    Ok((n, kept, runs))
}

pub fn noise(candidates: u32, campaigns: u32) -> Result<std::process::ExitCode, CliError> {
    let root = tempfile::Builder::new()
        .prefix("autolab-bench-noise-")
        .tempdir()?;
    println!("| policy      | campaigns | candidates | kept | kept % | runs per candidate |");
    println!("|-------------|-----------|------------|------|--------|--------------------|");
    let mut fractions = Vec::new();
    for policy in ["strict", "noise-aware"] {
        let (mut total, mut kept, mut runs) = (0, 0, 0);
        for k in 0..campaigns {
            let dir = root.path().join(format!("{policy}-{k}"));
            make_lab(&dir, policy)?;
            eprintln!("{policy}: campaign {} of {campaigns}…", k + 1);
            let (n, kk, r) = campaign(&dir, candidates, u64::from(k) + 1)?;
            total += n;
            kept += kk;
            runs += r;
        }
        let frac = f64::from(kept) / f64::from(total.max(1));
        fractions.push(frac);
        println!(
            "| {policy:<11} | {campaigns:>9} | {total:>10} | {kept:>4} | {:>5.1}% | {:>18.2} |",
            100.0 * frac,
            f64::from(runs) / f64::from(total.max(1))
        );
    }
    let target = fractions.get(1).is_some_and(|f| *f <= 0.05);
    println!(
        "\nmetric: val_loss ~ N(0.5, 0.05) from the experiment name and seed; no change matters.\n\
         target: noise-aware keeps ≤ 5 % of candidates: {}",
        if target { "met" } else { "MISSED" }
    );
    Ok(std::process::ExitCode::SUCCESS)
}
