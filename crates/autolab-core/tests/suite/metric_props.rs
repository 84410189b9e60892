//! `parse_lines`: `name: value` and `METRIC a=1 b=2` lines in a run's output.

use std::collections::BTreeMap;

use autolab_core::metrics::parse_lines;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::cases;

/// How a value is printed.
#[derive(Debug, Clone, Copy)]
enum Format {
    /// `{}`: Rust prints the shortest text that reads back to the same bits.
    Display,
    /// `{:+}`: the same with an explicit sign.
    Signed,
    /// `{:e}` and `{:E}`: shortest too, in scientific notation.
    LowerExp,
    UpperExp,
    /// `{:.N}`: rounded; it reads back as whatever that text denotes.
    Fixed(usize),
}

/// A metric value as printed on a line.
#[derive(Debug, Clone)]
enum Printed {
    Number(f64, Format),
    /// `nan`, `inf`, … as Python and others print them.
    Word(&'static str),
}

impl Printed {
    fn text(&self) -> String {
        match self {
            Printed::Number(v, Format::Display) => format!("{v}"),
            Printed::Number(v, Format::Signed) => format!("{v:+}"),
            Printed::Number(v, Format::LowerExp) => format!("{v:e}"),
            Printed::Number(v, Format::UpperExp) => format!("{v:E}"),
            Printed::Number(v, Format::Fixed(p)) => format!("{v:.p$}"),
            Printed::Word(w) => (*w).to_string(),
        }
    }

    /// The value the parser must read, bit for bit (NaN as any NaN).
    fn expected(&self) -> f64 {
        match self {
            Printed::Number(_, Format::Fixed(_)) => self.text().parse().unwrap(),
            Printed::Number(v, _) => *v,
            Printed::Word(w) => match w.to_ascii_lowercase().as_str() {
                "nan" | "+nan" | "-nan" => f64::NAN,
                "-inf" | "-infinity" => f64::NEG_INFINITY,
                _ => f64::INFINITY,
            },
        }
    }
}

/// One line of generated output.
#[derive(Debug, Clone)]
enum Line {
    /// `a: 1 b: 2`, each pair either spaced or glued (`a:1`).
    Colon(Vec<(String, Printed, bool)>),
    /// `METRIC a=1 b=2`.
    Metric(Vec<(String, Printed)>),
    /// Text that is not metrics, though it may mention metric names and numbers.
    Prose(Vec<String>),
}

fn finite() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    prop_oneof![
        (POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO),
        -1e4..1e4f64,
        (-100_000i32..100_000).prop_map(f64::from),
    ]
}

fn printed() -> impl Strategy<Value = Printed> {
    let format = prop_oneof![
        Just(Format::Display),
        Just(Format::Signed),
        Just(Format::LowerExp),
        Just(Format::UpperExp),
        (0usize..10).prop_map(Format::Fixed),
    ];
    prop_oneof![
        9 => (finite(), format).prop_map(|(v, f)| Printed::Number(v, f)),
        1 => select(&["nan", "NaN", "-nan", "inf", "+inf", "-inf", "Infinity", "-infinity"][..])
            .prop_map(Printed::Word),
    ]
}

/// Names as the parser accepts them; a few shared so later lines override earlier ones.
fn names() -> impl Strategy<Value = Vec<String>> {
    vec("[a-zA-Z_][a-zA-Z0-9_./-]{0,12}", 1..6)
}

/// A word that is no number (`nan`, `inf` and `infinity` are numbers).
fn word() -> impl Strategy<Value = String> {
    "[a-z]{1,10}".prop_filter("a number word", |w| {
        !matches!(w.as_str(), "nan" | "inf" | "infinity")
    })
}

fn space() -> impl Strategy<Value = String> {
    prop_oneof![Just(" ".to_string()), Just("\t".to_string()), "[ \t]{1,4}"]
}

