//! Starting runs: a free slot gets the experiment's commit checked out, a run row, its
//! environment, sandbox and early-stopping watcher, and a thread that runs it
//! ([`super::execute`]); a cluster job left by a killed autolab is waited for again.

use autolab_core::ids::{ExperimentId, RunId};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use autolab_core::config::{Apply, StopRule};
use autolab_core::experiment::{Experiment, RunOutcome, State};
use autolab_core::metrics::{self, RunOutputs};
use autolab_runner::{Handle, LineWatch, RunSpec, SandboxSpec, allowed_env};
use serde_json::json;

use super::Report;
use super::books::Books;
use super::execute::{Job, execute};
use super::finish::read_end;
use super::jobs::{Jobs, Slot, SlotMsg, Work};
use crate::coder::{param_env, render_command};
use crate::{EngineError, early_stop};

impl Jobs {
    /// Starts a run of the experiment's commit in a free slot.
    pub fn start_run(
        &mut self,
        books: &mut Books<'_>,
        row: ExperimentId,
    ) -> Result<(), EngineError> {
        let exp = books.ledger.experiment_by_row(row)?;
        let worktree = books.lab.worktree(&books.campaign.tag, exp.number);
        let Some(commit) = exp.commit.clone() else {
            self.queue.push_front(Work::Implement(row));
            return Ok(());
        };
        let earlier = books.ledger.runs(row)?;
        if !worktree.join(".git").exists() || !earlier.is_empty() {
            // Removed by hand, or never made before a restart: re-created at the commit. A
            // later run of the same experiment (a confirmation, a promotion) starts from the
            // commit too, not from what the runs before it left in the worktree (a run that
            // rewrote its params file or code must not change what the next run measures).
            books.worktrees().checkout(exp.number, &commit)?;
        }
        let index = books.ledger.run_count(row)?;
        // A run that was cancelled or lost is re-run with its own seed: the seed counts only
        // the runs that ended by themselves.
        let ended = earlier
            .iter()
            .filter(|r| !matches!(r.outcome, RunOutcome::Cancelled | RunOutcome::Lost))
            .count() as u64;
        let seed = books.campaign.seed + ended;
        let run_dir = books.lab.run_dir(&books.campaign.tag, exp.number, index);
        let (run, _) = books
            .ledger
            .start_run(row, seed, &run_dir.to_string_lossy(), &commit)?;
        if let Some(h) = super::halving::of(books) {
            // The baseline runs at the full budget, like every judged run.
            let budget = if exp.number == 0 {
                h.full()
            } else {
                super::halving::next_budget(h, &earlier)
            };
            books.ledger.set_run_budget(run, budget)?;
        }
        let next_state = if exp.state == State::Confirming {
            State::Confirming
        } else {
            State::Running
        };
        books
            .ledger
            .transition(&exp, next_state, json!({"run": index, "seed": seed}))?;
        if exp.number == 0
            && index == 0
            && let Some(dir) = books
                .lab
                .config
                .task
                .baseline_dir
                .as_deref()
                .map(|d| worktree.join(d))
                .filter(|d| d.is_dir())
        {
            return self.reuse_baseline(books, row, run, &dir, &run_dir);
        }
        self.launch(books, &exp, run, seed, &run_dir, None)
    }

