//! `results_tsv`: autoresearch's `results.tsv`, whatever the titles and metrics hold.

use autolab_core::experiment::{Experiment, State, Verdict};
use autolab_core::results::results_tsv;
use indexmap::IndexMap;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::cases;

fn sha() -> impl Strategy<Value = String> {
    "[0-9a-f]{40}"
}

/// Any f64, with NaN and the infinities often.
fn any_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        select(&[f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0][..]),
        -1e3..1e3f64,
    ]
}

/// Titles as agents write them: anything, often with tabs, newlines and carriage returns.
fn title() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        vec(
            prop_oneof![
                "\\PC{1,6}",
                select(
                    &[
                        "\t", "\n", "\r", "\r\n", " ", "é", "日本", "\u{2028}", "\u{0}"
                    ][..]
                )
                .prop_map(str::to_string),
            ],
            0..8
        )
        .prop_map(|p| p.concat()),
    ]
}

fn experiment(primary: String) -> impl Strategy<Value = Experiment> {
    (
        proptest::option::of(select(&Verdict::ALL[..])),
        proptest::option::of(any_value()),
        proptest::option::of(any_value()),
        proptest::option::of(any_value()),
        vec(("[a-z_]{1,6}", any_value()), 0..3),
        proptest::option::of(sha()),
        sha(),
        title(),
        0u32..1000,
    )
        .prop_map(
            move |(verdict, metric, memory_gb, vram_mb, others, commit, parent, title, number)| {
                let mut metrics = IndexMap::new();
                for (k, v) in others {
                    metrics.insert(k, v);
                }
                if let Some(v) = metric {
                    metrics.insert(primary.clone(), v);
                }
                if let Some(v) = memory_gb {
                    metrics.insert("memory_gb".to_string(), v);
                }
                if let Some(v) = vram_mb {
                    metrics.insert("peak_vram_mb".to_string(), v);
                }
                Experiment {
                    row: autolab_core::ids::ExperimentId(i64::from(number)),
                    number,
                    state: verdict.map_or(State::Running, Verdict::state),
                    verdict,
                    reason: None,
                    score: None,
                    metrics,
                    commit,
                    parent,
                    proposer: "test".into(),
                    title,
                    params: None,
                    lines_added: 0,
                    lines_removed: 0,
                    finalized: verdict.is_some(),
                    created_at: 0.0,
                    updated_at: 0.0,
                    stats: None,
                }
            },
        )
}

fn campaign() -> impl Strategy<Value = (String, Vec<Experiment>)> {
    prop_oneof![
        3 => "[a-z_][a-z0-9_]{0,10}",
        // A JSON source names metrics after arbitrary keys.
        1 => title(),
    ]
    .prop_flat_map(|primary| (Just(primary.clone()), vec(experiment(primary), 0..8)))
}

/// What a free-text field becomes in a TSV cell: tabs and line breaks turn into spaces.
fn cell(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, '\t' | '\n' | '\r') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

fn six_decimals(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    match s.split_once('.') {
        Some((int, frac)) => {
            !int.is_empty()
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.len() == 6
                && frac.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn one_row_per_verdict_five_columns_each((primary, experiments) in campaign()) {
        let out = results_tsv(&primary, &experiments);
        prop_assert!(out.ends_with('\n'));
        prop_assert!(!out.contains('\r'), "{:?}", out);
        let rows: Vec<&str> = out.split_terminator('\n').collect();
        let finished: Vec<&Experiment> =
            experiments.iter().filter(|e| e.verdict.is_some()).collect();
        prop_assert_eq!(rows.len(), 1 + finished.len(), "{:?}", out);
        prop_assert_eq!(out.lines().count(), rows.len());

        let header: Vec<&str> = rows[0].split('\t').collect();
        prop_assert_eq!(header.len(), 5, "{:?}", rows[0]);
        prop_assert_eq!(header[0], "commit");
        let primary_cell = cell(&primary);
        prop_assert_eq!(header[1], primary_cell.as_str());
        prop_assert_eq!(&header[2..], &["memory_gb", "status", "description"][..]);

        for (row, e) in rows[1..].iter().zip(finished) {
            let cols: Vec<&str> = row.split('\t').collect();
            prop_assert_eq!(cols.len(), 5, "{:?}", row);
            let verdict = e.verdict.unwrap();

            let commit = e.commit.as_deref().unwrap_or(&e.parent);
            prop_assert_eq!(cols[0].len(), 7);
            prop_assert_eq!(cols[0], &commit[..7]);

            // Six decimals as autoresearch writes them, or (beyond 1e-4..1e12, where that
            // would read 0.000000 or run to hundreds of digits) six significant digits with
            // an exponent; a float either way.
            prop_assert!(
                six_decimals(cols[1])
                    || cols[1].split_once('e').is_some_and(|(m, _)| six_decimals(&format!("{m}0"))),
                "metric {:?}",
                cols[1]
            );
            prop_assert!(cols[1].parse::<f64>().is_ok_and(f64::is_finite), "metric {:?}", cols[1]);
            let crashed = matches!(verdict, Verdict::Crashed | Verdict::Timeout);
            let want = match e.metrics.get(&primary) {
                Some(v) if v.is_finite() && !crashed => autolab_core::stats::fmt_value(*v),
                _ => "0.000000".to_string(),
            };
            prop_assert_eq!(cols[1], want.as_str());

            prop_assert!(cols[2].parse::<f64>().is_ok_and(f64::is_finite), "memory {:?}", cols[2]);
            if crashed {
                prop_assert_eq!(cols[2], "0.0");
            }

            let status = match verdict {
                Verdict::Kept | Verdict::Simplified => "keep",
                Verdict::Discarded | Verdict::Invalid | Verdict::Cancelled => "discard",
                Verdict::Crashed | Verdict::Timeout => "crash",
            };
            prop_assert_eq!(cols[3], status);

            let description = cell(&e.title);
            prop_assert_eq!(cols[4], description.as_str());
        }
    }
}
