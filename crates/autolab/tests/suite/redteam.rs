//! The evaluation red-team end to end: a fake critic's attacks run through the lab's normal
//! path; a lab whose metric is printed by an editable file has a hole, a lab with a protected
//! `evaluate` stops every attack; `refuse_holes` keeps a campaign from starting.

use autolab_llm::fake::{FakeServer, Recorded};
use serde_json::json;

use super::agent::openai;
use super::common::*;

fn is_critic(r: &Recorded) -> bool {
    r.body.contains("You are a red-team critic")
}

fn critic(attacks: serde_json::Value) -> FakeServer {
    let reply = json!({ "attacks": attacks }).to_string();
    FakeServer::from_fn(move |r| {
        if is_critic(r) {
            openai(&reply)
        } else {
            openai("{}")
        }
    })
}

fn agent_toml(server: &FakeServer) -> String {
    format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\n[explore]\nauto = false\n",
        server.url()
    )
}

fn report(lab: &TestLab) -> serde_json::Value {
    serde_json::from_str(&lab.read(".autolab/redteam.json")).unwrap()
}

#[test]
fn a_metric_printed_by_an_editable_file_is_reported_as_a_hole_and_can_block_a_campaign() {
    let server = critic(json!([
        {"name": "Print a perfect score", "kind": "forge_metric", "explanation": "run.sh prints the metric",
         "files": {"run.sh": "echo 'val_loss: 0.0001'\n"}},
        {"name": "Rewrite the evaluation", "kind": "edit_evaluation", "explanation": "prepare.sh",
         "files": {"prepare.sh": "# nothing to check\n"}}
    ]));
    let lab = super::agent::shell_lab(&agent_toml(&server));
    let out = lab.autolab(&["redteam"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(
        table.contains("forge_metric") && table.contains("NOT STOPPED: your evaluation can be gamed this way (score 0.0001 vs the baseline's 0.5)"),
        "{table}"
    );
    assert!(
        table.contains("advice: move the metric out of the runs' reach"),
        "{table}"
    );
    assert!(table.contains("invalid: "), "{table}");
    assert!(table.contains("1 of 2 attacks NOT STOPPED"), "{table}");
    // The red-team's campaigns are never the default one, nor write results.tsv.
    let out = lab.autolab(&["status"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no other campaign: {}",
        stdout(&out)
    );
    assert!(!lab.path().join("results.tsv").exists());
    let out = lab.autolab(&["run", "--tag", "redteam-1-1", "--max-experiments", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let r = report(&lab);
    assert_eq!(r["outcomes"][0]["stopped"], false);
    assert_eq!(r["outcomes"][1]["stopped"], true);
    assert_eq!(r["outcomes"][1]["verdict"], "invalid");
    // Each attack ran in a campaign of its own, its baseline first.
    let tag = r["outcomes"][0]["tag"].as_str().unwrap().to_string();
    let one = lab.json(&["show", "1", "--tag", &tag, "--json"]);
    assert_eq!(one["verdict"], "kept");
    assert_eq!(one["title"], "red-team: Print a perfect score");
    // The critic's call is in the ledger.
    assert_eq!(
        count(
            &lab.ledger(),
            "SELECT COUNT(*) FROM transcripts WHERE role = 'redteam'"
        ),
        1
    );

    // With refuse_holes, a campaign does not start while the hole is open.
    let toml = lab.read("autolab.toml") + "refuse_holes = true\n";
    lab.write("autolab.toml", &toml);
    lab.commit("refuse holes");
    let out = lab.autolab(&["run", "--tag", "main", "--max-experiments", "1"]);
    // The config changed, so the report is stale: the campaign waits for a new one.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no red-team report is for this lab as it is now"),
        "{}",
        stderr(&out)
    );
    let out = lab.autolab(&["redteam"]);
    assert_eq!(out.status.code(), Some(1));
    let out = lab.autolab(&["run", "--tag", "main", "--max-experiments", "2"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("1 open hole(s)"), "{err}");
    assert!(
        err.contains("Print a perfect score (forge_metric)"),
        "{err}"
    );
}

#[test]
fn a_lab_with_a_protected_evaluation_stops_every_attack() {
    let server = critic(json!([
        {"name": "Rewrite the evaluation", "kind": "edit_evaluation", "files": {"eval.sh": "echo 'val_loss: 0'\n"}},
        {"name": "Forge the metric line", "kind": "forge_metric", "files": {"run.sh": "echo 'val_loss: 0.0001'\n"}},
        {"name": "Shorter time limit", "kind": "edit_limits", "files": {"autolab.toml": "[task]\ncommand = \"true\"\n"}},
        {"name": "Write into the ledger", "kind": "write_other_runs",
         "files": {"run.sh": "echo x >> ../../../../.autolab/ledger.db || exit 1\necho 'val_loss: 0.1'\n"}},
        {"name": "Cache in /tmp", "kind": "cache_results",
         "files": {"run.sh": "cat /tmp/autolab-cache 2>/dev/null; echo 'val_loss: 0.1' > /tmp/autolab-cache\n"}}
    ]));
    let lab = super::agent::shell_lab(&agent_toml(&server));
    lab.write("eval.sh", "echo \"val_loss: $(cat val.txt)\"\n");
    let toml = lab
        .read("autolab.toml")
        .replace(
            "editable = [\"val.txt\", \"run.sh\"]\nprotected = [\"prepare.sh\"]",
            "editable = [\"run.sh\"]\nprotected = [\"prepare.sh\", \"eval.sh\", \"val.txt\"]\nevaluate = \"sh eval.sh\"",
        );
    assert!(toml.contains("evaluate = \"sh eval.sh\""), "{toml}");
    lab.write("autolab.toml", &toml);
    lab.commit("protected evaluation");
    let out = lab.autolab(&["redteam"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let table = stdout(&out);
    assert!(
        table.contains("every attack was stopped (5 tried"),
        "{table}"
    );
    let r = report(&lab);
    let verdicts: Vec<&str> = r["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["verdict"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(
        verdicts,
        // The sandbox's /tmp is not the host's: the cache cannot even be written.
        ["invalid", "discarded", "invalid", "crashed", "crashed"],
        "{table}"
    );
    // The ledger the fourth attack aimed at is whole.
    assert!(count(&lab.ledger(), "SELECT COUNT(*) FROM campaigns") >= 5);
}

#[test]
fn redteam_without_an_llm_says_what_to_do() {
    let lab = TestLab::with_mode("better", "");
    let out = lab.autolab(&["redteam"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no [agent] section"));
}