    /// Takes the baseline's first run from results the repository already has (`run_0`).
    fn reuse_baseline(
        &mut self,
        books: &mut Books<'_>,
        row: ExperimentId,
        run: RunId,
        dir: &std::path::Path,
        run_dir: &std::path::Path,
    ) -> Result<(), EngineError> {
        let _ = std::fs::create_dir_all(run_dir);
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten().filter(|e| e.path().is_file()) {
                let _ = std::fs::copy(e.path(), run_dir.join(e.file_name()));
            }
        }
        let worktree = books.lab.worktree(&books.campaign.tag, 0);
        let collected = metrics::collect(
            &books.lab.config.metrics.sources,
            &RunOutputs {
                log: "",
                run_dir,
                worktree: &worktree,
            },
        );
        let note = format!("results reused from {}", dir.display());
        let mut tail = format!("[autolab: {note}]");
        for p in &collected.problems {
            tail.push_str(&format!("\n[autolab: {p}]"));
        }
        books.ledger.finish_run(
            run,
            RunOutcome::Exited,
            Some(0),
            &collected.values,
            &tail,
            Some(&note),
        )?;
        self.queue.push_front(Work::Decide(row, run));
        Ok(())
    }

    /// Re-attaches to a run a killed autolab left on a cluster (its job outlives autolab).
    pub fn reattach(
        &mut self,
        books: &mut Books<'_>,
        row: ExperimentId,
        run: RunId,
        handle: Handle,
    ) -> Result<(), EngineError> {
        let exp = books.ledger.experiment_by_row(row)?;
        let Some(r) = books.ledger.runs(row)?.into_iter().find(|r| r.row == run) else {
            self.queue.push_back(Work::Run(row));
            return Ok(());
        };
        let run_dir = std::path::PathBuf::from(&r.run_dir);
        self.launch(books, &exp, run, r.seed, &run_dir, Some(handle))
    }

    /// Starts (or re-attaches to) one run in a slot thread.
    fn launch(
        &mut self,
        books: &mut Books<'_>,
        exp: &Experiment,
        run: RunId,
        seed: u64,
        run_dir: &std::path::Path,
        attach: Option<Handle>,
    ) -> Result<(), EngineError> {
        let row = exp.row;
        let worktree = books.lab.worktree(&books.campaign.tag, exp.number);
        let run_dir = run_dir.to_path_buf();

        let config = &books.lab.config;
        let apply = config.params.as_ref().map(|p| &p.apply);
        let name = books.experiment_name(exp.number);
        // Successive halving: this run's budget replaces the fidelity's value, in the params
        // file too (the commit holds the full budget).
        let runs = books.ledger.runs(row)?;
        let budget = runs.iter().find(|r| r.row == run).and_then(|r| r.budget);
        // (A baseline whose values go to the command line keeps its own: the others have no
        // value to render.)
        let args_baseline = exp.params.is_none() && matches!(apply, Some(Apply::Args(_)));
        let params = match (super::halving::of(books), budget) {
            (Some(h), Some(b)) if !args_baseline => {
                let p = super::halving::with_budget(h, exp.params.as_ref(), b);
                if attach.is_none()
                    && let (Some(apply), Some(serde_json::Value::Object(values))) = (apply, &p)
                {
                    let only: serde_json::Map<String, serde_json::Value> = values
                        .iter()
                        .filter(|(k, _)| **k == h.param)
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    // A run that replaced the params file (e.g. by a symlink out of the
                    // worktree) fails its next run, not the campaign.
                    if let Err(e) = crate::coder::write_values(apply, &worktree, &only) {
                        let why = format!("cannot set the run's budget in the params file: {e}");
                        books.ledger.finish_run(
                            run,
                            RunOutcome::Failed,
                            None,
                            &Default::default(),
                            &why,
                            Some(&why),
                        )?;
                        self.queue.push_front(Work::Decide(row, run));
                        return Ok(());
                    }
                }
                p
            }
            _ => exp.params.clone(),
        };
        let tmp = run_dir.join("tmp");
        let _ = std::fs::create_dir_all(&tmp);
        let mut env = allowed_env(&config.runner.env_allow);
        env.push(("AUTOLAB_SEED".into(), seed.to_string()));
        env.push((
            "AUTOLAB_RUN_DIR".into(),
            run_dir.to_string_lossy().into_owned(),
        ));
        env.push(("AUTOLAB_EXPERIMENT".into(), name.clone()));
        env.push(("AUTOLAB_TAG".into(), books.campaign.tag.clone()));
        env.push(("TMPDIR".into(), tmp.to_string_lossy().into_owned()));
        // Python writes stdout in blocks to a pipe: lines would arrive late (or after stderr's),
        // hiding progress from stall detection and early stopping. Unbuffered unless the lab
        // passes its own value through `env_allow`.
        if !env.iter().any(|(k, _)| k == "PYTHONUNBUFFERED") {
            env.push(("PYTHONUNBUFFERED".into(), "1".into()));
        }
        env.extend(param_env(apply, params.as_ref()));
        if attach.is_none() {
            let index = run_dir.file_name().unwrap_or_default().to_string_lossy();
            env.extend(crate::mlflow::prepare_run(
                &config.metrics.sources,
                &run_dir,
                &books.campaign.tag,
                exp.number,
                &index,
            ));
        }
        let sandbox = sandbox_spec(books, &worktree, &run_dir);
        let spec = RunSpec {
            command: render_command(
                &config.task.command,
                apply,
                params.as_ref(),
                &run_dir,
                seed,
                &name,
            ),
            workdir: worktree.clone(),
            run_dir: run_dir.clone(),
            env: env.clone(),
            timeout: config.task.timeout,
            kill_grace: config.runner.kill_grace,
            max_log_bytes: config.runner.max_log_bytes,
            sandbox: sandbox.clone(),
            stall_timeout: config.task.stall_timeout,
            max_disk_bytes: config.sandbox.max_disk_bytes,
            disk_watch: vec![worktree.clone(), run_dir.clone()],
            line_sink: None,
        };
        // Metrics come from the whole output of the run that produces them, not the capped log
        // (a re-attached run's output was not seen from its start: its log is read instead).
        let stream = attach
            .is_none()
            .then(|| autolab_core::metrics::StreamReader::new(&config.metrics.sources))
            .flatten()
            .map(|r| r.watching(config.metrics.score.keys().cloned()))
            .map(Arc::new);
        let sink = stream
            .clone()
            .map(|r| autolab_runner::LineSink(Arc::new(move |line: &str| r.line(line))));
        let mut spec = spec;
        let evaluate = config.task.evaluate.as_ref().map(|cmd| {
            let eval_dir = run_dir.join("eval");
            RunSpec {
                command: render_command(cmd, None, None, &run_dir, seed, &name),
                disk_watch: vec![worktree.clone(), eval_dir.clone()],
                run_dir: eval_dir,
                stall_timeout: None,
                line_sink: sink.clone(),
                ..spec.clone()
            }
        });
        if evaluate.is_none() {
            spec.line_sink = sink;
        }
        // The baseline is never stopped, nor the confirmation or re-measuring runs of an
        // experiment whose first run already ran to its end.
        // (A promotion to a larger budget is watched: it is a new measurement.)
        let confirmed = runs
            .iter()
            .any(|r| r.outcome == RunOutcome::Exited && r.budget == budget);
        let watch = if exp.number == 0 || confirmed {
            None
        } else {
            early_stop_watch(books)?
        };
        // Cancelled before its slot came (a re-attached cluster job): killed at once.
        let cancel = Arc::new(AtomicBool::new(self.cancelling.contains_key(&row)));
        self.slots.insert(
            row,
            Slot {
                cancel: cancel.clone(),
                stream,
            },
        );
        let after = config.task.after.as_ref().map(|cmd| {
            let after_dir = run_dir.join("after");
            RunSpec {
                command: render_command(cmd, None, None, &run_dir, seed, &name),
                disk_watch: vec![worktree.clone(), after_dir.clone()],
                run_dir: after_dir,
                stall_timeout: None,
                line_sink: None,
                ..spec.clone()
            }
        });
        let job = Job {
            attach,
            after,
            runner: self.runner.clone(),
            repo: books.lab.repo.clone(),
            spec,
            evaluate,
            protected: books.campaign.protected.clone(),
            base: books.campaign.base_commit.clone(),
            cancel,
            watch,
        };
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let started = tx.clone();
            let output = execute(job, &mut |handle| {
                let _ = started.send(SlotMsg::Started { run, handle });
            });
            let _ = tx.send(SlotMsg::Done {
                exp: row,
                run,
                output: Box::new(output),
            });
        });
        books.observer.report(Report::RunStarted {
            number: exp.number,
            title: exp.title.clone(),
        });
        Ok(())
    }
}

