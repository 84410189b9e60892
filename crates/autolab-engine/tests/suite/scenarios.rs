//! The loop's decisions with a scripted in-process runner: crash streaks, how a failure is
//! named, commands from the control inbox arriving while a run is going, noise-aware
//! confirmations, early stopping, and an LLM outage.

use std::sync::Arc;

use autolab_core::control::Command;
use autolab_core::experiment::Verdict;
use autolab_core::ledger::Ledger;
use autolab_engine::{Ending, Lab, Observer, Report};

use super::common::{Quiet, git, pause_and_wait};
use super::fake_runner::{Act, Scripted, loss};
use super::scripted::{experiments, lab, run};

#[test]
fn crashes_in_a_row_pause_the_campaign_and_the_next_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(dir.path(), "[runner]\nmax_consecutive_crashes = 3\n");
    // #1 dies of a signal, #2 exits 128 (not a signal), #3 exits 3: three in a row.
    let crashing = Arc::new(Scripted::new(|n| match n {
        0 => loss(1.0),
        1 => Act::Signal(9),
        2 => Act::Print("boom\n".into(), 128),
        _ => Act::Print("val_loss: 0.25\nboom\n".into(), 3),
    }));
    let summary = run(&lab, 10, crashing.clone(), &mut Quiet);
    assert_eq!(summary.ending, Ending::Paused);
    assert_eq!(crashing.ran(), [0, 1, 2, 3]);
    let exps = experiments(dir.path());
    let reasons: Vec<&str> = exps[1..]
        .iter()
        .map(|e| e.reason.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(
        reasons,
        ["killed by signal 9", "exit code 128", "exit code 3"]
    );
    assert!(
        exps[1..]
            .iter()
            .all(|e| e.verdict == Some(Verdict::Crashed))
    );
    // What a crashed run printed is kept (it may tell why).
    assert_eq!(
        exps[3].metrics.get("val_loss"),
        Some(&0.25),
        "{:?}",
        exps[3]
    );

    // Run again with code that works: the campaign goes on from #4 to its budget.
    let fixed = Arc::new(Scripted::new(|_| loss(0.5)));
    let summary = run(&lab, 6, fixed.clone(), &mut Quiet);
    assert_eq!(summary.ending, Ending::Budget);
    assert_eq!(fixed.ran(), [4, 5]);
    let four = &experiments(dir.path())[4];
    assert_eq!(four.verdict, Some(Verdict::Kept));
    assert_eq!(
        four.metrics.get("val_loss"),
        Some(&0.5),
        "a scored run's metrics are kept"
    );
}

#[test]
fn a_cancelled_experiment_does_not_end_or_extend_a_crash_streak() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(dir.path(), "[runner]\nmax_consecutive_crashes = 2\n");
    let db = dir.path().join(".autolab/ledger.db");
    // #1 crashes, #2 is cancelled while it runs, #3 crashes: two crashes in a row.
    let runner = Arc::new(
        Scripted::new(|n| match n {
            0 => loss(1.0),
            2 => Act::Hold,
            _ => Act::Print("boom\n".into(), 1),
        })
        .on_start(move |n| {
            if n == 2 {
                let l = Ledger::open(&db).unwrap();
                let c = l.campaign("t").unwrap().unwrap();
                l.controls()
                    .push(c.id, &Command::Cancel(2), "test")
                    .unwrap();
            }
        }),
    );
    let summary = run(&lab, 10, runner.clone(), &mut Quiet);
    assert_eq!(summary.ending, Ending::Paused);
    assert_eq!(runner.ran(), [0, 1, 2, 3]);
    let exps = experiments(dir.path());
    assert_eq!(exps[2].verdict, Some(Verdict::Cancelled), "{:?}", exps[2]);
    assert_eq!(exps[2].reason.as_deref(), Some("cancelled by test"));
    assert_eq!(exps[3].verdict, Some(Verdict::Crashed));
}

