//! `autolab bench optimizer`: the built-in samplers (auto, the Gaussian process, TPE, random)
//! against Optuna's `TPESampler` and `GPSampler`.
//!
//! Every method proposes through its real code path (autolab's `Optimizer`, Optuna's samplers
//! in a Python child speaking a line protocol, see `optuna.py`) and every
//! problem is evaluated here, by the same code for all methods: Branin (2-D), Hartmann-6
//! (6-D), a noisy mixed problem (float, log-float, int and choice) and the spiral lab
//! (`python3 train.py`, one network trained per trial).
//!
//! Regret after a budget of B trials = true value of the best-observed trial among the first B,
//! minus the optimum (for the spiral lab: minus the best value any method found in the run).

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

use autolab_core::config::{Apply, Goal, ParamKind, ParamSpec, ParamsConfig, Sampler};
use autolab_engine::proposer::{Optimizer, Proposer, Trial};
use serde_json::{Map, Value, json};

use crate::output::CliError;

pub(super) mod optuna;
mod problem;

use optuna::{OptunaProcess, optuna_python};

use problem::{Objective, Outcome, Problem, Spiral, problems};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A smoke run: 3 seeds, 20 trials, one short spiral run per method.
    #[arg(long)]
    pub quick: bool,
    /// Seeds per problem and method (the spiral lab has its own count). Many, because at
    /// 100 trials the regret is bimodal (a run found the global basin or not), which makes
    /// the median of few seeds jumpy.
    #[arg(long, default_value_t = 200)]
    pub seeds: u64,
    /// Seeds per method on the spiral lab, whose every trial trains a network (0.1–3 s):
    /// 10 seeds × 100 trials × 3 methods take about 35 minutes on 2 cores.
    #[arg(long, default_value_t = 10)]
    pub spiral_seeds: u64,
    /// Trials per run on the spiral lab.
    #[arg(long, default_value_t = 100)]
    pub spiral_trials: usize,
    /// Trials per run on the other problems (regret is reported at 30 and at this budget).
    #[arg(long, default_value_t = 100)]
    pub trials: usize,
    /// Only these problems: branin, hartmann6, mixed, spiral (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub problems: Vec<String>,
    /// The Python virtual environment with Optuna; created (`pip install optuna`) if it
    /// has none. Default: `autolab-bench-venv` in the temp directory.
    #[arg(long)]
    pub venv: Option<PathBuf>,
    /// Also run four extra problems (Rosenbrock-4, Ackley-5, Styblinski–Tang-4, a noisy
    /// HPO-like mixed function): breadth beyond the four of the target, which they are not
    /// part of.
    #[arg(long)]
    pub extra: bool,
    /// Seeds are first_seed, first_seed + 1, …
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Compare autolab's samplers only.
    #[arg(long)]
    pub no_optuna: bool,
    /// Also write every run's regret at each budget to this file, as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Only these methods: auto, gp, tpe, random, optuna-tpe, optuna-gp (comma-separated;
    /// default: all).
    #[arg(long, value_delimiter = ',')]
    pub methods: Vec<String>,
    /// Trials proposed at once before any of them is told (as `parallel = Q` slots would):
    /// autolab's samplers see the others as pending; Optuna's are asked Q times, then told.
    #[arg(long, default_value_t = 1)]
    pub parallel: usize,
    /// Runs at once (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Method {
    Random,
    OptunaTpe,
    OptunaGp,
    Tpe,
    Gp,
    Auto,
}

impl Method {
    const ALL: [Method; 6] = [
        Method::Random,
        Method::OptunaTpe,
        Method::OptunaGp,
        Method::Tpe,
        Method::Gp,
        Method::Auto,
    ];

