//! `autolab bench speed`: research speed on labs whose runs stream a learning curve.
//!
//! Four methods, two runs at a time each, the same number of trials: autolab's campaign with
//! the lab's `[early_stop]`, the same without it, and Optuna's TPE with its `MedianPruner` or
//! `HyperbandPruner` (Optuna decides pruning from the same streamed train_loss; this side runs
//! the trials). Per lab, method and seed: the wall time and the run-seconds (the durations of
//! all runs, summed) until a val_loss at or below the lab's target first appears, and the best
//! val_loss at the budget. A method that never reaches the target counts as its whole budget.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::output::CliError;

mod autolab_method;
mod labs;
mod optuna_method;

use labs::{LabKind, LabSpec, Variant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A smoke run: one seed, 5 trials, the synthetic lab only.
    #[arg(long)]
    pub quick: bool,
    /// Seeds per lab and method.
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// Seeds are first_seed, first_seed + 1, …
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Trials (experiments, the baseline included) every method gets on each lab.
    #[arg(long, default_value_t = 30)]
    pub budget: u32,
    /// Only these labs: synthetic, spiral (comma-separated; default both).
    #[arg(long, value_delimiter = ',')]
    pub labs: Vec<String>,
    /// Only these methods: autolab, autolab-no-early-stop, optuna-median, optuna-hyperband
    /// (comma-separated; default all). The Optuna ones need python3 and pip (or --venv).
    #[arg(long, value_delimiter = ',')]
    pub methods: Vec<String>,
    /// The synthetic lab's target: its optimum plus this.
    #[arg(long, default_value_t = 0.01)]
    pub synthetic_eps: f64,
    /// The spiral lab's target val_loss.
    #[arg(long, default_value_t = 0.2)]
    pub spiral_target: f64,
    /// The Python virtual environment with Optuna; created (`pip install optuna`) if it has
    /// none. Default: `autolab-bench-venv` in the temp directory.
    #[arg(long)]
    pub venv: Option<PathBuf>,
    /// Also write every run's trials and measures to this file, as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Autolab,
    AutolabNoEarlyStop,
    AutolabHalving,
    OptunaMedian,
    OptunaHyperband,
}

impl Method {
    const ALL: [Method; 5] = [
        Method::Autolab,
        Method::AutolabNoEarlyStop,
        Method::AutolabHalving,
        Method::OptunaMedian,
        Method::OptunaHyperband,
    ];

    fn flag(self) -> &'static str {
        match self {
            Method::Autolab => "autolab",
            Method::AutolabNoEarlyStop => "autolab-no-early-stop",
            Method::AutolabHalving => "autolab-halving",
            Method::OptunaMedian => "optuna-median",
            Method::OptunaHyperband => "optuna-hyperband",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Method::Autolab => "autolab (early stop)",
            Method::AutolabNoEarlyStop => "autolab, no early stop",
            Method::AutolabHalving => "autolab + halving",
            Method::OptunaMedian => "Optuna TPE + Median",
            Method::OptunaHyperband => "Optuna TPE + Hyperband",
        }
    }

    fn optuna(self) -> bool {
        matches!(self, Method::OptunaMedian | Method::OptunaHyperband)
    }
}

/// One trial (for autolab: one experiment, all its runs, at its verdict) or one run, in the
/// order they ended.
#[derive(Debug, Clone)]
pub(super) struct Trial {
    /// Seconds from the start when it ended.
    pub end: f64,
    /// Seconds its runs took, summed.
    pub run_secs: f64,
    pub value: Option<f64>,
    /// Early-stopped (autolab) or pruned (Optuna).
    pub pruned: bool,
}

#[derive(Debug, Clone)]
pub(super) struct Record {
    pub wall: f64,
    pub trials: Vec<Trial>,
    /// Every single run as it ended (for Optuna, its trials).
    pub runs: Vec<Trial>,
}

/// What one (lab, method, seed) run measured.
struct Measure {
    reached: bool,
    /// Wall seconds and run-seconds to the target (the whole budget when not reached).
    wall_to_target: f64,
    run_secs_to_target: f64,
    /// Wall seconds until a single run first reached the target (the whole budget if none).
    run_wall_to_target: f64,
    run_reached: bool,
    best: Option<f64>,
    run_secs_total: f64,
    wall_total: f64,
    pruned: usize,
}

