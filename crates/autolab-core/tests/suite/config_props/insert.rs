//! Keys and tables inserted into a valid config: unknown ones, typos of known ones.

use proptest::prelude::*;
use proptest::sample::{Index, select};

use super::valid::*;

/// What to insert into a valid config.
#[derive(Debug, Clone)]
pub(super) enum Insert {
    /// `key = value` into section `section` (0 is the top, before any header) at line `at`.
    Key {
        section: Index,
        at: Index,
        key: Name,
        value: &'static str,
    },
    /// A whole `[name]` table before section `before`.
    Table { before: Index, name: Name },
}

/// The name of an inserted key or table.
#[derive(Debug, Clone)]
pub(super) enum Name {
    /// A name no section has: it holds a digit, which no key of autolab's does (so keys added
    /// to the config later cannot collide with it).
    Fresh(String),
    /// A known key of the section with a digit inserted at `at`: a typo to suggest a fix for.
    Typo { key: Index, at: Index, digit: char },
}

impl Name {
    /// The name, and the key it is a typo of.
    pub(super) fn resolve(&self, known: &[&'static str]) -> (String, Option<&'static str>) {
        match self {
            Name::Fresh(n) => (n.clone(), None),
            Name::Typo { key, at, digit } => {
                let meant = known[key.index(known.len())];
                let at = at.index(meant.len() + 1);
                (
                    format!("{}{digit}{}", &meant[..at], &meant[at..]),
                    Some(meant),
                )
            }
        }
    }
}

/// Renders `sections`, with `insert` if any; returns the text and the inserted line's number.
/// `name` is the inserted key's or table's name, resolved.
pub(super) fn render(sections: &[Section], insert: Option<(&Insert, &str)>) -> (String, usize) {
    let n = sections.len();
    let mut lines: Vec<String> = Vec::new();
    let mut inserted = 0;
    for i in 0..=n {
        // Part 0 is the top, before any header; part i is section i - 1.
        let body: &[String] = if i == 0 {
            &[]
        } else {
            lines.push(format!("[{}]", sections[i - 1].name));
            &sections[i - 1].lines
        };
        match insert {
            Some((
                Insert::Key {
                    section, at, value, ..
                },
                key,
            )) if section.index(n + 1) == i => {
                let at = at.index(body.len() + 1);
                lines.extend_from_slice(&body[..at]);
                lines.push(format!("{key} = {value}"));
                inserted = lines.len();
                lines.extend_from_slice(&body[at..]);
            }
            _ => lines.extend_from_slice(body),
        }
        // A whole table goes after part i, that is before section i.
        if let Some((Insert::Table { before, .. }, name)) = insert
            && before.index(n + 1) == i
        {
            lines.push(format!("[{name}]"));
            inserted = lines.len();
            lines.push("x = 1".into());
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    (text, inserted)
}

/// Each section's keys (at the top: the sections), whose typos get a "did you mean".
pub(super) fn known_keys(section: &str) -> &'static [&'static str] {
    match section {
        "" => &[
            "task",
            "metrics",
            "params",
            "decide",
            "runner",
            "agent",
            "early_stop",
        ],
        "task" => &[
            "goal",
            "goal_file",
            "command",
            "editable",
            "protected",
            "timeout",
        ],
        "metrics" => &["sources", "score", "primary"],
        "params" => &["apply", "sampler", "startup"],
        "decide" => &[
            "policy",
            "min_delta",
            "repeats",
            "confidence",
            "max_confirm",
            "remeasure",
        ],
        "runner" => &["kind", "parallel", "env_allow", "kill_grace", "max_log_mb"],
        _ => &[],
    }
}

pub(super) fn insert() -> impl Strategy<Value = Insert> {
    let key = prop_oneof![
        "[a-z][a-z_]{0,6}[0-9][a-z0-9_]{0,3}"
            .prop_filter("a parameter's name", |k| !k.starts_with("p_"))
            .prop_map(Name::Fresh),
        (
            any::<Index>(),
            any::<Index>(),
            proptest::char::range('0', '9')
        )
            .prop_map(|(key, at, digit)| Name::Typo { key, at, digit }),
    ];
    prop_oneof![
        4 => (
            any::<Index>(),
            any::<Index>(),
            key.clone(),
            select(&["1", "\"x\"", "true", "[1, 2]", "2.5"][..]),
        )
            .prop_map(|(section, at, key, value)| Insert::Key {
                section,
                at,
                key,
                value,
            }),
        1 => (any::<Index>(), key).prop_map(|(before, name)| Insert::Table { before, name }),
    ]
}