/// Pauses again, then resumes, once the campaign said it paused and judged #1 (another
/// terminal would); keeps the notes.
struct Resumer(std::path::PathBuf, Vec<String>, bool);
impl Observer for Resumer {
    fn report(&mut self, r: Report) {
        match r {
            Report::Note(note) => {
                self.2 |= note.starts_with("pause") && note.contains("): paused");
                self.1.push(note);
            }
            Report::Verdict { experiment, .. } if experiment.number == 1 && self.2 => {
                let l = Ledger::open(&self.0).unwrap();
                let c = l.campaign("t").unwrap().unwrap();
                l.controls().push(c.id, &Command::Pause, "again").unwrap();
                l.controls()
                    .push(c.id, &Command::Resume, "resumer")
                    .unwrap();
            }
            _ => {}
        }
    }
}

#[test]
fn a_pause_arriving_mid_run_lets_the_run_finish_and_waits_for_resume() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(dir.path(), "");
    let db = dir.path().join(".autolab/ledger.db");
    let pusher = db.clone();
    let runner = Arc::new(
        Scripted::new(|n| loss(1.0 - 0.1 * f64::from(n))).on_start(move |n| {
            if n == 1 {
                // #1 goes on until the loop has taken the pause.
                pause_and_wait(&pusher);
            }
        }),
    );
    let mut observer = Resumer(db.clone(), Vec::new(), false);
    let summary = run(&lab, 3, runner.clone(), &mut observer);
    assert_eq!(summary.ending, Ending::Budget);
    assert_eq!(runner.ran(), [0, 1, 2]);
    // #1 was judged while paused; #2 started only after the resume.
    let notes = observer.1.join("\n");
    let paused = notes.find("): paused").expect(&notes);
    let resumed = notes.find("): resumed").expect(&notes);
    assert!(paused < resumed, "{notes}");
    let ledger = Ledger::open(&db).unwrap();
    let c = ledger.campaign("t").unwrap().unwrap();
    let controls = ledger.controls().recent(c.id, 10).unwrap();
    let effects: Vec<&str> = controls
        .iter()
        .map(|c| c.effect.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(effects.len(), 3, "{effects:?}");
    assert!(effects[0].starts_with("paused: 1 running"), "{effects:?}");
    assert_eq!(effects[1..], ["already paused", "resumed"]);
    let exps = experiments(dir.path());
    assert_eq!(exps.len(), 3);
    assert_eq!(exps[2].verdict, Some(Verdict::Kept));
    let resumed_at = controls[2].taken_at.unwrap();
    assert!(
        exps[1].updated_at <= resumed_at,
        "#1 judged before the resume"
    );
    assert!(exps[2].created_at >= resumed_at, "#2 proposed after it");
}

#[test]
fn a_command_written_while_no_run_was_live_expires_instead_of_acting_late() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(dir.path(), "");
    let db = dir.path().join(".autolab/ledger.db");
    let first = Arc::new(Scripted::new(|_| loss(1.0)));
    run(&lab, 1, first, &mut Quiet);
    // A stop written between runs (its `autolab run` had died) must not stop the next one.
    let id = {
        let l = Ledger::open(&db).unwrap();
        let c = l.campaign("t").unwrap().unwrap();
        l.controls()
            .push(c.id, &Command::Steer("smaller steps".into()), "late")
            .unwrap();
        l.controls().push(c.id, &Command::Stop, "late").unwrap()
    };
    let next = Arc::new(Scripted::new(|_| loss(0.5)));
    let summary = run(&lab, 3, next.clone(), &mut Quiet);
    assert_eq!(summary.ending, Ending::Budget);
    assert_eq!(next.ran(), [1, 2]);
    let l = Ledger::open(&db).unwrap();
    let stop = l.controls().get(id).unwrap().unwrap();
    assert!(stop.effect.unwrap().starts_with("expired"));
    // A steering note was written by `autolab steer` itself: it is not lost.
    let steer = l.controls().get(id - 1).unwrap().unwrap();
    assert_eq!(
        steer.effect.as_deref(),
        Some("noted in the steering notes (no run was live)")
    );
}

