//! A campaign: the loop that proposes, implements, runs, judges and learns, until a budget ends
//! or it is stopped; restartable at any instant.

mod agent_context;
mod agent_flow;
mod controls;
mod decide;
mod drift;
mod execute;
mod finish;
mod fixes;
mod fresh_start;
mod lessons;
mod noise;
mod outage;
mod pipeline;
mod reconcile;
mod worktrees;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use autolab_core::experiment::{Experiment, State, Verdict};
use autolab_core::git;
use autolab_core::ledger::{Campaign, Ledger};
use autolab_core::lock::LabLock;
use autolab_runner::{LocalRunner, Runner};
use indexmap::IndexMap;

use crate::EngineError;
use crate::coder::{Coder, ParamsWriter};
use crate::lab::Lab;
use crate::proposer::{Optimizer, Proposer};

/// What the user asked of this invocation of `autolab run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub tag: String,
    /// Experiments in the campaign in all (the baseline included), across restarts.
    pub max_experiments: Option<u32>,
    /// Wall-clock hours for this invocation; no new experiment starts after it.
    pub max_hours: Option<f64>,
    pub parallel: Option<usize>,
    pub seed: Option<u64>,
    /// The sandbox helper program (the autolab binary); without it runs are not sandboxed.
    pub sandbox_helper: Option<std::path::PathBuf>,
    /// No overlap of LLM work with runs (a propose-then-run loop), for benchmarks.
    pub serial_agent: bool,
}

/// What the loop tells whoever watches it (the CLI's progress bar or log lines).
#[derive(Debug, Clone)]
pub enum Report {
    /// The campaign is ready: how many experiments it has and may reach.
    Ready {
        tag: String,
        existing: u32,
        /// Of those, the ones with a verdict.
        judged: u32,
        target: Option<u32>,
        resumed: Vec<String>,
    },
    RunStarted {
        number: u32,
        title: String,
    },
    Verdict {
        experiment: Box<Experiment>,
        best: Option<f64>,
        primary: Option<f64>,
        /// Seconds its runs took, all together.
        run_secs: f64,
    },
    Note(String),
}

pub trait Observer {
    fn report(&mut self, report: Report);
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `max_experiments` reached, or the proposer had nothing more to try.
    Budget,
    /// `max_hours` reached.
    Time,
    /// Stopped by the user (Ctrl-C); running runs were cancelled and recorded.
    Stopped,
    /// Paused by the watchdog: too many crashes (or failed ideations) in a row.
    Paused,
    /// The LLM budget (`[agent].max_usd`) is spent.
    Spent,
}

#[derive(Debug, Clone)]
pub struct Summary {
    pub ending: Ending,
    pub tag: String,
    pub incumbent: Option<Experiment>,
    pub baseline_score: Option<f64>,
}

/// A piece of work the loop owes an experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Work {
    /// Implement (or re-implement) its change, then run it.
    Implement(i64),
    /// Its commit is ready: run it.
    Run(i64),
    /// A finished run awaits its verdict.
    Decide(i64, i64),
    /// A cluster run started before a restart: wait for it again (experiment, run).
    Attach(i64, i64),
}

enum SlotMsg {
    Started {
        run: i64,
        handle: autolab_runner::Handle,
    },
    Done {
        exp: i64,
        run: i64,
        output: Box<execute::RunOutput>,
    },
    IdeaReady(Box<crate::llm::strategist::IdeaOutcome>),
    LessonReady(Box<crate::llm::lessons::Written>),
    DigestReady(Box<crate::llm::lessons::Written>),
    CodeReady {
        exp: i64,
        outcome: Box<crate::llm::coder::CodeOutcome>,
        fix: bool,
    },
}

struct Slot {
    cancel: Arc<AtomicBool>,
    /// Reads the metric-producing run's output line by line as it is printed.
    stream: Option<Arc<autolab_core::metrics::StreamReader>>,
}

