use autolab_core::config::{EarlyStop, Goal, StopRule};

use super::*;

fn rule() -> EarlyStop {
    EarlyStop {
        metric: "val_loss".into(),
        goal: Goal::Minimize,
        step: "step".into(),
        rule: StopRule::Incumbent,
        margin: 0.1,
        patience: 2,
        min_step: 0.0,
        min_runs: 3,
    }
}

fn median_rule() -> EarlyStop {
    EarlyStop {
        metric: "train_loss".into(),
        rule: StopRule::Percentile(50.0),
        margin: 0.0,
        patience: 1,
        ..rule()
    }
}

fn incumbent() -> Vec<(f64, f64)> {
    curve(
        &(1..=10)
            .map(|s| format!("step: {s} val_loss: {}\n", 1.0 / f64::from(s)))
            .collect::<String>(),
        &rule(),
    )
}

fn watch(reference: Reference, noise: Vec<Vec<(f64, f64)>>, rule: EarlyStop) -> Watcher {
    Watcher::new(reference, noise, rule).unwrap()
}

/// A flat curve at `v` over steps 10, 20, …, 100.
fn flat(v: f64) -> Vec<(f64, f64)> {
    (1..=10).map(|s| (f64::from(s * 10), v)).collect()
}

/// The median of the completed runs' curves.
fn median_of(curves: Vec<Vec<(f64, f64)>>) -> Reference {
    Reference::Percentile { p: 50.0, curves }
}

#[test]
fn reads_curves_from_both_line_styles() {
    let c = curve(
        "step: 1 val_loss: 0.9\nnoise\nMETRIC step=2 val_loss=0.8\nstep: 3\n",
        &rule(),
    );
    assert_eq!(c, vec![(1.0, 0.9), (2.0, 0.8)]);
}

#[test]
fn collects_every_metric_printed_beside_the_step() {
    let log =
        "step: 1 train_loss: 0.9 lr: 0.1\nval_loss: 3\nstep: 2 train_loss: 0.8\nstep: 3 lr: nan\n";
    assert_eq!(
        curves(log, "step", &[]),
        vec![
            ("train_loss".to_string(), vec![(1.0, 0.9), (2.0, 0.8)]),
            ("lr".to_string(), vec![(1.0, 0.1)]),
        ]
    );
    let many: String = (0..40).map(|i| format!("step: 1 m{i}: 1\n")).collect();
    assert_eq!(curves(&many, "step", &[]).len(), 16);
    // The metrics asked for are kept beyond the cap.
    let crowded = format!("{many}step: 2 train_loss: 0.5\n");
    let kept = curves(&crowded, "step", &["train_loss"]);
    assert_eq!(kept.len(), 17);
    assert_eq!(kept[16], ("train_loss".to_string(), vec![(2.0, 0.5)]));
    assert!(curves(log, "epoch", &[]).is_empty());
}

#[test]
fn stops_a_clearly_worse_curve() {
    let mut w = watch(Reference::Incumbent(incumbent()), vec![], rule());
    assert_eq!(w.line("step: 1 val_loss: 1.05"), None); // within margin
    assert_eq!(w.line("step: 2 val_loss: 0.9"), None); // worse: strike 1
    let reason = w.line("step: 3 val_loss: 0.8").unwrap(); // worse: strike 2
    assert!(reason.starts_with("early-stopped at step 3"), "{reason}");
    assert!(reason.contains("vs incumbent"), "{reason}");
}

#[test]
fn spares_a_better_or_noisy_curve() {
    let mut w = watch(Reference::Incumbent(incumbent()), vec![], rule());
    for s in 1..=10 {
        let v = 0.9 / f64::from(s);
        assert_eq!(w.line(&format!("step: {s} val_loss: {v}")), None);
    }
    let mut w = watch(Reference::Incumbent(incumbent()), vec![], rule());
    // One bad checkpoint between good ones never reaches patience.
    for (s, v) in [(2, 0.9), (3, 0.3), (4, 0.9), (5, 0.19)] {
        assert_eq!(w.line(&format!("step: {s} val_loss: {v}")), None);
    }
}

#[test]
fn the_incumbent_is_interpolated_flat_after_its_steps_and_silent_before() {
    let r = Reference::Incumbent(vec![(10.0, 0.0), (0.0, 1.0)]).sorted();
    assert!((r.at(5.0, Goal::Minimize, 3).unwrap() - 0.5).abs() < 1e-12);
    assert_eq!(r.at(20.0, Goal::Minimize, 3), Some(0.0));
    assert_eq!(r.at(-1.0, Goal::Minimize, 3), None);
    assert!(Watcher::new(Reference::Incumbent(vec![]), vec![], rule()).is_none());
}