#[test]
fn cancelling_a_queued_experiment_drops_its_work_and_touches_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(dir.path(), "");
    run(&lab, 2, Arc::new(Scripted::new(|_| loss(1.0))), &mut Quiet);
    // #2, #3 and #4 were proposed when autolab stopped: on resume they wait in the queue.
    let db = dir.path().join(".autolab/ledger.db");
    {
        let mut l = Ledger::open(&db).unwrap();
        let c = l.campaign("t").unwrap().unwrap();
        let parent = l.experiment(c.id, 1).unwrap().unwrap().parent;
        for n in [2, 3, 4] {
            l.propose(c.id, n, &parent, "test", "edit a.txt", None)
                .unwrap();
        }
    }
    // While #2 runs, #3 (queued) is cancelled, then #2 itself.
    let pusher = db.clone();
    let runner = Arc::new(
        Scripted::new(|n| if n == 2 { Act::Hold } else { loss(0.5) }).on_start(move |n| {
            if n == 2 {
                let l = Ledger::open(&pusher).unwrap();
                let c = l.campaign("t").unwrap().unwrap();
                l.controls().push(c.id, &Command::Cancel(3), "t").unwrap();
                l.controls().push(c.id, &Command::Cancel(2), "t").unwrap();
            }
        }),
    );
    let summary = run(&lab, 5, runner.clone(), &mut Quiet);
    assert_eq!(summary.ending, Ending::Budget);
    assert_eq!(
        runner.ran(),
        [2, 4],
        "#3 never ran; #4, queued behind it, did"
    );
    let exps = experiments(dir.path());
    assert_eq!(exps[2].verdict, Some(Verdict::Cancelled));
    assert_eq!(exps[3].verdict, Some(Verdict::Cancelled));
    assert_eq!(exps[3].commit, None, "#3 was never implemented");
    assert_eq!(exps[4].verdict, Some(Verdict::Kept));
}

/// Scores each experiment's runs from its own list, in turn (the last repeats).
fn runs_of(lists: Vec<Vec<f64>>) -> Scripted {
    let calls: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(vec![0; lists.len()]);
    Scripted::new(move |n| {
        let n = n as usize;
        let mut c = calls.lock().unwrap();
        let list = &lists[n.min(lists.len() - 1)];
        let i = c[n.min(lists.len() - 1)].min(list.len() - 1);
        c[n.min(lists.len() - 1)] += 1;
        loss(list[i])
    })
}

#[test]
fn noise_aware_confirms_an_uncertain_gain_before_keeping_it_and_discards_noise_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(dir.path(), "");
    std::fs::write(
        dir.path().join("autolab.toml"),
        std::fs::read_to_string(dir.path().join("autolab.toml"))
            .unwrap()
            .replace(
                "policy = \"strict\"",
                "policy = \"noise-aware\"\nmax_confirm = 3",
            ),
    )
    .unwrap();
    git(dir.path(), &["commit", "-qam", "noise-aware"]);
    let lab = Lab::open(lab.root.as_path()).unwrap();
    // The baseline's three runs measure the noise (sd 0.02 at 1.0); #1 gains a little more
    // than the noise on its first run and keeps gaining; #2 is worse.
    let runner = Arc::new(runs_of(vec![
        vec![1.0, 1.02, 0.98],
        vec![0.975, 0.9, 0.9, 0.9],
        vec![1.01],
    ]));
    run(&lab, 3, runner.clone(), &mut Quiet);
    let ran = runner.ran();
    let count = |n| ran.iter().filter(|&&x| x == n).count();
    assert_eq!(count(0), 3, "the baseline ran `repeats` times: {ran:?}");
    assert!(count(1) >= 2, "#1 got a confirmation run: {ran:?}");
    assert_eq!(count(2), 1, "#2, plainly not better, ran once: {ran:?}");
    let exps = experiments(dir.path());
    assert_eq!(exps[1].verdict, Some(Verdict::Kept), "{:?}", exps[1]);
    assert_eq!(exps[2].verdict, Some(Verdict::Discarded), "{:?}", exps[2]);
    let ledger = Ledger::open(&dir.path().join(".autolab/ledger.db")).unwrap();
    let confirmed = ledger
        .events(exps[1].row)
        .unwrap()
        .iter()
        .any(|e| e.to.as_deref() == Some("confirming"));
    assert!(confirmed, "#1 went through confirming");
}

/// A falling learning curve over 40 steps, `v(i)` at step i, then the final value.
fn curve(v: impl Fn(f64) -> f64) -> Act {
    let mut text = String::new();
    for i in 1..=40 {
        text.push_str(&format!("step: {i} val_loss: {:.4}\n", v(f64::from(i))));
    }
    text.push_str(&format!("val_loss: {:.4}\n", v(40.0)));
    Act::Print(text, 0)
}

