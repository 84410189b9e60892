//! `autolab bench overhead`: what autolab itself costs per experiment.
//! `autolab bench optimizer`: see `optimizer/`; `serve`: see `serve.rs`; `speed`: see `speed/`.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use autolab_engine::{Lab, Observer, Report, RunOptions, run_campaign};

use crate::output::CliError;

mod cluster;
mod duty;
mod noise;
mod optimizer;
mod serve;
mod speed;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// Orchestrator overhead per experiment (everything but the lab's command).
    Overhead {
        /// Experiments per measured campaign.
        #[arg(long, default_value_t = 30)]
        experiments: u32,
        /// Files in the large generated lab.
        #[arg(long, default_value_t = 20_000)]
        files: u32,
    },
    /// The built-in TPE against random search and Optuna's TPE (regret on 4 problems).
    Optimizer(optimizer::Args),
    /// Research speed: early stopping's savings and time-to-target against Optuna's pruners.
    Speed(speed::Args),
    /// Scheduler calls per poll with many queued jobs (SLURM, via SLURM_CONF).
    Cluster {
        #[arg(long, default_value_t = 100)]
        jobs: usize,
        /// Seconds of polling measured.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Do slots wait for the LLM? Pipelined vs serial, with a fake LLM.
    Duty {
        #[arg(long, default_value_t = 20)]
        experiments: u32,
        /// Seconds the fake LLM takes per answer.
        #[arg(long, default_value_t = 1.0)]
        llm_secs: f64,
        /// Seconds a run takes.
        #[arg(long, default_value_t = 2.0)]
        run_secs: f64,
    },
    /// The dashboard under load: render times on a large ledger, SSE fan-out, campaign slowdown.
    Serve {
        /// Experiments in the generated ledger.
        #[arg(long, default_value_t = 10_000)]
        experiments: u32,
        /// Open pages the event goes to.
        #[arg(long, default_value_t = 50)]
        clients: usize,
    },
    /// On a pure-noise lab: how many candidates `strict` and `noise-aware` keep.
    Noise {
        /// Candidates per campaign.
        #[arg(long, default_value_t = 25)]
        candidates: u32,
        /// Campaigns per policy.
        #[arg(long, default_value_t = 6)]
        campaigns: u32,
    },
}

struct Quiet;
impl Observer for Quiet {
    fn report(&mut self, _: Report) {}
}

pub fn bench(args: Args) -> Result<ExitCode, CliError> {
    match args.what {
        What::Overhead { experiments, files } => overhead(experiments.max(2), files),
        What::Optimizer(args) => optimizer::bench_optimizer(args),
        What::Speed(args) => speed::bench_speed(args),
        What::Cluster { jobs, seconds } => cluster::cluster(jobs.max(1), seconds.max(1)),
        What::Duty {
            experiments,
            llm_secs,
            run_secs,
        } => duty::duty(experiments.max(2), llm_secs, run_secs),
        What::Noise {
            candidates,
            campaigns,
        } => noise::noise(candidates, campaigns.max(1)),
        What::Serve {
            experiments,
            clients,
        } => serve::serve(experiments.max(2), clients.max(1)),
    }
}

/// A lab whose command does nothing but print a metric, with `extra` filler files.
fn make_lab(dir: &Path, extra: u32, sandbox: bool) -> Result<(), CliError> {
    std::fs::create_dir_all(dir)?;
    let sandbox = if sandbox {
        ""
    } else {
        "[sandbox]\nenabled = false\n"
    };
    std::fs::write(
        dir.join("autolab.toml"),
        r#"[task]
command = "echo val_loss: 0.5"
editable = ["params.json"]
timeout = "1m"
[metrics]
score = { val_loss = { goal = "minimize" } }
[params]
apply = { json = "params.json" }
lr = { log_float = [1e-4, 1.0] }
[runner]
parallel = 1
"#
        .to_string()
            + sandbox,
    )?;
    std::fs::write(dir.join("params.json"), "{\"lr\": 0.01}\n")?;
    for i in 0..extra {
        let sub = dir.join(format!("data/{:03}", i / 500));
        if i % 500 == 0 {
            std::fs::create_dir_all(&sub)?;
        }
        std::fs::write(sub.join(format!("f{i}.txt")), format!("file {i}\n"))?;
    }
    git(dir, &["init", "--quiet"])?;
    git(dir, &["add", "-A"])?;
    git(
        dir,
        &[
            "-c",
            "user.name=b",
            "-c",
            "user.email=b@b",
            "commit",
            "--quiet",
            "-m",
            "init",
        ],
    )?;
    Ok(())
}

fn git(dir: &Path, args: &[&str]) -> Result<(), CliError> {
    let ok = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()?
        .success();
    if ok {
        Ok(())
    } else {
        Err(CliError::failure(
            format!("git {} failed", args.join(" ")),
            None,
        ))
    }
}