/// Runs (or resumes) the campaign `opts.tag` in `lab` until a budget ends or `stop` is set.
pub fn run_campaign(
    lab: &Lab,
    opts: &RunOptions,
    observer: &mut dyn Observer,
    stop: &AtomicBool,
) -> Result<Summary, EngineError> {
    run_campaign_with(lab, opts, observer, stop, Parts::default())
}

/// Proposer, coder and runner to use instead of the ones the config implies.
#[derive(Default)]
pub struct Parts {
    pub proposer: Option<Box<dyn Proposer>>,
    pub coder: Option<Box<dyn Coder>>,
    /// Where runs execute (tests plug in a scripted runner here).
    pub runner: Option<Arc<dyn Runner>>,
}

/// [`run_campaign`] with chosen parts (other proposers and coders plug in here).
pub fn run_campaign_with(
    lab: &Lab,
    opts: &RunOptions,
    observer: &mut dyn Observer,
    stop: &AtomicBool,
    parts: Parts,
) -> Result<Summary, EngineError> {
    let refused = git::refs_git_refuses(&opts.tag);
    if !git::valid_tag(&opts.tag) || !refused.is_empty() {
        return Err(EngineError::InvalidTag {
            tag: opts.tag.clone(),
            refused: refused.first().cloned(),
        });
    }
    lab.prepare_state_dir()?;
    let holder = format!("autolab run --tag {} in {}", opts.tag, lab.root.display());
    let _repo_lock = LabLock::acquire(&lab.repo_lock_path(), &holder)?;
    let _lock = LabLock::acquire(&lab.lock_path(), &holder)?;
    let held_since = autolab_core::ledger::now();
    let mut ledger = Ledger::open(&lab.ledger_path())?;
    drift::warn_uncommitted(lab, observer);
    drift::warn_dirty_code(lab, observer);
    if lab.config.params.is_none() && lab.config.agent.is_none() && parts.proposer.is_none() {
        observer.report(Report::Note(
            "nothing proposes candidates: this lab has no [params] (the optimizer's space) and no [agent] (an LLM); only the baseline runs".into(),
        ));
    }
    crate::lab_checks::params_file_keys(lab)?;
    let campaign = open_campaign(lab, &mut ledger, opts, observer)?;
    // What this invocation may spend: `status` reads it to say how much budget is left.
    ledger.campaign_event(
        campaign.id,
        "run_started",
        &serde_json::json!({
            "max_experiments": opts.max_experiments,
            "max_hours": opts.max_hours,
            "parallel": opts.parallel.unwrap_or(lab.config.runner.parallel),
            "pid": std::process::id(),
        }),
    )?;

    let proposer_plugged = parts.proposer.is_some();
    let proposer: Option<Box<dyn Proposer>> = parts.proposer.or_else(|| {
        lab.config.params.clone().map(|p| {
            Box::new(Optimizer::new(p, campaign.seed, lab.config.score_goal())) as Box<dyn Proposer>
        })
    });
    let coder: Option<Box<dyn Coder>> = parts.coder.or_else(|| {
        lab.config.params.as_ref().map(|p| {
            Box::new(ParamsWriter {
                apply: p.apply.clone(),
            }) as Box<dyn Coder>
        })
    });
    let agent = match (&lab.config.agent, &proposer_plugged) {
        (Some(cfg), false) => Some(agent_flow::AgentRuntime::new(
            lab,
            cfg,
            &ledger,
            campaign.id,
            campaign.seed,
        )?),
        _ => None,
    };
    let (tx, rx) = mpsc::channel();
    let mut driver = Driver {
        lab,
        ledger,
        campaign,
        opts,
        observer,
        runner: match parts.runner {
            Some(r) => r,
            None => runner_for(&lab.config.runner.kind)?,
        },
        proposer,
        coder,
        slots: HashMap::new(),
        queue: VecDeque::new(),
        tx,
        rx,
        rebases: HashMap::new(),
        consecutive_crashes: 0,
        paused: false,
        agent,
        parallel: opts.parallel.unwrap_or(lab.config.runner.parallel).max(1),
        started: Instant::now(),
        held_since,
        user_pause: None,
        stop_asked: false,
        cancelling: HashMap::new(),
    };
    driver.reconcile()?;
    driver.expire_old_controls()?;
    if let Some(base) = driver.ledger.experiment(driver.campaign.id, 0)?
        && base.state.is_final()
        && base.state != State::Kept
    {
        let log = driver
            .ledger
            .runs(base.row)?
            .last()
            .and_then(|r| r.log_tail.clone());
        return Err(EngineError::BaselineFailed {
            verdict: base.state.as_str().into(),
            reason: base.reason.unwrap_or_default(),
            log,
        });
    }
    driver.main_loop(stop)
}

