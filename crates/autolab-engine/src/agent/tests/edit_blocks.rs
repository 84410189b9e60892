use std::collections::BTreeMap;

use crate::agent::edit_blocks::*;

fn block(path: &str, search: &str, replace: &str) -> EditBlock {
    EditBlock {
        path: path.into(),
        search: search.into(),
        replace: replace.into(),
    }
}

fn files(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect()
}

fn all_editable(_: &str) -> bool {
    true
}

const TRAIN: &str = "import torch\n\nlr = 0.01\nepochs = 10\n\ndef train():\n    for e in range(epochs):\n        step(lr)\n";

#[test]
fn parses_multiple_blocks_in_multiple_files_with_prose_around() {
    let reply = [
        "I will lower the learning rate and add a helper.",
        "",
        "train.py",
        "```python",
        "<<<<<<< SEARCH",
        "lr = 0.01",
        "=======",
        "lr = 0.003",
        ">>>>>>> REPLACE",
        "```",
        "",
        "And a new module:",
        "",
        "utils/helpers.py",
        "```python",
        "<<<<<<< SEARCH",
        "=======",
        "def helper():",
        "    return 1",
        ">>>>>>> REPLACE",
        "```",
        "That is all.",
    ]
    .join("\n");
    let blocks = parse_edit_blocks(&reply).unwrap();
    assert_eq!(
        blocks,
        vec![
            block("train.py", "lr = 0.01\n", "lr = 0.003\n"),
            block("utils/helpers.py", "", "def helper():\n    return 1\n"),
        ]
    );
}

#[test]
fn text_without_blocks_gives_no_blocks() {
    assert_eq!(parse_edit_blocks("").unwrap(), vec![]);
    assert_eq!(
        parse_edit_blocks("Some prose\n```python\nprint(1)\n```\n=======\n").unwrap(),
        vec![]
    );
}

#[test]
fn crlf_replies_are_read_as_lf() {
    let reply = "train.py\r\n```\r\n<<<<<<< SEARCH\r\nlr = 0.01\r\n=======\r\nlr = 0.02\r\n>>>>>>> REPLACE\r\n```\r\n";
    assert_eq!(
        parse_edit_blocks(reply).unwrap(),
        vec![block("train.py", "lr = 0.01\n", "lr = 0.02\n")]
    );
}

#[test]
fn fences_may_carry_a_language_and_markers_vary_in_length() {
    for fence in ["```", "```python", "```py", "````", "~~~python"] {
        let reply = format!(
            "train.py\n{fence}\n<<<<<< SEARCH\nlr = 0.01\n======\nlr = 0.02\n>>>>>>>> REPLACE\n{fence}\n"
        );
        assert_eq!(
            parse_edit_blocks(&reply).unwrap(),
            vec![block("train.py", "lr = 0.01\n", "lr = 0.02\n")],
            "fence {fence}"
        );
    }
}

#[test]
fn path_variants_are_recognized() {
    for (line, want) in [
        ("train.py", "train.py"),
        ("`train.py`", "train.py"),
        ("### train.py", "train.py"),
        ("# `src/model.py`", "src/model.py"),
        ("**train.py**", "train.py"),
        ("train.py:", "train.py"),
        ("  ./src/model.py  ", "src/model.py"),
        ("File: `src/model.py`", "src/model.py"),
        ("Makefile", "Makefile"),
        ("LICENSE", "LICENSE"),
    ] {
        let reply =
            format!("{line}\n```python\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n```\n");
        let blocks = parse_edit_blocks(&reply).unwrap();
        assert_eq!(blocks.len(), 1, "{line}");
        assert_eq!(blocks[0].path, want, "{line}");
    }
}

#[test]
fn prose_and_code_lines_are_not_paths() {
    for line in [
        "Then:",
        "Here is the change:",
        "foo()",
        "`a b.py`",
        "```",
        "src/",
    ] {
        let reply =
            format!("{line}\n```python\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n```\n");
        let err = parse_edit_blocks(&reply).unwrap_err();
        assert!(
            err.message.starts_with("expected a file path"),
            "{line}: {err}"
        );
    }
}

#[test]
fn path_may_follow_the_opening_fence_or_precede_an_unfenced_block() {
    let fenced = "```python\ntrain.py\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n```\n";
    assert_eq!(
        parse_edit_blocks(fenced).unwrap(),
        vec![block("train.py", "a\n", "b\n")]
    );
    let unfenced = "train.py\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n";
    assert_eq!(
        parse_edit_blocks(unfenced).unwrap(),
        vec![block("train.py", "a\n", "b\n")]
    );
    let blank_between = "train.py\n\n```\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n```\n";
    assert_eq!(
        parse_edit_blocks(blank_between).unwrap()[0].path,
        "train.py"
    );
}

