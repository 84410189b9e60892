//! `autolab bench optimizer`: the built-in TPE against random search and Optuna's TPE.
//!
//! Every method proposes through its real code path (autolab's `Optimizer`, Optuna's
//! `TPESampler` in a Python child speaking a line protocol, see `bench_optuna.py`) and every
//! problem is evaluated here, by the same code for all methods: Branin (2-D), Hartmann-6
//! (6-D), a noisy mixed problem (float, log-float, int and choice) and the spiral lab
//! (`python3 train.py`, one network trained per trial).
//!
//! Regret after a budget of B trials = true value of the best-observed trial among the first B,
//! minus the optimum (for the spiral lab: minus the best value any method found in the run).

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use autolab_core::config::{Apply, Goal, ParamKind, ParamSpec, ParamsConfig, Sampler};
use autolab_engine::proposer::{Optimizer, Proposer, Rng, Trial};
use serde_json::{Map, Value, json};

use crate::output::CliError;

const OPTUNA_DRIVER: &str = include_str!("bench_optuna.py");

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A smoke run: 3 seeds, 20 trials, one short spiral run per method.
    #[arg(long)]
    pub quick: bool,
    /// Seeds per problem and method (the spiral lab has its own count).
    #[arg(long, default_value_t = 20)]
    pub seeds: u64,
    /// Seeds per method on the spiral lab, whose every trial trains a network (0.1–3 s).
    #[arg(long, default_value_t = 10)]
    pub spiral_seeds: u64,
    /// Trials per run on the spiral lab (the other problems run 100).
    #[arg(long, default_value_t = 100)]
    pub spiral_trials: usize,
    /// Only these problems: branin, hartmann6, mixed, spiral (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub problems: Vec<String>,
    /// The Python virtual environment with Optuna; created (`pip install optuna`) if it
    /// has none. Default: `autolab-bench-venv` in the temp directory.
    #[arg(long)]
    pub venv: Option<PathBuf>,
    /// Compare autolab's samplers only.
    #[arg(long)]
    pub no_optuna: bool,
    /// Runs at once (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Method {
    Random,
    Optuna,
    Tpe,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Random => "autolab random",
            Method::Optuna => "Optuna TPE",
            Method::Tpe => "autolab TPE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Objective {
    Branin,
    Hartmann6,
    Mixed,
    Spiral,
    Rosen,
    Ackley,
    Styb,
    Hpo,
}

struct Problem {
    name: &'static str,
    objective: Objective,
    space: Vec<ParamSpec>,
    /// The known minimum; None when it is the best value found in the run.
    optimum: Option<f64>,
    trials: usize,
    seeds: u64,
}

/// One trial's outcome: what the optimizer was told (None: crashed) and the noise-free value.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    observed: Option<f64>,
    truth: Option<f64>,
}

fn float(name: &str, low: f64, high: f64) -> ParamSpec {
    spec(name, ParamKind::Float { low, high })
}

fn spec(name: &str, kind: ParamKind) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        kind,
        default: None,
    }
}