/// The cluster runner settings of `[runner]`, or none for `kind = "local"`.
pub fn cluster_config(
    kind: &autolab_core::config::RunnerKind,
) -> Option<autolab_runner::ClusterConfig> {
    use autolab_core::config::RunnerKind;
    use autolab_runner::{ClusterConfig, Scheduler};
    let (scheduler, s) = match kind {
        RunnerKind::Local => return None,
        RunnerKind::Slurm(s) => (Scheduler::Slurm, s),
        RunnerKind::Lsf(s) => (Scheduler::Lsf, s),
    };
    let mut cfg = ClusterConfig::new(scheduler);
    cfg.ssh = s.ssh.clone();
    cfg.ssh_args = s.ssh_args.clone();
    cfg.remote_dir = s.remote_dir.clone().map(std::path::PathBuf::from);
    cfg.submit_args = s.submit_args.clone();
    cfg.setup = s.setup.clone();
    cfg.poll_interval = s.poll_interval;
    cfg.max_jobs = s.max_jobs;
    cfg.resubmit = s.resubmit;
    cfg.script_template = s.script.clone();
    Some(cfg)
}

/// The runner `[runner].kind` names.
fn runner_for(kind: &autolab_core::config::RunnerKind) -> Result<Arc<dyn Runner>, EngineError> {
    let Some(cfg) = cluster_config(kind) else {
        return Ok(Arc::new(LocalRunner));
    };
    let runner =
        autolab_runner::ClusterRunner::new(cfg).map_err(|source| EngineError::Runner { source })?;
    Ok(Arc::new(runner))
}

