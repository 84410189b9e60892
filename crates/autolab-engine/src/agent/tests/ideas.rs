use crate::agent::ideas::*;

fn idea(title: &str, hypothesis: &str) -> Idea {
    Idea {
        title: title.into(),
        hypothesis: hypothesis.into(),
        plan: String::new(),
        files: vec![],
        expected_effect: String::new(),
        risk: String::new(),
        novelty: None,
    }
}

const TWO_IDEAS: &str = r#"{"ideas": [
  {"title": "Cosine schedule", "hypothesis": "Decaying the learning rate helps the final loss.",
   "plan": "Replace the constant lr with a cosine decay to 10%.", "files": ["train.py"],
   "expected_effect": "val_loss -0.02", "risk": "low"},
  {"title": "Wider MLP", "hypothesis": "More capacity in the MLP.", "plan": "4x -> 6x.",
   "files": ["train.py"], "expected_effect": "small gain", "risk": 0.4}
]}"#;

#[test]
fn parses_ideas_wrapped_in_prose_and_a_json_fence() {
    let reply = format!(
        "Here are my ideas [ranked by promise]:\n\n```json\n{TWO_IDEAS}\n```\n\nLet me know {{if}} you want more."
    );
    let ideas = parse_ideas(&reply).unwrap();
    assert_eq!(ideas.len(), 2);
    assert_eq!(
        ideas[0],
        Idea {
            title: "Cosine schedule".into(),
            hypothesis: "Decaying the learning rate helps the final loss.".into(),
            plan: "Replace the constant lr with a cosine decay to 10%.".into(),
            files: vec!["train.py".into()],
            expected_effect: "val_loss -0.02".into(),
            risk: "low".into(),
            novelty: None,
        }
    );
    assert_eq!(ideas[1].risk, "0.4", "a numeric risk becomes text");
}

#[test]
fn parses_unfenced_json_and_bare_arrays() {
    assert_eq!(parse_ideas(TWO_IDEAS).unwrap().len(), 2);
    let bare = r#"Sure: [{"title": "A", "hypothesis": "h", "plan": "p"}, {"title": "B", "hypothesis": "h2", "plan": "p2"}]"#;
    let ideas = parse_ideas(bare).unwrap();
    assert_eq!(
        ideas.iter().map(|i| i.title.as_str()).collect::<Vec<_>>(),
        ["A", "B"]
    );
    assert!(ideas[0].files.is_empty());
    assert_eq!(parse_ideas(r#"{"ideas": []}"#).unwrap(), vec![]);
}

#[test]
fn lenient_about_key_spelling_field_types_nesting_and_trailing_commas() {
    let reply = r#"{"response": {"Ideas": [{"Title": "Lion", "Hypothesis": "h", "Plan": ["step 1", "step 2"],
        "expectedEffect": null, "Risk": 3, "files": "train.py, model.py",}]}}"#;
    let ideas = parse_ideas(reply).unwrap();
    assert_eq!(ideas.len(), 1);
    assert_eq!(ideas[0].title, "Lion");
    assert_eq!(ideas[0].plan, "step 1\nstep 2");
    assert_eq!(ideas[0].expected_effect, "");
    assert_eq!(ideas[0].risk, "3");
    assert_eq!(ideas[0].files, ["train.py", "model.py"]);
}

#[test]
fn malformed_json_errors_name_the_line_and_column_in_the_reply() {
    let reply =
        "My ideas:\n```json\n{\"ideas\": [\n  {\"title\": \"A\" \"hypothesis\": \"h\"}\n]}\n```\n";
    let err = parse_ideas(reply).unwrap_err();
    assert!(
        err.starts_with("expected a JSON object with key `ideas`"),
        "{err}"
    );
    assert!(
        err.contains("the JSON that starts at line 3 column 1 is invalid at line 4 column 17: expected `,` or `}`"),
        "{err}"
    );
}

#[test]
fn a_cut_off_reply_says_so() {
    let reply =
        r#"{"ideas": [{"title": "A", "hypothesis": "h", "plan": "p"}, {"title": "B", "hypo"#;
    let err = parse_ideas(reply).unwrap_err();
    assert!(err.contains("line 1 column"), "{err}");
    assert!(err.contains("was the reply cut off"), "{err}");
}

