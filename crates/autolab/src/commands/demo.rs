//! `autolab demo`: a real campaign on the bundled spiral example, in a fresh git repository.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use autolab_engine::{Lab, RunOptions};

use super::common::{fmt_score, short};
use super::run::{print_summary, run_with_progress};
use crate::output::CliError;

/// The spiral example, compiled in so the demo works from any directory.
pub const SPIRAL: [(&str, &str); 4] = [
    (
        "prepare.py",
        include_str!("../../../../examples/spiral/prepare.py"),
    ),
    (
        "train.py",
        include_str!("../../../../examples/spiral/train.py"),
    ),
    (
        "params.json",
        include_str!("../../../../examples/spiral/params.json"),
    ),
    (
        "autolab.toml",
        include_str!("../../../../examples/spiral/autolab.toml"),
    ),
];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to create the demo lab (must not exist or be empty); default: a new temp dir.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Experiments in the campaign, the baseline included.
    #[arg(long, default_value_t = 20)]
    pub experiments: u32,
    /// Runs at once.
    #[arg(long, default_value_t = 2)]
    pub parallel: usize,
    /// The proposer's seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn demo(args: Args) -> Result<ExitCode, CliError> {
    if args.experiments == 0 {
        return Err(CliError::usage("--experiments must be at least 1", None));
    }
    let python = Command::new("python3")
        .arg("--version")
        .stdin(Stdio::null())
        .output();
    if !python.is_ok_and(|o| o.status.success()) {
        return Err(CliError::failure(
            "python3 is needed by the spiral example",
            Some("install it: apt-get install python3"),
        ));
    }
    let dir = match args.dir {
        Some(d) => d,
        None => tempfile::Builder::new()
            .prefix("autolab-demo-")
            .tempdir()?
            .keep(),
    };
    write_lab(&dir)?;
    eprintln!("demo lab: {}", dir.display());
    let lab = Lab::open(&dir)?;
    let opts = RunOptions {
        tag: "demo".into(),
        max_experiments: Some(args.experiments),
        max_hours: None,
        parallel: Some(args.parallel.max(1)),
        seed: Some(args.seed),
        sandbox_helper: std::env::current_exe().ok(),
        serial_agent: false,
        base: None,
        base_params: None,
        holder: None,
    };
    let summary = run_with_progress(&lab, &opts)?;
    println!();
    print_leaderboard(&dir)?;
    print_summary(&lab, &summary);
    println!("lab:     {}", dir.display());
    println!("ledger:  {}", lab.ledger_path().display());
    println!("runs:    {}", lab.state_dir().join("runs").display());
    println!(
        "next:    cd {} && autolab results && autolab show {}",
        dir.display(),
        summary.incumbent.map(|e| e.number).unwrap_or(0)
    );
    Ok(ExitCode::SUCCESS)
}

/// Creates the spiral lab in `dir` as a git repository with one commit.
pub fn write_lab(dir: &Path) -> Result<(), CliError> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        return Err(CliError::usage(
            format!("{} is not empty", dir.display()),
            Some("pick a new directory, or omit --dir"),
        ));
    }
    std::fs::create_dir_all(dir)?;
    for (name, text) in SPIRAL {
        std::fs::write(dir.join(name), text)?;
    }
    for args in [
        &["init", "--quiet", "--initial-branch=main"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=autolab",
            "-c",
            "user.email=autolab@localhost",
            "commit",
            "--quiet",
            "-m",
            "spiral example",
        ],
    ] {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(CliError::failure(
                format!(
                    "git {} failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                Some("is git installed? `autolab doctor` checks"),
            ));
        }
    }
    Ok(())
}

fn print_leaderboard(dir: &Path) -> Result<(), CliError> {
    let opened = super::common::open_ledger(dir)?;
    let campaign = super::common::pick_campaign(&opened.ledger, Some("demo"))?;
    let mut exps: Vec<_> = opened
        .ledger
        .experiments(campaign.id)?
        .into_iter()
        .filter(|e| e.score.is_some())
        .collect();
    exps.sort_by(|a, b| {
        a.score
            .unwrap_or(f64::MAX)
            .total_cmp(&b.score.unwrap_or(f64::MAX))
    });
    println!("leaderboard (val_loss, lower is better):");
    for e in exps.iter().take(10) {
        println!(
            "  #{:04} {:<9} {}  {}  {}",
            e.number,
            e.verdict.map(|v| v.as_str()).unwrap_or("-"),
            fmt_score(e.score),
            short(e.commit.as_deref()),
            e.title
        );
    }
    Ok(())
}
