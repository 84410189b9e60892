//! The write-up's LLM steps against the fake LLM server: a section re-asked and stripped, a
//! review re-asked for a missing field, a reviewer left out, a meta-review of the means.

use std::sync::Arc;

use autolab_llm::fake::{FakeReply, FakeServer};
use serde_json::json;

use super::facts::Facts;
use super::review::{FIELDS, review};
use super::sections::{Brief, write};
use crate::llm::Caller;

fn caller(server: &FakeServer) -> Caller {
    let mut cfg = autolab_llm::ProviderConfig::new(autolab_llm::Provider::OpenAi, "m");
    cfg.base_url = Some(server.url());
    cfg.max_retries = 0;
    let client = autolab_llm::client(&cfg).unwrap();
    Caller::new(Arc::from(client), "m", 512, None, 0.0, None)
}

fn brief() -> Brief {
    let mut facts = Facts::default();
    facts.push("best.score", 0.25, "#3");
    Brief {
        goal: "Lower the loss.".into(),
        facts,
        changes: String::new(),
        playbook: String::new(),
        papers: String::new(),
        cite_keys: vec!["known2020".into()],
        title: String::new(),
    }
}

#[test]
fn a_section_that_keeps_a_made_up_number_loses_that_sentence_only() {
    let bad = "We reach \\fact{best.score}. It is 42\\% faster than anything. We cite \\citep{made2021up}.";
    let server = FakeServer::start(vec![FakeReply::openai(bad)]);
    let mut log = Vec::new();
    let w = write(&caller(&server), &brief(), "results", 2, &mut log).unwrap();
    assert_eq!(w.reasks, 2);
    assert_eq!(server.requests().len(), 3, "one ask and two re-asks");
    let reask = server.requests()[1].prompt_text();
    assert!(
        reask.contains("\"It is 42\\% faster than anything.\": the number 42"),
        "{reask}"
    );
    assert!(reask.contains("`made2021up` is not in the list"), "{reask}");
    assert!(
        w.text.contains("We reach \\fact{best.score}."),
        "{}",
        w.text
    );
    assert!(
        !w.text.contains("42") && !w.text.contains("made2021up"),
        "{}",
        w.text
    );
    assert_eq!(w.removed.len(), 1, "{:?}", w.removed);
    assert!(
        w.text.contains("We cite ."),
        "the sentence stays, the unknown key goes: {}",
        w.text
    );
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|t| t.role == "writer"));
}

#[test]
fn a_section_fixed_on_the_re_ask_is_taken_as_fixed() {
    let server = FakeServer::start(vec![
        FakeReply::openai("```latex\n\\section{Results}\nWe are 13 points better.\n```"),
        FakeReply::openai("We reach \\fact{best.score}."),
    ]);
    let w = write(&caller(&server), &brief(), "results", 2, &mut Vec::new()).unwrap();
    assert_eq!(
        (w.text.as_str(), w.reasks),
        ("We reach \\fact{best.score}.", 1)
    );
    assert!(w.removed.is_empty());
}

fn form(overall: i64) -> serde_json::Value {
    json!({"Summary": "s", "Strengths": ["a"], "Weaknesses": ["b"], "Originality": 2, "Quality": 3,
           "Clarity": 3, "Significance": 2, "Questions": ["q"], "Limitations": ["l"],
           "Ethical Concerns": false, "Soundness": 3, "Presentation": 3, "Contribution": 2,
           "Overall": overall, "Confidence": 4, "Decision": "Reject"})
}

fn reply(v: &serde_json::Value) -> FakeReply {
    FakeReply::openai(format!("THOUGHT: x\nREVIEW JSON:\n```json\n{v}\n```"))
}

