//! A run that finished and was recorded, but whose experiment got no verdict (autolab died
//! between the two), is judged from what it recorded on resume: it is not run again.

use std::sync::atomic::AtomicBool;

use autolab_core::experiment::Verdict;
use autolab_core::ledger::Ledger;
use autolab_engine::{Lab, Parts, RunOptions, run_campaign_with};

use super::common::{Appender, Edits, Quiet, git};

#[test]
fn a_recorded_but_unjudged_run_is_judged_on_resume_not_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Each line in worse.txt adds 0.3 to the loss; every run is counted in runs.log.
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
        "[task]\ncommand = \"sh train.sh\"\neditable = [\"worse.txt\"]\n\
         [metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n",
    )
    .unwrap();
    std::fs::write(root.join(".gitignore"), "runs.log\n").unwrap();
    git(root, &["init", "--quiet"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "--quiet", "-m", "lab"]);

    let lab = Lab::open(root).unwrap();
    let opts = RunOptions {
        tag: "t".into(),
        max_experiments: Some(2),
        ..RunOptions::default()
    };
    let parts = || Parts {
        proposer: Some(Box::new(Edits(vec!["worse.txt"]))),
        coder: Some(Box::new(Appender)),
        ..Parts::default()
    };
    run_campaign_with(&lab, &opts, &mut Quiet, &AtomicBool::new(false), parts()).unwrap();
    let runs_log = root.join("runs.log");
    let ran = || std::fs::read_to_string(&runs_log).unwrap().lines().count();
    let before = ran();
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

    run_campaign_with(&lab, &opts, &mut Quiet, &AtomicBool::new(false), parts()).unwrap();
    assert_eq!(ran(), before, "resuming ran nothing again");
    let ledger = Ledger::open(&db).unwrap();
    let c = ledger.campaign("t").unwrap().unwrap();
    let exps = ledger.experiments(c.id).unwrap();
    assert_eq!(exps.len(), 2, "{exps:?}");
    assert_eq!(exps[1].verdict, Some(Verdict::Discarded), "{:?}", exps[1]);
    assert!((exps[1].score.unwrap() - 1.3).abs() < 1e-9, "{:?}", exps[1]);
    assert_eq!(ledger.runs(exps[1].row).unwrap().len(), 1);
}
