use autolab_core::config::Goal;
use autolab_core::experiment::{Experiment, Verdict};
use autolab_core::stats::{Noise, Sample};

use super::*;

fn exp(number: u32, verdict: Verdict, parent: &str, commit: &str) -> Experiment {
    Experiment {
        row: autolab_core::ids::ExperimentId(i64::from(number) + 1),
        number,
        state: verdict.state(),
        verdict: Some(verdict),
        reason: None,
        score: None,
        metrics: indexmap::IndexMap::new(),
        commit: Some(commit.into()),
        parent: parent.into(),
        proposer: autolab_core::experiment::ProposerKind::Llm,
        title: format!("change {number}"),
        params: None,
        lines_added: 0,
        lines_removed: 0,
        finalized: true,
        created_at: 0.0,
        updated_at: 0.0,
        stats: None,
    }
}

#[test]
fn the_incumbent_line_skips_discarded_branches_and_keeps_order() {
    let exps = vec![
        exp(0, Verdict::Kept, "b", "b"),
        exp(1, Verdict::Kept, "b", "c1"),
        exp(2, Verdict::Discarded, "c1", "x"),
        exp(3, Verdict::Simplified, "c1", "c3"),
        // Discarded from the same parent as the kept #5: never on the line.
        exp(4, Verdict::Discarded, "c3", "y"),
        exp(5, Verdict::Kept, "c3", "c5"),
    ];
    let line = incumbent_line(&exps, 5, "b").unwrap();
    let numbers: Vec<u32> = line.iter().map(|c| c.number).collect();
    assert_eq!(numbers, vec![1, 3, 5]);
    assert_eq!(line[1].parent, "c1");
    assert_eq!(line[1].commit, "c3");
    assert_eq!(line[2].title, "change 5");
    // The baseline as incumbent: nothing kept.
    assert!(incumbent_line(&exps, 0, "b").unwrap().is_empty());
}

#[test]
fn the_line_ends_at_the_baseline_even_when_the_base_moved() {
    // A campaign whose base was moved after its baseline (a retried baseline): #0 holds "b0".
    let exps = vec![
        exp(0, Verdict::Kept, "b0", "b0"),
        exp(1, Verdict::Kept, "b0", "c1"),
    ];
    let line = incumbent_line(&exps, 1, "b").unwrap();
    assert_eq!(line.iter().map(|c| c.number).collect::<Vec<_>>(), vec![1]);
}

#[test]
fn a_line_whose_parent_is_unknown_is_an_error() {
    let exps = vec![
        exp(0, Verdict::Kept, "b", "b"),
        exp(1, Verdict::Kept, "elsewhere", "c1"),
    ];
    let err = incumbent_line(&exps, 1, "b").unwrap_err();
    assert!(err.contains("#1's parent elsewhere"), "{err}");
    assert!(incumbent_line(&exps, 7, "b").is_err());
}

fn measured(xs: &[f64]) -> Measured {
    Measured {
        tag: None,
        commit: None,
        sample: Sample::of(xs),
        why: None,
    }
}

#[test]
fn an_effect_is_a_gain_toward_the_goal_with_a_welch_interval() {
    let a = measured(&[1.0, 1.2, 1.1]);
    let b = measured(&[2.0, 2.2, 2.1]);
    // Minimizing: a is better than b by 1.0.
    let e = effect(&a, &b, Goal::Minimize, None, 0.95).unwrap();
    assert!((e.gain - 1.0).abs() < 1e-12);
    // Hand-computed: sd 0.1 each side, se = sqrt(0.01/3 * 2) = 0.08165, df = 4,
    // t(0.975, 4) = 2.776: half width 0.2267.
    let half = 2.776_445 * (0.02_f64 / 3.0).sqrt();
    assert!((e.hi - e.gain - half).abs() < 1e-3, "{e:?}");
    assert!((e.gain - e.lo - half).abs() < 1e-3, "{e:?}");
    assert!(e.lo > 0.0);
    // Maximizing: the same numbers are a loss.
    let m = effect(&a, &b, Goal::Maximize, None, 0.95).unwrap();
    assert!((m.gain + 1.0).abs() < 1e-12);
    assert!(m.hi < 0.0);
    // A wider confidence, a wider interval.
    let w = effect(&a, &b, Goal::Minimize, None, 0.99).unwrap();
    assert!(w.hi - w.lo > e.hi - e.lo);
}

