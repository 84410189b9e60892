//! A campaign's config is part of the campaign: resuming under another objective is refused,
//! operational changes are recorded, and a config no commit holds is warned about.

use super::common::*;

fn edit_config(lab: &TestLab, from: &str, to: &str) {
    let toml = lab.read("autolab.toml");
    assert!(toml.contains(from), "{toml}");
    lab.write("autolab.toml", &toml.replace(from, to));
}

#[test]
fn resuming_under_a_flipped_goal_is_refused_with_a_diff() {
    let lab = TestLab::with_mode("better", "[decide]\npolicy = \"strict\"\n");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before = count(&lab.ledger(), "SELECT COUNT(*) FROM experiments");
    edit_config(&lab, "goal = \"minimize\"", "goal = \"maximize\"");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "4"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "metrics.score.val_loss: was goal minimize, weight 1, now goal maximize, weight 1"
        ),
        "{err}"
    );
    assert!(err.contains("--tag t-2"), "the hint names a new tag: {err}");
    assert_eq!(
        count(&lab.ledger(), "SELECT COUNT(*) FROM experiments"),
        before,
        "nothing ran under the new objective"
    );
    // A new tag runs under the new objective.
    let out = lab.autolab(&["run", "--tag", "t-2", "--max-experiments", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn operational_changes_are_allowed_and_recorded() {
    let lab = TestLab::with_mode("better", "[decide]\npolicy = \"strict\"\n");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    edit_config(&lab, "timeout = \"3s\"", "timeout = \"5s\"");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("task.timeout"), "{}", stderr(&out));
    let detail: String = lab
        .ledger()
        .query_row(
            "SELECT detail FROM events WHERE kind = 'config_changed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(detail.contains("task.timeout: was 3s, now 5s"), "{detail}");
    // Recorded once: the next run under the same config records nothing new.
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        count(
            &lab.ledger(),
            "SELECT COUNT(*) FROM events WHERE kind = 'config_changed'"
        ),
        1
    );
}

#[test]
fn an_uncommitted_or_untracked_config_is_warned_about() {
    let lab = TestLab::with_mode("better", "[decide]\npolicy = \"strict\"\n");
    edit_config(&lab, "timeout = \"3s\"", "timeout = \"4s\"");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("autolab.toml has uncommitted changes"),
        "{}",
        stderr(&out)
    );
    lab.git(&["rm", "--cached", "--quiet", "autolab.toml"]);
    lab.git(&["commit", "--quiet", "-m", "untrack"]);
    let out = lab.autolab(&["run", "--tag", "u", "--max-experiments", "1"]);
    assert!(
        stderr(&out).contains("autolab.toml is not tracked by git"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_failed_baseline_is_retried_once_the_lab_changed() {
    let lab = TestLab::new();
    lab.write("run.sh", "echo 'training done'\n");
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"sh run.sh\"\neditable = [\"run.sh\"]\n\
         [metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n[decide]\npolicy = \"strict\"\n",
    );
    lab.commit("lab");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("baseline"), "{}", stderr(&out));
    // Nothing changed: the same failure, not a silent retry.
    let again = lab.autolab(&["run", "--tag", "t", "--max-experiments", "1"]);
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert!(
        !stderr(&again).contains("starts afresh"),
        "{}",
        stderr(&again)
    );
    // The fix is committed: the tag starts afresh and the baseline is kept.
    lab.write("run.sh", "echo 'val_loss: 0.5'\n");
    lab.commit("print the metric");
    let fixed = lab.autolab(&["run", "--tag", "t", "--max-experiments", "1"]);
    assert!(fixed.status.success(), "{}", stderr(&fixed));
    assert!(
        stderr(&fixed).contains("starts afresh"),
        "{}",
        stderr(&fixed)
    );
    let rows = lab.json(&["results", "--format", "json"]);
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["verdict"], "kept", "{rows}");
    assert_eq!(
        lab.git(&["rev-parse", "autolab/t"]).trim(),
        lab.git(&["rev-parse", "HEAD"]).trim(),
        "the incumbent line starts at the fixed commit"
    );
}
