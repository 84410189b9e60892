//! `read_json_metrics`: JSON pointers (RFC 6901 plus `*`) into arbitrary documents.

use autolab_core::metrics::read_json_metrics;
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value};

use super::cases;

/// One step of a generated path to the metric.
#[derive(Debug, Clone)]
enum Step {
    /// An object member; `siblings` are other members beside it.
    Key {
        key: String,
        siblings: Vec<(String, Value)>,
    },
    /// An array element at `index` among `len` elements (the others are null).
    Index { index: usize, len: usize },
}

/// What the pointer ends at.
#[derive(Debug, Clone)]
enum Leaf {
    Float(f64),
    Int(i64),
    /// A number written as a string, as some tools do.
    Text(f64),
    /// Per-seed values, read as their mean.
    Seeds(Vec<f64>),
    /// An object whose numeric members all become metrics.
    Object(Vec<(String, Member)>),
}

#[derive(Debug, Clone)]
enum Member {
    Number(f64),
    Other(Value),
}

/// Keys with the characters RFC 6901 escapes, unicode, and digits (which index arrays).
/// A literal `*` key is left out: `*` is the wildcard, so such a key cannot be addressed.
fn key() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z_]{1,8}", "[a-z~/01]{0,6}", "[0-9]{1,3}", "\\PC{0,6}",]
        .prop_filter("`*` is the wildcard", |k| k != "*")
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
        -1e6..1e6f64,
        (-1000i32..1000).prop_map(f64::from),
    ]
}

/// Values that are never read as numbers: null, booleans, words, empty containers.
fn not_a_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        "[a-hj-mo-z]{1,6}".prop_map(Value::String),
        Just(Value::Object(Map::new())),
        Just(Value::Array(vec![])),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (key(), vec((key(), not_a_number()), 0..3))
            .prop_map(|(key, siblings)| Step::Key { key, siblings }),
        1 => (0usize..4, 0usize..3).prop_map(|(index, extra)| Step::Index {
            index,
            len: index + 1 + extra,
        }),
    ]
}

fn leaf() -> impl Strategy<Value = Leaf> {
    prop_oneof![
        finite().prop_map(Leaf::Float),
        any::<i64>().prop_map(Leaf::Int),
        finite().prop_map(Leaf::Text),
        vec(-1e3..1e3f64, 1..5).prop_map(Leaf::Seeds),
        (
            (key(), finite()),
            vec(
                (
                    key(),
                    prop_oneof![
                        finite().prop_map(Member::Number),
                        not_a_number().prop_map(Member::Other),
                    ]
                ),
                0..4
            )
        )
            .prop_map(|((k, v), mut rest)| {
                rest.insert(0, (k, Member::Number(v)));
                Leaf::Object(rest)
            }),
    ]
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
}

/// The document, and the metrics expected at the leaf (before naming a lone number).
fn build(steps: &[Step], wild: &[bool], leaf: &Leaf) -> (Value, Vec<(String, f64)>) {
    let (mut doc, expected) = match leaf {
        Leaf::Float(v) => (Value::from(*v), vec![(String::new(), *v)]),
        Leaf::Int(i) => (Value::from(*i), vec![(String::new(), *i as f64)]),
        Leaf::Text(v) => (Value::String(format!("{v}")), vec![(String::new(), *v)]),
        Leaf::Seeds(xs) => {
            let mean = xs.iter().sum::<f64>() / xs.len() as f64;
            (
                Value::Array(xs.iter().map(|x| Value::from(*x)).collect()),
                vec![(String::new(), mean)],
            )
        }
        Leaf::Object(members) => {
            let mut map = Map::new();
            let mut expected: Vec<(String, f64)> = Vec::new();
            for (k, m) in members {
                if map.contains_key(k) {
                    continue;
                }
                match m {
                    Member::Number(v) => {
                        map.insert(k.clone(), Value::from(*v));
                        expected.push((k.clone(), *v));
                    }
                    Member::Other(o) => {
                        map.insert(k.clone(), o.clone());
                    }
                }
            }
            (Value::Object(map), expected)
        }
    };
    for (i, (step, wild)) in steps.iter().zip(wild).enumerate().rev() {
        let last = i + 1 == steps.len();
        doc = match step {
            Step::Key { key, siblings } => {
                let mut map = Map::new();
                // Under a trailing `*` the first member is taken, so it stands alone there.
                if !(*wild && last) {
                    for (k, v) in siblings {
                        if k != key {
                            map.insert(k.clone(), v.clone());
                        }
                    }
                }
                map.insert(key.clone(), doc);
                Value::Object(map)
            }
            Step::Index { index, len } => {
                let (index, len) = if *wild && last {
                    (0, 1)
                } else {
                    (*index, *len)
                };
                let mut items = vec![Value::Null; len];
                items[index] = doc;
                Value::Array(items)
            }
        };
    }
    (doc, expected)
}

