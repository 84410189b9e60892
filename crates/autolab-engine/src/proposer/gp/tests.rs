use autolab_core::config::{Goal, ParamKind, ParamSpec};
use serde_json::{Map, Value, json};

use super::fit::fit;
use super::model::{Gp, Hyper};
use super::warp::{fit_warped, log_slope, most_gaussian, transform, warped};
use super::*;
use crate::proposer::{Rng, Sampler, Trial};

fn spec(name: &str, kind: ParamKind) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        kind,
        default: None,
    }
}

fn x_only() -> Vec<ParamSpec> {
    vec![spec(
        "x",
        ParamKind::Float {
            low: 0.0,
            high: 1.0,
        },
    )]
}

fn hyper(ls: f64, signal: f64, noise: f64) -> Hyper {
    Hyper {
        log_ls: vec![ls.ln()],
        log_signal: signal.ln(),
        log_noise: noise.ln(),
    }
}

/// The Matérn-5/2 correlation, written out.
fn m52(d: f64, ls: f64) -> f64 {
    let r = d / ls;
    let s5 = 5f64.sqrt();
    (1.0 + s5 * r + 5.0 * r * r / 3.0) * (-s5 * r).exp()
}

#[test]
fn the_posterior_matches_a_hand_computed_two_point_example() {
    let (ls, signal, noise) = (0.5, 2.0, 0.1);
    let gp = Gp::new(
        vec![vec![0.2], vec![0.7]],
        vec![1.0, -1.0],
        vec![1.0, 1.0],
        hyper(ls, signal, noise),
    )
    .unwrap();
    // K = s²·[[1, c], [c, 1]] + σ²·I; its inverse by hand.
    let c = m52(0.5, ls);
    let (a, b) = (signal + noise, signal * c);
    let det = a * a - b * b;
    let inv = [[a / det, -b / det], [-b / det, a / det]];
    let q = 0.4;
    let k = [signal * m52(0.2, ls), signal * m52(0.3, ls)];
    let y = [1.0, -1.0];
    let alpha = [
        inv[0][0] * y[0] + inv[0][1] * y[1],
        inv[1][0] * y[0] + inv[1][1] * y[1],
    ];
    let mean = k[0] * alpha[0] + k[1] * alpha[1];
    let quad =
        k[0] * (inv[0][0] * k[0] + inv[0][1] * k[1]) + k[1] * (inv[1][0] * k[0] + inv[1][1] * k[1]);
    let var = signal - quad;
    let (m, v) = gp.predict(&[q]);
    assert!((m - mean).abs() < 1e-12, "{m} vs {mean}");
    assert!((v - var).abs() < 1e-12, "{v} vs {var}");
    // And the likelihood: −½ yᵀK⁻¹y − ½ log|K| − log 2π.
    let ll =
        -0.5 * (y[0] * alpha[0] + y[1] * alpha[1]) - 0.5 * det.ln() - (std::f64::consts::TAU).ln();
    assert!((gp.log_likelihood() - ll).abs() < 1e-12);
    // Far from the data the mean returns to 0 and the variance to the signal's.
    let (m, v) = gp.predict(&[50.0]);
    assert!(m.abs() < 1e-9 && (v - signal).abs() < 1e-9, "{m} {v}");
}

#[test]
fn the_likelihood_gradient_matches_finite_differences() {
    let x: Vec<Vec<f64>> = (0..7)
        .map(|i| vec![f64::from(i) / 7.0, (f64::from(i) * 0.37) % 1.0])
        .collect();
    let y: Vec<f64> = x.iter().map(|p| (3.0 * p[0]).sin() + p[1] * p[1]).collect();
    let scale = vec![1.0, 0.5, 1.0, 1.0, 0.25, 1.0, 1.0];
    let h = Hyper {
        log_ls: vec![-0.9, -0.2],
        log_signal: 0.3,
        log_noise: -3.0,
    };
    let gp = Gp::new(x.clone(), y.clone(), scale.clone(), h.clone()).unwrap();
    let g = gp.gradient();
    let v = h.as_vec();
    for i in 0..v.len() {
        let at = |d: f64| {
            let mut w = v.clone();
            w[i] += d;
            Gp::new(x.clone(), y.clone(), scale.clone(), Hyper::from_vec(&w))
                .unwrap()
                .log_likelihood()
        };
        let fd = (at(1e-5) - at(-1e-5)) / 2e-5;
        assert!(
            (g[i] - fd).abs() < 1e-5 * fd.abs().max(1.0),
            "θ{i}: {} vs {fd}",
            g[i]
        );
    }
}

