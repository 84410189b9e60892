use autolab_core::config::{Goal, ParamKind, ParamSpec};
use serde_json::{Map, Value, json};

use super::*;

fn spec(name: &str, kind: ParamKind) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        kind,
        default: None,
    }
}

fn x_of(p: &Map<String, Value>, k: &str) -> f64 {
    p[k].as_f64().unwrap()
}

/// Runs `trials` sequential suggestions on `f` (minimized) and returns the best value seen.
fn best_of(
    sampler: &dyn Sampler,
    space: &[ParamSpec],
    f: &dyn Fn(&Map<String, Value>) -> f64,
    seed: u64,
    trials: u64,
) -> f64 {
    let mut history: Vec<Trial> = Vec::new();
    let mut best = f64::INFINITY;
    for n in 0..trials {
        let params = sampler.suggest(space, &history, &mut Rng::for_stream(seed, n));
        let y = f(&params);
        best = best.min(y);
        history.push(Trial {
            params,
            score: Some(y),
            ..Trial::default()
        });
    }
    best
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        0.5 * (xs[n / 2 - 1] + xs[n / 2])
    }
}

/// Over 20 seeds × 40 trials, TPE's median best is lower than random search's, and TPE is
/// better on a majority of seeds.
fn assert_tpe_beats_random(space: &[ParamSpec], f: &dyn Fn(&Map<String, Value>) -> f64) {
    let tpe = TpeSampler::new(Goal::Minimize);
    let (mut t, mut r, mut wins) = (Vec::new(), Vec::new(), 0);
    for seed in 0..20 {
        let a = best_of(&tpe, space, f, seed, 40);
        let b = best_of(&RandomSampler, space, f, seed, 40);
        wins += usize::from(a < b);
        t.push(a);
        r.push(b);
    }
    let (mt, mr) = (median(t), median(r));
    assert!(mt < mr, "median best: tpe {mt} vs random {mr}");
    assert!(wins > 10, "tpe better on only {wins} of 20 seeds");
}

#[test]
fn tpe_beats_random_in_one_dimension() {
    let space = [spec(
        "x",
        ParamKind::Float {
            low: -5.0,
            high: 5.0,
        },
    )];
    // A smooth bowl with a ripple, minimum near x = 1.2.
    let f = |p: &Map<String, Value>| {
        let x = x_of(p, "x");
        (x - 1.2).powi(2) + 0.3 * (1.0 - (4.0 * (x - 1.2)).cos())
    };
    assert_tpe_beats_random(&space, &f);
}

fn branin(x: f64, y: f64) -> f64 {
    let pi = std::f64::consts::PI;
    let b = 5.1 / (4.0 * pi * pi);
    let c = 5.0 / pi;
    let t = 1.0 / (8.0 * pi);
    (y - b * x * x + c * x - 6.0).powi(2) + 10.0 * (1.0 - t) * x.cos() + 10.0
}

#[test]
fn tpe_beats_random_on_branin() {
    let space = [
        spec(
            "x",
            ParamKind::Float {
                low: -5.0,
                high: 10.0,
            },
        ),
        spec(
            "y",
            ParamKind::Float {
                low: 0.0,
                high: 15.0,
            },
        ),
    ];
    let f = |p: &Map<String, Value>| branin(x_of(p, "x"), x_of(p, "y"));
    assert_tpe_beats_random(&space, &f);
}

fn mixed_space() -> Vec<ParamSpec> {
    vec![
        spec(
            "lr",
            ParamKind::LogFloat {
                low: 1e-4,
                high: 1.0,
            },
        ),
        spec("hidden", ParamKind::Int { low: 4, high: 64 }),
        spec(
            "act",
            ParamKind::Choice(vec![json!("tanh"), json!("relu"), json!("gelu")]),
        ),
        spec(
            "drop",
            ParamKind::Float {
                low: 0.0,
                high: 0.5,
            },
        ),
    ]
}

/// Lowest at lr = 1e-2, hidden = 40, act = relu, drop = 0.1.
fn mixed_loss(p: &Map<String, Value>) -> f64 {
    let lr = x_of(p, "lr").log10() + 2.0;
    let h = (p["hidden"].as_i64().unwrap() - 40) as f64 / 20.0;
    let act = match p["act"].as_str().unwrap() {
        "relu" => 0.0,
        "gelu" => 0.2,
        _ => 0.5,
    };
    lr * lr + h * h + act + (x_of(p, "drop") - 0.1).abs()
}