fn open_campaign(
    lab: &Lab,
    ledger: &mut Ledger,
    opts: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<Campaign, EngineError> {
    if let Some(c) = ledger.campaign(&opts.tag)?
        && !fresh_start::retry_failed_baseline(lab, ledger, &c, observer)?
    {
        drift::check(lab, ledger, &c, observer)?;
        if let Some(seed) = opts.seed.filter(|s| *s != c.seed) {
            observer.report(Report::Note(format!(
                "campaign `{}` was started with seed {}; ignoring --seed {seed}",
                c.tag, c.seed
            )));
        }
        return Ok(c);
    }
    // A tag whose refs exist belongs to a campaign this ledger does not know (another
    // checkout of the repository ran it, or `.autolab` was moved aside): reusing it would
    // overwrite that campaign's refs.
    let existing = lab.repo.refs_of_tag(&opts.tag)?;
    if !existing.is_empty() {
        return Err(EngineError::TagTaken {
            tag: opts.tag.clone(),
            refs: existing,
        });
    }
    let base = lab.repo.head()?;
    let mut protected = IndexMap::new();
    let files = lab.repo.files_at(&base)?;
    for pattern in &lab.config.task.protected {
        let mut matched = false;
        for f in files.iter().filter(|f| git::path_matches(pattern, f)) {
            protected.insert(f.clone(), lab.repo.blob(&base, f));
            matched = true;
        }
        if !matched && !pattern.contains('*') {
            // A protected file that does not exist yet must stay absent.
            protected.insert(pattern.clone(), None);
        }
    }
    let campaign = ledger.create_campaign(
        &opts.tag,
        &base,
        opts.seed.unwrap_or(0),
        &protected,
        &lab.config_text,
    )?;
    // After the ledger has it: a crash in between leaves a campaign whose branch reconcile
    // creates, never a branch no ledger knows.
    let branch = format!("refs/heads/{}", git::incumbent_branch(&opts.tag));
    lab.repo.set_ref(&branch, &base, git::Expect::Absent)?;
    Ok(campaign)
}

struct Driver<'a> {
    lab: &'a Lab,
    ledger: Ledger,
    campaign: Campaign,
    opts: &'a RunOptions,
    observer: &'a mut dyn Observer,
    runner: Arc<dyn Runner>,
    proposer: Option<Box<dyn Proposer>>,
    coder: Option<Box<dyn Coder>>,
    /// Running experiments by ledger row.
    slots: HashMap<i64, Slot>,
    queue: VecDeque<Work>,
    tx: mpsc::Sender<SlotMsg>,
    rx: mpsc::Receiver<SlotMsg>,
    /// How often each experiment was moved onto a newer incumbent.
    rebases: HashMap<i64, u32>,
    /// Crashed or timed-out verdicts in a row, in this invocation.
    consecutive_crashes: u32,
    paused: bool,
    /// The LLM path, when `[agent]` is configured and no proposer was plugged in.
    agent: Option<agent_flow::AgentRuntime>,
    parallel: usize,
    /// When this invocation started (for the share of `max_hours` used).
    started: Instant,
    /// When this invocation took the lab (ledger time): older commands were never for it.
    held_since: f64,
    /// Who paused the campaign (`autolab pause`), while it is paused.
    user_pause: Option<String>,
    /// A `stop` command was taken.
    stop_asked: bool,
    /// Experiments whose run is being killed for `cancel`, with the reason to record.
    cancelling: HashMap<i64, String>,
}

