//! TOML-ish noise: random lines near the config's grammar, and edits that may break a valid
//! config anywhere.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};

// ---- TOML-ish noise --------------------------------------------------------------------

pub(super) const KEYS: &[&str] = &[
    "command",
    "timeout",
    "editable",
    "score",
    "primary",
    "sources",
    "apply",
    "sampler",
    "startup",
    "parallel",
    "kill_grace",
    "max_log_mb",
    "repeats",
    "confidence",
    "policy",
    "lr",
    "goal",
    "weight",
    "kind",
];

pub(super) fn tomlish_line() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        select(KEYS).prop_map(str::to_string),
        "[a-z_]{1,8}",
        "\"[^\"\n]{0,5}\"",
        "[a-z]{1,4}\\.[a-z]{1,4}",
        "\\PC{0,4}",
    ];
    let value = prop_oneof![
        "-?[0-9_]{1,20}",
        "[+-]?[0-9]{1,5}(\\.[0-9]{0,5})?([eE][+-]?[0-9]{1,4})?",
        "\"[^\"\\\\\n]{0,12}\"",
        "\"\\\\[a-zA-Z0-9]{0,5}\"",
        "'[^'\n]{0,8}'",
        "\"\"\"[^\"]{0,10}",
        select(
            &[
                "true",
                "false",
                "inf",
                "nan",
                "-inf",
                "+nan",
                "[]",
                "{}",
                "[1,",
                "{ a = ",
                "\"unterminated"
            ][..]
        )
        .prop_map(str::to_string),
        "\\[[^\\]\n]{0,20}\\]",
        "\\{[^}\n]{0,20}\\}",
        select(
            &[
                "{ goal = \"minimize\" }",
                "{ l = { goal = \"minimize\" } }",
                "{ l = { goal = \"sideways\", weight = -1 } }",
                "{ json = \"p.json\" }",
                "{ float = [0.0, 1.0] }",
                "{ log_float = [0.0, 1.0] }",
                "{ int = [5, 4] }",
                "{ choice = [] }",
                "{ float = [1.0, 1.0], default = 7 }",
                "[{ kind = \"regex\", name = \"x\", pattern = \"(\" }]",
                "[{ kind = \"json\", file = \"f\", pointer = \"é\" }]",
                "\"-0\"",
                "\"0\"",
                "\"1e400s\"",
                "\"99999999999999999999h\"",
                "\"5 parsecs\"",
                "\"1.5.5s\"",
            ][..]
        )
        .prop_map(str::to_string),
        "\\PC{0,10}",
    ];
    prop_oneof![
        2 => select(&[
            "[task]", "[metrics]", "[params]", "[decide]", "[runner]", "[early_stop]", "[agent]",
            "[[task]]", "[task", "[metrics.score]", "[metrics.score.l]", "[ params ]", "[bogus]",
            "[]", "[\"task\"]", "[task.command]",
        ][..])
        .prop_map(str::to_string),
        6 => (key, "[ \t]{0,2}=[ \t]{0,2}", value).prop_map(|(k, eq, v)| format!("{k}{eq}{v}")),
        1 => "#\\PC{0,20}",
        1 => Just(String::new()),
        1 => "\\PC{0,20}",
    ]
}

/// A minimal valid config that random lines may extend or spoil.
pub(super) const BASE: &str = "[task]\ncommand = \"x\"\neditable = [\"p.json\"]\n[metrics]\nscore = { l = { goal = \"minimize\" } }\n";

pub(super) fn tomlish() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        vec(tomlish_line(), 0..16),
        select(&["\n", "\r\n"][..]),
        any::<bool>(),
    )
        .prop_map(|(base, lines, nl, trailing)| {
            let mut text = if base {
                BASE.replace('\n', nl)
            } else {
                String::new()
            };
            text.push_str(&lines.join(nl));
            if trailing {
                text.push_str(nl);
            }
            text
        })
}

/// An edit that may break a valid config anywhere.
#[derive(Debug, Clone)]
pub(super) enum Edit {
    Insert(Index, String),
    Delete(Index, usize),
    DuplicateLine(Index),
}

pub(super) fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (
            any::<Index>(),
            prop_oneof![
                "\\PC{1,4}",
                select(
                    &[
                        "\n", "\"", "[", "]", "{", "}", "=", "#", "\\", "'", ",", "\r"
                    ][..]
                )
                .prop_map(str::to_string)
            ]
        )
            .prop_map(|(at, s)| Edit::Insert(at, s)),
        (any::<Index>(), 1usize..6).prop_map(|(at, n)| Edit::Delete(at, n)),
        any::<Index>().prop_map(Edit::DuplicateLine),
    ]
}

pub(super) fn apply_edit(text: &str, edit: &Edit) -> String {
    let chars: Vec<char> = text.chars().collect();
    match edit {
        Edit::Insert(at, s) => {
            let at = at.index(chars.len() + 1);
            chars[..at]
                .iter()
                .chain(s.chars().collect::<Vec<_>>().iter())
                .chain(&chars[at..])
                .collect()
        }
        Edit::Delete(at, n) => {
            if chars.is_empty() {
                return String::new();
            }
            let at = at.index(chars.len());
            let end = (at + n).min(chars.len());
            chars[..at].iter().chain(&chars[end..]).collect()
        }
        Edit::DuplicateLine(at) => {
            let mut lines: Vec<&str> = text.split('\n').collect();
            let at = at.index(lines.len());
            lines.insert(at, lines[at]);
            lines.join("\n")
        }
    }
}