    fn name(self) -> &'static str {
        match self {
            Method::Random => "autolab random",
            Method::OptunaTpe => "Optuna TPE",
            Method::OptunaGp => "Optuna GP",
            Method::Tpe => "autolab TPE",
            Method::Gp => "autolab GP",
            Method::Auto => "autolab auto",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Method::Random => "random",
            Method::OptunaTpe => "optuna-tpe",
            Method::OptunaGp => "optuna-gp",
            Method::Tpe => "tpe",
            Method::Gp => "gp",
            Method::Auto => "auto",
        }
    }

    fn optuna(self) -> Option<&'static str> {
        match self {
            Method::OptunaTpe => Some("tpe"),
            Method::OptunaGp => Some("gp"),
            _ => None,
        }
    }

    fn sampler(self) -> Sampler {
        match self {
            Method::Tpe => Sampler::Tpe,
            Method::Gp => Sampler::Gp,
            Method::Auto => Sampler::Auto,
            _ => Sampler::Random,
        }
    }
}

/// What each worker thread owns: its spiral directory and its Optuna process.
struct Worker<'a> {
    spiral: Option<Spiral>,
    optuna: Option<OptunaProcess>,
    python: Option<&'a Path>,
    cache: &'a Mutex<HashMap<String, Option<f64>>>,
}

impl Worker<'_> {
    /// One run of `method` on `problem`; the seconds each proposal took, by trial.
    fn run(
        &mut self,
        problem: &Problem,
        method: Method,
        seed: u64,
        parallel: usize,
    ) -> Result<(Vec<Outcome>, Vec<f64>), CliError> {
        let mut outcomes = Vec::with_capacity(problem.trials);
        let mut secs = Vec::with_capacity(problem.trials);
        let q = parallel.max(1);
        match method.optuna() {
            None => {
                let config = ParamsConfig {
                    apply: Apply::Json("params.json".into()),
                    sampler: method.sampler(),
                    startup: None,
                    halving: None,
                    space: problem.space.clone(),
                };
                let mut optimizer = Optimizer::new(config, seed, Goal::Minimize);
                let mut history: Vec<Trial> = Vec::new();
                let mut t = 0;
                while t < problem.trials {
                    // A batch of q proposals, each seeing the ones before it as pending.
                    let first = history.len();
                    for k in 0..q.min(problem.trials - t) {
                        let t0 = Instant::now();
                        // Numbering as in a campaign: experiment 0 is the baseline.
                        let params = match optimizer.propose((t + k) as u32 + 1, &history) {
                            Some(p) => match p.params {
                                Some(Value::Object(m)) => m,
                                _ => Map::new(),
                            },
                            None => break,
                        };
                        secs.push(t0.elapsed().as_secs_f64());
                        history.push(Trial {
                            params,
                            pending: true,
                            ..Trial::default()
                        });
                    }
                    if history.len() == first {
                        break;
                    }
                    for trial in history.iter_mut().skip(first) {
                        let o = problem.evaluate(
                            &trial.params,
                            seed,
                            t,
                            &mut self.spiral,
                            self.cache,
                        )?;
                        trial.pending = false;
                        trial.score = o.observed;
                        outcomes.push(o);
                        t += 1;
                    }
                }
            }
            Some(sampler) => {
                let mut optuna = match self.optuna.take() {
                    Some(o) => o,
                    None => {
                        let python = self
                            .python
                            .ok_or_else(|| CliError::failure("Optuna is not set up", None))?;
                        OptunaProcess::start(python)?
                    }
                };
                optuna.call(&json!({
                    "cmd": "study",
                    "seed": seed,
                    "sampler": sampler,
                    "space": space_json(&problem.space),
                }))?;
                let mut t = 0;
                while t < problem.trials {
                    let mut batch = Vec::new();
                    for _ in 0..q.min(problem.trials - t) {
                        let t0 = Instant::now();
                        let reply = optuna.call(&json!({"cmd": "ask"}))?;
                        secs.push(t0.elapsed().as_secs_f64());
                        match (reply.get("params"), reply.get("trial")) {
                            (Some(Value::Object(m)), Some(id)) => {
                                batch.push((m.clone(), id.clone()))
                            }
                            _ => {
                                return Err(CliError::failure(
                                    format!("Optuna answered {reply}"),
                                    None,
                                ));
                            }
                        }
                    }
                    for (params, id) in batch {
                        let o = problem.evaluate(&params, seed, t, &mut self.spiral, self.cache)?;
                        optuna.call(&json!({"cmd": "tell", "trial": id, "value": o.observed}))?;
                        outcomes.push(o);
                        t += 1;
                    }
                }
                self.optuna = Some(optuna);
            }
        }
        Ok((outcomes, secs))
    }
}