fn assert_in_domain(space: &[ParamSpec], values: &Map<String, Value>) {
    assert_eq!(values.len(), space.len(), "{values:?}");
    for s in space {
        assert!(
            in_domain(&s.kind, &values[&s.name]),
            "{} = {}",
            s.name,
            values[&s.name]
        );
    }
}

/// Suggestions for trials 0..n given a fixed history, under one seed.
fn suggestions(sampler: &TpeSampler, history: &[Trial], seed: u64) -> Vec<Map<String, Value>> {
    (0..8)
        .map(|n| sampler.suggest(&mixed_space(), history, &mut Rng::for_stream(seed, n)))
        .collect()
}

fn history(seed: u64, trials: u64) -> Vec<Trial> {
    let mut h = Vec::new();
    let tpe = TpeSampler::new(Goal::Minimize);
    for n in 0..trials {
        let params = tpe.suggest(&mixed_space(), &h, &mut Rng::for_stream(seed, n));
        let score = Some(mixed_loss(&params));
        h.push(Trial {
            params,
            score,
            ..Trial::default()
        });
    }
    h
}

#[test]
fn same_seed_same_suggestions_and_all_in_domain() {
    let h = history(7, 25);
    let tpe = TpeSampler::new(Goal::Minimize);
    let a = suggestions(&tpe, &h, 11);
    assert_eq!(a, suggestions(&tpe, &h, 11));
    assert_ne!(
        a,
        suggestions(&tpe, &h, 12),
        "another seed must give other suggestions"
    );
    assert_eq!(h, history(7, 25), "a whole run is reproducible");
    for v in a.iter().chain(h.iter().map(|t| &t.params)) {
        assert_in_domain(&mixed_space(), v);
    }
}

#[test]
fn warm_up_is_the_random_sampler() {
    let h = history(3, 9);
    let tpe = TpeSampler::new(Goal::Minimize);
    for n in 0..5 {
        let space = mixed_space();
        assert_eq!(
            tpe.suggest(&space, &h, &mut Rng::for_stream(5, n)),
            RandomSampler.suggest(&space, &h, &mut Rng::for_stream(5, n))
        );
    }
    // With `startup = 3` the model takes over after three trials.
    let short = TpeSampler::new(Goal::Minimize).with_startup(3);
    let differs = (0..5).any(|n| {
        short.suggest(&mixed_space(), &h, &mut Rng::for_stream(5, n))
            != RandomSampler.suggest(&mixed_space(), &h, &mut Rng::for_stream(5, n))
    });
    assert!(differs);
}

#[test]
fn maximizing_is_minimizing_the_negated_score() {
    let h = history(4, 20);
    let negated: Vec<Trial> = h
        .iter()
        .map(|t| Trial {
            params: t.params.clone(),
            score: t.score.map(|s| -s),
            ..Trial::default()
        })
        .collect();
    let min = TpeSampler::new(Goal::Minimize);
    let max = TpeSampler::new(Goal::Maximize);
    for n in 0..5 {
        assert_eq!(
            min.suggest(&mixed_space(), &h, &mut Rng::for_stream(9, n)),
            max.suggest(&mixed_space(), &negated, &mut Rng::for_stream(9, n))
        );
    }
    // And it does optimize: on 30 trials the maximizer finds a high score.
    let tpe = TpeSampler::new(Goal::Maximize);
    let mut hist: Vec<Trial> = Vec::new();
    for n in 0..30 {
        let params = tpe.suggest(&mixed_space(), &hist, &mut Rng::for_stream(2, n));
        let score = Some(-mixed_loss(&params));
        hist.push(Trial {
            params,
            score,
            ..Trial::default()
        });
    }
    let tail_best = hist[20..]
        .iter()
        .filter_map(|t| t.score)
        .fold(f64::MIN, f64::max);
    let head_best = hist[..10]
        .iter()
        .filter_map(|t| t.score)
        .fold(f64::MIN, f64::max);
    assert!(tail_best > head_best, "{tail_best} <= {head_best}");
}

