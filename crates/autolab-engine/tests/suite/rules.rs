//! A candidate that changes a file outside `editable` is `invalid` before anything runs.

use std::sync::atomic::AtomicBool;

use autolab_core::experiment::Verdict;
use autolab_core::ledger::Ledger;
use autolab_engine::{Lab, Parts, RunOptions, run_campaign_with};

use super::common::{Appender, Edits, Quiet, commit_all};

#[test]
fn changes_outside_editable_or_to_protected_files_are_invalid_and_never_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("train.sh"),
        "echo ran >> ../../../../ran.log\necho 'val_loss: 0.5'\n",
    )
    .unwrap();
    std::fs::write(root.join("secret.txt"), "x\n").unwrap();
    std::fs::write(root.join("prepare.sh"), "x\n").unwrap();
    std::fs::write(
        root.join("autolab.toml"),
        "[task]\ncommand = \"sh train.sh\"\neditable = [\"*.sh\"]\nprotected = [\"prepare.sh\"]\n[metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n",
    )
    .unwrap();
    commit_all(root);

    let lab = Lab::open(root).unwrap();
    let opts = RunOptions {
        tag: "t".into(),
        max_experiments: Some(4),
        ..RunOptions::default()
    };
    let parts = Parts {
        proposer: Some(Box::new(Edits(vec![
            "secret.txt",
            "prepare.sh",
            "train.sh",
        ]))),
        coder: Some(Box::new(Appender)),
        ..Parts::default()
    };
    run_campaign_with(&lab, &opts, &mut Quiet, &AtomicBool::new(false), parts).unwrap();

    let ledger = Ledger::open(&root.join(".autolab/ledger.db")).unwrap();
    let c = ledger.campaign("t").unwrap().unwrap();
    let exps = ledger.experiments(c.id).unwrap();
    assert_eq!(exps[1].verdict, Some(Verdict::Invalid));
    assert_eq!(
        exps[1].reason.as_deref(),
        Some("changes file(s) outside `editable`: secret.txt")
    );
    assert_eq!(ledger.run_count(exps[1].row).unwrap(), 0);
    assert_eq!(exps[2].verdict, Some(Verdict::Invalid));
    assert_eq!(
        exps[2].reason.as_deref(),
        Some("changes protected file(s): prepare.sh")
    );
    assert_eq!(ledger.run_count(exps[2].row).unwrap(), 0);
    // The editable change ran (and did not beat the baseline: same score).
    assert_eq!(exps[3].verdict, Some(Verdict::Discarded));
    // The baseline's 3 noise-measuring runs and the one editable candidate ran; nothing else.
    assert_eq!(
        std::fs::read_to_string(root.join("ran.log"))
            .unwrap()
            .lines()
            .count(),
        4
    );
}
