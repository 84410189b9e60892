//! The problems of `autolab bench optimizer`: four main ones (Branin, Hartmann-6, a noisy mixed
//! problem, the spiral lab) and four extra ones (`--extra`), with known optima where there is one.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use autolab_core::config::{ParamKind, ParamSpec};
use autolab_engine::proposer::Rng;
use serde_json::{Map, Value, json};

use super::Args;
use crate::output::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Objective {
    Branin,
    Hartmann6,
    Mixed,
    Spiral,
    Rosenbrock,
    Ackley,
    StyblinskiTang,
    HpoLike,
}

pub(super) struct Problem {
    pub name: &'static str,
    pub objective: Objective,
    pub space: Vec<ParamSpec>,
    /// The known minimum; None when it is the best value found in the run.
    pub optimum: Option<f64>,
    pub trials: usize,
    pub seeds: u64,
    /// Not one of the four problems of the target (`--extra`).
    pub extra: bool,
}

/// One trial's outcome: what the optimizer was told (None: crashed) and the noise-free value.
#[derive(Debug, Clone, Copy)]
pub(super) struct Outcome {
    pub observed: Option<f64>,
    pub truth: Option<f64>,
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

pub(super) fn problems(args: &Args) -> Vec<Problem> {
    let (seeds, trials) = if args.quick {
        (3, 20)
    } else {
        (args.seeds.max(1), args.trials.max(1))
    };
    let mut all = vec![
        Problem {
            name: "branin",
            objective: Objective::Branin,
            space: vec![float("x1", -5.0, 10.0), float("x2", 0.0, 15.0)],
            optimum: Some(0.397_887_357_729_738),
            trials,
            seeds,
            extra: false,
        },
        Problem {
            name: "hartmann6",
            objective: Objective::Hartmann6,
            space: (1..=6).map(|i| float(&format!("x{i}"), 0.0, 1.0)).collect(),
            optimum: Some(-3.322_368_011_415_51),
            trials,
            seeds,
            extra: false,
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
            extra: false,
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
            extra: false,
        },
    ];
    if args.extra {
        let cube = |n: usize, low: f64, high: f64| -> Vec<ParamSpec> {
            (1..=n)
                .map(|i| float(&format!("x{i}"), low, high))
                .collect()
        };
        let extra = |name, objective, space, optimum| Problem {
            name,
            objective,
            space,
            optimum: Some(optimum),
            trials,
            seeds,
            extra: true,
        };
        all.push(extra(
            "rosenbrock4",
            Objective::Rosenbrock,
            cube(4, -2.0, 2.0),
            0.0,
        ));
        all.push(extra("ackley5", Objective::Ackley, cube(5, -4.0, 6.0), 0.0));
        all.push(extra(
            "styblinski-tang4",
            Objective::StyblinskiTang,
            cube(4, -5.0, 5.0),
            -39.166_165_703_771_42 * 4.0,
        ));
        all.push(extra(
            "hpo-like (noisy)",
            Objective::HpoLike,
            vec![
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
                    ParamKind::Choice(
                        HPO_ACTIVATIONS
                            .iter()
                            .map(|(n, _)| Value::from(*n))
                            .collect(),
                    ),
                ),
                float("drop", 0.0, 0.8),
            ],
            0.0,
        ));
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

fn ackley(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let tau = 2.0 * std::f64::consts::PI;
    let s1 = x.iter().map(|v| v * v).sum::<f64>() / n;
    let s2 = x.iter().map(|v| (tau * v).cos()).sum::<f64>() / n;
    -20.0 * (-0.2 * s1.sqrt()).exp() - s2.exp() + 20.0 + std::f64::consts::E
}

/// Per activation: name, offset.
const HPO_ACTIVATIONS: [(&str, f64); 5] = [
    ("relu", 0.05),
    ("gelu", 0.0),
    ("tanh", 0.4),
    ("sigmoid", 0.8),
    ("elu", 0.1),
];

/// An extra mixed problem: the best learning rate grows with the batch size. The minimum,
/// 0, is at lr = 10^-2.5, wd = 1e-4, batch = 128, depth = 4, act = gelu, drop = 0.2.
fn hpo_like(p: &Map<String, Value>) -> f64 {
    let act = p.get("act").and_then(Value::as_str).unwrap_or("");
    let Some((_, offset)) = HPO_ACTIVATIONS.iter().find(|(n, _)| *n == act) else {
        return f64::NAN;
    };
    let lr = num(p, "lr").log10();
    let batch = num(p, "batch").log2();
    let lr_best = -3.0 + 0.5 * (batch - 6.0);
    0.3 * (lr - lr_best).powi(2)
        + 0.05 * (num(p, "wd").log10() + 4.0).powi(2)
        + 0.1 * (num(p, "depth") - 4.0).powi(2)
        + offset
        + 2.0 * (num(p, "drop") - 0.2).powi(2)
        + 0.02 * (batch - 7.0).powi(2)
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
pub(super) struct Spiral {
    dir: tempfile::TempDir,
}

impl Spiral {
    fn new() -> Result<Spiral, CliError> {
        let dir = tempfile::Builder::new()
            .prefix("autolab-bench-spiral-")
            .tempdir()?;
        for (name, text) in crate::commands::demo::SPIRAL {
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

impl Problem {
    /// Evaluates `p` as trial `trial` of a run with `seed` (the noise depends on both).
    /// The spiral lab trains in `spiral` (created on first use); `cache` holds its results.
    pub(super) fn evaluate(
        &self,
        p: &Map<String, Value>,
        seed: u64,
        trial: usize,
        spiral: &mut Option<Spiral>,
        cache: &Mutex<HashMap<String, Option<f64>>>,
    ) -> Result<Outcome, CliError> {
        let exact = |v: f64| {
            let v = v.is_finite().then_some(v);
            Outcome {
                observed: v,
                truth: v,
            }
        };
        Ok(match self.objective {
            Objective::Branin => exact(branin(num(p, "x1"), num(p, "x2"))),
            Objective::Hartmann6 => {
                let x: Vec<f64> = (1..=6).map(|i| num(p, &format!("x{i}"))).collect();
                exact(hartmann6(&x))
            }
            Objective::Rosenbrock => {
                let x: Vec<f64> = (1..=4).map(|i| num(p, &format!("x{i}"))).collect();
                exact(
                    x.windows(2)
                        .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
                        .sum(),
                )
            }
            Objective::Ackley => {
                let x: Vec<f64> = (1..=5).map(|i| num(p, &format!("x{i}"))).collect();
                exact(ackley(&x))
            }
            Objective::StyblinskiTang => exact(
                (1..=4)
                    .map(|i| num(p, &format!("x{i}")))
                    .map(|v| 0.5 * (v.powi(4) - 16.0 * v * v + 5.0 * v))
                    .sum(),
            ),
            Objective::HpoLike => {
                let truth = hpo_like(p);
                Outcome {
                    observed: Some(truth + 0.05 * noise(seed, trial)).filter(|v| v.is_finite()),
                    truth: Some(truth).filter(|v| v.is_finite()),
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
                let key: String = self
                    .space
                    .iter()
                    .map(|s| p.get(&s.name).map(Value::to_string).unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("|");
                let cached = cache
                    .lock()
                    .map_err(|_| CliError::failure("cache lock poisoned", None))?
                    .get(&key)
                    .copied();
                let loss = match cached {
                    Some(v) => v,
                    None => {
                        if spiral.is_none() {
                            *spiral = Some(Spiral::new()?);
                        }
                        let v = match spiral {
                            Some(s) => s.val_loss(p)?,
                            None => None,
                        };
                        cache
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
}