#[test]
fn crashed_trials_are_bad_but_do_not_break_it() {
    let tpe = TpeSampler::new(Goal::Minimize);
    // Only crashes: still a valid suggestion.
    let crashed: Vec<Trial> = history(5, 15)
        .into_iter()
        .map(|t| Trial {
            params: t.params,
            score: None,
            ..Trial::default()
        })
        .collect();
    for v in suggestions(&tpe, &crashed, 1) {
        assert_in_domain(&mixed_space(), &v);
    }
    // Every run with act = tanh crashes: TPE learns to avoid tanh.
    let mut hist: Vec<Trial> = Vec::new();
    for n in 0..40 {
        let params = tpe.suggest(&mixed_space(), &hist, &mut Rng::for_stream(8, n));
        let score = (params["act"] != "tanh").then(|| mixed_loss(&params));
        assert_in_domain(&mixed_space(), &params);
        hist.push(Trial {
            params,
            score,
            ..Trial::default()
        });
    }
    let late_crashes = hist[20..].iter().filter(|t| t.score.is_none()).count();
    assert!(
        late_crashes <= 5,
        "{late_crashes} of the last 20 trials crashed"
    );
    // Non-finite scores count as crashes rather than poisoning the model.
    hist[0].score = Some(f64::NAN);
    hist[1].score = Some(f64::NEG_INFINITY);
    for v in suggestions(&tpe, &hist, 2) {
        assert_in_domain(&mixed_space(), &v);
    }
}

#[test]
fn repeated_configurations_are_several_observations() {
    let tpe = TpeSampler::new(Goal::Minimize);
    let one = history(6, 1).remove(0).params;
    let repeated: Vec<Trial> = (0..20)
        .map(|i| Trial {
            params: one.clone(),
            score: Some(1.0 + f64::from(i % 3)),
            ..Trial::default()
        })
        .collect();
    for v in suggestions(&tpe, &repeated, 3) {
        assert_in_domain(&mixed_space(), &v);
        assert_ne!(v, one, "an untried configuration is preferred to a repeat");
    }
    // A space with a single configuration can only repeat it.
    let tiny = [
        spec("n", ParamKind::Int { low: 3, high: 3 }),
        spec("c", ParamKind::Choice(vec![json!("only")])),
    ];
    let h: Vec<Trial> = (0..12)
        .map(|_| Trial {
            params: serde_json::from_value(json!({"n": 3, "c": "only"})).unwrap(),
            score: Some(0.5),
            ..Trial::default()
        })
        .collect();
    let v = tpe.suggest(&tiny, &h, &mut Rng::new(1));
    assert_eq!(Value::Object(v), json!({"n": 3, "c": "only"}));
}

#[test]
fn foreign_history_is_ignored_not_trusted() {
    let tpe = TpeSampler::new(Goal::Minimize);
    let mut h = history(9, 14);
    // Values from an older, wider space, wrong types and missing keys.
    h[0].params.insert("lr".into(), json!(5.0));
    h[1].params.insert("hidden".into(), json!("many"));
    h[2].params.remove("act");
    h[3].params.insert("extra".into(), json!(1));
    for v in suggestions(&tpe, &h, 4) {
        assert_in_domain(&mixed_space(), &v);
    }
}

#[test]
fn values_are_rounded_like_the_random_sampler() {
    let h = history(10, 30);
    for t in &h {
        let lr = x_of(&t.params, "lr");
        assert_eq!(lr, tidy(lr, 1e-4, 1.0));
        let drop = x_of(&t.params, "drop");
        assert_eq!(drop, tidy(drop, 0.0, 0.5));
        // Four significant digits at most.
        for v in [lr, drop] {
            let digits = format!("{v:e}")
                .split('e')
                .next()
                .unwrap()
                .replace(['.', '-'], "")
                .len();
            assert!(digits <= 4, "{v}");
        }
        assert!(t.params["hidden"].is_i64());
    }
}

/// Scored trials spread evenly over [0, 1] with equal scores, and crashes packed in [0, 0.2]:
/// only the bad group can tell TPE where the crashes are.
#[test]
fn crashed_trials_weigh_in_the_bad_group() {
    let space = [spec(
        "x",
        ParamKind::Float {
            low: 0.0,
            high: 1.0,
        },
    )];
    let mut hist: Vec<Trial> = Vec::new();
    for i in 0..20 {
        // Interleaved, so the earliest (the good group on ties) cover the whole range too.
        let x = f64::from((i * 7) % 20) / 20.0 + 0.025;
        hist.push(Trial {
            params: [("x".to_string(), json!(x))].into_iter().collect(),
            score: Some(1.0),
            ..Trial::default()
        });
    }
    for i in 0..20 {
        hist.push(Trial {
            params: [("x".to_string(), json!(f64::from(i) / 100.0))]
                .into_iter()
                .collect(),
            score: None,
            ..Trial::default()
        });
    }
    let tpe = TpeSampler::new(Goal::Minimize).with_startup(5);
    let in_crash_zone = (0..60u64)
        .filter(|n| {
            x_of(
                &tpe.suggest(&space, &hist, &mut Rng::for_stream(3, *n)),
                "x",
            ) < 0.2
        })
        .count();
    assert!(
        in_crash_zone <= 4,
        "{in_crash_zone} of 60 suggestions went where every run crashed"
    );
}