#[test]
fn later_blocks_without_a_path_reuse_the_previous_one() {
    let reply = "train.py\n```\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n<<<<<<< SEARCH\nc\n=======\nd\n>>>>>>> REPLACE\n```\n\nThen:\n```\n<<<<<<< SEARCH\ne\n=======\nf\n>>>>>>> REPLACE\n```\n";
    let blocks = parse_edit_blocks(reply).unwrap();
    assert_eq!(
        blocks,
        vec![
            block("train.py", "a\n", "b\n"),
            block("train.py", "c\n", "d\n"),
            block("train.py", "e\n", "f\n"),
        ]
    );
}

#[test]
fn prose_before_the_fence_is_not_a_path() {
    let reply =
        "Here is the change:\n```python\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n```\n";
    let err = parse_edit_blocks(reply).unwrap_err();
    assert_eq!(err.line, 3);
    assert!(err.to_string().contains("expected a file path"), "{err}");
}

#[test]
fn malformed_blocks_name_the_line_and_what_was_expected() {
    let missing_divider = "train.py\n```\n<<<<<<< SEARCH\na\n>>>>>>> REPLACE\n```\n";
    let err = parse_edit_blocks(missing_divider).unwrap_err();
    assert_eq!(err.line, 5);
    assert!(err.message.contains("expected `=======`"), "{err}");
    assert!(err.message.contains("found `>>>>>>> REPLACE`"), "{err}");

    let missing_replace = "train.py\n```\n<<<<<<< SEARCH\na\n=======\nb\n";
    let err = parse_edit_blocks(missing_replace).unwrap_err();
    assert!(err.message.contains("expected `>>>>>>> REPLACE`"), "{err}");
    assert!(err.message.contains("end of the reply"), "{err}");
    assert!(err.message.contains("starts at line 3"), "{err}");

    let stray = "train.py\n```\nb\n>>>>>>> REPLACE\n```\n";
    let err = parse_edit_blocks(stray).unwrap_err();
    assert_eq!(err.line, 4);
    assert!(err.message.contains("without a `<<<<<<< SEARCH`"), "{err}");

    let double_divider = "t.py\n<<<<<<< SEARCH\na\n=======\nb\n=======\nc\n>>>>>>> REPLACE\n";
    let err = parse_edit_blocks(double_divider).unwrap_err();
    assert_eq!(err.line, 6);
}

#[test]
fn render_then_parse_gives_the_blocks_back() {
    let blocks = vec![
        block("train.py", "lr = 0.01\n", "lr = 0.02\n"),
        block("new.py", "", "x = 1\n"),
        block("train.py", "a\n\nb\n", ""),
    ];
    let text: String = blocks.iter().map(EditBlock::render).collect();
    assert_eq!(parse_edit_blocks(&text).unwrap(), blocks);
}

#[test]
fn applies_blocks_to_several_files_and_reports_changed_paths() {
    let mut fs = files(&[("train.py", TRAIN), ("model.py", "width = 64\n")]);
    let blocks = vec![
        block("model.py", "width = 64\n", "width = 128\n"),
        block("train.py", "lr = 0.01\n", "lr = 0.003\n"),
        block("train.py", "epochs = 10\n", "epochs = 20\n"),
    ];
    let changed = apply_edit_blocks(&mut fs, &blocks, &all_editable).unwrap();
    assert_eq!(changed, vec!["model.py", "train.py"]);
    assert_eq!(fs["model.py"], "width = 128\n");
    assert_eq!(
        fs["train.py"],
        TRAIN.replace("0.01", "0.003").replace("= 10", "= 20")
    );
}

#[test]
fn later_blocks_see_earlier_edits() {
    let mut fs = files(&[("a.py", "x = 1\n")]);
    let blocks = vec![
        block("a.py", "x = 1\n", "x = 2\n"),
        block("a.py", "x = 2\n", "x = 3\n"),
    ];
    apply_edit_blocks(&mut fs, &blocks, &all_editable).unwrap();
    assert_eq!(fs["a.py"], "x = 3\n");
}

#[test]
fn empty_search_creates_a_new_file() {
    let mut fs = files(&[("train.py", TRAIN)]);
    let blocks = vec![block("./utils.py", "", "def f():\n    pass\n")];
    let changed = apply_edit_blocks(&mut fs, &blocks, &all_editable).unwrap();
    assert_eq!(changed, vec!["utils.py"]);
    assert_eq!(fs["utils.py"], "def f():\n    pass\n");
    assert_eq!(fs["train.py"], TRAIN);
}