#[test]
fn the_median_of_completed_runs_stops_a_clearly_worse_run() {
    let done = vec![flat(0.5), flat(0.6), flat(0.7), flat(0.8), flat(0.9)];
    let reference = || median_of(done.clone());
    let mut w = watch(reference(), vec![], median_rule());
    let reason = w.line("step: 20 train_loss: 0.75").unwrap();
    assert!(
        reason.contains("train_loss 0.75 vs median of 5 completed runs 0.700000"),
        "{reason}"
    );
    // At the median itself, or better: never stopped.
    let mut w = watch(reference(), vec![], median_rule());
    assert_eq!(w.line("step: 20 train_loss: 0.7"), None);
    assert_eq!(w.line("step: 30 train_loss: 0.55"), None);
}

#[test]
fn a_run_within_the_baseline_noise_of_the_median_is_spared() {
    let done = vec![flat(0.5), flat(0.6), flat(0.7), flat(0.8), flat(0.9)];
    // The baseline's three seeds spread by 0.05 (sd) at every step.
    let noise = vec![flat(0.65), flat(0.7), flat(0.75)];
    let reference = || median_of(done.clone());
    let mut w = watch(reference(), noise.clone(), median_rule());
    assert_eq!(w.line("step: 20 train_loss: 0.79"), None); // 0.09 above: within 2 sd
    let mut w = watch(reference(), noise, median_rule());
    assert!(w.line("step: 20 train_loss: 0.81").is_some()); // 0.11 above: beyond
}

#[test]
fn percentiles_count_from_the_best_side_and_need_enough_runs_at_the_step() {
    let done = vec![flat(1.0), flat(2.0), flat(3.0), flat(4.0), flat(5.0)];
    let r = Reference::Percentile {
        p: 25.0,
        curves: done.clone(),
    }
    .sorted();
    assert_eq!(r.at(50.0, Goal::Minimize, 3), Some(2.0));
    assert_eq!(r.at(50.0, Goal::Maximize, 3), Some(4.0));
    assert_eq!(r.at(55.0, Goal::Minimize, 3), Some(2.0)); // between points: interpolated
    assert_eq!(r.at(5.0, Goal::Minimize, 3), None); // before every curve's first step
    assert_eq!(r.at(150.0, Goal::Minimize, 3), None); // after their last
    assert_eq!(r.at(50.0, Goal::Minimize, 6), None); // five runs, six needed
    // A short run counts only for the steps it reached.
    let mut short = done[..2].to_vec();
    short.push(vec![(10.0, 9.0), (20.0, 9.0)]);
    let r = median_of(short).sorted();
    assert_eq!(r.at(20.0, Goal::Minimize, 3), Some(2.0));
    assert_eq!(r.at(30.0, Goal::Minimize, 3), None);
    // Too few completed runs: no watcher at all.
    let two = median_of(done[..2].to_vec());
    assert!(Watcher::new(two, vec![], median_rule()).is_none());
}

#[test]
fn warm_up_and_steps_without_a_reference_neither_strike_nor_clear() {
    let done = vec![flat(0.5), flat(0.6), flat(0.7)];
    let rule = EarlyStop {
        patience: 2,
        min_step: 15.0,
        ..median_rule()
    };
    let mut w = watch(median_of(done), vec![], rule);
    assert_eq!(w.line("step: 10 train_loss: 5"), None); // warm-up
    assert_eq!(w.line("step: 20 train_loss: 5"), None); // strike 1
    assert_eq!(w.line("step: 500 train_loss: 5"), None); // no run reached 500: no change
    assert!(w.line("step: 30 train_loss: 5").is_some()); // strike 2
}

#[test]
fn maximized_metrics_stop_when_below() {
    let done = vec![flat(0.5), flat(0.6), flat(0.7)];
    let rule = EarlyStop {
        goal: Goal::Maximize,
        ..median_rule()
    };
    let r = || median_of(done.clone());
    assert!(
        watch(r(), vec![], rule.clone())
            .line("step: 20 train_loss: 0.59")
            .is_some()
    );
    assert_eq!(
        watch(r(), vec![], rule).line("step: 20 train_loss: 0.61"),
        None
    );
}

#[test]
fn spread_is_the_sample_sd_of_the_curves_at_the_step() {
    let s = reference::spread(&[flat(1.0), flat(3.0)], 50.0).unwrap();
    assert!((s - 2f64.sqrt()).abs() < 1e-12);
    assert_eq!(reference::spread(&[flat(1.0)], 50.0), None);
    assert_eq!(reference::spread(&[flat(1.0), flat(3.0)], 500.0), None);
}