/// An early-stopping watcher, when `[early_stop]` is set and its reference has curves: the
/// incumbent's, or the campaign's completed runs' (from the ledger; the incumbent's log for
/// a run recorded before curves were). The baseline's completed runs measure the noise.
fn early_stop_watch(books: &Books<'_>) -> Result<Option<LineWatch>, EngineError> {
    let Some(rule) = books.lab.config.early_stop.clone() else {
        return Ok(None);
    };
    let completed = books.ledger.curves().completed(
        books.campaign.id,
        &rule.metric,
        &books.lab.config.metrics.primary,
    )?;
    let noise = completed
        .iter()
        .filter(|c| c.experiment == 0)
        .map(|c| c.points.clone())
        .collect();
    let reference = match rule.rule {
        StopRule::Percentile(p) => early_stop::Reference::Percentile {
            p,
            curves: completed.into_iter().map(|c| c.points).collect(),
        },
        StopRule::Incumbent => {
            let Some(inc) = books.incumbent()? else {
                return Ok(None);
            };
            let Some(reference) = books.ledger.runs(inc.row)?.into_iter().find(|r| {
                r.outcome == RunOutcome::Exited && (r.commit.is_none() || r.commit == inc.commit)
            }) else {
                return Ok(None);
            };
            let stored = completed
                .into_iter()
                .find(|c| c.run == reference.row)
                .map(|c| c.points);
            early_stop::Reference::Incumbent(stored.unwrap_or_else(|| {
                let log = read_end(&std::path::Path::new(&reference.run_dir).join("stdout.log"));
                early_stop::curve(&log, &rule)
            }))
        }
    };
    Ok(early_stop::Watcher::new(reference, noise, rule)
        .map(|mut w| Box::new(move |line: &str| w.line(line)) as LineWatch))
}

