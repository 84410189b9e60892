//! `Config::parse`: `autolab.toml` as people (and fuzzers) write it.

mod insert;
mod noise;
mod valid;

use std::path::Path;

use autolab_core::config::{Config, ConfigError};
use proptest::collection::vec;
use proptest::prelude::*;

use super::cases;
use insert::*;
use noise::*;
use valid::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("autolab.toml"), text)
}

/// Lines as an editor counts them: an empty file still has line 1.
fn line_count(text: &str) -> usize {
    text.lines().count().max(1)
}

/// Every error says something, and a line it names exists.
fn check_error(text: &str, e: &ConfigError) -> Result<(), TestCaseError> {
    prop_assert!(!e.message.trim().is_empty(), "empty message: {:?}", e);
    if let Some(line) = e.line {
        prop_assert!(
            (1..=line_count(text)).contains(&line),
            "line {} outside 1..={} in {:?}: {:?}",
            line,
            line_count(text),
            text,
            e
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn never_panics_on_arbitrary_text(text in prop_oneof![any::<String>(), "\\PC{0,100}"]) {
        if let Err(e) = parse(&text) {
            check_error(&text, &e)?;
        }
    }

    #[test]
    fn never_panics_on_tomlish_text(text in tomlish()) {
        if let Err(e) = parse(&text) {
            check_error(&text, &e)?;
        }
    }

    #[test]
    fn never_panics_on_edited_valid_configs(
        (_, sections) in layout(),
        edits in vec(edit(), 1..4),
    ) {
        let (mut text, _) = render(&sections, None);
        for e in &edits {
            text = apply_edit(&text, e);
        }
        if let Err(e) = parse(&text) {
            check_error(&text, &e)?;
        }
    }

    #[test]
    fn valid_configs_parse_and_round_trip((lab, sections) in layout()) {
        let (text, _) = render(&sections, None);
        match parse(&text) {
            Ok(c) => check_round_trip(&lab, &c)?,
            Err(e) => prop_assert!(false, "{}\n{:?}\nin:\n{}", e, e, text),
        }
    }

    #[test]
    fn an_unknown_key_is_reported_on_its_line((_, sections) in layout(), insert in insert()) {
        let section = match &insert {
            Insert::Key { section, .. } => {
                let i = section.index(sections.len() + 1);
                if i == 0 { String::new() } else { sections[i - 1].name.clone() }
            }
            Insert::Table { .. } => String::new(),
        };
        let (name, meant) = match &insert {
            Insert::Key { key, .. } => key,
            Insert::Table { name, .. } => name,
        }
        .resolve(known_keys(&section));

        let (text, line) = render(&sections, Some((&insert, &name)));
        let e = match parse(&text) {
            Ok(_) => return Err(TestCaseError::fail(format!("accepted `{name}` in:\n{text}"))),
            Err(e) => e,
        };
        check_error(&text, &e)?;
        prop_assert_eq!(e.line, Some(line), "{:?} in:\n{}", e, text);
        prop_assert!(e.message.contains(name.as_str()), "{:?}", e);
        if section == "params" {
            // In `[params]` any other key is a parameter, and this one is not a valid one.
            let want = format!("params.{name}");
            prop_assert_eq!(e.key.as_deref(), Some(want.as_str()), "{:?}", e);
        } else {
            prop_assert_eq!(&e.message, &format!("unknown key `{name}`"));
            let hint = e.hint.clone().unwrap_or_default();
            prop_assert!(hint.contains("valid keys here"), "{:?}", e);
            if let Some(meant) = meant {
                prop_assert!(hint.contains(&format!("did you mean `{meant}`?")), "{:?}", e);
            }
        }
    }
}