fn segment(step: &Step) -> String {
    match step {
        Step::Key { key, .. } => key.clone(),
        Step::Index { index, .. } => index.to_string(),
    }
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn never_panics_on_arbitrary_text_and_pointer(text in "\\PC{0,60}", pointer in "\\PC{0,20}") {
        let _ = read_json_metrics(&text, &pointer, None);
        let _ = read_json_metrics(&text, &pointer, Some("m"));
    }

    #[test]
    fn never_panics_on_json_with_arbitrary_pointer(
        doc in leaf().prop_flat_map(|l| (vec(step(), 0..4), Just(l)))
            .prop_map(|(steps, l)| build(&steps, &vec![false; steps.len()], &l).0),
        pointer in prop_oneof!["\\PC{0,20}", "(/[a-z0-9~*]{0,3}){0,4}", "[^/]\\PC{0,5}"],
    ) {
        let text = doc.to_string();
        match read_json_metrics(&text, &pointer, None) {
            Ok(m) => prop_assert!(!m.is_empty()),
            Err(e) => prop_assert!(!e.is_empty()),
        }
    }

    #[test]
    fn reads_the_leaf_at_its_pointer(
        (steps, wild) in vec(step(), 0..5)
            .prop_flat_map(|s| { let n = s.len(); (Just(s), vec(any::<bool>(), n)) }),
        leaf in leaf(),
        name in proptest::option::of("[a-z_]{1,8}"),
        pretty in any::<bool>(),
    ) {
        let (doc, expected) = build(&steps, &wild, &leaf);
        let text = if pretty {
            serde_json::to_string_pretty(&doc).unwrap()
        } else {
            doc.to_string()
        };
        let segments: Vec<String> = steps
            .iter()
            .zip(&wild)
            .map(|(s, w)| if *w { "*".to_string() } else { escape(&segment(s)) })
            .collect();
        let pointer: String = segments.iter().map(|s| format!("/{s}")).collect();
        let got = read_json_metrics(&text, &pointer, name.as_deref())
            .map_err(|e| TestCaseError::fail(format!("{pointer:?} in {text}: {e}")))?;
        match &leaf {
            Leaf::Object(_) => {
                prop_assert_eq!(got.len(), expected.len(), "{:?} vs {:?}", got, expected);
                for (k, v) in &expected {
                    prop_assert_eq!(got.get(k).map(|x| x.to_bits()), Some(v.to_bits()), "{}", k);
                }
            }
            _ => {
                // A lone number is named by `name`, else by the pointer's last segment as
                // written (unescaped), else `value`.
                let key = match (&name, steps.last(), wild.last()) {
                    (Some(n), _, _) => n.clone(),
                    (None, Some(_), Some(true)) => "*".to_string(),
                    (None, Some(s), _) => segment(s),
                    (None, None, _) => "value".to_string(),
                };
                prop_assert_eq!(got.len(), 1, "{:?}", got);
                let v = got.get(&key).copied();
                prop_assert!(v.is_some(), "no `{}` in {:?}", key, got);
                let (v, want) = (v.unwrap_or_default(), expected[0].1);
                match leaf {
                    Leaf::Seeds(_) => prop_assert!(close(v, want), "{} vs {}", v, want),
                    _ => prop_assert_eq!(v.to_bits(), want.to_bits(), "{} vs {}", v, want),
                }
            }
        }
    }

    #[test]
    fn a_missing_member_is_an_error_not_a_value(
        steps in vec(step(), 1..4),
        leaf in leaf(),
        missing in "[a-z]{9,12}",
    ) {
        let (doc, _) = build(&steps, &vec![false; steps.len()], &leaf);
        let mut pointer: String = steps.iter().map(|s| format!("/{}", escape(&segment(s)))).collect();
        pointer.push('/');
        pointer.push_str(&missing);
        // Past a number, string or array there is nothing; an object has no 9+ letter key here.
        if let Leaf::Object(members) = &leaf {
            prop_assume!(members.iter().all(|(k, _)| k != &missing));
        }
        prop_assert!(read_json_metrics(&doc.to_string(), &pointer, None).is_err());
    }
}
