//! Starting a campaign: the locks, the parts (proposer, coder, runner: from the config or
//! plugged in), the campaign row (created with its protected files and incumbent branch, or
//! found and checked against the lab), reconciliation, then the loop.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use autolab_core::git;
use autolab_core::ledger::{Campaign, Ledger};
use autolab_core::lock::LabLock;
use autolab_runner::{LocalRunner, Runner};
use indexmap::IndexMap;

use super::books::Books;
use super::jobs::Jobs;
use super::pipeline::Sources;
use super::{
    Driver, Observer, Report, RunOptions, Summary, agent_flow, drift, fresh_start, projects,
    supervise,
};
use crate::EngineError;
use crate::coder::{Coder, ParamsWriter};
use crate::lab::Lab;
use crate::proposer::{Optimizer, Proposer};

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
    let holder = match &opts.holder {
        Some(h) => format!("{h} in {}", lab.root.display()),
        None => format!("autolab run --tag {} in {}", opts.tag, lab.root.display()),
    };
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
    if let Some(a) = &agent {
        explore_first(lab, &mut ledger, &campaign, a, opts, observer)?;
    }
    let runner = match parts.runner {
        Some(r) => r,
        None => runner_for(&lab.config.runner.kind)?,
    };
    let parallel = opts.parallel.unwrap_or(lab.config.runner.parallel).max(1);
    let lab_projects = lab.config.projects.clone();
    let watch = supervise::Watch::new(&lab.config, &campaign.tag);
    let mut driver = Driver {
        books: Books {
            lab,
            ledger,
            campaign,
            opts,
            observer,
            started: Instant::now(),
            held_since,
            spares: parallel,
            concluded: Vec::new(),
        },
        jobs: Jobs::new(runner, parallel),
        sources: Sources { proposer, coder },
        projects: lab_projects
            .filter(|_| agent.is_some())
            .map(|cfg| projects::ProjectRuntime {
                cfg,
                busy: std::collections::HashSet::new(),
            }),
        agent,
        rebases: HashMap::new(),
        consecutive_crashes: 0,
        paused: false,
        user_pause: None,
        stop_asked: false,
        disconnected: false,
        watch,
    };
    driver.load_approvals()?;
    driver.reconcile()?;
    driver.expire_old_controls()?;
    let books = &driver.books;
    if let Some(base) = books.ledger.experiment(books.campaign.id, 0)?
        && base.state.is_final()
        && !base.state.keeps()
    {
        let log = books
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
    let result = driver.main_loop(stop);
    if let Err(e) = &result {
        // An overnight campaign that stops on an error says so too.
        driver.supervise_failed(e);
    }
    result
}

/// The explorer's turn (`[explore] auto`): a lab without a brief is studied before its first
/// experiment. A failure is said and the campaign goes on without a brief (the next start, or
/// `autolab explore`, tries again).
fn explore_first(
    lab: &Lab,
    ledger: &mut Ledger,
    campaign: &Campaign,
    agent: &agent_flow::AgentRuntime,
    opts: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<(), EngineError> {
    let has_brief = ledger.briefs().latest()?.is_some() || lab.paths().brief().exists();
    if !lab.config.explore.auto || has_brief || agent.caller.exhausted().is_some() {
        return Ok(());
    }
    observer.report(Report::Note(
        "exploring the lab before the first experiment (`[explore] auto = false` skips it)".into(),
    ));
    let mut log = Vec::new();
    let explored = crate::explore::explore(
        lab,
        ledger,
        &agent.caller,
        opts.sandbox_helper.clone(),
        &mut log,
    );
    for t in &log {
        ledger.record_transcript(campaign.id, t)?;
    }
    match explored {
        Ok(e) => observer.report(Report::Note(format!(
            "research brief v{} written to {}: every ideation reads it; edit it to steer",
            e.version,
            e.path.display()
        ))),
        Err(why) => observer.report(Report::Note(format!(
            "the explorer wrote no brief ({why}); going on without one"
        ))),
    }
    Ok(())
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
    let base = match &opts.base {
        Some(commit) => commit.clone(),
        None => lab.repo.head()?,
    };
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
