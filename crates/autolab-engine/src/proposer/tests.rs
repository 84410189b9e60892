use autolab_core::config::{
    Apply, Goal, ParamKind, ParamSpec, ParamsConfig, Sampler as SamplerKind,
};
use serde_json::{Value, json};

use super::*;

fn space() -> ParamsConfig {
    ParamsConfig {
        apply: Apply::Json("params.json".into()),
        sampler: SamplerKind::Random,
        startup: None,
        halving: None,
        space: vec![
            ParamSpec {
                name: "lr".into(),
                kind: ParamKind::LogFloat {
                    low: 1e-4,
                    high: 1.0,
                },
                default: None,
            },
            ParamSpec {
                name: "hidden".into(),
                kind: ParamKind::Int { low: 4, high: 8 },
                default: None,
            },
            ParamSpec {
                name: "act".into(),
                kind: ParamKind::Choice(vec![json!("tanh"), json!("relu")]),
                default: None,
            },
            ParamSpec {
                name: "drop".into(),
                kind: ParamKind::Float {
                    low: 0.0,
                    high: 0.5,
                },
                default: None,
            },
        ],
    }
}

#[test]
fn proposals_are_reproducible_and_in_domain() {
    let mut a = Optimizer::new(space(), 42, Goal::Minimize);
    let mut b = Optimizer::new(space(), 42, Goal::Minimize);
    let mut c = Optimizer::new(space(), 43, Goal::Minimize);
    let mut differs = false;
    for n in 1..50 {
        let pa = a.propose(n, &[]).unwrap();
        let pb = b.propose(n, &[]).unwrap();
        assert_eq!(pa, pb);
        differs |= pa != c.propose(n, &[]).unwrap();
        let values = pa.params.unwrap();
        for spec in &space().space {
            assert!(
                in_domain(&spec.kind, &values[&spec.name]),
                "{} = {}",
                spec.name,
                values[&spec.name]
            );
        }
    }
    assert!(differs, "a different seed must give different proposals");
}

#[test]
fn every_int_and_choice_value_is_reachable() {
    let mut o = Optimizer::new(space(), 1, Goal::Minimize);
    let mut hidden = std::collections::BTreeSet::new();
    let mut acts = std::collections::BTreeSet::new();
    for n in 1..200 {
        let v = o.propose(n, &[]).unwrap().params.unwrap();
        hidden.insert(v["hidden"].as_i64().unwrap());
        acts.insert(v["act"].as_str().unwrap().to_string());
    }
    assert_eq!(hidden.into_iter().collect::<Vec<_>>(), vec![4, 5, 6, 7, 8]);
    assert_eq!(acts.len(), 2);
}

#[test]
fn rounding_keeps_four_significant_digits_or_what_a_narrow_range_needs() {
    let wide = |x| tidy(x, -1e9, 1e9);
    assert_eq!(wide(0.000123456), 0.0001235);
    assert_eq!(wide(1234.5678), 1235.0);
    assert_eq!(wide(0.0), 0.0);
    // Large values without residues, tiny ones without overflow.
    assert_eq!(wide(887_999_999.999_999_9), 888_000_000.0);
    assert_eq!(tidy(4.263_999_999e-304, 1e-307, 1e-287), 4.264e-304);
    assert_eq!(tidy(1.234_567e-306, 1e-307, 1e-287), 1.235e-306);
    // A range narrow next to its values keeps the digits that tell its values apart.
    let narrow = tidy(1_000.000_412_345, 1000.0, 1000.001);
    assert!((narrow - 1_000.000_412_345).abs() < 1e-6, "{narrow}");
    // Always inside the range.
    assert_eq!(tidy(0.99996, 0.0, 0.9999), 0.9999);
    // The middle of a range spanning nearly all floats is a number.
    assert_eq!(lerp(-1e308, 1e308, 0.5), 0.0);
    assert!(lerp(-1e308, 1e308, 0.75).is_finite());
}

