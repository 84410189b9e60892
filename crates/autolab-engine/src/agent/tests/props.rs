//! Property tests for the edit-block parser and applier and the idea parser.

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::agent::edit_blocks::*;
use crate::agent::ideas::*;

/// Lines that look like parts of edit blocks, mixed with arbitrary ones.
fn blockish_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<<<<<<< SEARCH".to_string()),
        Just("=======".to_string()),
        Just(">>>>>>> REPLACE".to_string()),
        Just("```".to_string()),
        Just("```python".to_string()),
        Just("train.py".to_string()),
        Just("`src/a b.py`".to_string()),
        Just("#".to_string()),
        Just(String::new()),
        "[<=>`#* a-z./:]{0,12}",
        any::<String>(),
    ]
}

/// A line that can stand inside a SEARCH or REPLACE section.
fn section_line() -> impl Strategy<Value = String> {
    "[^\n\r]{0,24}".prop_filter("not a block marker", |l| {
        let t = l.trim();
        !(t.starts_with("<<<<<")
            || t.starts_with(">>>>>")
            || (!t.is_empty() && t.chars().all(|c| c == '=')))
    })
}

fn section() -> impl Strategy<Value = String> {
    prop::collection::vec(section_line(), 0..6)
        .prop_map(|lines| lines.iter().map(|l| format!("{l}\n")).collect())
}

fn edit_block() -> impl Strategy<Value = EditBlock> {
    (
        "[a-z][a-z0-9_]{0,8}(/[a-z0-9_.-]{1,8}){0,2}\\.(py|rs|txt)",
        section(),
        section(),
    )
        .prop_map(|(path, search, replace)| EditBlock {
            path,
            search,
            replace,
        })
}

fn idea() -> impl Strategy<Value = Idea> {
    (
        any::<String>().prop_filter("a title has text", |t| !t.trim().is_empty()),
        any::<String>(),
        any::<String>(),
        prop::collection::vec(any::<String>(), 0..4),
        any::<String>(),
        any::<String>(),
    )
        .prop_map(
            |(title, hypothesis, plan, files, expected_effect, risk)| Idea {
                title,
                hypothesis,
                plan,
                files,
                expected_effect,
                risk,
                novelty: None,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parse_edit_blocks_never_panics(
        lines in prop::collection::vec(blockish_line(), 0..40),
        crlf in any::<bool>(),
        raw in any::<String>(),
    ) {
        let text = lines.join(if crlf { "\r\n" } else { "\n" });
        let _ = parse_edit_blocks(&text);
        let _ = parse_edit_blocks(&raw);
    }

    #[test]
    fn rendered_blocks_parse_back(blocks in prop::collection::vec(edit_block(), 0..5), prose in "[A-Za-z ,.]{0,40}") {
        let mut text = String::new();
        for b in &blocks {
            text.push_str(&prose);
            text.push_str("\n\n");
            text.push_str(&b.render());
        }
        prop_assert_eq!(parse_edit_blocks(&text).unwrap(), blocks);
    }

    #[test]
    fn a_unique_search_is_replaced_exactly_once(
        lines in prop::collection::vec("[a-z =()]{0,12}", 0..30),
        at in any::<prop::sample::Index>(),
        extra in 0usize..3,
        replace in prop::collection::vec("[a-z =()]{0,12}", 0..4),
    ) {
        let at = at.index(lines.len() + 1);
        let mut file = lines.clone();
        file.insert(at, "UNIQUE_MARKER = 1".to_string());
        let take = (1 + extra).min(file.len() - at);
        let search: String = file[at..at + take].iter().map(|l| format!("{l}\n")).collect();
        let replace_text: String = replace.iter().map(|l| format!("{l}\n")).collect();
        let content: String = file.iter().map(|l| format!("{l}\n")).collect();

        let mut files = BTreeMap::from([("a.py".to_string(), content.clone())]);
        let block = EditBlock { path: "a.py".into(), search, replace: replace_text.clone() };
        let changed = apply_edit_blocks(&mut files, &[block], &|_| true).unwrap();

        let mut want_lines: Vec<String> = file[..at].to_vec();
        want_lines.extend(replace.iter().cloned());
        want_lines.extend(file[at + take..].iter().cloned());
        let want: String = want_lines.iter().map(|l| format!("{l}\n")).collect();
        prop_assert_eq!(&files["a.py"], &want);
        prop_assert_eq!(changed.len(), usize::from(want != content));
    }

    #[test]
    fn parse_ideas_never_panics(text in any::<String>(), json_ish in "[\\[\\]{}\":,a-z0-9 \n]{0,80}") {
        let _ = parse_ideas(&text);
        let _ = parse_ideas(&json_ish);
    }

    #[test]
    fn serialized_ideas_parse_back(
        ideas in prop::collection::vec(idea(), 0..4),
        prose in "[A-Za-z ,.:]{0,40}",
        style in 0u8..4,
    ) {
        let wrapped = serde_json::json!({ "ideas": ideas });
        let text = match style {
            0 => serde_json::to_string(&wrapped).unwrap(),
            1 => format!("{prose}\n```json\n{}\n```\n{prose}", serde_json::to_string_pretty(&wrapped).unwrap()),
            2 => format!("{prose} {}", serde_json::to_string(&ideas).unwrap()),
            _ => format!("{}\n\n{prose}", serde_json::to_string_pretty(&ideas).unwrap()),
        };
        // What comes back is each idea as it may be recorded (one-line title, no control characters).
        let clean: Vec<Idea> = ideas.into_iter().map(Idea::clean).collect();
        prop_assert_eq!(parse_ideas(&text).unwrap(), clean);
    }
}
