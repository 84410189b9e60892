//! A run that finished and was recorded, but whose experiment got no verdict (autolab died
//! between the two), is judged from what it recorded on resume: it is not run again.

use std::sync::atomic::AtomicBool;

use autolab_core::experiment::Verdict;
use autolab_core::ledger::Ledger;
use autolab_engine::{Lab, Parts, RunOptions, run_campaign_with};

use super::common::{Appender, Edits, Quiet, commit_all};

/// A lab where each line in worse.txt adds 0.3 to the loss (1.0 without), every run counted
/// in runs.log; a campaign of the baseline and #1 (one more line) has run in it.
fn worse_lab(root: &std::path::Path, extra_toml: &str) -> Lab {
    std::fs::write(
        root.join("train.sh"),
        "echo run >> ../../../../runs.log\n\
         w=$(wc -l < worse.txt)\n\
         awk -v w=\"$w\" 'BEGIN { printf \"val_loss: %.6f\\n\", 1 + 0.3 * w }'\n",
    )
    .unwrap();
    std::fs::write(root.join("worse.txt"), "").unwrap();
    std::fs::write(
        root.join("autolab.toml"),
        format!(
            "[task]\ncommand = \"sh train.sh\"\neditable = [\"worse.txt\"]\n\
             [metrics]\nscore = {{ val_loss = {{ goal = \"minimize\" }} }}\n{extra_toml}"
        ),
    )
    .unwrap();
    std::fs::write(root.join(".gitignore"), "runs.log\n").unwrap();
    commit_all(root);
    let lab = Lab::open(root).unwrap();
    campaign(&lab);
    lab
}

/// Runs (or resumes) campaign `t` of two experiments, #1 appending a line to worse.txt.
fn campaign(lab: &Lab) {
    let opts = RunOptions {
        tag: "t".into(),
        max_experiments: Some(2),
        ..RunOptions::default()
    };
    let parts = Parts {
        proposer: Some(Box::new(Edits(vec!["worse.txt"]))),
        coder: Some(Box::new(Appender)),
        ..Parts::default()
    };
    run_campaign_with(lab, &opts, &mut Quiet, &AtomicBool::new(false), parts).unwrap();
}

/// How many runs have run.
fn ran(root: &std::path::Path) -> usize {
    std::fs::read_to_string(root.join("runs.log"))
        .unwrap()
        .lines()
        .count()
}

#[test]
fn a_recorded_but_unjudged_run_is_judged_on_resume_not_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let lab = worse_lab(root, "");
    let before = ran(root);
    assert!(before >= 2, "the baseline and #1 ran");

    // autolab died after #1's run was recorded and before its verdict: the experiment is
    // still running, its run ended with metrics, nothing judged it.
    let db = root.join(".autolab/ledger.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let changed = conn
            .execute(
                "UPDATE experiments SET state = 'running', verdict = NULL, reason = NULL, \
                 score = NULL, finalized = 0 WHERE number = 1",
                [],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }

    campaign(&lab);
    assert_eq!(ran(root), before, "resuming ran nothing again");
    let ledger = Ledger::open(&db).unwrap();
    let c = ledger.campaign("t").unwrap().unwrap();
    let exps = ledger.experiments(c.id).unwrap();
    assert_eq!(exps.len(), 2, "{exps:?}");
    assert_eq!(exps[1].verdict, Some(Verdict::Discarded), "{:?}", exps[1]);
    assert!((exps[1].score.unwrap() - 1.3).abs() < 1e-9, "{:?}", exps[1]);
    assert_eq!(ledger.runs(exps[1].row).unwrap().len(), 1);
}

