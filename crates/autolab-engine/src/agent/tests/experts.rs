use crate::agent::experts::*;

#[test]
fn the_default_experts_file_parses_into_ten_experts() {
    let experts = parse_experts(DEFAULT_EXPERTS_MD).unwrap();
    assert_eq!(
        experts.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        [
            "hyperparameters",
            "architecture",
            "loss",
            "data",
            "compute-efficiency",
            "optimizer",
            "high-risk",
            "literature",
            "bug-hunting",
            "ablation",
        ]
    );
    for e in &experts {
        let text = e.persona.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(e.persona.len() > 200, "{} has a short persona", e.name);
        assert!(
            text.contains("Good ideas"),
            "{} says what good ideas are",
            e.name
        );
        assert!(text.contains("Avoid"), "{} says what to avoid", e.name);
        assert!(!e.persona.contains("##"), "{}", e.name);
    }
    assert_eq!(default_experts(), experts);
}

#[test]
fn parses_a_labs_own_experts_file() {
    let md = "# Our experts\n\nIntro text is ignored.\n\n## tokenizer\nYou study the tokenizer.\n\n### Notes\nKeep vocab small.\n\n## kernels ##\n```\n## not a heading\n```\nWrite fused kernels.\n";
    let experts = parse_experts(md).unwrap();
    assert_eq!(experts.len(), 2);
    assert_eq!(experts[0].name, "tokenizer");
    assert_eq!(
        experts[0].persona,
        "You study the tokenizer.\n\n### Notes\nKeep vocab small."
    );
    assert_eq!(experts[1].name, "kernels");
    assert_eq!(
        experts[1].persona,
        "```\n## not a heading\n```\nWrite fused kernels."
    );
}

#[test]
fn bad_experts_files_are_errors_naming_the_line() {
    assert_eq!(
        parse_experts("## data\nx\n\n## Data\ny\n").unwrap_err(),
        "experts file line 4: expert `Data` is already defined at line 1; give each expert a \
         different name"
    );
    assert_eq!(
        parse_experts("## data\nx\n## loss\n\n   \n").unwrap_err(),
        "experts file line 3: expert `loss` has no persona text under its heading"
    );
    assert!(
        parse_experts("# Title only\ntext\n")
            .unwrap_err()
            .contains("found none")
    );
    assert_eq!(
        parse_experts("##   \ntext\n").unwrap_err(),
        "experts file line 1: expected an expert's name after `## `"
    );
}