#[test]
fn empty_search_appends_to_an_existing_file() {
    let mut fs = files(&[("a.py", "x = 1"), ("empty.py", "")]);
    let blocks = vec![
        block("a.py", "", "y = 2\n"),
        block("empty.py", "\n", "z = 3\n"),
    ];
    apply_edit_blocks(&mut fs, &blocks, &all_editable).unwrap();
    assert_eq!(fs["a.py"], "x = 1\ny = 2\n");
    assert_eq!(fs["empty.py"], "z = 3\n");
}

#[test]
fn search_that_is_not_in_the_file_fails_with_the_closest_lines() {
    let mut fs = files(&[("train.py", TRAIN)]);
    let blocks = vec![block("train.py", "lr = 0.1\nepochs = 10\n", "lr = 0.2\n")];
    let errors = apply_edit_blocks(&mut fs, &blocks, &all_editable).unwrap_err();
    assert_eq!(errors.len(), 1);
    let ApplyError::NotFound {
        path,
        search_excerpt,
        closest,
    } = &errors[0]
    else {
        panic!("{errors:?}");
    };
    assert_eq!(path, "train.py");
    assert_eq!(search_excerpt, "lr = 0.1\nepochs = 10\n");
    assert_eq!(closest, "lr = 0.01\nepochs = 10\n");
    let message = errors[0].to_string();
    assert!(
        message.starts_with("SEARCH block for train.py did not match any lines exactly"),
        "{message}"
    );
    assert!(
        message
            .contains("Here are the closest lines in train.py:\n```\nlr = 0.01\nepochs = 10\n```"),
        "{message}"
    );
    assert_eq!(fs["train.py"], TRAIN, "a failed apply changes nothing");
}

#[test]
fn closest_lines_is_empty_when_nothing_resembles() {
    assert_eq!(closest_lines(TRAIN, "zzzz qqqq wwww\n"), "");
    assert_eq!(closest_lines("", "lr = 1\n"), "");
    assert_eq!(closest_lines(TRAIN, ""), "");
    assert_eq!(closest_lines(TRAIN, "    step(lr)\n"), "        step(lr)\n");
}

#[test]
fn search_matching_several_places_is_ambiguous() {
    let mut fs = files(&[("a.py", "x = 1\ny = 2\nx = 1\n")]);
    let errors = apply_edit_blocks(
        &mut fs,
        &[block("a.py", "x = 1\n", "x = 5\n")],
        &all_editable,
    )
    .unwrap_err();
    assert_eq!(
        errors,
        vec![ApplyError::Ambiguous {
            path: "a.py".into(),
            count: 2
        }]
    );
    assert!(errors[0].to_string().contains("matches 2 places"));
    // With a neighbouring line it is unique.
    apply_edit_blocks(
        &mut fs,
        &[block("a.py", "y = 2\nx = 1\n", "y = 2\nx = 5\n")],
        &all_editable,
    )
    .unwrap();
    assert_eq!(fs["a.py"], "x = 1\ny = 2\nx = 5\n");
}

#[test]
fn search_matches_whole_lines_only() {
    let mut fs = files(&[("a.py", "max_lr = 1\nlr = 1\n")]);
    apply_edit_blocks(
        &mut fs,
        &[block("a.py", "lr = 1\n", "lr = 2\n")],
        &all_editable,
    )
    .unwrap();
    assert_eq!(fs["a.py"], "max_lr = 1\nlr = 2\n");
}

#[test]
fn non_editable_and_missing_files_fail_and_all_failures_are_reported() {
    let mut fs = files(&[("train.py", TRAIN), ("prepare.py", "data = 1\n")]);
    let editable = |p: &str| p != "prepare.py";
    let blocks = vec![
        block("prepare.py", "data = 1\n", "data = 2\n"),
        block("train.py", "lr = 0.01\n", "lr = 0.02\n"),
        block("gone.py", "x = 1\n", "x = 2\n"),
        block("prepare.py", "", "new\n"),
    ];
    let errors = apply_edit_blocks(&mut fs, &blocks, &editable).unwrap_err();
    assert_eq!(
        errors,
        vec![
            ApplyError::NotEditable {
                path: "prepare.py".into()
            },
            ApplyError::Missing {
                path: "gone.py".into()
            },
            ApplyError::NotEditable {
                path: "prepare.py".into()
            },
        ]
    );
    assert!(
        errors[0]
            .to_string()
            .starts_with("prepare.py may not be edited")
    );
    assert!(
        errors[1]
            .to_string()
            .contains("use an empty SEARCH section")
    );
    assert_eq!(
        fs["train.py"], TRAIN,
        "nothing is applied when a block fails"
    );
    let report = failure_report(&errors);
    assert!(
        report.starts_with("3 of your SEARCH/REPLACE blocks failed, so none"),
        "{report}"
    );
    assert!(report.contains("\n2. gone.py does not exist."), "{report}");
}

