//! What the LLM path learns: playbook lessons and their compaction, ideas a result disproved,
//! and ideation that explores early and refines near the end of the budget.

use autolab_llm::fake::{FakeServer, Recorded};

use super::agent::*;
use super::common::*;

#[test]
fn the_llm_writes_each_lesson_and_compacts_old_ones_into_a_digest() {
    let ideation = std::sync::atomic::AtomicUsize::new(0);
    let server = FakeServer::from_fn(move |r| {
        if is_ideation(r) {
            openai(&distinct_idea(
                ideation.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
            ))
        } else if is_compaction(r) {
            openai("- DIGEST: variants after the first never applied\n- keep 0.25")
        } else if is_lesson(r) {
            let number = r
                .prompt_text()
                .split("Experiment #")
                .nth(1)
                .and_then(|t| t.split(':').next())
                .unwrap_or("?")
                .to_string();
            openai(&format!(
                "Lesson: experiment {number} showed that editing val.txt is all that matters here, because the command only prints it."
            ))
        } else {
            openai(EDIT_VAL)
        }
    });
    let lab = shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nedit_attempts = 1\nplaybook_chars = 1000\n",
        server.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "14"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let requests = server.requests();
    let lessons: Vec<&Recorded> = requests.iter().filter(|r| is_lesson(r)).collect();
    assert_eq!(lessons.len(), 13, "one lesson per judged candidate");
    let first = lessons[0].prompt_text();
    assert!(
        first.contains("Experiment #1: dropout") && first.contains("Verdict: kept"),
        "{first}"
    );
    assert!(
        requests.iter().any(is_compaction),
        "the playbook outgrew 1000 chars"
    );
    let playbook = std::fs::read_to_string(lab.path().join(".autolab/playbook.md")).unwrap();
    assert!(
        playbook.contains("## Summary of lessons through #")
            && playbook.contains("- DIGEST: variants after the first never applied"),
        "{playbook}"
    );
    assert!(
        playbook.contains("experiment 13 showed that editing val.txt is all that matters"),
        "the newest lesson is the LLM's: {playbook}"
    );
    assert!(
        !playbook.contains("experiment 1 showed"),
        "the oldest lessons live on in the digest only: {playbook}"
    );
    let one = lab.json(&["show", "1", "--json"]);
    let roles: Vec<&str> = one["transcripts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["role"].as_str())
        .collect();
    assert!(roles.contains(&"lesson"), "{roles:?}");
    let last = lab.json(&["show", "13", "--json"]);
    assert_eq!(last["lesson"]["by_llm"], true, "{last}");
    assert!(
        last["lesson"]["text"]
            .as_str()
            .unwrap()
            .starts_with("experiment 13 showed"),
        "{last}"
    );
    let text = stdout(&lab.autolab(&["show", "13"]));
    assert!(text.contains("lesson     experiment 13 showed"), "{text}");
}

/// Ideas `first`, `first + 1`, … (`count` of them) of 16 that no near-duplicate check confuses.
pub(super) fn distinct_ideas(first: usize, count: usize) -> String {
    const TOPICS: [&str; 16] = [
        "dropout",
        "warmup",
        "batchnorm",
        "cosine",
        "mixup",
        "pruning",
        "distillation",
        "quantization",
        "ensembling",
        "curriculum",
        "labelsmoothing",
        "gradientclipping",
        "weightdecay",
        "nesterov",
        "augmentation",
        "residuals",
    ];
    let ideas: Vec<String> = (first..first + count)
        .map(|n| {
            let topic = TOPICS[n % TOPICS.len()];
            format!(
                r#"{{"title": "{topic}", "hypothesis": "{topic}", "plan": "write 0.25", "files": ["val.txt"], "expected_effect": "-0.25", "risk": "low"}}"#
            )
        })
        .collect();
    format!(r#"{{"ideas": [{}]}}"#, ideas.join(", "))
}

pub(super) fn distinct_idea(n: usize) -> String {
    distinct_ideas(n, 1)
}

#[test]
fn ideation_explores_early_and_refines_near_the_end_of_the_budget() {
    let ideation = std::sync::atomic::AtomicUsize::new(0);
    let server = FakeServer::from_fn(move |r| {
        if is_ideation(r) {
            openai(&distinct_idea(
                ideation.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
            ))
        } else {
            openai(EDIT_VAL)
        }
    });
    let lab = shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nedit_attempts = 1\nideas_per_call = 1\nlessons = \"template\"\n",
        server.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "9"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let phases: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| is_ideation(r))
        .map(|r| {
            let text = r.prompt_text();
            let phase = text
                .split("# Phase: ")
                .nth(1)
                .and_then(|t| t.lines().next())
                .unwrap_or("none")
                .to_string();
            let used = text
                .split("# Phase: ")
                .nth(1)
                .and_then(|t| t.lines().nth(1))
                .and_then(|l| l.split('%').next())
                .unwrap_or("?")
                .to_string();
            format!("{phase} {used}")
        })
        .collect();
    assert_eq!(
        phases.first().map(String::as_str),
        Some("explore 11"),
        "{phases:?}"
    );
    assert!(
        phases.iter().any(|p| p.starts_with("refine ")),
        "the last ideas refine: {phases:?}"
    );
    let first_refine = phases
        .iter()
        .position(|p| p.starts_with("refine "))
        .unwrap();
    assert!(
        phases[..first_refine]
            .iter()
            .all(|p| p.starts_with("explore ")),
        "{phases:?}"
    );
}

#[test]
fn a_lesson_drops_waiting_ideas_its_result_disproved() {
    let ideation = std::sync::atomic::AtomicUsize::new(0);
    let server = FakeServer::from_fn(move |r| {
        if is_ideation(r) {
            let n = ideation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            openai(&distinct_ideas(n * 3, 3))
        } else if is_lesson(r) {
            if r.prompt_text().contains("Experiment #1:") {
                openai("Only val.txt matters here.\nDROP: 1")
            } else {
                openai("Nothing new.")
            }
        } else {
            openai(EDIT_VAL)
        }
    });
    let lab = shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nedit_attempts = 1\n",
        server.url()
    ));
    // #2 and later end only once the lesson of #1 is in the ledger (read-only, from the
    // lab root): it comes back while #2 runs and the first waiting idea is being implemented
    // or queued (the look-ahead took it).
    lab.write(
        "gate.py",
        "import os, sqlite3, time\n\
         n = int(os.environ['AUTOLAB_EXPERIMENT'].rsplit('/', 1)[-1])\n\
         db = sqlite3.connect('file:../../../../.autolab/ledger.db?mode=ro', uri=True)\n\
         q = 'SELECT 1 FROM lessons l JOIN experiments e ON e.id = l.experiment_id WHERE e.number = 1'\n\
         while n >= 2 and not db.execute(q).fetchone():\n    time.sleep(0.05)\n",
    );
    lab.write(
        "run.sh",
        "python3 gate.py\necho \"val_loss: $(cat val.txt)\"\n",
    );
    lab.commit("runs wait for the lesson of #1");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "6"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lesson = server
        .requests()
        .into_iter()
        .find(|r| is_lesson(r) && r.prompt_text().contains("Experiment #1:"))
        .expect("a lesson for #1");
    let text = lesson.prompt_text();
    let dropped = text
        .lines()
        .find_map(|l| l.strip_prefix("1. "))
        .and_then(|l| l.split(" — ").next())
        .unwrap_or_else(|| panic!("no waiting idea listed: {text}"))
        .to_string();
    let results = lab.json(&["results", "--format", "json"]);
    let rows = results.as_array().unwrap();
    assert_eq!(rows.len(), 6, "{results}");
    for e in rows.iter().filter(|e| e["title"] == dropped.as_str()) {
        assert_eq!(e["verdict"], "discarded", "{e}");
        assert_eq!(e["reason"], "disproven by #0001 before it ran", "{e}");
        let shown = lab.json(&["show", &e["id"].to_string(), "--json"]);
        assert_eq!(
            shown["runs"], 0,
            "a disproven candidate never runs: {shown}"
        );
    }
    assert!(
        stderr(&out).contains(&format!("disproved waiting idea(s), not tried: {dropped}")),
        "{}",
        stderr(&out)
    );
    // The ledger records what was dropped or cancelled, and by whom.
    let detail: String = lab
        .ledger()
        .query_row(
            "SELECT detail FROM events WHERE kind = 'ideas-dropped'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["by"], 1, "{detail}");
    let named = detail["ideas"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["title"] == dropped.as_str())
        || !detail["cancelled"].as_array().unwrap().is_empty();
    assert!(named, "{detail}");
}