#[test]
fn early_stopping_stops_a_clearly_worse_curve_and_spares_a_better_one() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(dir.path(), "[early_stop]\nmargin = 0.2\npatience = 3\n");
    // The baseline falls as 1/i; #1 far slower (stopped); #2 twice as fast (kept).
    let runner = Arc::new(Scripted::new(|n| match n {
        0 => curve(|i| 1.0 / i),
        1 => curve(|i| 2.0 - i / 100.0),
        _ => curve(|i| 0.5 / i),
    }));
    run(&lab, 3, runner, &mut Quiet);
    let exps = experiments(dir.path());
    assert_eq!(exps[1].verdict, Some(Verdict::Discarded), "{:?}", exps[1]);
    let reason = exps[1].reason.clone().unwrap_or_default();
    assert!(reason.starts_with("early-stopped at step 3"), "{reason}");
    assert_eq!(exps[2].verdict, Some(Verdict::Kept), "{:?}", exps[2]);
}

#[test]
fn an_llm_down_past_max_outage_pauses_after_the_baseline() {
    use autolab_llm::fake::{FakeReply, FakeServer};
    let server = FakeServer::from_fn(|_| FakeReply::status(503, "{\"error\": \"down\"}"));
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(
        dir.path(),
        &format!(
            "[agent]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nmax_retries = 0\n\
             outage_retry = \"100ms\"\nmax_outage = \"1s\"\n",
            server.url()
        ),
    );
    let runner = Arc::new(Scripted::new(|_| loss(1.0)));
    let opts = autolab_engine::RunOptions {
        tag: "t".into(),
        max_experiments: Some(3),
        max_hours: Some(30.0 / 3600.0),
        ..autolab_engine::RunOptions::default()
    };
    // No proposer plugged in: the LLM's experts propose.
    let parts = autolab_engine::Parts {
        runner: Some(runner.clone()),
        ..autolab_engine::Parts::default()
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let summary = autolab_engine::run_campaign_with(&lab, &opts, &mut Quiet, &stop, parts).unwrap();
    assert_eq!(summary.ending, Ending::Paused);
    assert_eq!(runner.ran(), [0], "only the baseline ran");
    assert_eq!(
        experiments(dir.path()).len(),
        1,
        "no experiment was lost to the outage"
    );
    assert!(
        server.requests().len() >= 2,
        "it tried again before pausing"
    );
}

/// Collects notes; stops the campaign once it says it paused.
struct StopWhenPaused(std::path::PathBuf, Vec<String>);
impl Observer for StopWhenPaused {
    fn report(&mut self, r: Report) {
        if let Report::Note(note) = r {
            if note.starts_with("pause") && note.contains("): paused") {
                let l = Ledger::open(&self.0).unwrap();
                let c = l.campaign("t").unwrap().unwrap();
                l.controls().push(c.id, &Command::Stop, "t").unwrap();
            }
            self.1.push(note);
        }
    }
}

#[test]
fn a_run_that_ended_paused_is_noted_once_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(dir.path(), "");
    let db = dir.path().join(".autolab/ledger.db");
    let pusher = db.clone();
    let first = Arc::new(Scripted::new(|_| loss(1.0)).on_start(move |n| {
        if n == 0 {
            let l = Ledger::open(&pusher).unwrap();
            let c = l.campaign("t").unwrap().unwrap();
            l.controls().push(c.id, &Command::Pause, "me").unwrap();
        }
    }));
    let mut paused = StopWhenPaused(db.clone(), Vec::new());
    assert_eq!(run(&lab, 3, first, &mut paused).ending, Ending::Stopped);
    let ended_paused = |notes: &[String]| {
        notes
            .iter()
            .any(|n| n.contains("last run ended paused (by me)"))
    };
    assert!(!ended_paused(&paused.1));
    let mut second = StopWhenPaused(db.clone(), Vec::new());
    run(&lab, 2, Arc::new(Scripted::new(|_| loss(0.5))), &mut second);
    assert!(ended_paused(&second.1), "{:?}", second.1);
    let mut third = StopWhenPaused(db, Vec::new());
    run(&lab, 3, Arc::new(Scripted::new(|_| loss(0.4))), &mut third);
    assert!(
        !ended_paused(&third.1),
        "only the run right after: {:?}",
        third.1
    );
}