fn line(names: Vec<String>) -> impl Strategy<Value = Line> {
    let name = select(names);
    let prose_token = prop_oneof![
        word(),
        name.clone().prop_map(|n| format!("{n}:")),
        (name.clone(), printed()).prop_map(|(n, p)| format!("{n}:{}", p.text())),
        (name.clone(), printed()).prop_map(|(n, p)| format!("{n}={}", p.text())),
        printed().prop_map(|p| p.text()),
        select(&["|", "---", "(", ")", ":", "=", "%", "12%", "0.5s", "[1/10]"][..])
            .prop_map(str::to_string),
    ];
    prop_oneof![
        3 => vec((name.clone(), printed(), any::<bool>()), 1..4).prop_map(Line::Colon),
        3 => vec((name.clone(), printed()), 1..4).prop_map(Line::Metric),
        // At least one plain word, so the line is prose whatever else it holds.
        2 => (word(), vec(prose_token, 0..6), any::<prop::sample::Index>()).prop_map(
            |(w, mut tokens, at)| {
                let at = at.index(tokens.len() + 1);
                tokens.insert(at, w);
                Line::Prose(tokens)
            }
        ),
    ]
}

fn render(lines: &[(Line, String, String)], crlf: bool) -> String {
    let mut out = String::new();
    for (line, indent, sep) in lines {
        out.push_str(indent);
        let tokens: Vec<String> = match line {
            Line::Colon(pairs) => pairs
                .iter()
                .map(|(n, p, glued)| {
                    if *glued {
                        format!("{n}:{}", p.text())
                    } else {
                        format!("{n}:{sep}{}", p.text())
                    }
                })
                .collect(),
            Line::Metric(pairs) => std::iter::once("METRIC".to_string())
                .chain(pairs.iter().map(|(n, p)| format!("{n}={}", p.text())))
                .collect(),
            Line::Prose(tokens) => tokens.clone(),
        };
        match line {
            // `METRIC` and its first pair are separated by exactly one space.
            Line::Metric(_) => {
                out.push_str(&tokens[0]);
                out.push(' ');
                out.push_str(&tokens[1..].join(sep));
            }
            _ => out.push_str(&tokens.join(sep)),
        }
        out.push_str(if crlf { "\r\n" } else { "\n" });
    }
    out
}

/// What the parser must return: every pair of every metric line, the last occurrence winning.
fn expected(lines: &[(Line, String, String)]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (line, _, _) in lines {
        match line {
            Line::Colon(pairs) => {
                for (n, p, _) in pairs {
                    out.insert(n.clone(), p.expected());
                }
            }
            Line::Metric(pairs) => {
                for (n, p) in pairs {
                    out.insert(n.clone(), p.expected());
                }
            }
            Line::Prose(_) => {}
        }
    }
    out
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "_./-".contains(c))
}

/// Output-like text: fragments of metric syntax, numbers, prose and unicode.
fn metricish() -> impl Strategy<Value = String> {
    vec(
        prop_oneof![
            select(
                &[
                    "METRIC ", "METRIC", ":", ": ", "=", " ", "\t", "\n", "\r\n", "\r", ",", "nan",
                    "-inf", "+", "-", ".", "e", "E", "1e", "1e999", "0x10", "--", "loss", "_a",
                    "a.b/c-d", "é", "\u{0}", "\u{2028}",
                ][..]
            )
            .prop_map(str::to_string),
            "[0-9.eE+-]{1,8}",
            "\\PC{1,5}",
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn never_panics_and_names_are_names(text in prop_oneof!["\\PC{0,200}", metricish()]) {
        let m = parse_lines(&text);
        for name in m.keys() {
            prop_assert!(is_name(name), "{:?} from {:?}", name, text);
        }
    }

    #[test]
    fn reads_generated_values_and_the_last_one_wins(
        lines in names().prop_flat_map(|names| {
            vec((line(names), "[ \t]{0,3}", space()), 0..12)
        }),
        crlf in any::<bool>(),
    ) {
        let text = render(&lines, crlf);
        let want = expected(&lines);
        let got = parse_lines(&text);
        prop_assert_eq!(
            got.keys().collect::<std::collections::BTreeSet<_>>(),
            want.keys().collect::<std::collections::BTreeSet<_>>(),
            "in {:?}", text
        );
        for (name, w) in &want {
            let g = got[name];
            prop_assert!(same(g, *w), "`{}`: read {:e}, wrote {:e}, in {:?}", name, g, w, text);
        }
    }

    #[test]
    fn display_and_exp_formatting_round_trip_bit_exact(v in finite(), name in "[a-z_]{1,8}") {
        for text in [format!("{name}: {v}"), format!("METRIC {name}={v:e}"), format!("{name}:{v:E}")] {
            let got = parse_lines(&text);
            prop_assert_eq!(got.get(&name).map(|x| x.to_bits()), Some(v.to_bits()), "{}", text);
        }
    }
}
