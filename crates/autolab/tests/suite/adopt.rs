//! Using and discarding a campaign's result: `autolab apply` brings the incumbent or one
//! experiment into the user's branch (or prints it), `autolab forget` removes a campaign.

use super::common::*;

const RUN: &str = "#!/bin/sh\nif grep -q better params.json; then echo 'val_loss: 0.3'\nelif grep -q worse params.json; then echo 'val_loss: 0.7'\nelse echo 'val_loss: 0.5'; fi\n";

/// A lab whose one candidate writes `{"mode": "<mode>"}` into params.json.
fn lab(mode: &str) -> TestLab {
    let lab = TestLab::new();
    lab.write("run.sh", RUN);
    lab.write("params.json", "{\"mode\": \"base\"}\n");
    lab.write(
        "autolab.toml",
        &format!(
            "[task]\ncommand = \"sh run.sh\"\neditable = [\"params.json\"]\ntimeout = \"60s\"\n\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n\n\
             [params]\napply = {{ json = \"params.json\" }}\nmode = {{ choice = [\"{mode}\"] }}\n\n\
             [decide]\npolicy = \"strict\"\n"
        ),
    );
    lab.commit("lab");
    lab
}

fn run(lab: &TestLab, tag: &str) -> std::process::Output {
    let out = lab.autolab(&["run", "--tag", tag, "--max-experiments", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

fn rev(lab: &TestLab, r: &str) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(lab.path())
        .args(["rev-parse", "--verify", "--quiet", r])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn the_summary_names_apply_and_apply_fast_forwards_to_the_incumbent() {
    let lab = lab("better");
    let out = run(&lab, "t");
    let summary = stdout(&out);
    assert!(
        summary.contains("autolab apply --tag t")
            && summary.contains("git merge --ff-only autolab/t"),
        "{summary}"
    );
    let head = rev(&lab, "HEAD").unwrap();
    let tip = rev(&lab, "autolab/t").unwrap();
    assert_ne!(head, tip);
    let out = lab.autolab(&["apply"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("fast-forward"), "{}", stdout(&out));
    assert_eq!(rev(&lab, "HEAD").unwrap(), tip);
    assert!(lab.read("params.json").contains("better"));
    // Applied again: nothing to do.
    let again = lab.autolab(&["apply", "--tag", "t"]);
    assert!(
        stdout(&again).contains("already contains"),
        "{}",
        stdout(&again)
    );
    assert_eq!(rev(&lab, "HEAD").unwrap(), tip);
}

#[test]
fn apply_merges_when_the_branch_moved_on_and_refuses_a_dirty_tree() {
    let lab = lab("better");
    run(&lab, "t");
    lab.write("notes.md", "my own work\n");
    lab.commit("my own work");
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "2"]);
    assert!(
        stdout(&out).contains("your branch moved on"),
        "{}",
        stdout(&out)
    );
    // A dirty tree is refused, and nothing changes.
    lab.write("run.sh", "echo edited\n");
    let before = rev(&lab, "HEAD").unwrap();
    let out = lab.autolab(&["apply"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("uncommitted changes") && err.contains("run.sh"),
        "{err}"
    );
    assert!(err.contains("hint:") && err.contains("git stash"), "{err}");
    assert_eq!(rev(&lab, "HEAD").unwrap(), before);
    assert_eq!(lab.read("run.sh"), "echo edited\n");
    // Clean again: a merge that keeps the user's own commit.
    lab.git(&["checkout", "--", "run.sh"]);
    let out = lab
        .cmd()
        .args(["apply"])
        .env("GIT_AUTHOR_NAME", "u")
        .env("GIT_AUTHOR_EMAIL", "u@u")
        .env("GIT_COMMITTER_NAME", "u")
        .env("GIT_COMMITTER_EMAIL", "u@u")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("(merge)"), "{}", stdout(&out));
    assert!(lab.read("params.json").contains("better"));
    assert!(lab.path().join("notes.md").exists());
    let parents = lab.git(&["rev-list", "--parents", "-n", "1", "HEAD"]);
    assert_eq!(
        parents.split_whitespace().count(),
        3,
        "a merge commit: {parents}"
    );
}

#[test]
fn apply_print_shows_params_and_diff_and_touches_nothing() {
    let lab = lab("better");
    run(&lab, "t");
    let before = rev(&lab, "HEAD").unwrap();
    let out = lab.autolab(&["apply", "--print"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("\"mode\": \"better\""), "{text}");
    assert!(text.contains("-{\"mode\": \"base\"}"), "{text}");
    assert!(text.contains("+mode = ") || text.contains("+{"), "{text}");
    assert!(text.contains("val_loss=0.3"), "{text}");
    assert_eq!(rev(&lab, "HEAD").unwrap(), before);
    assert!(lab.read("params.json").contains("base"));
}

#[test]
fn apply_n_cherry_picks_a_discarded_experiment_from_its_archive() {
    let lab = lab("worse");
    run(&lab, "t");
    let one = lab.json(&["show", "1", "--json"]);
    assert_eq!(one["verdict"], "discarded", "{one}");
    assert!(rev(&lab, "refs/autolab/t/archive/0001").is_some());
    // The incumbent is still the baseline: nothing to apply.
    let out = lab.autolab(&["apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("kept nothing"), "{}", stderr(&out));
    let before = rev(&lab, "HEAD").unwrap();
    let out = lab
        .cmd()
        .args(["apply", "1"])
        .env("GIT_COMMITTER_NAME", "u")
        .env("GIT_COMMITTER_EMAIL", "u@u")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("cherry-pick"), "{}", stdout(&out));
    assert_eq!(rev(&lab, "HEAD^").unwrap(), before);
    assert!(lab.read("params.json").contains("worse"));
}

#[test]
fn forget_removes_a_campaigns_rows_and_branches_and_keeps_its_archive() {
    let lab = lab("worse");
    run(&lab, "gone");
    run(&lab, "other");
    assert!(rev(&lab, "refs/autolab/gone/archive/0001").is_some());
    assert!(lab.path().join(".autolab/runs/gone").exists());
    // Without a terminal and without --yes, nothing happens.
    let out = lab.autolab(&["forget", "gone"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert!(rev(&lab, "autolab/gone").is_some());

    let out = lab.autolab(&["forget", "gone", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("2 experiment(s)"), "{}", stdout(&out));
    let conn = lab.ledger();
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM campaigns WHERE tag = 'gone'"),
        0
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM experiments WHERE campaign_id NOT IN (SELECT id FROM campaigns)"
        ),
        0
    );
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM runs WHERE experiment_id NOT IN (SELECT id FROM experiments)"
        ),
        0
    );
    assert!(rev(&lab, "autolab/gone").is_none());
    assert!(
        lab.git(&["for-each-ref", "refs/heads/autolab-exp/gone/"])
            .trim()
            .is_empty()
    );
    // The archive is kept, out of the tag's way.
    assert!(rev(&lab, "refs/autolab/gone/archive/0001").is_none());
    let kept = lab.git(&[
        "for-each-ref",
        "--format=%(refname)",
        "refs/autolab-forgotten/gone/",
    ]);
    assert!(kept.trim().ends_with("/archive/0001"), "{kept}");
    assert!(!lab.path().join(".autolab/runs/gone").exists());
    // The other campaign is whole.
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM experiments e JOIN campaigns c ON c.id = e.campaign_id WHERE c.tag = 'other'"
        ),
        2
    );
    assert!(rev(&lab, "autolab/other").is_some());
    // The tag starts afresh: a new baseline.
    run(&lab, "gone");
    let conn = lab.ledger();
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM experiments e JOIN campaigns c ON c.id = e.campaign_id WHERE c.tag = 'gone'"
        ),
        2
    );
    // --purge also drops the archive refs.
    let out = lab.autolab(&["forget", "gone", "--yes", "--purge"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(rev(&lab, "refs/autolab/gone/archive/0001").is_none());
    assert!(
        lab.git(&["for-each-ref", "refs/autolab-forgotten/gone/"])
            .trim()
            .is_empty(),
        "--purge also drops what an earlier forget kept"
    );
    assert!(rev(&lab, "refs/autolab/other/archive/0001").is_some());
    // An unknown tag is a usage error that lists the campaigns.
    let out = lab.autolab(&["forget", "nope", "--yes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("other"), "{}", stderr(&out));
}

#[test]
fn forget_refuses_while_a_run_holds_the_lab() {
    let lab = TestLab::new();
    lab.write("run.sh", "sleep 60\necho 'val_loss: 0.5'\n");
    lab.write(
        "autolab.toml",
        "[task]\ncommand = \"sh run.sh\"\neditable = [\"run.sh\"]\ntimeout = \"90s\"\n\n\
         [metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n\n[decide]\npolicy = \"strict\"\n",
    );
    lab.commit("lab");
    let mut child = lab
        .cmd()
        .args(["run", "--tag", "live", "--max-experiments", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    lab.wait_for("the baseline runs", |c| {
        count(c, "SELECT COUNT(*) FROM runs") > 0
    });
    let out = lab.autolab(&["forget", "live", "--yes"]);
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("live `autolab run`"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert_eq!(
        count(
            &lab.ledger(),
            "SELECT COUNT(*) FROM campaigns WHERE tag = 'live'"
        ),
        1
    );
    assert!(rev(&lab, "autolab/live").is_some());
}