#[test]
fn fitting_finds_a_short_length_scale_for_a_wiggly_function_and_noise_for_a_noisy_one() {
    let x: Vec<Vec<f64>> = (0..20).map(|i| vec![f64::from(i) / 19.0]).collect();
    let wiggly: Vec<f64> = x.iter().map(|p| (12.0 * p[0]).sin()).collect();
    let smooth: Vec<f64> = x.iter().map(|p| p[0]).collect();
    let ones = vec![1.0; 20];
    let (w, _, _) = standardize(&wiggly);
    let (s, _, _) = standardize(&smooth);
    let gw = fit(&x, &w, &ones).unwrap();
    let gs = fit(&x, &s, &ones).unwrap();
    assert!(
        gw.hyper.log_ls[0] < gs.hyper.log_ls[0] - 0.5,
        "{:?} vs {:?}",
        gw.hyper,
        gs.hyper
    );
    // Pure noise around a constant: the noise term takes it.
    let mut rng = Rng::new(3);
    let noisy: Vec<f64> = (0..20).map(|_| rng.normal()).collect();
    let (n, _, _) = standardize(&noisy);
    let gn = fit(&x, &n, &ones).unwrap();
    assert!(gn.hyper.noise() > 0.3, "{:?}", gn.hyper);
    assert!(gw.hyper.noise() < 0.05, "{:?}", gw.hyper);
}

#[test]
fn log_expected_improvement_is_smooth_into_the_far_tail() {
    // Continuous where the tail formula takes over, increasing in z.
    for edge in [-3.0_f64, -1e4] {
        let (a, b) = (
            log_h(edge - 1e-9 * edge.abs()),
            log_h(edge + 1e-9 * edge.abs()),
        );
        assert!(
            (a - b).abs() < 1e-6 * a.abs().max(1.0),
            "at {edge}: {a} {b}"
        );
    }
    // Far in the tail: log φ(z) − 2 log|z| to leading order.
    let z = -40.0;
    let lead = -0.5 * z * z - 0.5 * (std::f64::consts::TAU).ln() - 2.0 * 40f64.ln();
    assert!((log_h(z) - lead).abs() < 2e-3, "{} vs {lead}", log_h(z));
    let mut last = f64::NEG_INFINITY;
    for i in -1000..=40 {
        let z = f64::from(i) / 10.0;
        let v = log_h(z);
        assert!(v.is_finite() && v > last, "z = {z}: {v}");
        last = v;
    }
    // At z = 0: log φ(0).
    assert!((log_h(0.0) - (1.0 / (std::f64::consts::TAU).sqrt()).ln()).abs() < 1e-12);
    // A lower mean is better; with equal means, more variance is better.
    assert!(log_ei(0.0, 1.0, 0.5) > log_ei(1.0, 1.0, 0.5));
    assert!(log_ei(1.0, 4.0, 0.5) > log_ei(1.0, 1.0, 0.5));
}

fn run(
    sampler: &GpSampler,
    space: &[ParamSpec],
    f: impl Fn(&Map<String, Value>) -> f64,
    n: u64,
) -> Vec<Trial> {
    let mut history = Vec::new();
    for k in 0..n {
        let mut rng = Rng::for_stream(11, k);
        let params = sampler.suggest(space, &history, &mut rng);
        let score = f(&params);
        history.push(Trial {
            params,
            score: Some(score),
            ..Trial::default()
        });
    }
    history
}