#[test]
fn content_errors_name_the_json_path() {
    let empty_title = r#"{"ideas": [{"title": "A", "hypothesis": "h", "plan": "p"}, {"title": "  ", "hypothesis": "h"}]}"#;
    assert_eq!(
        parse_ideas(empty_title).unwrap_err(),
        "`ideas[1].title` is empty; every idea needs a title"
    );
    let no_title = r#"[{"hypothesis": "h"}]"#;
    assert_eq!(
        parse_ideas(no_title).unwrap_err(),
        "`[0]` has no `title`; every idea needs a title"
    );
    let object_plan = r#"{"ideas": [{"title": "A", "plan": {"x": 1}}]}"#;
    assert_eq!(
        parse_ideas(object_plan).unwrap_err(),
        "`ideas[0].plan` is an object; expected a string"
    );
    let not_a_list = r#"{"ideas": "none"}"#;
    assert!(
        parse_ideas(not_a_list)
            .unwrap_err()
            .ends_with("`ideas` is the string \"none\", not a list"),
    );
}

#[test]
fn replies_without_ideas_say_what_was_expected() {
    let err = parse_ideas("I have no ideas today.").unwrap_err();
    assert!(
        err.ends_with("but the reply contains no JSON object or list"),
        "{err}"
    );
    let err = parse_ideas(r#"Result: {"status": "ok", "count": 2}"#).unwrap_err();
    assert!(
        err.ends_with("or a list of ideas; found an object with keys `status`, `count`")
            || err.ends_with("or a list of ideas; found an object with keys `count`, `status`"),
        "{err}"
    );
}

/// Seed ideas in the shape of AI-Scientist's `templates/*/seed_ideas.json`.
const SEED_IDEAS: &str = r#"[
    {
        "Name": "warmup_length_sweep",
        "Title": "Warmup Length: How Much Linear Warmup Does a Small Character-Level Transformer Need?",
        "Experiment": "Vary the number of linear warmup iterations (0, 50, 200, 500) in the learning-rate schedule of train(), keeping everything else fixed, and compare validation loss curves and final loss across datasets.",
        "Interestingness": 5,
        "Feasibility": 9,
        "Novelty": 3
    },
    {
        "Name": "rotary_embeddings",
        "Title": "Rotary Position Embeddings in Place of Learned Absolute Positions",
        "Experiment": "Replace the learned wpe table in GPT with rotary embeddings applied to queries and keys inside CausalSelfAttention; compare loss and generation quality at equal training time.",
        "Interestingness": 7,
        "Feasibility": 6,
        "Novelty": 4,
        "novel": true
    },
    {
        "Name": "no_experiment_given",
        "Title": "Tied Input and Output Embeddings",
        "Interestingness": 3,
        "Feasibility": 10,
        "Novelty": 1
    }
]"#;

#[test]
fn reads_ai_scientist_seed_ideas() {
    let ideas = seed_ideas_from_ai_scientist(SEED_IDEAS).unwrap();
    assert_eq!(ideas.len(), 3);
    assert_eq!(
        ideas[1].title,
        "Rotary Position Embeddings in Place of Learned Absolute Positions"
    );
    assert!(
        ideas[1]
            .hypothesis
            .starts_with("Replace the learned wpe table")
    );
    assert_eq!(ideas[1].plan, ideas[1].hypothesis);
    assert_eq!(
        ideas[1].risk,
        "feasibility 6/10, novelty 4/10, interestingness 7/10"
    );
    assert_eq!(ideas[2].hypothesis, "Tied Input and Output Embeddings");
    assert_eq!(ideas[2].plan, "Tied Input and Output Embeddings");
}