/// An experiment moved onto a newer incumbent (a new commit, state `confirming`) whose
/// confirmation had not started when autolab died: on resume its new commit runs; the run of
/// its old commit is not judged as if it were the new one's.
#[test]
fn a_moved_experiment_runs_its_new_commit_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let lab = worse_lab(root, "[decide]\npolicy = \"strict\"\n");
    let before = ran(root);

    // #1 was moved: a new commit (its change undone: 1.0, not 1.3), not yet run.
    let db = root.join(".autolab/ledger.db");
    let old: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT commit_sha FROM experiments WHERE number = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let tree = super::common::git(root, &["rev-parse", "HEAD^{tree}"]);
    let moved = super::common::git(
        root,
        &["commit-tree", tree.trim(), "-p", old.trim(), "-m", "moved"],
    );
    // (No verdict yet: its archive ref was never written.)
    super::common::git(root, &["update-ref", "-d", "refs/autolab/t/archive/0001"]);
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let changed = conn
            .execute(
                "UPDATE experiments SET state = 'confirming', verdict = NULL, reason = NULL, \
                 score = NULL, finalized = 0, commit_sha = ?1 WHERE number = 1",
                [moved.trim()],
            )
            .unwrap();
        assert_eq!(changed, 1);
    }

    campaign(&lab);
    assert_eq!(ran(root), before + 1, "the new commit ran");
    let ledger = Ledger::open(&db).unwrap();
    let c = ledger.campaign("t").unwrap().unwrap();
    let exps = ledger.experiments(c.id).unwrap();
    let runs = ledger.runs(exps[1].row).unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[1].commit.as_deref(), Some(moved.trim()));
    assert!((exps[1].score.unwrap() - 1.0).abs() < 1e-9, "{:?}", exps[1]);
}

mod after_a_crash {
    //! What a restart finds after autolab died at some instant, set up in the ledger and git,
    //! and what reconcile makes of it (with the scripted runner).

    use std::sync::Arc;

    use autolab_core::ledger::Ledger;

    use super::super::common::{Quiet, git};
    use super::super::fake_runner::{Scripted, loss};
    use super::super::scripted::{experiments, lab, run, try_run};

    /// A campaign of the baseline (1.0) and #1 (0.5, kept); returns #1's commit.
    fn two(dir: &std::path::Path) -> (autolab_engine::Lab, String) {
        let lab = lab(dir, "");
        run(
            &lab,
            2,
            Arc::new(Scripted::new(|n| loss(1.0 / f64::from(n + 1)))),
            &mut Quiet,
        );
        let one = experiments(dir)[1].commit.clone().unwrap();
        assert_eq!(git(dir, &["rev-parse", "autolab/t"]), one);
        (lab, one)
    }

    fn sql(dir: &std::path::Path, q: &str) {
        let c = rusqlite::Connection::open(dir.join(".autolab/ledger.db")).unwrap();
        assert!(c.execute(q, []).unwrap() >= 1, "{q}");
    }

    #[test]
    fn a_missing_incumbent_branch_is_made_again_at_the_incumbent() {
        let dir = tempfile::tempdir().unwrap();
        let (lab, one) = two(dir.path());
        git(dir.path(), &["update-ref", "-d", "refs/heads/autolab/t"]);
        run(&lab, 2, Arc::new(Scripted::new(|_| loss(0.1))), &mut Quiet);
        assert_eq!(git(dir.path(), &["rev-parse", "autolab/t"]), one);
    }

    #[test]
    fn a_branch_behind_a_kept_verdict_is_moved_forward() {
        let dir = tempfile::tempdir().unwrap();
        let (lab, one) = two(dir.path());
        let base = experiments(dir.path())[0].commit.clone().unwrap();
        // Died between #1's verdict and moving the branch.
        git(dir.path(), &["update-ref", "refs/heads/autolab/t", &base]);
        sql(
            dir.path(),
            "UPDATE experiments SET finalized = 0 WHERE number = 1",
        );
        run(&lab, 2, Arc::new(Scripted::new(|_| loss(0.1))), &mut Quiet);
        assert_eq!(git(dir.path(), &["rev-parse", "autolab/t"]), one);
    }

