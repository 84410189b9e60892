//! `[agent] novelty`: each new LLM idea is checked against the literature (a fake Semantic
//! Scholar / OpenAlex / arXiv); a known idea is marked and tried after the others, and an
//! outage lets ideas go on as "unknown".

use autolab_engine::literature::fake::LiteratureServer;
use autolab_engine::literature::{Paper, Source};
use autolab_llm::fake::{FakeReply, FakeServer, Recorded};

use super::common::*;

const IDEAS: &str = r#"{"ideas": [
 {"title": "Random search over the rate", "hypothesis": "random search finds a better rate", "plan": "sample RATE at random", "files": ["run.sh"], "expected_effect": "lower loss", "risk": "low"},
 {"title": "Halve the rate", "hypothesis": "the rate is too high", "plan": "set RATE to 4", "files": ["run.sh"], "expected_effect": "lower loss", "risk": "low"}
]}"#;

/// Ideation gives a known idea first; the novelty judge searches once, then calls the random
/// search idea known (paper 0) and any other novel; the coder halves the rate.
fn llm(r: &Recorded) -> FakeReply {
    let p = r.prompt_text();
    let text = if p.contains("judge whether a research idea is novel") {
        let last = last_message(r);
        if last.contains("Search again or decide") {
            if p.contains("Idea: Random search") && last.contains("[0]") {
                r#"{"decision": "known", "reason": "Bergstra and Bengio did it", "closest": [0]}"#
            } else {
                r#"{"decision": "novel", "reason": "nothing like it"}"#
            }
        } else {
            r#"{"decision": "search", "query": "random search hyper-parameter"}"#
        }
        .to_string()
    } else if p.contains("Propose ") {
        IDEAS.to_string()
    } else if p.contains("SEARCH/REPLACE") {
        "run.sh\n```sh\n<<<<<<< SEARCH\nRATE=8\n=======\nRATE=4\n>>>>>>> REPLACE\n```\n".to_string()
    } else {
        "A lesson.".to_string()
    };
    FakeReply::openai(text)
}

fn lab(llm: &FakeServer, lit: &LiteratureServer) -> TestLab {
    let lab = TestLab::new();
    lab.write("run.sh", "RATE=8\necho \"val_loss: 0.$RATE\"\n");
    let e = lit.endpoints();
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ngoal = \"Lower the loss.\"\ncommand = \"sh run.sh\"\neditable = [\"run.sh\"]\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n[decide]\npolicy = \"strict\"\n\
             [agent]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nnovelty = \"openalex\"\nnovelty_queries = 2\nideas_per_call = 2\n\
             [writeup]\nsemantic_scholar_url = \"{}\"\nopenalex_url = \"{}\"\narxiv_url = \"{}\"\nliterature_retries = 0\n",
            llm.url(),
            e.semantic_scholar,
            e.openalex,
            e.arxiv
        ),
    );
    lab.commit("lab");
    lab
}

fn corpus() -> Vec<Paper> {
    vec![Paper {
        title: "Random Search for Hyper-Parameter Optimization".into(),
        authors: vec!["James Bergstra".into()],
        year: Some(2012),
        venue: None,
        abstract_text: Some(
            "Random search beats grid search for hyper-parameter optimization.".into(),
        ),
        url: None,
        doi: None,
        arxiv_id: None,
        citations: None,
        source: Source::OpenAlex,
    }]
}

#[test]
fn a_known_idea_is_marked_and_tried_after_a_novel_one() {
    let llm = FakeServer::from_fn(llm);
    let lit = LiteratureServer::start(corpus());
    let lab = lab(&llm, &lit);
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The LLM listed the known idea first; the novel one ran first.
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["title"], "Halve the rate", "{one}");
    assert_eq!(one["idea"]["novelty"]["decision"], "novel", "{one}");
    let shown = stdout(&lab.autolab(&["show", "1"]));
    assert!(
        shown.contains("novelty    novel: nothing like it"),
        "{shown}"
    );
    // The known one is in the ledger with its closest paper, not dropped.
    let conn = lab.ledger();
    let known: String = conn
        .query_row(
            "SELECT detail FROM events WHERE kind = 'novelty-checked' AND detail LIKE '%Random search over%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        known.contains("\"known\"")
            && known.contains("Random Search for Hyper-Parameter Optimization"),
        "{known}"
    );
    assert!(stderr(&out).contains("looks known"), "{}", stderr(&out));
    // OpenAlex was asked first, as configured.
    assert!(!lit.requests(Source::OpenAlex).is_empty());
    assert!(lit.requests(Source::SemanticScholar).is_empty());
}

#[test]
fn a_literature_outage_lets_ideas_go_on_as_unknown() {
    let llm = FakeServer::from_fn(llm);
    let lit = LiteratureServer::start(corpus());
    for s in [Source::SemanticScholar, Source::OpenAlex, Source::Arxiv] {
        lit.down(s);
    }
    let lab = lab(&llm, &lit);
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["idea"]["novelty"]["decision"], "unknown", "{one}");
    assert!(
        one["idea"]["novelty"]["reason"]
            .as_str()
            .unwrap()
            .contains("no literature service answered"),
        "{one}"
    );
    assert_ne!(
        one["verdict"],
        serde_json::Value::Null,
        "the idea was run: {one}"
    );
}