#[test]
fn ai_scientist_seed_ideas_errors_are_precise() {
    assert!(
        seed_ideas_from_ai_scientist("[{")
            .unwrap_err()
            .contains("line 1 column 2")
    );
    assert_eq!(
        seed_ideas_from_ai_scientist(r#"[{"Experiment": "x"}]"#).unwrap_err(),
        "seed idea 0 has no `Title` (nor `Name`)"
    );
    assert_eq!(
        seed_ideas_from_ai_scientist(r#"[{"Name": "tied_embeddings"}]"#).unwrap()[0].title,
        "tied embeddings"
    );
    assert!(
        seed_ideas_from_ai_scientist(r#"{"ideas": []}"#)
            .unwrap_err()
            .starts_with("expected seed ideas as a list")
    );
}

/// Paraphrases of one idea, as a model rewords an idea it was told was already tried.
const PARAPHRASES: &[(&str, &str)] = &[
    (
        "Layer-wise learning rates",
        "Use per-layer learning rates for the transformer",
    ),
    ("Cosine learning rate schedule", "Cosine decay of the LR"),
    (
        "Add learning rate warmup",
        "Add a linear warm-up of the learning rate",
    ),
    (
        "Increase the model width",
        "Increase width of the model's hidden layers",
    ),
    (
        "Replace GELU with SwiGLU activation",
        "SwiGLU activation instead of GELU",
    ),
    (
        "Gradient clipping at norm 1.0",
        "Clip gradients to norm 1.0",
    ),
    (
        "Label smoothing for the cross-entropy loss",
        "Apply label smoothing to cross entropy",
    ),
    (
        "Use rotary position embeddings",
        "Rotary positional embeddings (RoPE) instead of learned positions",
    ),
    (
        "Weight decay 0.1 on all matrices",
        "Apply weight decay of 0.1 to the weight matrices",
    ),
    ("Use the Lion optimizer", "Switch the optimizer to Lion"),
    (
        "RMSNorm instead of LayerNorm",
        "Replace LayerNorm with RMSNorm",
    ),
    ("Increase dropout to 0.2", "Raise dropout rate to 0.2"),
    (
        "Mixed precision training with bf16",
        "Train in bfloat16 mixed precision",
    ),
    ("Larger batch size", "Increase the batch size"),
];

/// Different ideas, many about the same part of the code.
const DIFFERENT: &[(&str, &str)] = &[
    ("Increase the learning rate", "Decrease the learning rate"),
    ("Cosine learning rate schedule", "Layer-wise learning rates"),
    ("Add dropout to attention", "Add weight decay"),
    ("Increase the model width", "Increase the batch size"),
    (
        "Replace GELU with SwiGLU activation",
        "Replace LayerNorm with RMSNorm",
    ),
    ("Gradient clipping at norm 1.0", "Use the Lion optimizer"),
    (
        "Label smoothing for the cross-entropy loss",
        "Use rotary position embeddings",
    ),
    ("Add learning rate warmup", "Use a larger learning rate"),
    (
        "Tie input and output embeddings",
        "Use rotary position embeddings",
    ),
    ("Use the Lion optimizer", "Use the Muon optimizer"),
    ("Dropout 0.1", "Dropout 0.2"),
    (
        "Mixed precision training with bf16",
        "Compile the model with torch.compile",
    ),
    ("Larger batch size", "Larger model"),
];

#[test]
fn similarity_catches_paraphrased_titles_and_separates_different_ideas() {
    for (a, b) in PARAPHRASES {
        let s = similarity(a, b);
        assert!(
            s >= NEAR_DUPLICATE_THRESHOLD,
            "paraphrase {a:?} / {b:?}: {s:.3}"
        );
        assert!((s - similarity(b, a)).abs() < 1e-12, "symmetric");
    }
    for (a, b) in DIFFERENT {
        let s = similarity(a, b);
        assert!(
            s < NEAR_DUPLICATE_THRESHOLD,
            "different {a:?} / {b:?}: {s:.3}"
        );
    }
}

#[test]
fn similarity_bounds() {
    assert_eq!(similarity("Cosine schedule", "cosine SCHEDULE "), 1.0);
    assert_eq!(similarity("", "anything"), 0.0);
    assert_eq!(similarity("the of a", "the to a"), 0.0);
    let s = similarity("tune the optimizer", "rewrite the data loader");
    assert!((0.0..0.2).contains(&s), "{s}");
}

#[test]
fn near_duplicates_of_tried_ideas_are_caught() {
    let tried = vec![
        (
            "Cosine learning rate schedule".to_string(),
            "Decaying the learning rate to zero lowers the final loss".to_string(),
        ),
        ("Add dropout".to_string(), "Regularize the MLP".to_string()),
    ];
    let paraphrase = idea(
        "Cosine decay of the LR",
        "A cosine schedule that decays the learning rate should lower the final loss",
    );
    assert!(is_near_duplicate(
        &paraphrase,
        &tried,
        NEAR_DUPLICATE_THRESHOLD
    ));
    let different = idea(
        "Rotary position embeddings",
        "Relative positions generalize better than learned absolute ones",
    );
    assert!(!is_near_duplicate(
        &different,
        &tried,
        NEAR_DUPLICATE_THRESHOLD
    ));
    let opposite = idea("Remove dropout", "Regularize less: the model underfits");
    assert!(!is_near_duplicate(
        &opposite,
        &tried,
        NEAR_DUPLICATE_THRESHOLD
    ));
    assert!(!is_near_duplicate(
        &paraphrase,
        &[],
        NEAR_DUPLICATE_THRESHOLD
    ));
}

#[test]
fn a_title_with_control_characters_is_cleaned_when_parsed() {
    let ideas = parse_ideas(
        r#"{"ideas": [{"title": "Halve\u0000 the \u001b[2Jrate\nnow", "hypothesis": "h\u0007", "plan": "p"}]}"#,
    )
    .unwrap();
    assert_eq!(ideas[0].title, "Halve the [2Jrate now");
    assert_eq!(ideas[0].hypothesis, "h");
}