#[test]
fn the_process_finds_a_known_one_dimensional_minimum_within_twenty_trials() {
    let space = x_only();
    let f = |p: &Map<String, Value>| {
        let x = p["x"].as_f64().unwrap();
        (x - 0.3).powi(2) + 0.1 * (15.0 * x).sin().powi(2)
    };
    let h = run(
        &GpSampler::new(Goal::Minimize).with_startup(5),
        &space,
        f,
        20,
    );
    let best = h
        .iter()
        .min_by(|a, b| a.score.unwrap().total_cmp(&b.score.unwrap()))
        .unwrap();
    let x = best.params["x"].as_f64().unwrap();
    // The minimum of (x − 0.3)² + 0.1 sin²(15x) is at x = 0 of the sine near 0.3: 0.2094.
    assert!((x - 0.2094).abs() < 0.01, "best x {x}: {h:?}");
    // The same goal maximized on the negated function.
    let neg = |p: &Map<String, Value>| -f(p);
    let h = run(
        &GpSampler::new(Goal::Maximize).with_startup(5),
        &space,
        neg,
        20,
    );
    let best = h
        .iter()
        .max_by(|a, b| a.score.unwrap().total_cmp(&b.score.unwrap()))
        .unwrap();
    assert!((best.params["x"].as_f64().unwrap() - 0.2094).abs() < 0.01);
}

#[test]
fn a_pending_trial_moves_the_next_proposal_away_from_it() {
    let space = x_only();
    let f = |x: f64| (x - 0.3).powi(2);
    let history: Vec<Trial> = [0.0, 0.1, 0.5, 0.7, 0.9, 1.0]
        .into_iter()
        .map(|x| Trial {
            params: [("x".to_string(), json!(x))].into_iter().collect(),
            score: Some(f(x)),
            ..Trial::default()
        })
        .collect();
    let gp = GpSampler::new(Goal::Minimize).with_startup(3);
    let alone = gp.suggest(&space, &history, &mut Rng::new(5));
    let x0 = alone["x"].as_f64().unwrap();
    assert!((x0 - 0.3).abs() < 0.1, "{x0}");
    let mut with = history.clone();
    with.push(Trial {
        params: alone.clone(),
        pending: true,
        ..Trial::default()
    });
    let next = gp.suggest(&space, &with, &mut Rng::new(5));
    let x1 = next["x"].as_f64().unwrap();
    assert!(
        (x1 - x0).abs() > 0.02,
        "{x0} then {x1}: the slot went to the same point"
    );
    // The same history gives the same proposal.
    assert_eq!(gp.suggest(&space, &with, &mut Rng::new(5)), next);
}

#[test]
fn choices_integers_and_log_floats_come_back_in_their_domain() {
    let space = vec![
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
            ParamKind::Choice(vec![json!("sgd"), json!("adam"), json!("rmsprop")]),
        ),
    ];
    let f = |p: &Map<String, Value>| {
        let lr = p["lr"].as_f64().unwrap();
        let layers = p["layers"].as_i64().unwrap() as f64;
        let opt = if p["opt"] == "adam" { 0.0 } else { 1.0 };
        (lr.log10() + 3.0).powi(2) + (layers - 8.0).powi(2) / 10.0 + opt
    };
    let h = run(&GpSampler::new(Goal::Minimize), &space, f, 30);
    for t in &h {
        for p in &space {
            assert!(
                crate::proposer::in_domain(&p.kind, &t.params[&p.name]),
                "{:?}",
                t.params
            );
        }
    }
    let best = h
        .iter()
        .map(|t| t.score.unwrap())
        .fold(f64::INFINITY, f64::min);
    assert!(best < 0.6, "best {best}");
}

#[test]
fn scores_are_standardized_whatever_their_units() {
    for scale in [1e-12, 1.0, 1e12] {
        let (z, mean, sd) = standardize(&[scale, 2.0 * scale, 3.0 * scale]);
        assert!((mean - 2.0 * scale).abs() < 1e-9 * scale, "{scale}");
        assert!(sd > 0.5 * scale && sd < scale, "{scale}: {sd}");
        assert!(
            (z[2] - z[0] - 2.449_489_742_783_178).abs() < 1e-9,
            "{scale}: {z:?}"
        );
    }
    // A constant has nothing to standardize: zeros.
    let (z, _, sd) = standardize(&[5.0, 5.0]);
    assert_eq!((z, sd), (vec![0.0, 0.0], 1.0));
}

#[test]
fn the_warp_is_the_identity_at_one_and_increasing_at_every_exponent() {
    let ys: Vec<f64> = (-30..=30).map(|i| f64::from(i) / 7.0).collect();
    for y in &ys {
        assert!((transform(*y, 1.0) - y).abs() < 1e-12, "{y}");
    }
    for lambda in [-2.0, -0.5, 0.0, 0.5, 1.5, 2.0, 4.0] {
        for w in ys.windows(2) {
            assert!(
                transform(w[1], lambda) > transform(w[0], lambda),
                "λ = {lambda} at {w:?}"
            );
        }
        // Continuous at 0, where its two branches meet.
        assert!(transform(1e-9, lambda).abs() < 1e-8 && transform(-1e-9, lambda).abs() < 1e-8);
    }
}

