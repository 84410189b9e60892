//! `autolab run`: run (or resume) a campaign.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use autolab_engine::{Ending, Lab, Observer, Report, RunOptions, Summary, run_campaign};
use indicatif::{ProgressBar, ProgressStyle};

use super::common::{fmt_score, short};
use crate::output::CliError;
use crate::signals;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign's name; its incumbent line is branch `autolab/<tag>`.
    #[arg(long)]
    pub tag: String,
    /// Stop after this many experiments in the campaign in all (the baseline included).
    #[arg(long, value_name = "N")]
    pub max_experiments: Option<u32>,
    /// Start no new experiment after this many hours.
    #[arg(long, value_name = "H")]
    pub max_hours: Option<f64>,
    /// Runs at once (overrides `[runner].parallel`).
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
    /// Seed of the proposer and of the runs' AUTOLAB_SEED (fixed when the campaign starts).
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Also open the live dashboard (`autolab serve`) on this machine; it stops with the run.
    #[arg(long)]
    pub serve: bool,
    /// The dashboard's port, with --serve.
    #[arg(long, value_name = "PORT", default_value_t = 8177, requires = "serve")]
    pub serve_port: u16,
}

/// The dashboard started with `--serve`, a process of its own; ended with the run.
struct Dashboard(std::process::Child);