#[test]
fn whitespace_tolerant_fallback_ignores_trailing_whitespace() {
    let mut fs = files(&[("a.py", "x = 1   \ny = 2\t\n")]);
    apply_edit_blocks(
        &mut fs,
        &[block("a.py", "x = 1\ny = 2\n", "x = 3\ny = 4\n")],
        &all_editable,
    )
    .unwrap();
    assert_eq!(fs["a.py"], "x = 3\ny = 4\n");
}

#[test]
fn whitespace_tolerant_fallback_reindents_replace_when_the_file_is_more_indented() {
    let mut fs = files(&[("train.py", TRAIN)]);
    let blocks = vec![block(
        "train.py",
        "for e in range(epochs):\n    step(lr)\n",
        "for e in range(epochs):\n    step(lr)\n    log(e)\n",
    )];
    apply_edit_blocks(&mut fs, &blocks, &all_editable).unwrap();
    assert!(
        fs["train.py"].ends_with("    for e in range(epochs):\n        step(lr)\n        log(e)\n"),
        "{}",
        fs["train.py"]
    );
}

#[test]
fn whitespace_tolerant_fallback_reindents_replace_when_the_file_is_less_indented() {
    let mut fs = files(&[("a.py", "if x:\n    y()\n")]);
    let blocks = vec![block(
        "a.py",
        "    if x:\n        y()\n",
        "    if x:\n        z()\n",
    )];
    apply_edit_blocks(&mut fs, &blocks, &all_editable).unwrap();
    assert_eq!(fs["a.py"], "if x:\n    z()\n");
}

#[test]
fn non_uniform_indentation_is_not_matched() {
    let mut fs = files(&[("a.py", "if x:\n    y()\n")]);
    let blocks = vec![block("a.py", "if x:\ny()\n", "if x:\n    z()\n")];
    let errors = apply_edit_blocks(&mut fs, &blocks, &all_editable).unwrap_err();
    assert!(
        matches!(errors[0], ApplyError::NotFound { .. }),
        "{errors:?}"
    );
}

#[test]
fn whitespace_tolerant_fallback_with_several_matches_is_ambiguous() {
    let mut fs = files(&[("a.py", "  x = 1\n    x = 1\n")]);
    let errors = apply_edit_blocks(
        &mut fs,
        &[block("a.py", "x = 1\n", "x = 2\n")],
        &all_editable,
    )
    .unwrap_err();
    assert_eq!(
        errors,
        vec![ApplyError::Ambiguous {
            path: "a.py".into(),
            count: 2
        }]
    );
}

#[test]
fn crlf_files_keep_their_line_ends_and_missing_final_newlines_stay_missing() {
    let mut fs = files(&[("w.py", "a = 1\r\nb = 2\r\n"), ("n.py", "a = 1\nb = 2")]);
    let blocks = vec![
        block("w.py", "b = 2\n", "b = 3\nc = 4\n"),
        block("n.py", "b = 2\n", "b = 3\n"),
    ];
    apply_edit_blocks(&mut fs, &blocks, &all_editable).unwrap();
    assert_eq!(fs["w.py"], "a = 1\r\nb = 3\r\nc = 4\r\n");
    assert_eq!(fs["n.py"], "a = 1\nb = 3");
}

#[test]
fn a_block_that_changes_nothing_reports_no_changed_path() {
    let mut fs = files(&[("a.py", "x = 1\n")]);
    let changed = apply_edit_blocks(
        &mut fs,
        &[block("a.py", "x = 1\n", "x = 1\n")],
        &all_editable,
    )
    .unwrap();
    assert!(changed.is_empty());
}

#[test]
fn deleting_lines_with_an_empty_replace() {
    let mut fs = files(&[("a.py", "x = 1\ny = 2\nz = 3\n")]);
    apply_edit_blocks(&mut fs, &[block("a.py", "y = 2\n", "")], &all_editable).unwrap();
    assert_eq!(fs["a.py"], "x = 1\nz = 3\n");
}