#[test]
fn the_warps_log_slope_matches_finite_differences() {
    let h = 1e-6;
    for lambda in [-1.5, 0.0, 0.4, 1.0, 2.0, 3.5] {
        for y in [-3.0, -0.7, -0.01, 0.01, 0.5, 2.5] {
            let fd = (transform(y + h, lambda) - transform(y - h, lambda)) / (2.0 * h);
            assert!(
                (log_slope(y, lambda) - fd.ln()).abs() < 1e-5,
                "λ = {lambda}, y = {y}: {} vs {}",
                log_slope(y, lambda),
                fd.ln()
            );
        }
    }
}

/// The inverse of the Yeo–Johnson transform, written out.
fn untransform(t: f64, lambda: f64) -> f64 {
    if t >= 0.0 {
        (lambda * t + 1.0).powf(1.0 / lambda) - 1.0
    } else {
        1.0 - (1.0 - (2.0 - lambda) * t).powf(1.0 / (2.0 - lambda))
    }
}

#[test]
fn the_exponent_found_is_the_one_that_made_the_sample() {
    // A Gaussian sample bent by the inverse transform: the transform that unbends it is the
    // most Gaussian one.
    for (lambda, centre) in [(0.4, 0.0), (1.6, 0.0), (0.7, 1.5)] {
        let mut rng = Rng::new(5);
        let bent: Vec<f64> = (0..3000)
            .map(|_| untransform(centre + 0.8 * rng.normal(), lambda))
            .collect();
        let found = most_gaussian(&bent);
        assert!((found - lambda).abs() <= 0.15, "{found} for {lambda}");
    }
}

#[test]
fn a_skewed_sample_gets_an_exponent_away_from_one_and_a_gaussian_one_does_not() {
    let mut rng = Rng::new(11);
    let gaussian: Vec<f64> = (0..200).map(|_| rng.normal()).collect();
    // Log-normal: a long tail of large values wants an exponent below one, its mirror image
    // (a long tail of small values) one above.
    let lognormal: Vec<f64> = gaussian.iter().map(|v| v.exp()).collect();
    let mirrored: Vec<f64> = lognormal.iter().map(|v| -v).collect();
    let (g, _, _) = standardize(&gaussian);
    let (l, _, _) = standardize(&lognormal);
    let (m, _, _) = standardize(&mirrored);
    let (lg, ll, lm) = (most_gaussian(&g), most_gaussian(&l), most_gaussian(&m));
    assert!((lg - 1.0).abs() <= 0.2, "{lg}");
    assert!(ll < 0.6, "{ll}");
    assert!(lm > 1.4, "{lm}");
}

#[test]
fn the_likelihood_keeps_the_warp_for_an_exponential_and_not_for_a_smooth_bump() {
    let x: Vec<Vec<f64>> = (0..20).map(|i| vec![f64::from(i) / 19.0]).collect();
    let ones = vec![1.0; 20];
    // Flat, then a wall: on a log scale a straight line.
    let exponential: Vec<f64> = x.iter().map(|p| (8.0 * p[0]).exp()).collect();
    let (e, _, _) = standardize(&exponential);
    let (_, targets) = fit_warped(&x, &e, &ones).unwrap();
    assert!(
        targets.iter().zip(&e).any(|(a, b)| (a - b).abs() > 1e-3),
        "the exponential was fit unwarped"
    );
    // Monotone in the scores: the best trial stays the best.
    let argmin = |v: &[f64]| (0..v.len()).min_by(|a, b| v[*a].total_cmp(&v[*b])).unwrap();
    assert_eq!(argmin(&targets), argmin(&e));
    let bump: Vec<f64> = x.iter().map(|p| (3.0 * p[0]).sin()).collect();
    let (b, _, _) = standardize(&bump);
    let (_, targets) = fit_warped(&x, &b, &ones).unwrap();
    assert_eq!(targets, b, "the smooth bump was warped");
}

