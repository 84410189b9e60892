use crate::agent::bandit::*;
use crate::proposer::Rng;

fn record(name: &str, tried: u32, kept: u32) -> ExpertRecord {
    ExpertRecord {
        name: name.into(),
        tried,
        kept,
        gain: 0.0,
    }
}

#[test]
fn beta_samples_have_the_right_mean_and_range() {
    let mut rng = Rng::new(7);
    for (a, b) in [(1.0, 1.0), (2.0, 5.0), (10.0, 3.0), (0.5, 0.5), (1.0, 30.0)] {
        let n = 20_000;
        let draws: Vec<f64> = (0..n).map(|_| sample_beta(a, b, &mut rng)).collect();
        assert!(draws.iter().all(|x| (0.0..=1.0).contains(x)));
        let mean = draws.iter().sum::<f64>() / n as f64;
        let want = a / (a + b);
        let sd = (a * b / ((a + b) * (a + b) * (a + b + 1.0))).sqrt();
        // Five standard errors of the mean.
        assert!(
            (mean - want).abs() < 5.0 * sd / (n as f64).sqrt(),
            "Beta({a}, {b}): mean {mean}, want {want}"
        );
    }
}

#[test]
fn gamma_samples_have_the_right_mean() {
    let mut rng = Rng::new(11);
    for shape in [0.3, 1.0, 2.5, 40.0] {
        let n = 20_000;
        let mean = (0..n).map(|_| sample_gamma(shape, &mut rng)).sum::<f64>() / n as f64;
        // Gamma(k, 1) has mean k and variance k.
        assert!(
            (mean - shape).abs() < 5.0 * (shape / n as f64).sqrt(),
            "Gamma({shape}): mean {mean}"
        );
    }
}

#[test]
fn prefers_a_clearly_better_expert_but_still_explores() {
    let records = vec![
        record("hyperparameters", 20, 2),
        record("architecture", 20, 12),
        record("loss", 20, 3),
        record("data", 0, 0),
    ];
    let mut counts = [0u32; 4];
    let mut rng = Rng::new(42);
    for _ in 0..4000 {
        counts[pick_expert(&records, &[], &mut rng).unwrap()] += 1;
    }
    assert!(counts[1] > 2000, "{counts:?}");
    assert!(counts[1] > counts[0] + counts[2] + counts[3], "{counts:?}");
    assert!(
        counts[3] > 0,
        "an untried expert is still asked sometimes: {counts:?}"
    );
}

#[test]
fn weight_zero_disables_an_expert_and_weights_scale() {
    let records = vec![record("good", 20, 15), record("other", 20, 5)];
    let weights = vec![("good".to_string(), 0.0)];
    let mut rng = Rng::new(3);
    for _ in 0..500 {
        assert_eq!(pick_expert(&records, &weights, &mut rng), Some(1));
    }
    let all_off = vec![("good".to_string(), 0.0), ("other".to_string(), -1.0)];
    assert_eq!(pick_expert(&records, &all_off, &mut rng), None);
    assert_eq!(pick_expert(&[], &[], &mut rng), None);

    // Equal records, one weighted up: it wins most draws.
    let even = vec![record("a", 10, 5), record("b", 10, 5)];
    let boost = vec![("b".to_string(), 3.0)];
    let b_wins = (0..1000)
        .filter(|_| pick_expert(&even, &boost, &mut rng) == Some(1))
        .count();
    assert!(b_wins > 900, "{b_wins}");
}

#[test]
fn the_same_rng_state_gives_the_same_pick() {
    let records: Vec<ExpertRecord> = (0..10)
        .map(|i| record(&format!("e{i}"), 5, i % 4))
        .collect();
    let picks = |seed| {
        let mut rng = Rng::for_stream(seed, 9);
        (0..50)
            .map(|_| pick_expert(&records, &[], &mut rng))
            .collect::<Vec<_>>()
    };
    assert_eq!(picks(1), picks(1));
    assert_ne!(picks(1), picks(2));
}

#[test]
fn kept_above_tried_is_capped() {
    let records = vec![record("odd", 2, 5)];
    assert_eq!(pick_expert(&records, &[], &mut Rng::new(1)), Some(0));
}