/// Seconds per experiment of a whole campaign, and of running the command alone.
fn measure(dir: &Path, experiments: u32) -> Result<(f64, f64), CliError> {
    let lab = Lab::open(dir)?;
    let opts = RunOptions {
        tag: "bench".into(),
        max_experiments: Some(experiments),
        max_hours: None,
        parallel: Some(1),
        seed: Some(0),
        sandbox_helper: std::env::current_exe().ok(),
        serial_agent: false,
        base: None,
        base_params: None,
        holder: None,
    };
    let start = Instant::now();
    run_campaign(&lab, &opts, &mut Quiet, &AtomicBool::new(false))?;
    let campaign = start.elapsed().as_secs_f64() / f64::from(experiments);
    // The command alone, spawned the way the runner does (sh -c in the lab).
    let start = Instant::now();
    for _ in 0..experiments {
        Command::new("/bin/sh")
            .arg("-c")
            .arg(&lab.config.task.command)
            .current_dir(dir)
            .stdout(Stdio::null())
            .status()?;
    }
    let command = start.elapsed().as_secs_f64() / f64::from(experiments);
    Ok((campaign, command))
}

fn overhead(experiments: u32, files: u32) -> Result<ExitCode, CliError> {
    let root = tempfile::Builder::new()
        .prefix("autolab-bench-")
        .tempdir()?;
    let small = root.path().join("small");
    let large = root.path().join("large");
    let bare = root.path().join("bare");
    make_lab(&small, 0, true)?;
    make_lab(&bare, 0, false)?;
    eprintln!("generating a lab of {files} files…");
    make_lab(&large, files, true)?;
    // Baseline measured in the same run: one `git worktree add` + remove of each lab, the floor
    // under any worktree-per-experiment design.
    let floor = |dir: &Path| -> Result<f64, CliError> {
        let wt = dir.join(".floor-wt");
        let start = Instant::now();
        let n = 3;
        for _ in 0..n {
            git(
                dir,
                &[
                    "worktree",
                    "add",
                    "--quiet",
                    "--detach",
                    wt.to_str().unwrap_or_default(),
                    "HEAD",
                ],
            )?;
            git(
                dir,
                &[
                    "worktree",
                    "remove",
                    "--force",
                    wt.to_str().unwrap_or_default(),
                ],
            )?;
        }
        Ok(start.elapsed().as_secs_f64() / f64::from(n))
    };
    let small_floor = floor(&small)?;
    let bare_floor = floor(&bare)?;
    let large_floor = floor(&large)?;
    eprintln!("measuring {experiments} experiments per lab…");
    let (small_total, small_cmd) = measure(&small, experiments)?;
    let (bare_total, bare_cmd) = measure(&bare, experiments)?;
    let (large_total, large_cmd) = measure(&large, experiments)?;
    let ms = |s: f64| format!("{:.1} ms", s * 1000.0);
    let row = |name: &str, total: f64, cmd: f64, fl: f64, target: f64| {
        let overhead = (total - cmd).max(0.0);
        println!(
            "| {name:<22} | {:>10} | {:>10} | {:>10} | {:>12} | {:>6.2}x | {:>8} |",
            ms(total),
            ms(cmd),
            ms(overhead),
            ms(fl),
            overhead / fl,
            if overhead <= target { "met" } else { "MISSED" }
        );
    };
    println!(
        "| lab                    | per exp.   | command    | overhead   | worktree floor | ratio  | target   |"
    );
    println!(
        "|------------------------|------------|------------|------------|----------------|--------|----------|"
    );
    row(
        "spiral-like, no-op cmd",
        small_total,
        small_cmd,
        small_floor,
        0.050,
    );
    row("same, sandbox off", bare_total, bare_cmd, bare_floor, 0.050);
    row(
        &format!("{files} files"),
        large_total,
        large_cmd,
        large_floor,
        1.0,
    );
    println!(
        "\noverhead = per experiment minus the command alone; ratio = overhead / (git worktree add + remove)."
    );
    println!(
        "sandbox cost per run: {} (small lab, sandbox on minus off; {:.2}x the bare overhead)",
        ms(small_total - bare_total),
        (small_total - small_cmd).max(0.0) / (bare_total - bare_cmd).max(1e-9)
    );
    println!(
        "targets: ≤ 50 ms (small lab), ≤ 1 s ({files} files). {} cores.",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    Ok(ExitCode::SUCCESS)
}

/// Makes `dir` a git repository with everything in it committed.
pub(super) fn commit_lab(dir: &Path) -> Result<(), CliError> {
    for args in [
        &["init", "--quiet"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@localhost",
            "commit",
            "--quiet",
            "-m",
            "bench lab",
        ],
    ] {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()?
            .success();
        if !ok {
            return Err(CliError::failure(
                format!("git {} failed", args.join(" ")),
                None,
            ));
        }
    }
    Ok(())
}