#[test]
fn a_pause_during_the_last_run_of_the_budget_ends_the_campaign_instead_of_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(dir.path(), "");
    let pusher = dir.path().join(".autolab/ledger.db");
    let runner = Arc::new(Scripted::new(|_| loss(1.0)).on_start(move |n| {
        if n == 1 {
            pause_and_wait(&pusher);
        }
    }));
    // #1 is the last experiment the budget allows: once it is judged nothing is left to resume
    // (a loop waiting for a resume would end at the time budget instead).
    let summary = run(&lab, 2, runner.clone(), &mut Quiet);
    assert_eq!(summary.ending, Ending::Budget);
    assert_eq!(runner.ran(), [0, 1]);
    assert!(experiments(dir.path())[1].verdict.is_some());
}

/// Approves #1 and rejects #2 once the campaign says each waits (as a person at the dashboard).
struct Gatekeeper(std::path::PathBuf);
impl Observer for Gatekeeper {
    fn report(&mut self, r: Report) {
        if let Report::Note(note) = r
            && note.contains("waits for approval")
        {
            let l = Ledger::open(&self.0).unwrap();
            let c = l.campaign("t").unwrap().unwrap();
            let command = if note.starts_with("#0001") {
                Command::Approve(1)
            } else {
                Command::Reject(2)
            };
            l.controls().push(c.id, &command, "t").unwrap();
        }
    }
}

#[test]
fn with_the_approve_gate_a_candidate_runs_only_once_approved_and_a_rejected_one_never() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(dir.path(), "approve = true\n");
    let db = dir.path().join(".autolab/ledger.db");
    let runner = Arc::new(Scripted::new(|n| loss(1.0 - 0.1 * f64::from(n))));
    let summary = run(&lab, 3, runner.clone(), &mut Gatekeeper(db.clone()));
    assert_eq!(summary.ending, Ending::Budget);
    assert_eq!(
        runner.ran(),
        [0, 1],
        "the baseline runs ungated; #2 never ran"
    );
    let exps = experiments(dir.path());
    assert_eq!(exps[1].verdict, Some(Verdict::Kept));
    assert_eq!(exps[2].verdict, Some(Verdict::Cancelled));
    assert_eq!(exps[2].reason.as_deref(), Some("rejected by t"));
    let l = Ledger::open(&db).unwrap();
    let c = l.campaign("t").unwrap().unwrap();
    let approved = l
        .controls()
        .recent(c.id, 10)
        .unwrap()
        .into_iter()
        .find(|c| c.command == Command::Approve(1))
        .unwrap();
    assert!(approved.effect.unwrap().starts_with("approved #0001"));
    let run = &l.runs(exps[1].row).unwrap()[0];
    assert!(
        run.started_at >= approved.taken_at.unwrap(),
        "#1 started only after its approval"
    );
}

#[test]
fn an_approval_from_an_earlier_run_of_the_campaign_still_counts() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab(dir.path(), "approve = true\n");
    run(&lab, 1, Arc::new(Scripted::new(|_| loss(1.0))), &mut Quiet);
    // #1 was proposed and approved before autolab stopped.
    let db = dir.path().join(".autolab/ledger.db");
    {
        let mut l = Ledger::open(&db).unwrap();
        let c = l.campaign("t").unwrap().unwrap();
        let parent = l.experiment(c.id, 0).unwrap().unwrap().parent;
        l.propose(c.id, 1, &parent, "test", "edit a.txt", None)
            .unwrap();
        l.campaign_event(
            c.id,
            "approved",
            &serde_json::json!({"experiment": 1, "by": "t"}),
        )
        .unwrap();
    }
    let runner = Arc::new(Scripted::new(|_| loss(0.5)));
    let summary = run(&lab, 2, runner.clone(), &mut Quiet);
    assert_eq!(
        summary.ending,
        Ending::Budget,
        "it did not wait for an approval again"
    );
    assert_eq!(runner.ran(), [1]);
}