fn problems(args: &Args) -> Vec<Problem> {
    let (seeds, trials) = if args.quick {
        (3, 20)
    } else {
        (args.seeds.max(1), 100)
    };
    let mut all = vec![
        Problem {
            name: "branin",
            objective: Objective::Branin,
            space: vec![float("x1", -5.0, 10.0), float("x2", 0.0, 15.0)],
            optimum: Some(0.397_887_357_729_738),
            trials,
            seeds,
        },
        Problem {
            name: "hartmann6",
            objective: Objective::Hartmann6,
            space: (1..=6).map(|i| float(&format!("x{i}"), 0.0, 1.0)).collect(),
            optimum: Some(-3.322_368_011_415_51),
            trials,
            seeds,
        },
        Problem {
            name: "mixed (noisy)",
            objective: Objective::Mixed,
            space: vec![
                float("x", -3.0, 3.0),
                spec(
                    "lr",
                    ParamKind::LogFloat {
                        low: 1e-5,
                        high: 1.0,
                    },
                ),
                spec("layers", ParamKind::Int { low: 1, high: 12 }),
                spec(
                    "opt",
                    ParamKind::Choice(
                        MIXED_OPTIMIZERS
                            .iter()
                            .map(|(n, ..)| Value::from(*n))
                            .collect(),
                    ),
                ),
            ],
            optimum: Some(0.0),
            trials,
            seeds,
        },
        Problem {
            name: "spiral lab",
            objective: Objective::Spiral,
            space: vec![
                spec(
                    "lr",
                    ParamKind::LogFloat {
                        low: 1e-4,
                        high: 1.0,
                    },
                ),
                spec("hidden", ParamKind::Int { low: 4, high: 64 }),
                spec(
                    "activation",
                    ParamKind::Choice(vec![json!("tanh"), json!("relu")]),
                ),
                spec("epochs", ParamKind::Int { low: 20, high: 200 }),
            ],
            optimum: None,
            trials: if args.quick {
                12
            } else {
                args.spiral_trials.max(1)
            },
            seeds: if args.quick {
                1
            } else {
                args.spiral_seeds.max(1)
            },
        },
    ];
    if std::env::var("AL_EXTRA").is_ok() {
        // TUNING ONLY: remove.
        all.push(Problem {
            name: "rosenbrock4",
            objective: Objective::Rosen,
            space: (1..=4)
                .map(|i| float(&format!("x{i}"), -2.0, 2.0))
                .collect(),
            optimum: Some(0.0),
            trials,
            seeds,
        });
        all.push(Problem {
            name: "ackley5",
            objective: Objective::Ackley,
            space: (1..=5)
                .map(|i| float(&format!("x{i}"), -4.0, 6.0))
                .collect(),
            optimum: Some(0.0),
            trials,
            seeds,
        });
        all.push(Problem {
            name: "styblinski4",
            objective: Objective::Styb,
            space: (1..=4)
                .map(|i| float(&format!("x{i}"), -5.0, 5.0))
                .collect(),
            optimum: Some(-39.16616570377142 * 4.0),
            trials,
            seeds,
        });
        all.push(Problem {
            name: "hpo-like",
            objective: Objective::Hpo,
            space: vec![
                spec(
                    "lr",
                    ParamKind::LogFloat {
                        low: 1e-6,
                        high: 1.0,
                    },
                ),
                spec(
                    "wd",
                    ParamKind::LogFloat {
                        low: 1e-8,
                        high: 1e-1,
                    },
                ),
                spec("batch", ParamKind::Int { low: 8, high: 512 }),
                spec("depth", ParamKind::Int { low: 1, high: 6 }),
                spec(
                    "act",
                    ParamKind::Choice(vec![
                        json!("relu"),
                        json!("gelu"),
                        json!("tanh"),
                        json!("sigmoid"),
                        json!("elu"),
                    ]),
                ),
                float("drop", 0.0, 0.8),
            ],
            optimum: Some(0.0),
            trials,
            seeds,
        });
    }
    if !args.problems.is_empty() {
        all.retain(|p| {
            args.problems
                .iter()
                .any(|w| p.name.starts_with(w.trim().to_lowercase().as_str()))
        });
    }
    all
}

// ---- objectives ---------------------------------------------------------------------------

