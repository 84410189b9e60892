//! While a campaign is paused, nothing new goes to the LLM: a crash's fix waits for the resume.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use autolab_core::control::Command;
use autolab_core::experiment::Verdict;
use autolab_core::ledger::Ledger;
use autolab_engine::{Lab, Observer, Parts, Report, RunOptions, run_campaign_with};
use autolab_llm::fake::{FakeReply, FakeServer};

use super::common::commit_all;
use super::fake_runner::{Act, HOLD_AT_MOST, Scripted, loss};
use super::scripted::{experiments, lab};

const IDEA: &str = r#"```json
{"ideas": [{"title": "Set x to 2", "hypothesis": "2 beats 1", "plan": "edit a.txt", "files": ["a.txt"], "expected_effect": "lower loss", "risk": "low"}]}
```"#;
const EDIT: &str = "a.txt\n```\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n```\n";
const FIX: &str = "a.txt\n```\n<<<<<<< SEARCH\nx = 2\n=======\nx = 3\n>>>>>>> REPLACE\n```\n";

fn reply(text: &str) -> FakeReply {
    FakeReply::OpenAi {
        text: text.into(),
        prompt_tokens: 10,
        completion_tokens: 10,
    }
}

/// Whether `db`'s campaign has taken a `resume`.
fn resumed(db: &std::path::Path) -> bool {
    let l = Ledger::open(db).unwrap();
    let c = l.campaign("t").unwrap().unwrap();
    l.controls()
        .recent(c.id, 20)
        .unwrap()
        .iter()
        .any(|c| c.command == Command::Resume && c.taken_at.is_some())
}

/// Resumes the campaign once it says a fix waits for it.
struct ResumeOnWaitingFix(std::path::PathBuf, Vec<String>);
impl Observer for ResumeOnWaitingFix {
    fn report(&mut self, r: Report) {
        let Report::Note(note) = r else { return };
        self.1.push(note.clone());
        if note.contains("its fix waits until the campaign goes on") {
            let l = Ledger::open(&self.0).unwrap();
            let c = l.campaign("t").unwrap().unwrap();
            l.controls().push(c.id, &Command::Resume, "t").unwrap();
        }
    }
}

#[test]
fn a_crash_judged_while_paused_is_fixed_only_after_the_resume() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(".autolab/ledger.db");
    let fixed_while_paused = Arc::new(AtomicBool::new(false));
    let fixes = Arc::new(AtomicU32::new(0));
    let (seen, count, at) = (fixed_while_paused.clone(), fixes.clone(), db.clone());
    let server = FakeServer::from_fn(move |r| {
        if r.body.contains("Propose ") {
            reply(IDEA)
        } else if r.body.contains("Write ONE lesson") {
            reply("A lesson.")
        } else if r.body.contains("crashed") && r.body.contains("SEARCH/REPLACE") {
            count.fetch_add(1, Ordering::SeqCst);
            if !resumed(&at) {
                seen.store(true, Ordering::SeqCst);
            }
            reply(FIX)
        } else {
            reply(EDIT)
        }
    });
    let agent = format!(
        "[agent]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nfix_attempts = 1\n",
        server.url()
    );
    lab(dir.path(), &agent);
    std::fs::write(dir.path().join("a.txt"), "x = 1\n").unwrap();
    commit_all(dir.path());
    let lab = Lab::open(dir.path()).unwrap();
    // #1's first run pauses the campaign, then crashes; its second (the fix's) scores.
    let runs_of_one = Mutex::new(0);
    let pusher = db.clone();
    let runner = Arc::new(
        Scripted::new(move |n| {
            if n != 1 {
                return loss(1.0);
            }
            let mut k = runs_of_one.lock().unwrap();
            *k += 1;
            if *k == 1 {
                Act::Print("Traceback: boom\n".into(), 1)
            } else {
                loss(0.5)
            }
        })
        .on_start(move |n| {
            if n != 1 || resumed(&pusher) {
                return;
            }
            let l = Ledger::open(&pusher).unwrap();
            let c = l.campaign("t").unwrap().unwrap();
            let id = l.controls().push(c.id, &Command::Pause, "t").unwrap();
            let asked = std::time::Instant::now();
            while l.controls().get(id).unwrap().unwrap().taken_at.is_none()
                && asked.elapsed() < HOLD_AT_MOST
            {
                std::thread::park_timeout(std::time::Duration::from_millis(5));
            }
        }),
    );
    let opts = RunOptions {
        tag: "t".into(),
        max_experiments: Some(2),
        max_hours: Some(30.0 / 3600.0),
        ..RunOptions::default()
    };
    let parts = Parts {
        runner: Some(runner.clone()),
        ..Parts::default()
    };
    let mut observer = ResumeOnWaitingFix(db.clone(), Vec::new());
    run_campaign_with(&lab, &opts, &mut observer, &AtomicBool::new(false), parts).unwrap();
    let notes = observer.1.join("\n");
    assert_eq!(
        fixes.load(Ordering::SeqCst),
        1,
        "one fix was asked for: {notes}\n{:?}\n{:?}",
        runner.ran(),
        experiments(dir.path())
    );
    assert!(
        !fixed_while_paused.load(Ordering::SeqCst),
        "the fix went to the LLM while the campaign was paused"
    );
    assert_eq!(runner.ran(), [0, 1, 1], "the fixed #1 ran after the resume");
    let exps = experiments(dir.path());
    assert_eq!(exps[1].verdict, Some(Verdict::Kept), "{:?}", exps[1]);
}

/// Stops the campaign once it says a fix waits.
struct StopOnWaitingFix(std::path::PathBuf);
impl Observer for StopOnWaitingFix {
    fn report(&mut self, r: Report) {
        if let Report::Note(note) = r
            && note.contains("its fix waits until the campaign goes on")
        {
            let l = Ledger::open(&self.0).unwrap();
            let c = l.campaign("t").unwrap().unwrap();
            l.controls().push(c.id, &Command::Stop, "t").unwrap();
        }
    }
}

#[test]
fn a_fix_waiting_for_a_resume_is_not_spent_when_the_campaign_stops_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(".autolab/ledger.db");
    let fixes = Arc::new(AtomicU32::new(0));
    let count = fixes.clone();
    let server = FakeServer::from_fn(move |r| {
        if r.body.contains("Propose ") {
            reply(IDEA)
        } else if r.body.contains("Write ONE lesson") {
            reply("A lesson.")
        } else if r.body.contains("crashed") && r.body.contains("SEARCH/REPLACE") {
            count.fetch_add(1, Ordering::SeqCst);
            reply(FIX)
        } else {
            reply(EDIT)
        }
    });
    let agent = format!(
        "[agent]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nfix_attempts = 1\n",
        server.url()
    );
    lab(dir.path(), &agent);
    std::fs::write(dir.path().join("a.txt"), "x = 1\n").unwrap();
    commit_all(dir.path());
    let lab = Lab::open(dir.path()).unwrap();
    // #1's first run crashes (after a pause arrives), every later one scores.
    let runs_of_one = Arc::new(Mutex::new(0));
    let runner = |pause: bool| {
        let (k, pusher) = (runs_of_one.clone(), db.clone());
        Arc::new(
            Scripted::new(move |n| {
                if n != 1 {
                    return loss(1.0);
                }
                let mut k = k.lock().unwrap();
                *k += 1;
                if *k == 1 {
                    Act::Print("Traceback: boom\n".into(), 1)
                } else {
                    loss(0.5)
                }
            })
            .on_start(move |n| {
                if !pause || n != 1 {
                    return;
                }
                let l = Ledger::open(&pusher).unwrap();
                let c = l.campaign("t").unwrap().unwrap();
                let id = l.controls().push(c.id, &Command::Pause, "t").unwrap();
                let asked = std::time::Instant::now();
                while l.controls().get(id).unwrap().unwrap().taken_at.is_none()
                    && asked.elapsed() < HOLD_AT_MOST
                {
                    std::thread::park_timeout(std::time::Duration::from_millis(5));
                }
            }),
        )
    };
    let opts = RunOptions {
        tag: "t".into(),
        max_experiments: Some(2),
        max_hours: Some(30.0 / 3600.0),
        ..RunOptions::default()
    };
    let parts = |r: Arc<Scripted>| Parts {
        runner: Some(r),
        ..Parts::default()
    };
    let stop = AtomicBool::new(false);
    let mut stopper = StopOnWaitingFix(db.clone());
    run_campaign_with(&lab, &opts, &mut stopper, &stop, parts(runner(true))).unwrap();
    assert_eq!(
        fixes.load(Ordering::SeqCst),
        0,
        "stopped before the fix went out"
    );
    assert_eq!(
        experiments(dir.path())[1].verdict,
        None,
        "#1 waits to be judged again"
    );
    // Resumed: the crash is judged again and its one fix attempt is still there to use.
    let mut quiet = super::common::Quiet;
    run_campaign_with(&lab, &opts, &mut quiet, &stop, parts(runner(false))).unwrap();
    assert_eq!(fixes.load(Ordering::SeqCst), 1);
    let exps = experiments(dir.path());
    assert_eq!(exps[1].verdict, Some(Verdict::Kept), "{:?}", exps[1]);
}

#[test]
fn a_crash_ending_a_streak_is_judged_before_a_ready_candidate_starts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(".autolab/ledger.db");
    let titles = Arc::new(AtomicU32::new(0));
    let t = titles.clone();
    let server = FakeServer::from_fn(move |r| {
        if r.body.contains("Propose ") {
            const OTHERS: [(&str, &str); 5] = [
                (
                    "Double the batch size",
                    "larger batches average out gradient noise",
                ),
                (
                    "Switch to cosine decay",
                    "a decaying rate settles into a sharper minimum",
                ),
                (
                    "Add dropout to the head",
                    "the head overfits the small training split",
                ),
                (
                    "Clip the gradients",
                    "rare spikes throw the weights off course",
                ),
                (
                    "Warm up the rate",
                    "early steps are unstable at the full rate",
                ),
            ];
            let k = t.fetch_add(1, Ordering::SeqCst) as usize;
            let (title, why) = OTHERS[k % OTHERS.len()];
            reply(&IDEA.replace("Set x to 2", title).replace("2 beats 1", why))
        } else if r.body.contains("Write ONE lesson") {
            reply("A lesson.")
        } else {
            reply(EDIT)
        }
    });
    let agent = format!(
        "[agent]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nfix_attempts = 0\n\
         [runner]\nmax_consecutive_crashes = 1\n",
        server.url()
    );
    lab(dir.path(), &agent);
    std::fs::write(dir.path().join("a.txt"), "x = 1\n").unwrap();
    commit_all(dir.path());
    let lab = Lab::open(dir.path()).unwrap();
    // #1 crashes, but only once #2's code is ready and queued behind it.
    let watch = db.clone();
    let runner = Arc::new(
        Scripted::new(|n| {
            if n == 1 {
                Act::Print("Traceback: boom\n".into(), 1)
            } else {
                loss(1.0)
            }
        })
        .on_start(move |n| {
            if n != 1 {
                return;
            }
            let l = Ledger::open(&watch).unwrap();
            let c = l.campaign("t").unwrap().unwrap();
            let asked = std::time::Instant::now();
            while !l
                .experiment(c.id, 2)
                .unwrap()
                .is_some_and(|e| e.state == autolab_core::experiment::State::Queued)
                && asked.elapsed() < HOLD_AT_MOST
            {
                std::thread::park_timeout(std::time::Duration::from_millis(5));
            }
        }),
    );
    let opts = RunOptions {
        tag: "t".into(),
        max_experiments: Some(4),
        max_hours: Some(30.0 / 3600.0),
        ..RunOptions::default()
    };
    let parts = Parts {
        runner: Some(runner.clone()),
        ..Parts::default()
    };
    let summary = run_campaign_with(
        &lab,
        &opts,
        &mut super::common::Quiet,
        &AtomicBool::new(false),
        parts,
    )
    .unwrap();
    assert_eq!(summary.ending, autolab_engine::Ending::Paused);
    assert_eq!(
        experiments(dir.path())[2].state,
        autolab_core::experiment::State::Queued,
        "#2 was ready"
    );
    assert_eq!(
        runner.ran(),
        [0, 1],
        "nothing started after the crash that ended the streak"
    );
}

/// Cancels #1, then resumes, once the campaign says its fix waits.
struct CancelWaitingFix(std::path::PathBuf);
impl Observer for CancelWaitingFix {
    fn report(&mut self, r: Report) {
        if let Report::Note(note) = r
            && note.contains("its fix waits until the campaign goes on")
        {
            let l = Ledger::open(&self.0).unwrap();
            let c = l.campaign("t").unwrap().unwrap();
            l.controls().push(c.id, &Command::Cancel(1), "t").unwrap();
            l.controls().push(c.id, &Command::Resume, "t").unwrap();
        }
    }
}

#[test]
fn a_cancelled_crash_waiting_for_its_fix_is_never_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(".autolab/ledger.db");
    let fixes = Arc::new(AtomicU32::new(0));
    let count = fixes.clone();
    let server = FakeServer::from_fn(move |r| {
        if r.body.contains("Propose ") {
            reply(IDEA)
        } else if r.body.contains("Write ONE lesson") {
            reply("A lesson.")
        } else if r.body.contains("crashed") && r.body.contains("SEARCH/REPLACE") {
            count.fetch_add(1, Ordering::SeqCst);
            reply(FIX)
        } else {
            reply(EDIT)
        }
    });
    let agent = format!(
        "[agent]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nfix_attempts = 1\n",
        server.url()
    );
    lab(dir.path(), &agent);
    std::fs::write(dir.path().join("a.txt"), "x = 1\n").unwrap();
    commit_all(dir.path());
    let lab = Lab::open(dir.path()).unwrap();
    let pusher = db.clone();
    let runner = Arc::new(
        Scripted::new(|n| {
            if n == 1 {
                Act::Print("Traceback: boom\n".into(), 1)
            } else {
                loss(1.0)
            }
        })
        .on_start(move |n| {
            if n != 1 {
                return;
            }
            let l = Ledger::open(&pusher).unwrap();
            let c = l.campaign("t").unwrap().unwrap();
            let id = l.controls().push(c.id, &Command::Pause, "t").unwrap();
            let asked = std::time::Instant::now();
            while l.controls().get(id).unwrap().unwrap().taken_at.is_none()
                && asked.elapsed() < HOLD_AT_MOST
            {
                std::thread::park_timeout(std::time::Duration::from_millis(5));
            }
        }),
    );
    let opts = RunOptions {
        tag: "t".into(),
        max_experiments: Some(2),
        max_hours: Some(30.0 / 3600.0),
        ..RunOptions::default()
    };
    let parts = Parts {
        runner: Some(runner),
        ..Parts::default()
    };
    run_campaign_with(
        &lab,
        &opts,
        &mut CancelWaitingFix(db.clone()),
        &AtomicBool::new(false),
        parts,
    )
    .unwrap();
    assert_eq!(
        fixes.load(Ordering::SeqCst),
        0,
        "a cancelled crash is not fixed"
    );
    assert_eq!(experiments(dir.path())[1].verdict, Some(Verdict::Cancelled));
}

#[test]
fn a_candidate_coded_while_the_baseline_runs_starts_after_the_baselines_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(".autolab/ledger.db");
    let server = FakeServer::from_fn(move |r| {
        if r.body.contains("Propose ") {
            reply(IDEA)
        } else if r.body.contains("Write ONE lesson") {
            reply("A lesson.")
        } else {
            reply(EDIT)
        }
    });
    let agent = format!(
        "[agent]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\n",
        server.url()
    );
    lab(dir.path(), &agent);
    std::fs::write(dir.path().join("a.txt"), "x = 1\n").unwrap();
    commit_all(dir.path());
    let lab = Lab::open(dir.path()).unwrap();
    // The baseline's run ends only once #1's code is ready and queued.
    let watch = db.clone();
    let runner = Arc::new(Scripted::new(|_| loss(1.0)).on_start(move |n| {
        if n != 0 {
            return;
        }
        let l = Ledger::open(&watch).unwrap();
        let c = l.campaign("t").unwrap().unwrap();
        let asked = std::time::Instant::now();
        while !l
            .experiment(c.id, 1)
            .unwrap()
            .is_some_and(|e| e.state == autolab_core::experiment::State::Queued)
            && asked.elapsed() < HOLD_AT_MOST
        {
            std::thread::park_timeout(std::time::Duration::from_millis(5));
        }
    }));
    let opts = RunOptions {
        tag: "t".into(),
        max_experiments: Some(2),
        max_hours: Some(30.0 / 3600.0),
        ..RunOptions::default()
    };
    let parts = Parts {
        runner: Some(runner.clone()),
        ..Parts::default()
    };
    run_campaign_with(
        &lab,
        &opts,
        &mut super::common::Quiet,
        &AtomicBool::new(false),
        parts,
    )
    .unwrap();
    assert_eq!(runner.ran(), [0, 1]);
    let l = Ledger::open(&db).unwrap();
    let c = l.campaign("t").unwrap().unwrap();
    let judged = l
        .events(l.experiment(c.id, 0).unwrap().unwrap().row)
        .unwrap()
        .into_iter()
        .find(|e| e.to.as_deref() == Some("kept"))
        .unwrap()
        .at;
    let one = l.experiment(c.id, 1).unwrap().unwrap();
    let started = l.runs(one.row).unwrap()[0].started_at;
    assert!(
        started >= judged,
        "#1 started before the baseline's verdict"
    );
}