#[test]
fn extreme_and_tied_scores_still_give_a_model_and_a_proposal_in_the_domain() {
    // Scores spanning 600 orders of magnitude, ties, and a crash: whatever the warp makes of
    // them, the fit stays finite and the proposal is a point of the space.
    let scores = [
        1.0, 1.0, 1.0, 1e300, -1e300, 1.0, 2.0, 1e-300, 0.0, 1.0, 3.0, 1.0,
    ];
    let mut history: Vec<Trial> = scores
        .iter()
        .enumerate()
        .map(|(i, s)| Trial {
            params: [("x".to_string(), json!((i as f64 + 0.5) / 13.0))]
                .into_iter()
                .collect(),
            score: Some(*s),
            ..Trial::default()
        })
        .collect();
    history.push(Trial {
        params: [("x".to_string(), json!(0.99))].into_iter().collect(),
        score: None,
        ..Trial::default()
    });
    let (ys, _, _) = standardize(&scores);
    let x: Vec<Vec<f64>> = (0..scores.len())
        .map(|i| vec![(i as f64 + 0.5) / 13.0])
        .collect();
    let ones = vec![1.0; scores.len()];
    let (gp, targets) = fit_warped(&x, &ys, &ones).unwrap();
    assert!(targets.iter().all(|t| t.is_finite()), "{targets:?}");
    let (mu, var) = gp.predict(&[0.5]);
    assert!(mu.is_finite() && var.is_finite() && var > 0.0);
    for goal in [Goal::Minimize, Goal::Maximize] {
        let p = GpSampler::new(goal).suggest(&x_only(), &history, &mut Rng::new(1));
        let v = p["x"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{v}");
    }
}

#[test]
fn the_warps_jacobian_is_its_slope_over_the_new_spread() {
    let ys = [-1.3, -0.2, 0.0, 0.4, 0.9, 2.2];
    for lambda in [-1.0, 0.5, 3.0] {
        let (u, log_jacobian) = warped(&ys, lambda);
        // Each target is (T(y) − mean) / sd with the mean and sd of the T(y): the slope of
        // that map at y_i is T'(y_i) / sd.
        let t: Vec<f64> = ys.iter().map(|y| transform(*y, lambda)).collect();
        let mean = t.iter().sum::<f64>() / t.len() as f64;
        let sd = (t.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / t.len() as f64).sqrt();
        let h = 1e-6;
        let expected: f64 = ys
            .iter()
            .map(|y| ((transform(y + h, lambda) - transform(y - h, lambda)) / (2.0 * h) / sd).ln())
            .sum();
        assert!(
            (log_jacobian - expected).abs() < 1e-5,
            "λ = {lambda}: {log_jacobian} vs {expected}"
        );
        for (ui, ti) in u.iter().zip(&t) {
            assert!((ui - (ti - mean) / sd).abs() < 1e-12);
        }
    }
}

#[test]
fn scores_too_large_to_square_are_standardized_like_ordinary_ones() {
    let y = [3.0, -1.0, 0.5, 2.0];
    let (z, mean, sd) = standardize(&y);
    for unit in [1e160, 1e300, 1e-200] {
        let big: Vec<f64> = y.iter().map(|v| v * unit).collect();
        let (zb, mb, sb) = standardize(&big);
        for (a, b) in z.iter().zip(&zb) {
            assert!((a - b).abs() < 1e-12, "{unit}: {zb:?} vs {z:?}");
        }
        assert!((mb / unit - mean).abs() < 1e-12 && (sb / unit - sd).abs() < 1e-12);
    }
}

#[test]
fn the_prior_mean_is_the_worst_target_plus_half_the_range() {
    assert_eq!(prior::pessimistic_mean(&[-1.0, 0.5, 2.0]), 3.5);
    assert_eq!(prior::pessimistic_mean(&[0.25, 0.25]), 0.25);
    assert_eq!(prior::pessimistic_mean(&[]), 0.0);
    // Far from every trial the process believes a score worse than any trial's; near them it
    // still follows the trials.
    let xs = vec![vec![0.2], vec![0.4], vec![0.6]];
    let ys = vec![-1.0, 0.5, 2.0];
    let gp = Gp::new(xs.clone(), ys, vec![1.0; 3], hyper(0.2, 1.0, 1e-4)).unwrap();
    let gp = prior::with_pessimistic_mean(gp);
    let shifted = gp.y.clone();
    assert_eq!(shifted, vec![-4.5, -3.0, -1.5]);
    // Reusing the factorization gives the process fit afresh to the shifted targets.
    let fresh = Gp::new(
        xs.clone(),
        shifted.clone(),
        vec![1.0; 3],
        hyper(0.2, 1.0, 1e-4),
    )
    .unwrap();
    for q in [0.1, 0.3, 0.5, 0.9] {
        let (a, b) = (gp.predict(&[q]), fresh.predict(&[q]));
        assert!(
            (a.0 - b.0).abs() < 1e-12 && (a.1 - b.1).abs() < 1e-12,
            "{a:?} vs {b:?}"
        );
    }
    let far = gp.predict(&[40.0]).0;
    let at: Vec<f64> = xs.iter().map(|x| gp.predict(x).0).collect();
    assert!(at.iter().all(|m| *m < far), "{at:?} vs far {far}");
    for (m, y) in at.iter().zip(&shifted) {
        assert!((m - y).abs() < 0.01, "{m} vs {y}");
    }
}

#[test]
fn after_the_warm_up_a_basin_is_refined_rather_than_a_corner_visited() {
    // Eight trials around a bowl whose bottom is at (0.45, 0.55), nothing near the edges. A
    // process reverting to the trials' average far from them proposes near an edge (it did:
    // (0.22, 1.0)), where it is most uncertain.
    let space: Vec<ParamSpec> = ["a", "b"]
        .iter()
        .map(|n| {
            spec(
                n,
                ParamKind::Float {
                    low: 0.0,
                    high: 1.0,
                },
            )
        })
        .collect();
    let f = |a: f64, b: f64| (a - 0.45).powi(2) + (b - 0.55).powi(2);
    let history: Vec<Trial> = [
        (0.4, 0.4),
        (0.6, 0.4),
        (0.4, 0.6),
        (0.6, 0.6),
        (0.5, 0.5),
        (0.45, 0.6),
        (0.5, 0.4),
        (0.55, 0.5),
    ]
    .into_iter()
    .map(|(a, b)| Trial {
        params: [("a".to_string(), json!(a)), ("b".to_string(), json!(b))]
            .into_iter()
            .collect(),
        score: Some(f(a, b)),
        ..Trial::default()
    })
    .collect();
    let gp = GpSampler::new(Goal::Minimize).with_startup(6);
    for seed in 0..8 {
        let p = gp.suggest(&space, &history, &mut Rng::new(seed));
        let (a, b) = (p["a"].as_f64().unwrap(), p["b"].as_f64().unwrap());
        assert!(
            (a - 0.45).abs() < 0.1 && (b - 0.55).abs() < 0.1,
            "seed {seed}: ({a}, {b}) is far from the basin at (0.45, 0.55)"
        );
    }
}

#[test]
fn while_every_score_is_alike_the_proposals_are_random_not_corners() {
    let space: Vec<ParamSpec> = ["a", "b"]
        .iter()
        .map(|n| {
            spec(
                n,
                ParamKind::Float {
                    low: -1.0,
                    high: 1.0,
                },
            )
        })
        .collect();
    let flat: Vec<Trial> = [
        (-0.5, 0.2),
        (0.1, -0.7),
        (0.6, 0.6),
        (-0.2, -0.1),
        (0.3, 0.9),
    ]
    .into_iter()
    .map(|(a, b)| Trial {
        params: [("a".to_string(), json!(a)), ("b".to_string(), json!(b))]
            .into_iter()
            .collect(),
        score: Some(2.5),
        ..Trial::default()
    })
    .collect();
    let gp = GpSampler::new(Goal::Minimize).with_startup(5);
    let on_edge = |p: &Map<String, Value>| {
        ["a", "b"]
            .iter()
            .any(|k| p[*k].as_f64().unwrap().abs() > 0.999)
    };
    for seed in 0..6 {
        let p = gp.suggest(&space, &flat, &mut Rng::new(seed));
        assert_eq!(
            p,
            RandomSampler.suggest(&space, &flat, &mut Rng::new(seed)),
            "seed {seed}"
        );
        assert!(!on_edge(&p), "seed {seed}: {p:?}");
    }
    // One differing score and the process takes over.
    let mut told = flat.clone();
    told[2].score = Some(1.0);
    let p = gp.suggest(&space, &told, &mut Rng::new(0));
    assert_ne!(p, RandomSampler.suggest(&space, &told, &mut Rng::new(0)));
}