fn num(p: &Map<String, Value>, k: &str) -> f64 {
    p.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

fn branin(x: f64, y: f64) -> f64 {
    let pi = std::f64::consts::PI;
    let b = 5.1 / (4.0 * pi * pi);
    let c = 5.0 / pi;
    let t = 1.0 / (8.0 * pi);
    (y - b * x * x + c * x - 6.0).powi(2) + 10.0 * (1.0 - t) * x.cos() + 10.0
}

fn hartmann6(x: &[f64]) -> f64 {
    const ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
    const A: [[f64; 6]; 4] = [
        [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
        [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
        [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
        [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
    ];
    const P: [[f64; 6]; 4] = [
        [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
        [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
        [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
        [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
    ];
    -(0..4)
        .map(|i| {
            let s: f64 = (0..6).map(|j| A[i][j] * (x[j] - P[i][j]).powi(2)).sum();
            ALPHA[i] * (-s).exp()
        })
        .sum::<f64>()
}

/// Per optimizer: name, best log10(lr), best layer count, offset at its best.
const MIXED_OPTIMIZERS: [(&str, f64, f64, f64); 4] = [
    ("sgd", -1.0, 3.0, 0.6),
    ("momentum", -1.5, 5.0, 0.3),
    ("adam", -3.0, 8.0, 0.0),
    ("rmsprop", -2.5, 6.0, 0.15),
];

/// Standard deviation of the mixed problem's observation noise.
const MIXED_NOISE: f64 = 0.1;

/// A training-run caricature: the best learning rate and depth depend on the optimizer.
/// The minimum, 0, is at x = 0.7, lr = 1e-3, layers = 8, opt = adam.
fn mixed(p: &Map<String, Value>) -> f64 {
    let opt = p.get("opt").and_then(Value::as_str).unwrap_or("");
    let Some((_, lr_best, layers_best, offset)) = MIXED_OPTIMIZERS.iter().find(|(n, ..)| *n == opt)
    else {
        return f64::NAN;
    };
    let x = num(p, "x");
    let lr = num(p, "lr").log10();
    let layers = num(p, "layers");
    (x - 0.7).powi(2)
        + 0.5 * (lr - lr_best).powi(2)
        + 0.08 * (layers - layers_best).powi(2)
        + offset
}

/// A standard normal draw that depends only on (seed, trial): every method sees the same noise.
fn noise(seed: u64, trial: usize) -> f64 {
    let mut rng = Rng::for_stream(seed ^ 0x006e_6f69_7365, trial as u64);
    let u1 = 1.0 - rng.unit();
    let u2 = rng.unit();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// The spiral lab in a private directory; results are cached by parameters (training is
/// deterministic: AUTOLAB_SEED is fixed at 0).
struct Spiral {
    dir: tempfile::TempDir,
}

impl Spiral {
    fn new() -> Result<Spiral, CliError> {
        let dir = tempfile::Builder::new()
            .prefix("autolab-bench-spiral-")
            .tempdir()?;
        for (name, text) in super::super::demo::SPIRAL {
            std::fs::write(dir.path().join(name), text)?;
        }
        Ok(Spiral { dir })
    }

    fn val_loss(&self, p: &Map<String, Value>) -> Result<Option<f64>, CliError> {
        std::fs::write(
            self.dir.path().join("params.json"),
            serde_json::to_string(p).map_err(|e| CliError::failure(e.to_string(), None))?,
        )?;
        let out = Command::new("python3")
            .arg("train.py")
            .current_dir(self.dir.path())
            .env("AUTOLAB_SEED", "0")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map_err(|e| {
                CliError::failure(
                    format!("cannot run python3: {e}"),
                    Some("the spiral lab needs python3 on PATH"),
                )
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        let loss = text
            .lines()
            .filter_map(|l| l.strip_prefix("val_loss:"))
            .filter_map(|v| v.trim().parse::<f64>().ok())
            .next_back()
            .filter(|v| v.is_finite() && out.status.success());
        Ok(loss)
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
    fn evaluate(
        &mut self,
        problem: &Problem,
        p: &Map<String, Value>,
        seed: u64,
        trial: usize,
    ) -> Result<Outcome, CliError> {
        let exact = |v: f64| {
            let v = v.is_finite().then_some(v);
            Outcome {
                observed: v,
                truth: v,
            }
        };
        Ok(match problem.objective {
            Objective::Branin => exact(branin(num(p, "x1"), num(p, "x2"))),
            Objective::Hartmann6 => {
                let x: Vec<f64> = (1..=6).map(|i| num(p, &format!("x{i}"))).collect();
                exact(hartmann6(&x))
            }
            Objective::Rosen => {
                let x: Vec<f64> = (1..=4).map(|i| num(p, &format!("x{i}"))).collect();
                exact(
                    (0..3)
                        .map(|i| 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2))
                        .sum(),
                )
            }
            Objective::Ackley => {
                let x: Vec<f64> = (1..=5).map(|i| num(p, &format!("x{i}"))).collect();
                let n = 5.0;
                let s1: f64 = x.iter().map(|v| v * v).sum::<f64>() / n;
                let s2: f64 = x
                    .iter()
                    .map(|v| (2.0 * std::f64::consts::PI * v).cos())
                    .sum::<f64>()
                    / n;
                exact(-20.0 * (-0.2 * s1.sqrt()).exp() - s2.exp() + 20.0 + std::f64::consts::E)
            }
            Objective::Styb => {
                let x: Vec<f64> = (1..=4).map(|i| num(p, &format!("x{i}"))).collect();
                exact(
                    x.iter()
                        .map(|v| 0.5 * (v.powi(4) - 16.0 * v * v + 5.0 * v))
                        .sum(),
                )
            }
            Objective::Hpo => {
                let lr = num(p, "lr").log10();
                let wd = num(p, "wd").log10();
                let batch = num(p, "batch").log2();
                let depth = num(p, "depth");
                let act = match p.get("act").and_then(Value::as_str).unwrap_or("") {
                    "gelu" => 0.0,
                    "relu" => 0.05,
                    "elu" => 0.1,
                    "tanh" => 0.4,
                    _ => 0.8,
                };
                let drop = num(p, "drop");
                let lr_best = -3.0 + 0.5 * (batch - 6.0);
                let truth = 0.3 * (lr - lr_best).powi(2)
                    + 0.05 * (wd + 4.0).powi(2)
                    + 0.1 * (depth - 4.0).powi(2)
                    + act
                    + 2.0 * (drop - 0.2).powi(2)
                    + 0.02 * (batch - 7.0).powi(2);
                Outcome {
                    observed: Some(truth + 0.05 * noise(seed, trial)),
                    truth: Some(truth),
                }
            }
            Objective::Mixed => {
                let truth = mixed(p);
                Outcome {
                    observed: Some(truth + MIXED_NOISE * noise(seed, trial))
                        .filter(|v| v.is_finite()),
                    truth: Some(truth).filter(|v| v.is_finite()),
                }
            }
            Objective::Spiral => {
                let key: String = problem
                    .space
                    .iter()
                    .map(|s| p.get(&s.name).map(Value::to_string).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("|");
                let cached = self
                    .cache
                    .lock()
                    .map_err(|_| CliError::failure("cache lock poisoned", None))?
                    .get(&key)
                    .copied();
                let loss = match cached {
                    Some(v) => v,
                    None => {
                        if self.spiral.is_none() {
                            self.spiral = Some(Spiral::new()?);
                        }
                        let v = match &self.spiral {
                            Some(s) => s.val_loss(p)?,
                            None => None,
                        };
                        self.cache
                            .lock()
                            .map_err(|_| CliError::failure("cache lock poisoned", None))?
                            .insert(key, v);
                        v
                    }
                };
                Outcome {
                    observed: loss,
                    truth: loss,
                }
            }
        })
    }

    fn run(
        &mut self,
        problem: &Problem,
        method: Method,
        seed: u64,
    ) -> Result<Vec<Outcome>, CliError> {
        let mut outcomes = Vec::with_capacity(problem.trials);
        match method {
            Method::Tpe | Method::Random => {
                let config = ParamsConfig {
                    apply: Apply::Json("params.json".into()),
                    sampler: if method == Method::Tpe {
                        Sampler::Tpe
                    } else {
                        Sampler::Random
                    },
                    startup: None,
                    space: problem.space.clone(),
                };
                let mut optimizer = Optimizer::new(config, seed, Goal::Minimize);
                let mut history: Vec<Trial> = Vec::new();
                for t in 0..problem.trials {
                    // Numbering as in a campaign: experiment 0 is the baseline.
                    let params = match optimizer.propose(t as u32 + 1, &history) {
                        Some(p) => match p.params {
                            Some(Value::Object(m)) => m,
                            _ => Map::new(),
                        },
                        None => break,
                    };
                    let o = self.evaluate(problem, &params, seed, t)?;
                    history.push(Trial {
                        params,
                        score: o.observed,
                    });
                    outcomes.push(o);
                }
            }
            Method::Optuna => {
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
                    "space": space_json(&problem.space),
                }))?;
                for t in 0..problem.trials {
                    let reply = optuna.call(&json!({"cmd": "ask"}))?;
                    let params = match reply.get("params") {
                        Some(Value::Object(m)) => m.clone(),
                        _ => {
                            return Err(CliError::failure(
                                format!("Optuna answered {reply}"),
                                None,
                            ));
                        }
                    };
                    let o = self.evaluate(problem, &params, seed, t)?;
                    optuna.call(&json!({"cmd": "tell", "value": o.observed}))?;
                    outcomes.push(o);
                }
                self.optuna = Some(optuna);
            }
        }
        Ok(outcomes)
    }
}

fn space_json(space: &[ParamSpec]) -> Value {
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

// ---- Optuna ---------------------------------------------------------------------------------

struct OptunaProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    _script: tempfile::NamedTempFile,
}

impl OptunaProcess {
    fn start(python: &Path) -> Result<OptunaProcess, CliError> {
        let mut script = tempfile::Builder::new()
            .prefix("autolab-bench-optuna-")
            .suffix(".py")
            .tempfile()?;
        script.write_all(OPTUNA_DRIVER.as_bytes())?;
        script.flush()?;
        let mut child = Command::new(python)
            .arg(script.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(CliError::failure("cannot talk to the Optuna driver", None));
        };
        Ok(OptunaProcess {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            _script: script,
        })
    }

    fn call(&mut self, request: &Value) -> Result<Value, CliError> {
        writeln!(self.stdin, "{request}")?;
        self.stdin.flush()?;
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err(CliError::failure(
                "the Optuna driver exited early (its error is above)",
                None,
            ));
        }
        serde_json::from_str(&line)
            .map_err(|e| CliError::failure(format!("bad reply from the Optuna driver: {e}"), None))
    }
}

impl Drop for OptunaProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The venv's python with Optuna importable, creating the venv first if needed; and the
/// installed Optuna version.
fn optuna_python(venv: &Path) -> Result<(PathBuf, String), CliError> {
    let python = venv.join("bin").join("python");
    let version = |python: &Path| -> Option<String> {
        let out = Command::new(python)
            .args(["-c", "import optuna; print(optuna.__version__)"])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    if let Some(v) = version(&python) {
        return Ok((python, v));
    }
    eprintln!(
        "setting up Optuna in {} (python3 -m venv, pip install optuna)…",
        venv.display()
    );
    let step = |cmd: &mut Command, what: &str| -> Result<(), CliError> {
        let ok = cmd.stdin(Stdio::null()).status().map(|s| s.success());
        match ok {
            Ok(true) => Ok(()),
            _ => Err(CliError::failure(
                format!("{what} failed"),
                Some(
                    "Optuna comes from PyPI; pass --venv DIR with optuna installed, or --no-optuna",
                ),
            )),
        }
    };
    step(
        Command::new("python3").args(["-m", "venv"]).arg(venv),
        "python3 -m venv",
    )?;
    step(
        Command::new(venv.join("bin").join("pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "optuna",
        ]),
        "pip install optuna",
    )?;
    match version(&python) {
        Some(v) => Ok((python, v)),
        None => Err(CliError::failure(
            "optuna does not import after installing it",
            Some("pass --venv DIR with optuna installed, or --no-optuna"),
        )),
    }
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
    let (python, optuna_version) = if args.no_optuna {
        (None, None)
    } else {
        let venv = args
            .venv
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("autolab-bench-venv"));
        let (p, v) = optuna_python(&venv)?;
        (Some(p), Some(v))
    };
    let methods: Vec<Method> = if args.no_optuna {
        vec![Method::Random, Method::Tpe]
    } else {
        vec![Method::Random, Method::Optuna, Method::Tpe]
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
                    let off: u64 = std::env::var("AL_SEEDOFF")
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    match worker.run(&problems[pi], m, seed + off) {
                        Ok(outcomes) => {
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
    if let Ok(path) = std::env::var("AL_DUMP") {
        // TUNING ONLY: remove.
        let mut out = serde_json::Map::new();
        for (pi, problem) in problems.iter().enumerate() {
            let optimum = problem.optimum.unwrap_or(f64::NAN);
            let mut pm = serde_json::Map::new();
            for &m in &methods {
                let mut bm = serde_json::Map::new();
                for b in [30usize, 100] {
                    let r: Vec<f64> = (0..problem.seeds)
                        .filter_map(|s| results.get(&(pi, m, s)))
                        .map(|o| regret(o, b, optimum))
                        .collect();
                    bm.insert(b.to_string(), json!(r));
                }
                pm.insert(m.name().to_string(), Value::Object(bm));
            }
            out.insert(problem.name.to_string(), Value::Object(pm));
        }
        std::fs::write(path, Value::Object(out).to_string())?;
    }
    print_table(
        &args,
        &problems,
        &methods,
        &results,
        optuna_version.as_deref(),
        start,
    );
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
) {
    let with_optuna = methods.contains(&Method::Optuna);
    let mut header = "| problem | budget | seeds |".to_string();
    let mut rule = "|---|---:|---:|".to_string();
    for m in methods {
        header.push_str(&format!(" {} |", m.name()));
        rule.push_str("---:|");
    }
    if with_optuna {
        header.push_str(" autolab TPE / Optuna |");
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
            let mut row = format!("| {} | {b} | {} |", problem.name, problem.seeds);
            let mut med = HashMap::new();
            for &m in methods {
                let regrets: Vec<f64> = (0..problem.seeds)
                    .filter_map(|s| results.get(&(pi, m, s)))
                    .map(|o| regret(o, b, optimum))
                    .collect();
                let v = median(regrets);
                med.insert(m, v);
                row.push_str(&format!(" {} |", sig3(v)));
            }
            if with_optuna {
                let (t, o) = (med[&Method::Tpe], med[&Method::Optuna]);
                let ratio = if t == o { 1.0 } else { t / o };
                all_budgets_met &= t <= o;
                row.push_str(&format!(" {:.2} |", ratio));
            }
            println!("{row}");
        }
        if all_budgets_met {
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
        let needed = problems.len().min(3);
        println!(
            "Target (autolab TPE median regret ≤ Optuna TPE's at every budget on ≥ {needed} of {} problems): {} — {} of {}{}{}.",
            problems.len(),
            if met.len() >= needed { "met" } else { "MISSED" },
            met.len(),
            problems.len(),
            if met.is_empty() {
                String::new()
            } else {
                format!("; ≤ on {}", met.join(", "))
            },
            if missed.is_empty() {
                String::new()
            } else {
                format!("; > on {}", missed.join(", "))
            },
        );
        if let Some(v) = optuna_version {
            println!("Optuna {v}, `TPESampler(seed=seed)` with default settings.");
        }
    }
    println!(
        "{} cores, {:.0} s wall time.",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        start.elapsed().as_secs_f64()
    );
}
