//! While a campaign is paused, nothing new goes to the LLM: a crash's fix waits for the resume.
//! Also when LLM-coded candidates may start: not before the verdicts that rule on them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use autolab_core::control::Command;
use autolab_core::experiment::{State, Verdict};
use autolab_core::ledger::Ledger;
use autolab_engine::{
    Ending, Lab, Observer, Parts, Report, RunOptions, Summary, run_campaign_with,
};
use autolab_llm::fake::{FakeReply, FakeServer};

use super::common::{Quiet, commit_all, pause_and_wait, wait_for_state};
use super::fake_runner::{Act, Scripted, loss};
use super::scripted::{experiments, lab};

const IDEA: &str = r#"```json
{"ideas": [{"title": "Set x to 2", "hypothesis": "2 beats 1", "plan": "edit a.txt", "files": ["a.txt"], "expected_effect": "lower loss", "risk": "low"}]}
```"#;
const EDIT: &str = "a.txt\n```\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n```\n";
const FIX: &str = "a.txt\n```\n<<<<<<< SEARCH\nx = 2\n=======\nx = 3\n>>>>>>> REPLACE\n```\n";
/// Ideas unlike each other (the strategist refuses near-repeats), for campaigns that ask often.
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
/// The note the campaign gives when a crash's fix waits for the resume.
const FIX_WAITS: &str = "its fix waits until the campaign goes on";

fn reply(text: &str) -> FakeReply {
    FakeReply::OpenAi {
        text: text.into(),
        prompt_tokens: 10,
        completion_tokens: 10,
    }
}

/// A fake LLM: ideas (one per call; with `varied`, a different one each time), lessons, edits,
/// and fixes, counted in `fixes` and shown to `on_fix` as they come.
fn llm(
    varied: bool,
    fixes: Arc<AtomicU32>,
    on_fix: impl Fn() + Send + Sync + 'static,
) -> FakeServer {
    let ideas = AtomicU32::new(0);
    FakeServer::from_fn(move |r| {
        if r.body.contains("Propose ") {
            let k = ideas.fetch_add(1, Ordering::SeqCst) as usize;
            let (title, why) = OTHERS[k % OTHERS.len()];
            if varied {
                reply(&IDEA.replace("Set x to 2", title).replace("2 beats 1", why))
            } else {
                reply(IDEA)
            }
        } else if r.body.contains("Write ONE lesson") {
            reply("A lesson.")
        } else if r.body.contains("crashed") && r.body.contains("SEARCH/REPLACE") {
            fixes.fetch_add(1, Ordering::SeqCst);
            on_fix();
            reply(FIX)
        } else {
            reply(EDIT)
        }
    })
}

/// A lab whose `a.txt` the fake LLM edits, with `[agent]` on `server` and `extra` config.
fn llm_lab(dir: &Path, server: &FakeServer, extra: &str) -> Lab {
    let agent = format!(
        "[agent]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\n{extra}",
        server.url()
    );
    lab(dir, &agent);
    std::fs::write(dir.join("a.txt"), "x = 1\n").unwrap();
    commit_all(dir);
    Lab::open(dir).unwrap()
}

/// #1's first run crashes (counted across runners in `runs_of_one`), later runs of #1 score
/// 0.5, every other experiment 1.0.
fn first_run_of_one_crashes(runs_of_one: Arc<Mutex<u32>>) -> impl Fn(u32) -> Act + Send + Sync {
    move |n| {
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
    }
}

fn go(lab: &Lab, max: u32, runner: Arc<Scripted>, observer: &mut dyn Observer) -> Summary {
    let opts = RunOptions {
        tag: "t".into(),
        max_experiments: Some(max),
        max_hours: Some(30.0 / 3600.0),
        ..RunOptions::default()
    };
    let parts = Parts {
        runner: Some(runner),
        ..Parts::default()
    };
    run_campaign_with(lab, &opts, observer, &AtomicBool::new(false), parts).unwrap()
}

/// Whether `db`'s campaign has taken a `resume`.
fn resumed(db: &Path) -> bool {
    let l = Ledger::open(db).unwrap();
    let c = l.campaign("t").unwrap().unwrap();
    l.controls()
        .recent(c.id, 20)
        .unwrap()
        .iter()
        .any(|c| c.command == Command::Resume && c.taken_at.is_some())
}

/// Writes `commands` (as another terminal would) once the campaign says a crash's fix waits.
struct OnWaitingFix(PathBuf, Vec<Command>);
impl Observer for OnWaitingFix {
    fn report(&mut self, r: Report) {
        if let Report::Note(note) = r
            && note.contains(FIX_WAITS)
        {
            let l = Ledger::open(&self.0).unwrap();
            let c = l.campaign("t").unwrap().unwrap();
            for command in &self.1 {
                l.controls().push(c.id, command, "t").unwrap();
            }
        }
    }
}

#[test]
fn a_crash_judged_while_paused_is_fixed_only_after_the_resume() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(".autolab/ledger.db");
    let fixed_while_paused = Arc::new(AtomicBool::new(false));
    let fixes = Arc::new(AtomicU32::new(0));
    let (seen, at) = (fixed_while_paused.clone(), db.clone());
    let server = llm(false, fixes.clone(), move || {
        if !resumed(&at) {
            seen.store(true, Ordering::SeqCst);
        }
    });
    let lab = llm_lab(dir.path(), &server, "fix_attempts = 1\n");
    // #1's first run pauses the campaign, then crashes; its second (the fix's) scores.
    let pusher = db.clone();
    let runner = Arc::new(
        Scripted::new(first_run_of_one_crashes(Arc::default())).on_start(move |n| {
            if n == 1 && !resumed(&pusher) {
                pause_and_wait(&pusher);
            }
        }),
    );
    go(
        &lab,
        2,
        runner.clone(),
        &mut OnWaitingFix(db.clone(), vec![Command::Resume]),
    );
    assert_eq!(fixes.load(Ordering::SeqCst), 1, "one fix was asked for");
    assert!(
        !fixed_while_paused.load(Ordering::SeqCst),
        "the fix went to the LLM while the campaign was paused"
    );
    assert_eq!(runner.ran(), [0, 1, 1], "the fixed #1 ran after the resume");
    let exps = experiments(dir.path());
    assert_eq!(exps[1].verdict, Some(Verdict::Kept), "{:?}", exps[1]);
}

#[test]
fn a_fix_waiting_for_a_resume_is_not_spent_when_the_campaign_stops_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(".autolab/ledger.db");
    let fixes = Arc::new(AtomicU32::new(0));
    let server = llm(false, fixes.clone(), || {});
    let lab = llm_lab(dir.path(), &server, "fix_attempts = 1\n");
    // #1's first run crashes (after a pause arrives), every later one scores.
    let runs_of_one = Arc::new(Mutex::new(0));
    let runner = |pause: bool| {
        let pusher = db.clone();
        Arc::new(
            Scripted::new(first_run_of_one_crashes(runs_of_one.clone())).on_start(move |n| {
                if pause && n == 1 {
                    pause_and_wait(&pusher);
                }
            }),
        )
    };
    go(
        &lab,
        2,
        runner(true),
        &mut OnWaitingFix(db.clone(), vec![Command::Stop]),
    );
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
    go(&lab, 2, runner(false), &mut Quiet);
    assert_eq!(fixes.load(Ordering::SeqCst), 1);
    let exps = experiments(dir.path());
    assert_eq!(exps[1].verdict, Some(Verdict::Kept), "{:?}", exps[1]);
}

#[test]
fn a_crash_ending_a_streak_is_judged_before_a_ready_candidate_starts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(".autolab/ledger.db");
    let server = llm(true, Arc::default(), || {});
    let lab = llm_lab(
        dir.path(),
        &server,
        "fix_attempts = 0\n[runner]\nmax_consecutive_crashes = 1\n",
    );
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
            if n == 1 {
                wait_for_state(&watch, 2, State::Queued);
            }
        }),
    );
    let summary = go(&lab, 4, runner.clone(), &mut Quiet);
    assert_eq!(summary.ending, Ending::Paused);
    assert_eq!(
        experiments(dir.path())[2].state,
        State::Queued,
        "#2 was ready"
    );
    assert_eq!(
        runner.ran(),
        [0, 1],
        "nothing started after the crash that ended the streak"
    );
}

#[test]
fn a_cancelled_crash_waiting_for_its_fix_is_never_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(".autolab/ledger.db");
    let fixes = Arc::new(AtomicU32::new(0));
    let server = llm(false, fixes.clone(), || {});
    let lab = llm_lab(dir.path(), &server, "fix_attempts = 1\n");
    let pusher = db.clone();
    let runner = Arc::new(
        Scripted::new(first_run_of_one_crashes(Arc::default())).on_start(move |n| {
            if n == 1 {
                pause_and_wait(&pusher);
            }
        }),
    );
    let mut cancel_then_resume =
        OnWaitingFix(db.clone(), vec![Command::Cancel(1), Command::Resume]);
    go(&lab, 2, runner, &mut cancel_then_resume);
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
    let server = llm(false, Arc::default(), || {});
    let lab = llm_lab(dir.path(), &server, "");
    // The baseline's run ends only once #1's code is ready and queued.
    let watch = db.clone();
    let runner = Arc::new(Scripted::new(|_| loss(1.0)).on_start(move |n| {
        if n == 0 {
            wait_for_state(&watch, 1, State::Queued);
        }
    }));
    go(&lab, 2, runner.clone(), &mut Quiet);
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