#[test]
fn optimizer_wires_the_configured_sampler_startup_and_goal() {
    let mut config = space();
    config.sampler = SamplerKind::Tpe;
    config.startup = Some(3);
    // A history where a higher score is better: lr near 0.01 scores best.
    let history: Vec<Trial> = (1..=8)
        .map(|n| {
            let params = RandomSampler.suggest(&config.space, &[], &mut Rng::new(n));
            let lr = params["lr"].as_f64().unwrap();
            let score = Some(-(lr.log10() + 2.0).powi(2));
            Trial {
                params,
                score,
                ..Trial::default()
            }
        })
        .collect();
    for goal in [Goal::Minimize, Goal::Maximize] {
        let mut o = Optimizer::new(config.clone(), 7, goal);
        let tpe = TpeSampler::new(goal).with_startup(3);
        for n in 1..6u32 {
            let want = tpe.suggest(&config.space, &history, &mut Rng::for_stream(7, n.into()));
            let got = o.propose(n, &history).unwrap().params.unwrap();
            assert_eq!(got, Value::Object(want), "goal {goal:?}, experiment {n}");
        }
    }
    // Without `startup`, TPE waits for 10 trials: with 8, proposals are random draws.
    config.startup = None;
    let mut o = Optimizer::new(config.clone(), 7, Goal::Maximize);
    let random = RandomSampler.suggest(&config.space, &history, &mut Rng::for_stream(7, 1));
    assert_eq!(
        o.propose(1, &history).unwrap().params.unwrap(),
        Value::Object(random)
    );
}

/// Ints 1..=3 and two choices: six points in all.
fn finite() -> ParamsConfig {
    let mut s = space();
    s.space.retain(|p| p.name == "act");
    s.space.push(ParamSpec {
        name: "k".into(),
        kind: ParamKind::Int { low: 1, high: 3 },
        default: None,
    });
    s
}

#[test]
fn a_finite_space_is_covered_before_any_point_repeats() {
    for sampler in [SamplerKind::Random, SamplerKind::Tpe] {
        let mut cfg = finite();
        cfg.sampler = sampler;
        let mut opt = Optimizer::new(cfg, 7, Goal::Minimize);
        let mut history: Vec<Trial> = Vec::new();
        for n in 1..=6u32 {
            let p = opt.propose(n, &history).expect("points are left");
            let params = p.params.unwrap().as_object().unwrap().clone();
            history.push(Trial {
                score: Some(f64::from(n)),
                params,
                ..Trial::default()
            });
        }
        let distinct: std::collections::BTreeSet<String> = history
            .iter()
            .map(|t| serde_json::to_string(&t.params).unwrap())
            .collect();
        assert_eq!(distinct.len(), 6, "{sampler:?}: {distinct:?}");
    }
}

#[test]
fn random_draws_spread_evenly_over_the_range_or_its_logarithm() {
    let mut rng = Rng::new(7);
    let n = 4000;
    let float = ParamKind::Float {
        low: 1.0,
        high: 4.0,
    };
    let xs: Vec<f64> = (0..n)
        .map(|_| sampler::draw(&float, &mut rng).as_f64().unwrap())
        .collect();
    let mean = xs.iter().sum::<f64>() / n as f64;
    assert!((mean - 2.5).abs() < 0.06, "uniform on [1, 4]: mean {mean}");
    let low_quarter = xs.iter().filter(|&&x| x < 1.75).count() as f64 / n as f64;
    assert!((low_quarter - 0.25).abs() < 0.03, "{low_quarter}");

    let log = ParamKind::LogFloat {
        low: 1e-4,
        high: 1e-1,
    };
    let ls: Vec<f64> = (0..n)
        .map(|_| sampler::draw(&log, &mut rng).as_f64().unwrap().log10())
        .collect();
    let mean = ls.iter().sum::<f64>() / n as f64;
    assert!(
        (mean + 2.5).abs() < 0.05,
        "log-uniform over three decades: {mean}"
    );
    let first_decade = ls.iter().filter(|&&l| l < -3.0).count() as f64 / n as f64;
    assert!((first_decade - 1.0 / 3.0).abs() < 0.03, "{first_decade}");
}

#[test]
fn values_outside_a_domain_are_not_in_it() {
    let float = ParamKind::Float {
        low: 0.0,
        high: 1.0,
    };
    assert!(in_domain(&float, &json!(0.0)) && in_domain(&float, &json!(1.0)));
    assert!(!in_domain(&float, &json!(-0.1)) && !in_domain(&float, &json!(1.1)));
    assert!(!in_domain(&float, &json!("0.5")));
    let int = ParamKind::Int { low: 2, high: 5 };
    assert!(in_domain(&int, &json!(2)) && in_domain(&int, &json!(5)));
    assert!(!in_domain(&int, &json!(1)) && !in_domain(&int, &json!(6)));
    let choice = ParamKind::Choice(vec![json!("relu"), json!("gelu")]);
    assert!(in_domain(&choice, &json!("gelu")) && !in_domain(&choice, &json!("tanh")));
}

#[test]
fn a_title_names_each_value() {
    let values = json!({"lr": 0.01, "act": "relu", "layers": 3});
    let Value::Object(map) = values else {
        unreachable!()
    };
    assert_eq!(title_of(&map), "act=relu layers=3 lr=0.01");
}