impl Dashboard {
    fn start(root: &Path, tag: &str, port: u16) -> Option<Dashboard> {
        let exe = std::env::current_exe().ok()?;
        match std::process::Command::new(exe)
            .arg("-C")
            .arg(root)
            .args(["serve", "--tag", tag, "--port", &port.to_string()])
            .stdin(std::process::Stdio::null())
            .spawn()
        {
            Ok(child) => Some(Dashboard(child)),
            Err(e) => {
                eprintln!("note: the dashboard did not start ({e}); the campaign runs without it");
                None
            }
        }
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    if args.max_hours.is_some_and(|h| !(h.is_finite() && h > 0.0)) {
        return Err(CliError::usage(
            "--max-hours must be a positive number",
            None,
        ));
    }
    if let Some(n) = args.parallel
        && let Err(why) = autolab_core::config::check_parallel(n as i64)
    {
        return Err(CliError::usage(format!("--parallel {n}: {why}"), None));
    }
    if let Some(prefix) = autolab_core::ledger::side_prefix(&args.tag) {
        let whose = if prefix == autolab_core::ledger::ABLATION_TAG_PREFIX {
            "`autolab ablate`'s"
        } else {
            "the red-team's"
        };
        return Err(CliError::usage(
            format!("tags starting with `{prefix}` are {whose}"),
            Some("choose another tag"),
        ));
    }
    let lab = Lab::open(dir)?;
    preflight(&lab)?;
    super::redteam::before_campaign(&lab)?;
    let spend_cap = lab.config.agent.as_ref().and_then(|a| a.max_usd);
    if args.max_experiments.is_none() && args.max_hours.is_none() && spend_cap.is_none() {
        eprintln!(
            "note: no budget given (--max-experiments N, --max-hours H): the campaign runs until stopped (Ctrl-C stops it cleanly; the same command resumes)"
        );
    }
    let _dashboard = if args.serve {
        Dashboard::start(&lab.root, &args.tag, args.serve_port)
    } else {
        None
    };
    let opts = RunOptions {
        tag: args.tag,
        max_experiments: args.max_experiments,
        max_hours: args.max_hours,
        parallel: args.parallel,
        seed: args.seed,
        sandbox_helper: std::env::current_exe().ok(),
        serial_agent: false,
        base: None,
        base_params: None,
        holder: None,
    };
    let summary = run_with_progress(&lab, &opts)?;
    // The campaign is over: a closed pipe may end the summary (`autolab run … | head`).
    crate::signals::default_sigpipe();
    print_summary(&lab, &summary);
    if summary.ending == Ending::Paused {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses a campaign whose command cannot start, before anything (ledger, branch) is created.
fn preflight(lab: &Lab) -> Result<(), CliError> {
    if let Err(missing) = super::preflight::check_lab_program(&lab.config, &lab.root) {
        return Err(CliError::usage(
            format!(
                "the command's program `{}` is not found (looked in {}); task.command in {} is `{}`",
                missing.program,
                missing.looked_in,
                lab.config.path.display(),
                lab.config.task.command
            ),
            Some(&missing.hint()),
        ));
    }
    Ok(())
}

/// Runs a campaign, reporting on stderr: a progress bar on a terminal, else a line per verdict.
pub fn run_with_progress(lab: &Lab, opts: &RunOptions) -> Result<Summary, CliError> {
    signals::install();
    let mut observer = Progress::new(&lab.config.metrics.primary);
    let result = run_campaign(lab, opts, &mut observer, &signals::STOP);
    observer.finish();
    Ok(result?)
}

pub fn print_summary(lab: &Lab, s: &Summary) {
    let how = match s.ending {
        Ending::Budget => "budget reached",
        Ending::Time => "time budget reached",
        Ending::Stopped => "stopped; run the same command again to resume",
        Ending::Paused => {
            "paused (why is in the note above: crashes, failed ideations or an LLM outage in a row); fix the cause, then run the same command again to resume"
        }
        Ending::Spent => "stopped: the LLM budget ([agent].max_usd) is spent; raise it to go on",
    };
    eprintln!("campaign `{}`: {how}", s.tag);
    if s.ending == Ending::Stopped {
        let open = open_experiments(lab, &s.tag);
        if !open.is_empty() {
            eprintln!(
                "left open (their running runs were cancelled and recorded; the same command resumes them): {}",
                open.join(", ")
            );
        }
    }
    if let Some(inc) = &s.incumbent {
        println!(
            "incumbent: #{:04} {} score {} (baseline {}) on branch autolab/{}",
            inc.number,
            short(inc.commit.as_deref()),
            fmt_score(inc.score),
            fmt_score(s.baseline_score),
            s.tag
        );
        if inc.number > 0
            && let Some(hint) = super::apply::adopt_hint(&lab.repo, &s.tag)
        {
            println!("{hint}");
        }
    }
    println!("results: {}", lab.results_path().display());
}

/// The campaign's experiments without a verdict, as `#0003 running`.
fn open_experiments(lab: &Lab, tag: &str) -> Vec<String> {
    let Ok(ledger) = autolab_core::ledger::Ledger::open(&lab.ledger_path()) else {
        return Vec::new();
    };
    let Ok(Some(c)) = ledger.campaign(tag) else {
        return Vec::new();
    };
    ledger
        .experiments(c.id)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| !e.state.is_final())
        .map(|e| format!("#{:04} {} ({})", e.number, e.state.as_str(), e.title))
        .collect()
}

struct Progress {
    bar: Option<ProgressBar>,
    primary: String,
    /// The campaign's experiment budget, when it has one.
    target: Option<u32>,
    /// Experiments with a verdict, in all.
    judged: u32,
    /// Experiments running now (number, since).
    running: Vec<(u32, std::time::Instant)>,
}

impl Progress {
    fn new(primary: &str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {pos}/{len} eta {eta} {wide_msg}",
            ) {
                b.set_style(style);
            }
            b.enable_steady_tick(std::time::Duration::from_millis(200));
            b
        });
        Progress {
            bar,
            primary: primary.to_string(),
            target: None,
            judged: 0,
            running: Vec::new(),
        }
    }

    /// `[n/N]`, or `[n]` without an experiment budget.
    fn count(&self) -> String {
        match self.target {
            Some(t) => format!("[{}/{t}]", self.judged),
            None => format!("[{}]", self.judged),
        }
    }

    /// The bar's message: what runs now, and for how long.
    fn show_running(&self) {
        let Some(b) = &self.bar else {
            return;
        };
        let now: Vec<String> = self
            .running
            .iter()
            .map(|(n, since)| format!("#{n:04} {}s", since.elapsed().as_secs()))
            .collect();
        b.set_message(if now.is_empty() {
            "waiting for the next candidate".to_string()
        } else {
            format!("running {}", now.join(", "))
        });
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(b) => b.println(text),
            // A closed stderr (`autolab run 2>&1 | head`) must not stop the campaign.
            None => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn report(&mut self, report: Report) {
        match report {
            Report::Ready {
                tag,
                existing,
                judged,
                target,
                resumed,
            } => {
                for note in &resumed {
                    self.line(&format!("resume: {note}"));
                }
                self.target = target;
                self.judged = judged;
                if let Some(b) = &self.bar {
                    b.set_length(u64::from(target.unwrap_or(existing.max(1))));
                    b.set_position(u64::from(existing));
                    b.set_message(format!("campaign {tag}"));
                } else if existing > 0 {
                    self.line(&format!(
                        "campaign `{tag}`: resuming with {existing} experiment(s) recorded"
                    ));
                } else {
                    self.line(&format!("campaign `{tag}`: starting"));
                }
            }
            Report::RunStarted { number, .. } => {
                if !self.running.iter().any(|(n, _)| *n == number) {
                    self.running.push((number, std::time::Instant::now()));
                }
                self.show_running();
            }
            Report::Verdict {
                experiment: e,
                best,
                primary,
                run_secs,
            } => {
                self.running.retain(|(n, _)| *n != e.number);
                self.judged += 1;
                self.show_running();
                if let Some(b) = &self.bar {
                    if b.length().is_some_and(|l| u64::from(e.number) >= l) {
                        b.set_length(u64::from(e.number) + 1);
                    }
                    b.inc(1);
                }
                let verdict = e.verdict.map(|v| v.as_str()).unwrap_or("?");
                self.line(&format!(
                    "{} #{:04} {:<9} {}={}  best={}  {:.1}s  {}{}",
                    self.count(),
                    e.number,
                    verdict,
                    self.primary,
                    fmt_score(primary),
                    fmt_score(best),
                    run_secs,
                    e.title,
                    e.reason
                        .as_deref()
                        .filter(|r| {
                            (verdict != "kept" && verdict != "discarded")
                                || r.starts_with("early-stopped")
                                || r.starts_with("halted")
                        })
                        .map(|r| format!("  ({r})"))
                        .unwrap_or_default()
                ));
            }
            Report::Note(n) => self.line(&format!("note: {n}")),
        }
    }
}