pub(super) fn space_json(space: &[ParamSpec]) -> Value {
    Value::Array(
        space
            .iter()
            .map(|s| match &s.kind {
                ParamKind::Float { low, high } => {
                    json!({"name": s.name, "kind": "float", "low": low, "high": high})
                }
                ParamKind::LogFloat { low, high } => {
                    json!({"name": s.name, "kind": "log_float", "low": low, "high": high})
                }
                ParamKind::Int { low, high } => {
                    json!({"name": s.name, "kind": "int", "low": low, "high": high})
                }
                ParamKind::Choice(c) => json!({"name": s.name, "kind": "choice", "choices": c}),
            })
            .collect(),
    )
}

// ---- the benchmark -------------------------------------------------------------------------

pub fn bench_optimizer(args: Args) -> Result<ExitCode, CliError> {
    let start = Instant::now();
    let problems = problems(&args);
    if problems.is_empty() {
        return Err(CliError::usage(
            "no problem matches --problems",
            Some("problems: branin, hartmann6, mixed, spiral"),
        ));
    }
    let mut methods: Vec<Method> = if args.methods.is_empty() {
        Method::ALL.to_vec()
    } else {
        let mut m = Vec::new();
        for name in &args.methods {
            match Method::ALL.iter().find(|x| x.flag() == name) {
                Some(x) => m.push(*x),
                None => {
                    return Err(CliError::usage(
                        format!("--methods: unknown method `{name}`"),
                        Some("methods: auto, gp, tpe, random, optuna-tpe, optuna-gp"),
                    ));
                }
            }
        }
        m
    };
    if args.no_optuna {
        methods.retain(|m| m.optuna().is_none());
    }
    let (python, optuna_version) = if !methods.iter().any(|m| m.optuna().is_some()) {
        (None, None)
    } else {
        let venv = args
            .venv
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("autolab-bench-venv"));
        let (p, v) = optuna_python(&venv, methods.contains(&Method::OptunaGp))?;
        (Some(p), Some(v))
    };

    // Longest jobs first (the spiral lab), methods interleaved.
    let mut queue: VecDeque<(usize, Method, u64)> = VecDeque::new();
    let mut order: Vec<usize> = (0..problems.len()).collect();
    order.sort_by_key(|i| problems[*i].objective != Objective::Spiral);
    for &pi in &order {
        for seed in 0..problems[pi].seeds {
            for &m in &methods {
                queue.push_back((pi, m, seed));
            }
        }
    }
    let total = queue.len();
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let queue = Mutex::new(queue);
    let cache = Mutex::new(HashMap::new());
    let results: Mutex<HashMap<(usize, Method, u64), Vec<Outcome>>> = Mutex::new(HashMap::new());
    let timings: Mutex<HashMap<(usize, Method), Vec<f64>>> = Mutex::new(HashMap::new());
    let failure: Mutex<Option<CliError>> = Mutex::new(None);
    eprintln!("{total} runs on {jobs} threads…");
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                let mut worker = Worker {
                    spiral: None,
                    optuna: None,
                    python: python.as_deref(),
                    cache: &cache,
                };
                loop {
                    if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                        return;
                    }
                    let Some((pi, m, seed)) = queue.lock().ok().and_then(|mut q| q.pop_front())
                    else {
                        return;
                    };
                    let t0 = Instant::now();
                    match worker.run(&problems[pi], m, args.first_seed + seed, args.parallel) {
                        Ok((outcomes, secs)) => {
                            // The cost of a proposal late in a run: trials 90–100.
                            if let Ok(mut t) = timings.lock() {
                                t.entry((pi, m))
                                    .or_default()
                                    .extend(secs.iter().skip(89).take(11));
                            }
                            if let Ok(mut r) = results.lock() {
                                r.insert((pi, m, seed), outcomes);
                                eprintln!(
                                    "[{}/{total}] {} · {} · seed {seed}: {:.1} s",
                                    r.len(),
                                    problems[pi].name,
                                    m.name(),
                                    t0.elapsed().as_secs_f64()
                                );
                            }
                        }
                        Err(e) => {
                            if let Ok(mut f) = failure.lock() {
                                f.get_or_insert(e);
                            }
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    let results = results
        .into_inner()
        .map_err(|_| CliError::failure("a benchmark thread panicked", None))?;
    let rows = print_table(
        &args,
        &problems,
        &methods,
        &results,
        optuna_version.as_deref(),
        start,
    );
    let timings = timings
        .into_inner()
        .map_err(|_| CliError::failure("a benchmark thread panicked", None))?;
    print_timings(&problems, &methods, &timings);
    if let Some(path) = &args.json {
        let doc = json!({"optuna": optuna_version, "rows": rows});
        std::fs::write(path, format!("{doc:#}\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Regret after `budget` trials: the truth at the best-observed trial minus the optimum.
fn regret(outcomes: &[Outcome], budget: usize, optimum: f64) -> f64 {
    let mut best: Option<(f64, f64)> = None;
    for o in outcomes.iter().take(budget) {
        if let (Some(obs), Some(truth)) = (o.observed, o.truth)
            && best.is_none_or(|(b, _)| obs < b)
        {
            best = Some((obs, truth));
        }
    }
    best.map_or(f64::INFINITY, |(_, truth)| (truth - optimum).max(0.0))
}

fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        0.5 * (xs[n / 2 - 1] + xs[n / 2])
    }
}

/// Three significant digits, plain or scientific as reads best.
fn sig3(x: f64) -> String {
    if x.is_nan() {
        "–".into()
    } else if x.is_infinite() {
        "∞".into()
    } else if x == 0.0 {
        "0".into()
    } else if (1e-3..1e4).contains(&x.abs()) {
        let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
        format!("{x:.digits$}")
    } else {
        format!("{x:.2e}")
    }
}

fn print_table(
    args: &Args,
    problems: &[Problem],
    methods: &[Method],
    results: &HashMap<(usize, Method, u64), Vec<Outcome>>,
    optuna_version: Option<&str>,
    start: Instant,
) -> Vec<Value> {
    let mut rows: Vec<Value> = Vec::new();
    let peers: Vec<Method> = methods
        .iter()
        .copied()
        .filter(|m| m.optuna().is_some())
        .collect();
    let with_optuna = !peers.is_empty() && methods.contains(&Method::Auto);
    let mut header = "| problem | budget | seeds |".to_string();
    let mut rule = "|---|---:|---:|".to_string();
    for m in methods {
        header.push_str(&format!(" {} |", m.name()));
        rule.push_str("---:|");
    }
    if with_optuna {
        header.push_str(" autolab auto / best Optuna |");
        rule.push_str("---:|");
    }
    println!("{header}\n{rule}");
    let mut met: Vec<&str> = Vec::new();
    let mut missed: Vec<&str> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    for (pi, problem) in problems.iter().enumerate() {
        let optimum = problem.optimum.unwrap_or_else(|| {
            let best = results
                .iter()
                .filter(|((p, ..), _)| *p == pi)
                .flat_map(|(_, o)| o.iter().filter_map(|o| o.truth))
                .fold(f64::INFINITY, f64::min);
            notes.push(format!(
                "{}: regret is measured from the best value any method found in this run, {}.",
                problem.name,
                sig3(best)
            ));
            best
        });
        let mut budgets = vec![problem.trials];
        if !args.quick && problem.trials > 30 {
            budgets.insert(0, 30);
        }
        let mut all_budgets_met = true;
        for b in budgets {
            let name = if problem.extra {
                format!("{} (extra)", problem.name)
            } else {
                problem.name.to_string()
            };
            let mut row = format!("| {name} | {b} | {} |", problem.seeds);
            let mut med = HashMap::new();
            let mut per_method = Map::new();
            for &m in methods {
                let regrets: Vec<f64> = (0..problem.seeds)
                    .filter_map(|s| results.get(&(pi, m, s)))
                    .map(|o| regret(o, b, optimum))
                    .collect();
                per_method.insert(m.name().into(), json!(regrets));
                let v = median(regrets);
                med.insert(m, v);
                row.push_str(&format!(" {} |", sig3(v)));
            }
            if with_optuna {
                let t = med[&Method::Auto];
                let o = peers.iter().map(|m| med[m]).fold(f64::INFINITY, f64::min);
                let ratio = if t == o { 1.0 } else { t / o };
                all_budgets_met &= t <= o;
                if ratio.is_finite() {
                    row.push_str(&format!(" {ratio:.2} |"));
                } else {
                    row.push_str(" ∞ |");
                }
            }
            println!("{row}");
            rows.push(json!({
                "problem": problem.name,
                "extra": problem.extra,
                "budget": b,
                "optimum": optimum,
                "first_seed": args.first_seed,
                "regrets": per_method,
            }));
        }
        if problem.extra {
            // Not part of the target.
        } else if all_budgets_met {
            met.push(problem.name);
        } else {
            missed.push(problem.name);
        }
    }
    println!();
    println!(
        "Median regret over seeds (lower is better): the true value of the best-observed trial within the budget, minus the optimum."
    );
    for n in notes {
        println!("{n}");
    }
    if with_optuna {
        let main = met.len() + missed.len();
        let verdict = if args.quick {
            "not judged (--quick is a smoke run)"
        } else if main == 4 {
            if met.len() >= 3 { "met" } else { "MISSED" }
        } else {
            "not judged (it needs all four problems)"
        };
        println!(
            "Target (autolab auto's median regret ≤ the better of Optuna's samplers at every budget on ≥ 3 of the 4 problems): {verdict} — ≤ on {} of {main}{}{}.",
            met.len(),
            if met.is_empty() {
                String::new()
            } else {
                format!(" ({})", met.join(", "))
            },
            if missed.is_empty() {
                String::new()
            } else {
                format!("; > on {}", missed.join(", "))
            },
        );
        if let Some(v) = optuna_version {
            println!(
                "Optuna {v}: {} with default settings.",
                peers
                    .iter()
                    .map(|m| if *m == Method::OptunaGp {
                        "`GPSampler(seed=seed)`"
                    } else {
                        "`TPESampler(seed=seed)`"
                    })
                    .collect::<Vec<_>>()
                    .join(" and ")
            );
        }
        if args.parallel > 1 {
            println!(
                "{} trials proposed at a time before any was told (parallel = {}).",
                args.parallel, args.parallel
            );
        }
    }
    println!(
        "{} cores, {:.0} s wall time.",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        start.elapsed().as_secs_f64()
    );
    rows
}

/// Mean seconds per proposal at trials 90–100, by problem and method, with the ratio to
/// autolab TPE's measured in the same run.
fn print_timings(
    problems: &[Problem],
    methods: &[Method],
    timings: &HashMap<(usize, Method), Vec<f64>>,
) {
    let mean = |v: &[f64]| {
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    println!("\nCost of a proposal at trials 90–100 (mean ms; ratio to autolab TPE's):");
    let mut header = "| problem | dims |".to_string();
    let mut rule = "|---|---:|".to_string();
    for m in methods {
        header.push_str(&format!(" {} |", m.name()));
        rule.push_str("---:|");
    }
    println!("{header}\n{rule}");
    for (pi, p) in problems.iter().enumerate() {
        let tpe = timings
            .get(&(pi, Method::Tpe))
            .map_or(f64::NAN, |v| mean(v));
        let mut row = format!("| {} | {} |", p.name, p.space.len());
        for m in methods {
            let t = timings.get(&(pi, *m)).map_or(f64::NAN, |v| mean(v));
            let ratio = if tpe.is_finite() && tpe > 0.0 && t.is_finite() {
                format!(" ({:.0}x)", t / tpe)
            } else {
                String::new()
            };
            row.push_str(&format!(" {}{ratio} |", sig3(t * 1000.0)));
        }
        println!("{row}");
    }
}