impl Record {
    fn measure(&self, target: f64) -> Measure {
        let run_secs_total: f64 = self.trials.iter().map(|t| t.run_secs).sum();
        let mut sum = 0.0;
        let mut hit = None;
        for t in &self.trials {
            sum += t.run_secs;
            if t.value.is_some_and(|v| v <= target) {
                hit = Some((t.end, sum));
                break;
            }
        }
        let run_hit = self
            .runs
            .iter()
            .find(|r| r.value.is_some_and(|v| v <= target))
            .map(|r| r.end);
        let best = self
            .trials
            .iter()
            .filter_map(|t| t.value)
            .min_by(f64::total_cmp);
        Measure {
            reached: hit.is_some(),
            wall_to_target: hit.map_or(self.wall, |h| h.0),
            run_secs_to_target: hit.map_or(run_secs_total, |h| h.1),
            run_wall_to_target: run_hit.unwrap_or(self.wall),
            run_reached: run_hit.is_some(),
            best,
            run_secs_total,
            wall_total: self.wall,
            pruned: self.trials.iter().filter(|t| t.pruned).count(),
        }
    }
}

fn as_json(trials: &[Trial]) -> Vec<Value> {
    trials
        .iter()
        .map(|t| json!({"end": t.end, "run_secs": t.run_secs, "value": t.value, "stopped": t.pruned}))
        .collect()
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn parse_list<T>(
    given: &[String],
    all: &[T],
    parse: impl Fn(&str) -> Option<T>,
    what: &str,
) -> Result<Vec<T>, CliError>
where
    T: Copy + PartialEq,
{
    if given.is_empty() {
        return Ok(all.to_vec());
    }
    let mut out = Vec::new();
    for g in given {
        match parse(g.trim()) {
            Some(x) if !out.contains(&x) => out.push(x),
            Some(_) => {}
            None => {
                return Err(CliError::usage(format!("unknown {what}: {g}"), None));
            }
        }
    }
    Ok(out)
}

pub fn bench_speed(args: Args) -> Result<ExitCode, CliError> {
    let methods = parse_list(
        &args.methods,
        &Method::ALL,
        |s| Method::ALL.into_iter().find(|m| m.flag() == s),
        &format!("method ({})", Method::ALL.map(Method::flag).join(", ")),
    )?;
    let (seeds, budget, kinds) = if args.quick {
        (1, 5, vec![LabKind::Synthetic])
    } else {
        let kinds = parse_list(
            &args.labs,
            &[LabKind::Synthetic, LabKind::Spiral],
            LabKind::parse,
            "lab (synthetic, spiral)",
        )?;
        (args.seeds.max(1), args.budget.max(2), kinds)
    };
    let labs: Vec<LabSpec> = kinds
        .iter()
        .map(|k| LabSpec::new(*k, budget, args.synthetic_eps, args.spiral_target))
        .collect();
    let mut optuna = None;
    let mut optuna_version = None;
    if methods.iter().any(|m| m.optuna()) {
        let venv = args
            .venv
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("autolab-bench-venv"));
        let (python, version) =
            crate::commands::bench::optimizer::optuna::optuna_python(&venv, false)?;
        optuna = Some(crate::commands::bench::optimizer::optuna::OptunaProcess::start(&python)?);
        optuna_version = Some(version);
    }
    let seed_list: Vec<u64> = (args.first_seed..args.first_seed + seeds).collect();
    // results[lab][method] = one measure per seed.
    let mut results: Vec<Vec<Vec<Measure>>> = labs
        .iter()
        .map(|_| methods.iter().map(|_| Vec::new()).collect())
        .collect();
    let mut raw = Vec::new();
    for &seed in &seed_list {
        for (li, lab) in labs.iter().enumerate() {
            for (mi, &method) in methods.iter().enumerate() {
                let record = match method {
                    Method::Autolab => autolab_method::run(lab, Variant::EarlyStop, seed)?,
                    Method::AutolabNoEarlyStop => {
                        autolab_method::run(lab, Variant::NoEarlyStop, seed)?
                    }
                    Method::AutolabHalving => autolab_method::run(lab, Variant::Halving, seed)?,
                    Method::OptunaMedian | Method::OptunaHyperband => {
                        let pruner = if method == Method::OptunaMedian {
                            "median"
                        } else {
                            "hyperband"
                        };
                        let Some(process) = optuna.as_mut() else {
                            return Err(CliError::failure("Optuna is not running", None));
                        };
                        optuna_method::run(process, lab, pruner, seed, "train_loss")?
                    }
                };
                let m = record.measure(lab.target);
                eprintln!(
                    "{} · {} · seed {seed}: {} in {:.1} s ({:.1} run-s), best {}, {} trials ({} stopped)",
                    lab.kind.name(),
                    method.name(),
                    if m.reached {
                        "target reached"
                    } else {
                        "target not reached"
                    },
                    m.wall_to_target,
                    m.run_secs_to_target,
                    m.best.map_or("-".into(), |b| format!("{b:.4}")),
                    record.trials.len(),
                    m.pruned,
                );
                raw.push(json!({
                    "lab": lab.kind.name(),
                    "method": method.flag(),
                    "seed": seed,
                    "target": lab.target,
                    "reached": m.reached,
                    "wall_to_target": m.wall_to_target,
                    "run_secs_to_target": m.run_secs_to_target,
                    "run_reached": m.run_reached,
                    "run_wall_to_target": m.run_wall_to_target,
                    "best": m.best,
                    "run_secs_total": m.run_secs_total,
                    "wall_total": m.wall_total,
                    "stopped": m.pruned,
                    "trials": as_json(&record.trials),
                    "runs": as_json(&record.runs),
                }));
                results[li][mi].push(m);
            }
        }
    }
    let seeds_text = if seeds == 1 {
        format!("seed {}", args.first_seed)
    } else {
        format!(
            "{seeds} seeds ({}–{})",
            args.first_seed,
            args.first_seed + seeds - 1
        )
    };
    println!(
        "Research speed: 2 runs at a time, {budget} trials per method, {seeds_text}{}.",
        optuna_version
            .as_deref()
            .map(|v| format!(", Optuna {v}"))
            .unwrap_or_default()
    );
    for (li, lab) in labs.iter().enumerate() {
        print_lab(lab, &methods, &results[li]);
    }
    if let Some(path) = &args.json {
        let doc = json!({
            "budget": budget,
            "seeds": seed_list,
            "optuna": optuna_version,
            "labs": labs.iter().map(|l| json!({
                "lab": l.kind.name(), "target": l.target, "optimum": l.optimum,
            })).collect::<Vec<Value>>(),
            "runs": raw,
        });
        std::fs::write(
            path,
            serde_json::to_string_pretty(&doc)
                .map_err(|e| CliError::failure(e.to_string(), None))?,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Medians over seeds of one method on one lab.
struct Summary {
    reached: usize,
    n: usize,
    wall_to_target: Option<f64>,
    run_secs_to_target: Option<f64>,
    run_reached: usize,
    run_wall_to_target: Option<f64>,
    best: Option<f64>,
    run_secs_total: Option<f64>,
    wall_total: Option<f64>,
    stopped: Option<f64>,
}

fn summarize(ms: &[Measure]) -> Summary {
    let col = |f: &dyn Fn(&Measure) -> Option<f64>| median(ms.iter().filter_map(f).collect());
    Summary {
        reached: ms.iter().filter(|m| m.reached).count(),
        n: ms.len(),
        wall_to_target: col(&|m| Some(m.wall_to_target)),
        run_secs_to_target: col(&|m| Some(m.run_secs_to_target)),
        run_reached: ms.iter().filter(|m| m.run_reached).count(),
        run_wall_to_target: col(&|m| Some(m.run_wall_to_target)),
        best: col(&|m| m.best),
        run_secs_total: col(&|m| Some(m.run_secs_total)),
        wall_total: col(&|m| Some(m.wall_total)),
        stopped: col(&|m| Some(m.pruned as f64)),
    }
}

fn secs(v: Option<f64>) -> String {
    v.map_or("-".into(), |s| format!("{s:.1}"))
}

fn print_lab(lab: &LabSpec, methods: &[Method], results: &[Vec<Measure>]) {
    let target = match lab.optimum {
        Some(o) => format!(
            "val_loss ≤ {:.4} (optimum {o:.4} + {:.3})",
            lab.target,
            lab.target - o
        ),
        None => format!("val_loss ≤ {}", lab.target),
    };
    println!(
        "\n{} lab: target {target}, budget {} trials\n",
        lab.kind.name(),
        lab.budget
    );
    println!(
        "| method | verdict reached | time to verdict at target (s) | run-s to it | run reached | time to run at target (s) | best at budget | run-s at budget | wall at budget (s) | stopped |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let summaries: Vec<Summary> = results.iter().map(|r| summarize(r)).collect();
    for (method, s) in methods.iter().zip(&summaries) {
        println!(
            "| {} | {}/{} | {} | {} | {}/{} | {} | {} | {} | {} | {} |",
            method.name(),
            s.reached,
            s.n,
            secs(s.wall_to_target),
            secs(s.run_secs_to_target),
            s.run_reached,
            s.n,
            secs(s.run_wall_to_target),
            s.best.map_or("-".into(), |b| format!("{b:.4}")),
            secs(s.run_secs_total),
            secs(s.wall_total),
            s.stopped.map_or("-".into(), |v| format!("{v:.0}")),
        );
    }
    println!(
        "\nMedians over seeds. A verdict at target: an experiment (for autolab, the mean of its \
         runs, at its verdict) or an Optuna trial; a run at target: any single run as it ended. \
         A seed that never reached the target counts as its whole budget."
    );
    for (method, s) in methods.iter().zip(&summaries) {
        if s.reached < s.n {
            println!(
                "{}: not reached in {} of {} seeds.",
                method.name(),
                s.n - s.reached,
                s.n
            );
        }
    }
    let get = |m: Method| methods.iter().position(|x| *x == m).map(|i| &summaries[i]);
    if let (Some(on), Some(off)) = (get(Method::Autolab), get(Method::AutolabNoEarlyStop)) {
        let saved = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => Some(1.0 - a / b),
            _ => None,
        };
        let to_target = saved(on.run_secs_to_target, off.run_secs_to_target);
        let at_budget = saved(on.run_secs_total, off.run_secs_total);
        let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.0} %", v * 100.0));
        println!(
            "Early stopping: run-seconds to the target {} vs {} without: {} saved (target ≥ 30 %: {}); \
             at the budget {} vs {}: {} saved, best {} vs {}.",
            secs(on.run_secs_to_target),
            secs(off.run_secs_to_target),
            pct(to_target),
            if to_target.is_some_and(|v| v >= 0.30) {
                "met"
            } else {
                "NOT met"
            },
            secs(on.run_secs_total),
            secs(off.run_secs_total),
            pct(at_budget),
            on.best.map_or("-".into(), |b| format!("{b:.4}")),
            off.best.map_or("-".into(), |b| format!("{b:.4}")),
        );
    }
    if let (Some(h), Some(off)) = (get(Method::AutolabHalving), get(Method::AutolabNoEarlyStop)) {
        println!(
            "Halving: run-seconds to the target {} vs {} without early stopping or halving; at the \
             budget {} vs {}, best {} vs {}.",
            secs(h.run_secs_to_target),
            secs(off.run_secs_to_target),
            secs(h.run_secs_total),
            secs(off.run_secs_total),
            h.best.map_or("-".into(), |b| format!("{b:.4}")),
            off.best.map_or("-".into(), |b| format!("{b:.4}")),
        );
    }
    let optuna: Vec<(Method, &Summary)> = [Method::OptunaMedian, Method::OptunaHyperband]
        .into_iter()
        .filter_map(|m| get(m).map(|s| (m, s)))
        .collect();
    for (label, time) in [
        (
            "verdict",
            (|s: &Summary| s.wall_to_target) as fn(&Summary) -> Option<f64>,
        ),
        ("single run", |s: &Summary| s.run_wall_to_target),
    ] {
        let Some((m, o)) = optuna
            .iter()
            .filter(|(_, s)| time(s).is_some())
            .min_by(|a, b| {
                time(a.1)
                    .unwrap_or(f64::INFINITY)
                    .total_cmp(&time(b.1).unwrap_or(f64::INFINITY))
            })
        else {
            continue;
        };
        let reached = |s: &Summary| {
            if label == "verdict" {
                s.reached
            } else {
                s.run_reached
            }
        };
        if 2 * reached(o) <= o.n {
            println!(
                "({} reached the target in {} of {} seeds: counting a miss as never reached, its \
                 median time to target is undefined and the ratios below are an upper bound.)",
                m.name(),
                reached(o),
                o.n
            );
        }
        for ours in [Method::Autolab, Method::AutolabHalving] {
            let Some(on) = get(ours) else { continue };
            let ratio = match (time(on), time(o)) {
                (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                _ => None,
            };
            println!(
                "Time to target ({label}), {} vs Optuna's better pruner ({}): {} s vs {} s = {} (target ≤ 0.5×: {}).",
                ours.name(),
                m.name(),
                secs(time(on)),
                secs(time(o)),
                ratio.map_or("-".into(), |r| format!("{r:.2}×")),
                if ratio.is_some_and(|r| r <= 0.5) {
                    "met"
                } else {
                    "NOT met"
                },
            );
        }
    }
}