    #[test]
    fn a_branch_someone_else_moved_stops_the_campaign_and_stays() {
        let dir = tempfile::tempdir().unwrap();
        let (lab, _) = two(dir.path());
        let other = git(
            dir.path(),
            &["commit-tree", "-m", "elsewhere", "HEAD^{tree}"],
        );
        git(dir.path(), &["update-ref", "refs/heads/autolab/t", &other]);
        let Err(e) = try_run(&lab, 3, Arc::new(Scripted::new(|_| loss(0.1))), &mut Quiet) else {
            panic!("a moved branch stops the campaign");
        };
        assert!(e.to_string().contains("autolab/t"), "{e}");
        assert_eq!(git(dir.path(), &["rev-parse", "autolab/t"]), other);
        assert_eq!(experiments(dir.path()).len(), 2, "nothing ran");
    }

    #[test]
    fn a_verdict_whose_git_effects_did_not_land_gets_them_on_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (lab, _) = two(dir.path());
        // #2 is discarded; autolab died before archiving its commit.
        run(&lab, 3, Arc::new(Scripted::new(|_| loss(0.9))), &mut Quiet);
        let two = experiments(dir.path())[2].clone();
        assert!(two.verdict.is_some() && two.finalized);
        let archive = "refs/autolab/t/archive/0002";
        git(dir.path(), &["update-ref", "-d", archive]);
        sql(
            dir.path(),
            "UPDATE experiments SET finalized = 0 WHERE number = 2",
        );
        let runner = Arc::new(Scripted::new(|_| loss(0.1)));
        run(&lab, 3, runner.clone(), &mut Quiet);
        assert!(runner.ran().is_empty());
        assert_eq!(
            git(dir.path(), &["rev-parse", archive]),
            two.commit.unwrap()
        );
        assert!(experiments(dir.path())[2].finalized);
    }

    #[test]
    fn a_worktree_the_ledger_does_not_know_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (lab, _) = two(dir.path());
        // Died after making #2's worktree and branch, before the ledger had #2.
        let wt = dir.path().join(".autolab/worktrees/t/0002");
        git(
            dir.path(),
            &[
                "worktree",
                "add",
                "-q",
                "-b",
                "autolab-exp/t/0002",
                wt.to_str().unwrap(),
                "HEAD",
            ],
        );
        let runner = Arc::new(Scripted::new(|_| loss(0.1)));
        run(&lab, 2, runner.clone(), &mut Quiet);
        assert!(runner.ran().is_empty());
        assert!(!wt.exists());
        assert_eq!(
            git(dir.path(), &["branch", "--list", "autolab-exp/t/0002"]),
            ""
        );
    }

    #[test]
    fn queued_proposed_and_lost_experiments_run_again_and_judged_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let (lab, _) = two(dir.path());
        let ledger = Ledger::open(&dir.path().join(".autolab/ledger.db")).unwrap();
        let c = ledger.campaign("t").unwrap().unwrap();
        let parent = experiments(dir.path())[1].commit.clone().unwrap();
        drop(ledger);
        let mut l = Ledger::open(&dir.path().join(".autolab/ledger.db")).unwrap();
        // #2 proposed (its change never made), #3 proposed and left as it was.
        for n in [2, 3] {
            l.propose(c.id, n, &parent, "test", "edit a.txt", None)
                .unwrap();
        }
        // #3 was running when autolab died: a run with no end.
        let row3 = l.experiment(c.id, 3).unwrap().unwrap().row;
        sql(
            dir.path(),
            &format!("UPDATE experiments SET state = 'running' WHERE id = {row3}"),
        );
        l.start_run(row3, 0, "runs/x", &parent).unwrap();
        let runner = Arc::new(Scripted::new(|_| loss(0.4)));
        run(&lab, 4, runner.clone(), &mut Quiet);
        let mut ran = runner.ran();
        ran.sort();
        assert_eq!(ran, [2, 3], "the unjudged ones ran, #0 and #1 did not");
        let exps = experiments(dir.path());
        assert!(exps[2..].iter().all(|e| e.verdict.is_some()), "{exps:?}");
        let runs3 = l.runs(row3).unwrap();
        assert_eq!(runs3[0].outcome.as_str(), "lost");
    }
}