#[test]
fn an_effect_needs_both_sides_and_uses_the_pooled_noise_when_there_is_one() {
    let one = measured(&[1.0]);
    let two = measured(&[1.5, 1.5]);
    assert!(effect(&one, &Measured::missing("x"), Goal::Minimize, None, 0.95).is_none());
    assert!(effect(&Measured::missing("x"), &one, Goal::Minimize, None, 0.95).is_none());
    // No noise anywhere: the interval is the point.
    let e = effect(&one, &two, Goal::Minimize, None, 0.95).unwrap();
    assert_eq!((e.lo, e.gain, e.hi), (0.5, 0.5, 0.5));
    // Pooled σ = 0.1 on 10 df, n = 1 and 2: se = 0.1·√1.5, t(0.975, 10) = 2.228.
    let noise = Some(Noise { sd: 0.1, df: 10.0 });
    let e = effect(&one, &two, Goal::Minimize, noise, 0.95).unwrap();
    let half = 2.228_139 * 0.1 * 1.5_f64.sqrt();
    assert!((e.hi - 0.5 - half).abs() < 1e-4, "{e:?}");
    assert!((0.5 - e.lo - half).abs() < 1e-4, "{e:?}");
    // The pooled noise wins over the two sides' own spread.
    let a = measured(&[1.0, 1.2, 1.1]);
    let b = measured(&[2.0, 2.2, 2.1]);
    let tight = effect(
        &a,
        &b,
        Goal::Minimize,
        Some(Noise { sd: 0.01, df: 30.0 }),
        0.95,
    )
    .unwrap();
    assert!(tight.hi - tight.lo < 0.05, "{tight:?}");
}

#[test]
fn pooled_noise_reads_every_measured_variant() {
    let a = measured(&[1.0, 1.2]);
    let b = measured(&[3.0, 3.2]);
    let gone = Measured::missing("failed");
    let n = pooled(&[&a, &b, &gone]).unwrap();
    assert!((n.sd - 0.141_421).abs() < 1e-5, "{n:?}");
    assert_eq!(n.df, 2.0);
}

fn table(rows: Vec<(f64, f64)>, total: f64) -> Ablation {
    let eff = |g: f64| Effect {
        gain: g,
        lo: g - 0.01,
        hi: g + 0.01,
    };
    Ablation {
        tag: "t".into(),
        by: "change".into(),
        repeats: 3,
        confidence: 0.95,
        goal: "minimize".into(),
        incumbent: 9,
        full: measured(&[0.4, 0.41, 0.39]),
        baseline: Measured::missing("its runs failed: exit code 1"),
        total: Some(eff(total)),
        rows: rows
            .into_iter()
            .enumerate()
            .map(|(i, (loo, aoi))| Row {
                change: Change {
                    number: i as u32 + 1,
                    title: format!("change {}", i + 1),
                    parent: String::new(),
                    commit: String::new(),
                },
                without: measured(&[1.0]),
                alone: Measured::missing("does not apply: it conflicts with the other changes"),
                leave_one_out: Some(eff(loo)),
                add_one_in: (aoi != 0.0).then(|| eff(aoi)),
            })
            .collect(),
        noise_sd: Some(0.01),
        at: 0.0,
    }
}

#[test]
fn the_table_says_each_contribution_and_how_the_changes_add_up() {
    let t = table(vec![(0.3, 0.3), (0.2, 0.0)], 0.5).render();
    assert!(
        t.contains("2 change(s) on the incumbent line (#9), 3 run(s) per variant"),
        "{t}"
    );
    assert!(t.contains("final incumbent   0.4000 ± 0.0100 (n=3)"), "{t}");
    assert!(
        t.contains("baseline          not measured: its runs failed: exit code 1"),
        "{t}"
    );
    assert!(
        t.contains("#1     change 1  +0.3000 [+0.2900, +0.3100]"),
        "{t}"
    );
    assert!(
        t.contains("— (does not apply: it conflicts with the other changes)"),
        "{t}"
    );
    assert!(t.contains("95% CI"), "{t}");
    assert!(
        t.contains("add up to +0.5000 of the total +0.5000: the changes look independent"),
        "{t}"
    );
    let t = table(vec![(0.4, 0.1), (0.4, 0.1)], 0.5).render();
    assert!(t.contains("the changes need each other"), "{t}");
    let t = table(vec![(0.1, 0.4), (0.1, 0.4)], 0.5).render();
    assert!(t.contains("the changes overlap"), "{t}");
    // One change: nothing to add up.
    let t = table(vec![(0.5, 0.5)], 0.5).render();
    assert!(!t.contains("add up"), "{t}");
}