#[test]
fn an_untried_point_is_suggested_before_a_tried_one_repeats() {
    let space = [spec(
        "act",
        ParamKind::Choice(vec![json!("relu"), json!("gelu"), json!("tanh")]),
    )];
    // relu and gelu tried (relu best); tanh never.
    let mut h = Vec::new();
    for (i, act) in ["relu", "gelu", "relu", "gelu", "relu", "gelu"]
        .iter()
        .enumerate()
    {
        let mut params = Map::new();
        params.insert("act".into(), json!(act));
        h.push(Trial {
            params,
            score: Some(if *act == "relu" { 0.1 } else { 0.9 } + i as f64 * 1e-3),
            ..Trial::default()
        });
    }
    let tpe = TpeSampler::new(Goal::Minimize).with_startup(2);
    for seed in 0..5 {
        let s = tpe.suggest(&space, &h, &mut Rng::for_stream(seed, 0));
        assert_eq!(s["act"], json!("tanh"), "seed {seed}");
    }
    // With every value tried, the best candidate repeats.
    let mut full = h.clone();
    let mut params = Map::new();
    params.insert("act".into(), json!("tanh"));
    full.push(Trial {
        params,
        score: Some(0.95),
        ..Trial::default()
    });
    let s = tpe.suggest(&space, &full, &mut Rng::for_stream(0, 0));
    assert_ne!(s["act"], Value::Null);
}

#[test]
fn the_model_takes_over_from_the_warm_up_at_n_startup_observations() {
    let space = [spec(
        "x",
        ParamKind::Float {
            low: 0.0,
            high: 1.0,
        },
    )];
    let tpe = TpeSampler::new(Goal::Minimize).with_startup(4);
    let trial = |x: f64| {
        let mut params = Map::new();
        params.insert("x".into(), json!(x));
        Trial {
            params,
            score: Some((x - 0.9).abs()),
            ..Trial::default()
        }
    };
    let h: Vec<Trial> = [0.1, 0.2, 0.85, 0.3].into_iter().map(trial).collect();
    // Three observations: still random, as the random sampler draws with the same stream.
    let random = RandomSampler.suggest(&space, &h[..3], &mut Rng::for_stream(5, 0));
    assert_eq!(
        tpe.suggest(&space, &h[..3], &mut Rng::for_stream(5, 0)),
        random
    );
    // Four: the model; it no longer matches the random draw of the same stream.
    let random = RandomSampler.suggest(&space, &h, &mut Rng::for_stream(5, 0));
    assert_ne!(tpe.suggest(&space, &h, &mut Rng::for_stream(5, 0)), random);
}

#[test]
fn pending_trials_count_as_bad_and_move_the_next_suggestion() {
    // A 1-D history whose best region is near x = 0.3.
    let space = vec![spec(
        "x",
        ParamKind::Float {
            low: 0.0,
            high: 1.0,
        },
    )];
    let mut hist: Vec<Trial> = (0..20)
        .map(|i| {
            let x = f64::from(i) / 19.0;
            Trial {
                params: [("x".to_string(), json!(x))].into_iter().collect(),
                score: Some((x - 0.3).powi(2)),
                ..Trial::default()
            }
        })
        .collect();
    let tpe = TpeSampler::new(Goal::Minimize).with_startup(5);
    let alone = tpe.suggest(&space, &hist, &mut Rng::new(9));
    // Three slots already busy around the best point.
    for dx in [-0.02, 0.0, 0.02] {
        hist.push(Trial {
            params: [("x".to_string(), json!(x_of(&alone, "x") + dx))]
                .into_iter()
                .collect(),
            pending: true,
            ..Trial::default()
        });
    }
    let next = tpe.suggest(&space, &hist, &mut Rng::new(9));
    assert_ne!(alone, next, "the pending points changed nothing");
    assert!(
        (x_of(&next, "x") - x_of(&alone, "x")).abs() > 0.015,
        "{alone:?} then {next:?}"
    );
}