/// The sandbox for a run, when `[sandbox]` is on and a helper is known.
impl Jobs {
    /// A project's plot command (`[projects] plot`), run in its directory like a run: the
    /// lab's allowed environment, the sandbox, the run's time limit.
    pub fn plot_spec(&self, books: &Books<'_>, dir: &std::path::Path, command: &str) -> RunSpec {
        let config = &books.lab.config;
        let run_dir = dir.join("plot-run");
        let _ = std::fs::create_dir_all(run_dir.join("tmp"));
        let mut env = allowed_env(&config.runner.env_allow);
        env.push((
            "TMPDIR".into(),
            run_dir.join("tmp").to_string_lossy().into_owned(),
        ));
        env.push(("MPLBACKEND".into(), "Agg".into()));
        RunSpec {
            command: command.to_string(),
            workdir: dir.to_path_buf(),
            run_dir: run_dir.clone(),
            env,
            timeout: config.task.timeout,
            kill_grace: config.runner.kill_grace,
            max_log_bytes: config.runner.max_log_bytes,
            sandbox: sandbox_spec(books, dir, &run_dir),
            stall_timeout: None,
            max_disk_bytes: config.sandbox.max_disk_bytes,
            disk_watch: vec![dir.to_path_buf()],
            line_sink: None,
        }
    }
}

fn sandbox_spec(
    books: &Books<'_>,
    worktree: &std::path::Path,
    run_dir: &std::path::Path,
) -> Option<SandboxSpec> {
    sandbox_for(
        books.lab,
        books.opts.sandbox_helper.clone(),
        vec![worktree.to_path_buf(), run_dir.to_path_buf()],
        vec![worktree.join(".git")],
    )
}

/// The lab's `[sandbox]` for a command that may write only beneath `writable` (and the lab's
/// own `writable` directories); `None` when the sandbox is off or no helper is known.
pub(crate) fn sandbox_for(
    lab: &crate::Lab,
    helper: Option<std::path::PathBuf>,
    writable: Vec<std::path::PathBuf>,
    read_only: Vec<std::path::PathBuf>,
) -> Option<SandboxSpec> {
    let sb = &lab.config.sandbox;
    let helper = helper?;
    if !sb.enabled {
        return None;
    }
    // `join` keeps an absolute path as it is and puts a relative one under the lab.
    let in_lab = |p: &String| lab.root.join(p);
    let writable = writable
        .into_iter()
        .chain(sb.writable.iter().map(in_lab))
        .collect();
    Some(SandboxSpec {
        helper,
        landlock: sb.landlock,
        writable,
        network_none: sb.network_none,
        max_procs: Some(sb.max_procs),
        max_file_bytes: Some(sb.max_file_bytes),
        max_address_space: sb.max_memory_bytes,
        // The lab's own files (data, code outside the worktree) stay readable if the lab
        // lies in /tmp; the worktree's `.git` is autolab's, not the run's.
        visible: std::iter::once(lab.root.clone())
            .chain(sb.visible.iter().map(in_lab))
            .collect(),
        read_only,
        private_tmp_bytes: sb.max_disk_bytes.map(|b| b / 4).or(sb.max_memory_bytes),
    })
}