#[test]
fn long_curves_are_thinned_over_their_whole_length_as_they_are_read() {
    let log: String = (0..100_000)
        .map(|i| format!("step: {i} train_loss: {}\n", f64::from(i)))
        .collect();
    let c = &curves(&log, "step", &[])[0].1;
    assert!((1000..2000).contains(&c.len()), "{}", c.len());
    assert_eq!(c[0], (0.0, 0.0));
    assert_eq!(c[c.len() - 1], (99_999.0, 99_999.0));
    assert!(c.windows(2).all(|w| w[0].0 < w[1].0));
    // Evenly: no gap much wider than the average.
    let widest = c.windows(2).map(|w| w[1].0 - w[0].0).fold(0.0, f64::max);
    assert!(widest <= 2.0 * 100_000.0 / c.len() as f64, "{widest}");
    // From a file too, whatever its size.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stdout.log");
    std::fs::write(&path, &log).unwrap();
    assert_eq!(&curves_of_files(&[&path], "step", &[])[0].1, c);
}

#[test]
fn the_margin_is_a_fraction_of_the_reference() {
    // Reference 0.5 at every step, margin 0.1: beyond 0.55 is worse.
    let rule = EarlyStop {
        patience: 1,
        ..rule()
    };
    let r = || Reference::Incumbent(vec![(1.0, 0.5), (10.0, 0.5)]);
    assert!(
        watch(r(), vec![], rule.clone())
            .line("step: 2 val_loss: 0.6")
            .is_some()
    );
    assert_eq!(
        watch(r(), vec![], rule).line("step: 2 val_loss: 0.54"),
        None
    );
}

#[test]
fn the_warm_up_ends_at_min_step_and_unreadable_lines_change_nothing() {
    let done = vec![flat(0.5), flat(0.6), flat(0.7)];
    let rule = EarlyStop {
        patience: 2,
        min_step: 20.0,
        ..median_rule()
    };
    let mut w = watch(median_of(done), vec![], rule);
    assert_eq!(w.line("step: 20 train_loss: 5"), None); // judged at min_step: strike 1
    assert_eq!(w.line("step: 25 train_loss: nan"), None); // no value: no reset
    assert!(w.line("step: 30 train_loss: 5").is_some()); // strike 2
}

#[test]
fn maximized_metrics_are_spared_within_the_noise_below_and_at_the_reference() {
    let done = vec![flat(0.5), flat(0.6), flat(0.7)];
    let noise = vec![flat(0.55), flat(0.6), flat(0.65)]; // sd 0.05
    let rule = EarlyStop {
        goal: Goal::Maximize,
        ..median_rule()
    };
    let r = || median_of(done.clone());
    assert_eq!(
        watch(r(), vec![], rule.clone()).line("step: 20 train_loss: 0.6"),
        None
    );
    assert_eq!(
        watch(r(), noise.clone(), rule.clone()).line("step: 20 train_loss: 0.51"),
        None
    );
    assert!(
        watch(r(), noise, rule)
            .line("step: 20 train_loss: 0.49")
            .is_some()
    );
}

#[test]
fn curves_are_read_at_their_points_and_linearly_between() {
    let r = Reference::Incumbent(vec![(10.0, 1.0), (20.0, 0.0), (40.0, 0.4)]).sorted();
    let at = |s: f64| r.at(s, Goal::Minimize, 1).unwrap();
    assert_eq!(at(10.0), 1.0); // the first point itself
    assert_eq!(at(20.0), 0.0); // a point inside
    assert_eq!(at(40.0), 0.4); // the last point
    assert!((at(12.5) - 0.75).abs() < 1e-12);
    assert!((at(30.0) - 0.2).abs() < 1e-12);
    assert_eq!(r.at(9.9, Goal::Minimize, 1), None);
    // The same for the completed runs' curves, which say nothing past their last point.
    let p = Reference::Percentile {
        p: 50.0,
        curves: vec![vec![(10.0, 1.0), (20.0, 0.0), (40.0, 0.4)]],
    }
    .sorted();
    assert_eq!(p.at(10.0, Goal::Minimize, 1), Some(1.0));
    assert_eq!(p.at(40.0, Goal::Minimize, 1), Some(0.4));
    assert!((p.at(12.5, Goal::Minimize, 1).unwrap() - 0.75).abs() < 1e-12);
    assert_eq!(p.at(40.1, Goal::Minimize, 1), None);
}

#[test]
fn percentiles_between_ranks_are_interpolated() {
    let r = |p: f64| {
        Reference::Percentile {
            p,
            curves: vec![flat(4.0), flat(1.0), flat(3.0), flat(2.0)],
        }
        .sorted()
    };
    assert!((r(50.0).at(50.0, Goal::Minimize, 1).unwrap() - 2.5).abs() < 1e-12);
    assert!((r(25.0).at(50.0, Goal::Minimize, 1).unwrap() - 1.75).abs() < 1e-12);
    assert!((r(25.0).at(50.0, Goal::Maximize, 1).unwrap() - 3.25).abs() < 1e-12);
}
