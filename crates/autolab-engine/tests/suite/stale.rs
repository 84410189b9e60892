//! Under `strict` with two slots, a candidate built on the old incumbent that beats the new
//! one is moved onto it (its change on top of the kept one) before it is kept.

use std::sync::atomic::AtomicBool;

use autolab_core::experiment::Verdict;
use autolab_core::ledger::Ledger;
use autolab_engine::{Lab, Parts, RunOptions, run_campaign_with};

use super::common::{Appender, Edits, Quiet, commit_all, git};

#[test]
fn a_stale_better_candidate_is_moved_onto_the_new_incumbent_before_it_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Each line in a.txt takes 0.1 off the loss, each in b.txt 0.2. Both candidates start
    // from the baseline; #2 (b.txt) ends only once #1 has its verdict (its worktree, the
    // sibling `0001`, is gone then), so #2 is the stale one.
    std::fs::write(
        root.join("train.sh"),
        "a=$(wc -l < a.txt); b=$(wc -l < b.txt)\n\
         if [ \"$b\" -gt 0 ] && [ \"$a\" -eq 0 ]; then while [ -d ../0001 ]; do sleep 0.05; done; fi\n\
         awk -v a=\"$a\" -v b=\"$b\" 'BEGIN { printf \"val_loss: %.6f\\n\", 1 - 0.1 * a - 0.2 * b }'\n",
    )
    .unwrap();
    std::fs::write(root.join("a.txt"), "").unwrap();
    std::fs::write(root.join("b.txt"), "").unwrap();
    std::fs::write(
        root.join("autolab.toml"),
        "[task]\ncommand = \"sh train.sh\"\neditable = [\"a.txt\", \"b.txt\"]\n\
         [metrics]\nscore = { val_loss = { goal = \"minimize\" } }\n[decide]\npolicy = \"strict\"\n\
         [runner]\nparallel = 2\n",
    )
    .unwrap();
    commit_all(root);

    let lab = Lab::open(root).unwrap();
    let opts = RunOptions {
        tag: "t".into(),
        max_experiments: Some(3),
        ..RunOptions::default()
    };
    let parts = Parts {
        proposer: Some(Box::new(Edits(vec!["a.txt", "b.txt"]))),
        coder: Some(Box::new(Appender)),
        ..Parts::default()
    };
    run_campaign_with(&lab, &opts, &mut Quiet, &AtomicBool::new(false), parts).unwrap();

    let ledger = Ledger::open(&root.join(".autolab/ledger.db")).unwrap();
    let c = ledger.campaign("t").unwrap().unwrap();
    let exps = ledger.experiments(c.id).unwrap();
    assert_eq!(exps[1].verdict, Some(Verdict::Kept), "{:?}", exps[1]);
    assert_eq!(exps[2].verdict, Some(Verdict::Kept), "{:?}", exps[2]);
    // The branch holds #2's change on top of #1's: both files changed, #1 an ancestor.
    let head = git(root, &["rev-parse", "autolab/t"]);
    let one = exps[1].commit.clone().unwrap();
    git(root, &["merge-base", "--is-ancestor", &one, &head]);
    assert_eq!(git(root, &["show", "autolab/t:a.txt"]), "# changed");
    assert_eq!(git(root, &["show", "autolab/t:b.txt"]), "# changed");
    // The ledger records the move: #2's parent is #1, its commit the branch's head, its lines
    // counted from #1; the commit it had before the move stays reachable.
    assert_eq!(exps[2].parent, one);
    assert_eq!(exps[2].commit.as_deref(), Some(head.as_str()));
    assert_eq!((exps[2].lines_added, exps[2].lines_removed), (1, 0));
    let before = git(root, &["rev-parse", "refs/autolab/t/archive/0002-pre-1"]);
    assert_ne!(before, head);
    git(
        root,
        &[
            "merge-base",
            "--is-ancestor",
            &exps[0].commit.clone().unwrap(),
            &before,
        ],
    );
    // And the kept score is the one measured on top of #1 (0.7), not the stale 0.8.
    assert!((exps[2].score.unwrap() - 0.7).abs() < 1e-9, "{:?}", exps[2]);
}