#[test]
fn reviews_are_re_asked_for_missing_fields_and_the_meta_review_takes_their_means() {
    let mut missing = form(3);
    missing.as_object_mut().unwrap().remove("Confidence");
    let server = FakeServer::start(vec![
        reply(&missing),                            // reviewer 1: a field missing
        reply(&form(3)),                            // … re-asked: complete
        FakeReply::openai("I cannot review this."), // reviewer 2: no JSON
        FakeReply::openai("Still no."),             // … re-asked: none again → left out
        reply(&form(8)),                            // reviewer 3
        reply(&form(10)),                           // the area chair (its scores are replaced)
    ]);
    let done = review(&caller(&server), "paper text", 3, 0);
    assert_eq!(done.failure, None, "{:?}", done.notes);
    assert_eq!(done.reviews.len(), 2);
    assert!(
        done.notes
            .iter()
            .any(|n| n.contains("reviewer-2") && n.contains("left out")),
        "{:?}",
        done.notes
    );
    let meta = done.meta.unwrap();
    for f in FIELDS {
        assert!(!meta.form[f].is_null(), "{f}");
    }
    assert_eq!(meta.form["Overall"], 6, "mean of 3 and 8, rounded");
    assert_eq!(done.reviews[0].temperature, Some(0.75));
    assert_eq!(done.reviews[0].prompt_hash.len(), 16);
    assert!(
        server.requests()[1]
            .prompt_text()
            .contains("\"Confidence\" is missing")
    );
}

#[test]
fn a_reflection_that_says_done_ends_the_rounds() {
    let server = FakeServer::start(vec![
        reply(&form(4)),
        FakeReply::openai(format!(
            "THOUGHT: I am done\nREVIEW JSON:\n```json\n{}\n```",
            form(5)
        )),
    ]);
    let done = review(&caller(&server), "paper text", 1, 3);
    assert_eq!(done.reviews.len(), 1);
    assert_eq!(done.reviews[0].form["Overall"], 5);
    assert_eq!(done.reviews[0].reflections, 1);
    assert_eq!(
        server.requests().len(),
        2,
        "no third round after `I am done`"
    );
    assert!(done.meta.is_none(), "one review needs no meta-review");
}

#[test]
fn stripping_keeps_the_sentences_that_are_fine() {
    let bad = "Good start at \\fact{best.score}.\nA bad one with 37.5 in it. Fine again.\n\nUnicode ４２ here. Last good one.";
    let server = FakeServer::start(vec![FakeReply::openai(bad)]);
    let w = write(&caller(&server), &brief(), "abstract", 0, &mut Vec::new()).unwrap();
    assert_eq!(
        w.text, "Good start at \\fact{best.score}. Fine again.\n\nLast good one.",
        "{:?}",
        w.removed
    );
    assert_eq!(w.removed.len(), 2, "{:?}", w.removed);
}

#[test]
fn an_enormous_section_is_cut_to_the_cap() {
    let huge = "word ".repeat(100_000);
    let server = FakeServer::start(vec![FakeReply::openai(huge)]);
    let w = write(&caller(&server), &brief(), "abstract", 0, &mut Vec::new()).unwrap();
    assert!(w.text.chars().count() <= super::sections::MAX_SECTION_CHARS);
    assert!(!w.text.is_empty());
}

#[test]
fn the_ablation_table_is_the_ledger_s_numbers_with_titles_escaped() {
    assert!(super::paper::ablation_table(&json!({})).is_none());
    let t = super::paper::ablation_table(&json!({"ablation": {
        "repeats": 3, "confidence": 0.95,
        "rows": [
            {"change": {"number": 3, "title": "lr_max 50% up & ✓"},
             "leave_one_out": {"gain": 0.30004, "lo": 0.28, "hi": 0.32},
             "add_one_in": null}
        ]
    }}))
    .unwrap();
    assert!(t.contains("\\label{tab:ablation}"), "{t}");
    assert!(t.contains("3 runs of each variant"), "{t}");
    assert!(t.contains("95\\% intervals"), "{t}");
    assert!(
        t.contains("\\#3 & lr\\_max 50\\% up \\& ? & 0.3 [0.28, 0.32] & -- \\\\"),
        "{t}"
    );
}