impl Driver<'_> {
    fn main_loop(&mut self, stop: &AtomicBool) -> Result<Summary, EngineError> {
        let started = self.started;
        let deadline = self
            .opts
            .max_hours
            .map(|h| started + Duration::from_secs_f64(h * 3600.0));
        let mut ending = Ending::Budget;
        let mut last_beat = Instant::now();
        loop {
            self.take_controls()?;
            // Decisions first: they may move the incumbent that new work starts from,
            // or pause the campaign (a crash streak) before anything new starts.
            while let Some(pos) = self
                .queue
                .iter()
                .position(|w| matches!(w, Work::Decide(..)))
            {
                if let Some(Work::Decide(exp, run)) = self.queue.remove(pos) {
                    self.decide(exp, run)?;
                }
            }
            if stop.load(Ordering::SeqCst) || self.stop_asked {
                ending = Ending::Stopped;
                for slot in self.slots.values() {
                    slot.cancel.store(true, Ordering::SeqCst);
                }
            } else if self.paused && ending == Ending::Budget {
                ending = Ending::Paused;
                // Failed ideations said so when they paused the campaign.
                if self.consecutive_crashes >= self.lab.config.runner.max_consecutive_crashes {
                    self.observer.report(Report::Note(format!(
                        "{} crashed experiments in a row: pausing (finishing running ones)",
                        self.consecutive_crashes
                    )));
                }
            } else if deadline.is_some_and(|d| Instant::now() >= d) && ending == Ending::Budget {
                ending = Ending::Time;
                self.observer.report(Report::Note(
                    "time budget reached: finishing running experiments".into(),
                ));
            }
            if ending == Ending::Budget && self.agent.as_ref().is_some_and(|a| a.out_of_budget) {
                ending = Ending::Spent;
            }
            let waiting_resume = ending == Ending::Budget && self.user_pause.is_some();
            if ending == Ending::Budget && !waiting_resume {
                self.fill_slots()?;
                self.launch_prep()?;
            }
            // Lessons being written count: the campaign ends with its playbook complete.
            let prep = self
                .agent
                .as_ref()
                .map_or(0, |a| a.prep_in_flight + a.lessons_in_flight);
            if self.slots.is_empty() && (prep == 0 || ending != Ending::Budget) && !waiting_resume {
                let runnable = self.queue.iter().any(|w| !matches!(w, Work::Decide(..)));
                let waiting_llm = self.llm_pending()?;
                let more =
                    ending == Ending::Budget && (runnable || waiting_llm || self.may_propose()?);
                // Out of ideas with nothing left to run: a pause (resumable), not a budget end.
                let exhausted = self.agent.as_ref().is_some_and(|a| a.ideas_exhausted);
                if exhausted && ending == Ending::Budget && !runnable && !waiting_llm {
                    ending = Ending::Paused;
                    break;
                }
                if !more {
                    break;
                }
                if self.baseline_pending()? && self.queue.is_empty() {
                    break;
                }
                if self.agent.is_none() || runnable {
                    continue;
                }
                if !waiting_llm {
                    // The agent has nothing in flight and nothing queued: it is out of ideas.
                    let next = self.ledger.next_number(self.campaign.id)?;
                    if next > 0 && !self.queue.is_empty() {
                        continue;
                    }
                    break;
                }
                // Otherwise wait below for the LLM's next try.
            }
            match self.rx.recv_timeout(Duration::from_millis(200)) {
                Ok(SlotMsg::Started { run, handle }) => match handle {
                    autolab_runner::Handle::Pid(pid) => {
                        self.ledger.set_run_pid(run, i64::from(pid))?
                    }
                    autolab_runner::Handle::Job { scheduler, id } => self
                        .ledger
                        .set_run_job(run, &autolab_core::experiment::JobRef { scheduler, id })?,
                },
                Ok(SlotMsg::Done { exp, run, output }) => {
                    let stream = self.slots.remove(&exp).and_then(|s| s.stream);
                    self.finish_run(exp, run, *output, stream)?;
                }
                Ok(SlotMsg::IdeaReady(outcome)) => self.idea_ready(*outcome)?,
                Ok(SlotMsg::LessonReady(w)) => self.lesson_ready(*w)?,
                Ok(SlotMsg::DigestReady(w)) => self.digest_ready(*w)?,
                Ok(SlotMsg::CodeReady { exp, outcome, fix }) => {
                    self.code_ready(exp, *outcome, fix)?
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if last_beat.elapsed() > Duration::from_secs(5) {
                self.ledger.heartbeat(self.campaign.id)?;
                last_beat = Instant::now();
            }
        }
        self.ledger.heartbeat(self.campaign.id)?;
        self.drop_spares()?;
        self.write_results()?;
        // A clean end, so `status` can tell it from a crash.
        self.ledger.campaign_event(
            self.campaign.id,
            "run_ended",
            &serde_json::json!({ "ending": format!("{ending:?}").to_lowercase() }),
        )?;
        let campaign = self
            .ledger
            .campaign(&self.campaign.tag)?
            .unwrap_or_else(|| self.campaign.clone());
        let incumbent = match campaign.incumbent {
            Some(n) => self.ledger.experiment(campaign.id, n)?,
            None => None,
        };
        let baseline_score = self
            .ledger
            .experiment(campaign.id, 0)?
            .and_then(|e| e.score);
        Ok(Summary {
            ending,
            tag: campaign.tag,
            incumbent,
            baseline_score,
        })
    }

    /// Whether a new experiment may still be proposed under the experiment budget.
    fn may_propose(&self) -> Result<bool, EngineError> {
        let next = self.ledger.next_number(self.campaign.id)?;
        let under_budget = self.opts.max_experiments.is_none_or(|max| next < max);
        Ok(under_budget && (next == 0 || self.proposer.is_some()))
    }

    /// True while the baseline has no verdict yet (candidates wait for it).
    fn baseline_pending(&self) -> Result<bool, EngineError> {
        Ok(self
            .ledger
            .experiment(self.campaign.id, 0)?
            .is_none_or(|e| !e.state.is_final()))
    }

    fn fill_slots(&mut self) -> Result<(), EngineError> {
        while self.slots.len() < self.parallel {
            let work = match self.queue.pop_front() {
                Some(w) => w,
                None => {
                    if !self.may_propose()? {
                        return Ok(());
                    }
                    let next = self.ledger.next_number(self.campaign.id)?;
                    if next > 0 && self.agent.is_some() {
                        // The LLM path proposes through jobs (launch_prep).
                        return Ok(());
                    }
                    if next > 0 && self.baseline_pending()? {
                        // Candidates are judged against the baseline: wait for its verdict.
                        return Ok(());
                    }
                    match self.propose(next)? {
                        Some(row) => Work::Implement(row),
                        None => return Ok(()),
                    }
                }
            };
            match work {
                Work::Implement(row) => {
                    if self.implement(row)? {
                        self.start_run(row)?;
                    }
                }
                Work::Run(row) => {
                    // Candidates prepared while the baseline runs wait for its verdict.
                    if self.baseline_pending()? && self.ledger.experiment_by_row(row)?.number > 0 {
                        self.queue.push_front(Work::Run(row));
                        return Ok(());
                    }
                    self.start_run(row)?
                }
                Work::Decide(exp, run) => self.decide(exp, run)?,
                Work::Attach(exp, run) => {
                    let job = self
                        .ledger
                        .runs(exp)?
                        .into_iter()
                        .find(|r| r.row == run)
                        .and_then(|r| r.job);
                    match job {
                        Some(j) => {
                            let handle = autolab_runner::Handle::Job {
                                scheduler: j.scheduler,
                                id: j.id,
                            };
                            self.reattach(exp, run, handle)?
                        }
                        None => self.queue.push_back(Work::Run(exp)),
                    }
                }
            }
        }
        Ok(())
    }

    fn report_verdict(&mut self, row: i64) -> Result<(), EngineError> {
        let experiment = self.ledger.experiment_by_row(row)?;
        let campaign = self.ledger.campaign(&self.campaign.tag)?;
        let best = match campaign.and_then(|c| c.incumbent) {
            Some(n) => self
                .ledger
                .experiment(self.campaign.id, n)?
                .and_then(|e| e.score),
            None => None,
        };
        match experiment.verdict {
            Some(Verdict::Crashed | Verdict::Timeout) => self.consecutive_crashes += 1,
            // Somebody's decision, not the code's: the streak neither grows nor ends.
            Some(Verdict::Cancelled) | None => {}
            Some(_) => self.consecutive_crashes = 0,
        }
        if self.consecutive_crashes >= self.lab.config.runner.max_consecutive_crashes {
            self.paused = true;
        }
        self.write_playbook()?;
        self.launch_lessons()?;
        let primary = experiment
            .metrics
            .get(&self.lab.config.metrics.primary)
            .copied();
        let run_secs = self
            .ledger
            .runs(row)?
            .iter()
            .filter_map(|r| r.ended_at.map(|end| (end - r.started_at).max(0.0)))
            .sum();
        self.observer.report(Report::Verdict {
            experiment: Box::new(experiment),
            best,
            primary,
            run_secs,
        });
        Ok(())
    }

    fn incumbent(&self) -> Result<Option<Experiment>, EngineError> {
        let c = self.ledger.campaign(&self.campaign.tag)?;
        Ok(match c.and_then(|c| c.incumbent) {
            Some(n) => self.ledger.experiment(self.campaign.id, n)?,
            None => None,
        })
    }

    /// The commit new experiments start from.
    fn incumbent_commit(&self) -> Result<String, EngineError> {
        Ok(self
            .incumbent()?
            .and_then(|e| e.commit)
            .unwrap_or_else(|| self.campaign.base_commit.clone()))
    }

    fn experiment_name(&self, number: u32) -> String {
        format!("{}/{number:04}", self.campaign.tag)
    }
}
