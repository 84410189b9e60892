//! Cluster jobs outlive the loop: a restarted campaign waits for them again, and a `cancel`
//! reaches a job that is still waiting for its turn to be waited for.

use std::sync::Arc;

use autolab_core::control::Command;
use autolab_core::experiment::{JobRef, State, Verdict};
use autolab_core::ledger::{Changes, Ledger};
use serde_json::json;

use super::common::{Quiet, git};
use super::fake_runner::{Act, Scripted, loss};
use super::scripted::{experiments, lab, run_with};

/// Leaves experiments `numbers` as a killed autolab would: each running as a cluster job.
fn running_jobs(lab: &autolab_engine::Lab, numbers: &[u32]) {
    let mut l = Ledger::open(&lab.ledger_path()).unwrap();
    let c = l.campaign("t").unwrap().unwrap();
    let base = l.experiment(c.id, 0).unwrap().unwrap().parent;
    for &n in numbers {
        let row = l
            .propose(c.id, n, &base, "test", "edit a.txt", None)
            .unwrap();
        // Its worktree, as the killed autolab left it.
        let wt = lab.worktree("t", n);
        git(
            &lab.root,
            &["worktree", "add", "--detach", &wt.to_string_lossy(), &base],
        );
        l.transition_with(row, State::Implementing, json!({}), &Changes::default())
            .unwrap();
        let ch = Changes {
            commit: Some(base.clone()),
            lines: Some((0, 0)),
            ..Changes::default()
        };
        l.transition_with(row, State::Queued, json!({}), &ch)
            .unwrap();
        let dir = lab.run_dir("t", n, 0);
        let (run, _) = l.start_run(row, 1, &dir.to_string_lossy(), &base).unwrap();
        let job = JobRef {
            scheduler: "slurm".into(),
            id: n.to_string(),
        };
        l.set_run_job(run, &job).unwrap();
        l.transition_with(row, State::Running, json!({}), &Changes::default())
            .unwrap();
    }
}

#[test]
fn cancelling_a_job_not_yet_waited_for_again_kills_it_and_touches_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(dir.path(), "");
    let first = Arc::new(Scripted::new(|_| loss(1.0)).cluster());
    run_with(&lab, 1, 1, first, &mut Quiet);
    running_jobs(&lab, &[1, 2]);
    // One slot: #1 is waited for first; while it is, #2 (queued to be waited for) is cancelled.
    let db = lab.ledger_path();
    let runner = Arc::new(
        Scripted::new(|n| if n == 2 { Act::Hold } else { loss(0.5) })
            .cluster()
            .on_start(move |n| {
                if n == 1 {
                    let l = Ledger::open(&db).unwrap();
                    let c = l.campaign("t").unwrap().unwrap();
                    l.controls().push(c.id, &Command::Cancel(2), "t").unwrap();
                }
            }),
    );
    run_with(&lab, 3, 1, runner.clone(), &mut Quiet);
    assert_eq!(
        *runner.attached.lock().unwrap(),
        [(1, false), (2, true)],
        "#2's job was waited for again only to be killed"
    );
    assert!(runner.ran().is_empty(), "nothing ran anew");
    let exps = experiments(dir.path());
    assert_eq!(
        exps[1].verdict,
        Some(Verdict::Kept),
        "#1 was judged as usual"
    );
    assert_eq!(exps[2].verdict, Some(Verdict::Cancelled));
    let l = Ledger::open(&lab.ledger_path()).unwrap();
    let runs = l.runs(exps[2].row).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_ne!(
        runs[0].outcome,
        autolab_core::experiment::RunOutcome::Running,
        "its run ended in the ledger"
    );
}
