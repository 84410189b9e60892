//! The explorer end to end: a lab with a CSV data file, a README and a summary command is
//! studied before the first experiment; the brief reaches every ideation; the user's edit
//! becomes a new version and reaches the next one; `autolab explore` and `show brief`.

use autolab_llm::fake::{FakeServer, Recorded};

use super::agent::{EDIT_VAL, IDEA_VAL, is_ideation, openai};
use super::common::*;

const BRIEF: &str = "## Domain\nA toy regression.\n## Data (shape, quirks, leakage risks)\nBRIEF-MARKER: 4 rows, one label column.\n## The metric and its traps\nval_loss.\n## Baselines\n0.5\n## Risks\nTiny data.\n## Research directions (ranked, most promising first)\n1. Lower the value.\n";

fn is_explorer(r: &Recorded) -> bool {
    r.body
        .contains("You are the explorer of an automated research campaign")
}

fn explored_lab(server: &FakeServer) -> TestLab {
    let lab = super::agent::shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nlessons = \"template\"\n\
         [explore]\ncommands = [\"echo COMMAND-OUT; wc -l < data/train.csv\", \"echo x > tamper.txt\"]\n",
        server.url()
    ));
    lab.write("data/train.csv", "feature,label\n0.1,1\n0.2,0\n0.3,1\n");
    lab.write("README.md", "# Toy lab\nREADME-MARKER: predicts a label.\n");
    lab.commit("data and readme");
    lab
}

fn server() -> FakeServer {
    let ideations = std::sync::atomic::AtomicUsize::new(0);
    FakeServer::from_fn(move |r| {
        if is_explorer(r) {
            openai(&format!("```markdown\n{BRIEF}```"))
        } else if is_ideation(r) {
            let n = ideations.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            openai(&super::learning::distinct_idea(n + 1))
        } else {
            openai(EDIT_VAL)
        }
    })
}

#[test]
fn the_brief_is_written_from_the_lab_and_its_data_and_reaches_every_ideation() {
    let server = server();
    let lab = explored_lab(&server);
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("research brief v1 written to"),
        "{}",
        stderr(&out)
    );
    let requests = server.requests();
    // The explorer was asked first, with the data's head, the docs, the code and the commands.
    assert!(is_explorer(&requests[0]), "{}", requests[0].body);
    let asked = last_message(&requests[0]);
    for part in [
        "## data/train.csv (csv, 32 bytes)",
        "feature,label\n0.1,1",
        "[4 lines]",
        "README-MARKER",
        "## run.sh",
        "Protected files",
        "## prepare.sh",
        "COMMAND-OUT\n4",
        "Lower val_loss.",
    ] {
        assert!(asked.contains(part), "missing {part:?} in:\n{asked}");
    }
    // The second command could not write into the lab: the sandbox keeps it read-only.
    assert!(!lab.path().join("tamper.txt").exists());
    assert!(asked.contains("echo x > tamper.txt` (exit code"), "{asked}");
    assert_eq!(lab.read(".autolab/brief.md"), BRIEF);
    // Every ideation carries it.
    let ideations: Vec<&Recorded> = requests.iter().filter(|r| is_ideation(r)).collect();
    assert!(!ideations.is_empty());
    for r in &ideations {
        assert!(last_message(r).contains("BRIEF-MARKER"), "{}", r.body);
    }
    // Kept in the ledger as version 1 by the explorer, with the call under its role.
    let conn = lab.ledger();
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM briefs WHERE source = 'explorer' AND model = 'm'"
        ),
        1
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM transcripts WHERE role = 'explorer'"
        ),
        1
    );
    drop(conn);

    // The user edits the brief: the edit is version 2 and the next ideation reads it.
    let edited = format!("{BRIEF}\n## Human note\nUSER-MARKER: prefer small values.\n");
    lab.write(".autolab/brief.md", &edited);
    let before = server.requests().len();
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let later: Vec<Recorded> = server.requests()[before..].to_vec();
    assert!(
        !later.iter().any(is_explorer),
        "a lab with a brief is not explored again"
    );
    let ideation = later.iter().find(|r| is_ideation(r)).expect("an ideation");
    assert!(last_message(ideation).contains("USER-MARKER"));
    let shown = lab.autolab(&["show", "brief"]);
    assert!(stdout(&shown).contains("USER-MARKER"), "{}", stdout(&shown));
    assert!(
        stderr(&shown).contains("version 1 by explorer (m)"),
        "{}",
        stderr(&shown)
    );
    assert!(
        stderr(&shown).contains("version 2 by user"),
        "{}",
        stderr(&shown)
    );
    let v = lab.json(&["show", "brief", "--json"]);
    assert_eq!(v["versions"].as_array().unwrap().len(), 2);
    assert_eq!(v["edited_since_last_version"], false);

    // `autolab explore` leaves an existing brief alone unless forced.
    let out = lab.autolab(&["explore"]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("`autolab explore --force`"),
        "{}",
        stderr(&out)
    );
    let out = lab.autolab(&["explore", "--force"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("BRIEF-MARKER"));
    assert!(
        stderr(&out).contains("research brief version 3"),
        "{}",
        stderr(&out)
    );
    assert_eq!(lab.read(".autolab/brief.md"), BRIEF);
}

#[test]
fn an_explorer_that_answers_garbage_leaves_no_brief_and_the_campaign_goes_on() {
    let server = FakeServer::from_fn(|r| {
        if is_explorer(r) {
            openai("Sure!")
        } else if is_ideation(r) {
            openai(IDEA_VAL)
        } else {
            openai(EDIT_VAL)
        }
    });
    let lab = explored_lab(&server);
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the explorer wrote no brief (the reply is not a brief"),
        "{}",
        stderr(&out)
    );
    assert!(!lab.path().join(".autolab/brief.md").exists());
    let shown = lab.autolab(&["show", "brief"]);
    assert_eq!(shown.status.code(), Some(2), "{}", stderr(&shown));
    assert!(stderr(&shown).contains("no research brief yet"));
}

#[test]
fn explore_without_an_llm_says_what_to_do() {
    let lab = TestLab::with_mode("better", "");
    let out = lab.autolab(&["explore"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no [agent] section"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_edit_in_another_encoding_is_kept_as_a_version_and_never_overwritten() {
    let server = server();
    let lab = explored_lab(&server);
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Latin-1: not UTF-8.
    let edited = b"## Domain\nCaf\xe9 USER-LATIN1: toy regression.\n".to_vec();
    std::fs::write(lab.path().join(".autolab/brief.md"), &edited).unwrap();
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(lab.path().join(".autolab/brief.md")).unwrap(),
        edited,
        "the user's file was rewritten"
    );
    let conn = lab.ledger();
    let (source, body): (String, String) = conn
        .query_row(
            "SELECT source, body FROM briefs ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(source, "user");
    assert!(body.contains("USER-LATIN1"), "{body}");
    let ideation = server
        .requests()
        .into_iter()
        .rfind(super::agent::is_ideation)
        .unwrap();
    assert!(last_message(&ideation).contains("USER-LATIN1"));
}
