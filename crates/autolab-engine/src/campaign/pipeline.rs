//! The steps of one experiment before its verdict: propose → implement (worktree, commit,
//! rule check) → run. Its verdict lands through `conclude.rs`.

use autolab_core::ids::{ExperimentId, RunId};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use autolab_core::config::Goal;
use autolab_core::experiment::{ProposerKind, RunOutcome, State, Verdict};
use autolab_core::git;
use autolab_core::ledger::Changes;
use autolab_core::metrics::{self, RunOutputs};
use autolab_runner::{Handle, LineWatch, RunSpec, SandboxSpec, allowed_env};
use serde_json::json;

use super::execute::{Job, execute};
use super::finish::read_end;
use super::{Driver, Report, Slot, SlotMsg, Work};
use crate::coder::{param_env, render_command};
use crate::proposer::{Proposal, Trial};
use crate::{EngineError, early_stop};

impl Driver<'_> {
    /// Records the next idea as experiment `number`; the baseline when `number` is 0.
    pub(super) fn propose(&mut self, number: u32) -> Result<Option<ExperimentId>, EngineError> {
        let parent = self.incumbent_commit()?;
        let proposal = if number == 0 {
            Proposal {
                title: "baseline".into(),
                proposer: "baseline".into(),
                params: None,
            }
        } else {
            let history = self.trials()?;
            let Some(proposer) = self.proposer.as_mut() else {
                return Ok(None);
            };
            match proposer.propose(number, &history) {
                Some(p) => p,
                None => return Ok(None),
            }
        };
        let row = self.ledger.propose(
            self.campaign.id,
            number,
            &parent,
            &proposal.proposer,
            &proposal.title,
            proposal.params.as_ref(),
        )?;
        Ok(Some(row))
    }

    fn trials(&self) -> Result<Vec<Trial>, EngineError> {
        Ok(self
            .ledger
            .experiments(self.campaign.id)?
            .into_iter()
            // A cancelled point was never measured: it tells the optimizer nothing.
            .filter(|e| e.state.is_final() && e.state != State::Cancelled)
            .filter_map(|e| match e.params {
                Some(serde_json::Value::Object(params)) => Some(Trial {
                    params,
                    score: e.score,
                }),
                _ => None,
            })
            .collect())
    }

    /// Creates the worktree from the experiment's parent, applies its change, commits it and
    /// checks the rules. Returns whether it is ready to run (else it got verdict `invalid`).
    pub(super) fn implement(&mut self, row: ExperimentId) -> Result<bool, EngineError> {
        let exp = self.ledger.experiment_by_row(row)?;
        if exp.proposer == ProposerKind::Llm && self.agent.is_some() {
            // An LLM coder takes time: it runs as a job and the run is queued when it is done.
            self.implement_async(row, None)?;
            return Ok(false);
        }
        self.ledger
            .transition(&exp, State::Implementing, json!({}))?;
        let worktree = self.lab.worktree(&self.campaign.tag, exp.number);
        self.worktrees().checkout(exp.number, &exp.parent)?;

        if exp.number == 0 {
            // The baseline is the incumbent as it is.
            let ch = Changes {
                commit: Some(exp.parent.clone()),
                lines: Some((0, 0)),
                ..Changes::default()
            };
            self.ledger
                .transition_with(row, State::Queued, json!({"commit": exp.parent}), &ch)?;
            return Ok(true);
        }
        let proposal = Proposal {
            title: exp.title.clone(),
            proposer: exp.proposer.clone(),
            params: exp.params.clone(),
        };
        let applied = match &self.coder {
            Some(coder) => coder.implement(&proposal, &worktree),
            None => Err("no coder is configured for this proposer".into()),
        };
        if let Err(reason) = applied {
            self.verdict_without_run(
                row,
                Verdict::Invalid,
                &format!("could not implement: {reason}"),
                None,
            )?;
            return Ok(false);
        }
        let message = format!(
            "{}\n\nautolab experiment {} by {}\n",
            exp.title,
            self.experiment_name(exp.number),
            exp.proposer
        );
        let commit = self.lab.repo.worktree(&worktree)?.commit_all(&message)?;
        let detail = json!({"commit": commit});
        self.queue_commit(&exp, commit, detail)
    }

    /// Records a candidate's commit and its line counts: queued to run (with `detail` in the
    /// event), or `invalid` when it breaks the `editable`/`protected` rules. Returns whether
    /// it was queued.
    pub(super) fn queue_commit(
        &mut self,
        exp: &autolab_core::experiment::Experiment,
        commit: String,
        detail: serde_json::Value,
    ) -> Result<bool, EngineError> {
        let ch = Changes {
            lines: Some(self.lab.repo.line_counts(&exp.parent, &commit)?),
            commit: Some(commit.clone()),
            ..Changes::default()
        };
        if let Some(reason) = self.rule_violation(&exp.parent, &commit)? {
            self.ledger.transition_with(
                exp.row,
                State::Implementing,
                json!({"commit": commit}),
                &ch,
            )?;
            self.verdict_without_run(exp.row, Verdict::Invalid, &reason, None)?;
            return Ok(false);
        }
        self.ledger
            .transition_with(exp.row, State::Queued, detail, &ch)?;
        Ok(true)
    }

    /// Why a candidate commit breaks the `editable`/`protected` rules, if it does.
    pub(super) fn rule_violation(
        &self,
        parent: &str,
        commit: &str,
    ) -> Result<Option<String>, EngineError> {
        let task = &self.lab.config.task;
        let changed = self.lab.repo.changed_files(parent, commit)?;
        let protected: Vec<&String> = changed
            .iter()
            .filter(|f| task.protected.iter().any(|p| git::path_matches(p, f)))
            .collect();
        if !protected.is_empty() {
            return Ok(Some(format!(
                "changes protected file(s): {}",
                join(&protected)
            )));
        }
        let outside: Vec<&String> = changed
            .iter()
            .filter(|f| !task.editable.iter().any(|p| git::path_matches(p, f)))
            .collect();
        if !outside.is_empty() {
            return Ok(Some(format!(
                "changes file(s) outside `editable`: {}",
                join(&outside)
            )));
        }
        for (path, blob) in &self.campaign.protected {
            if self.lab.repo.blob(commit, path) != *blob {
                return Ok(Some(format!(
                    "protected file `{path}` differs from the campaign start"
                )));
            }
        }
        Ok(None)
    }

    /// Starts a run of the experiment's commit in a free slot.
    pub(super) fn start_run(&mut self, row: ExperimentId) -> Result<(), EngineError> {
        let exp = self.ledger.experiment_by_row(row)?;
        let worktree = self.lab.worktree(&self.campaign.tag, exp.number);
        let Some(commit) = exp.commit.clone() else {
            self.queue.push_front(Work::Implement(row));
            return Ok(());
        };
        if !worktree.join(".git").exists() {
            // Removed by hand, or never made before a restart: re-create it at the commit.
            self.worktrees().checkout(exp.number, &commit)?;
        }
        let index = self.ledger.run_count(row)?;
        // A run that was cancelled or lost is re-run with its own seed: the seed counts only
        // the runs that ended by themselves.
        let ended = self
            .ledger
            .runs(row)?
            .iter()
            .filter(|r| !matches!(r.outcome, RunOutcome::Cancelled | RunOutcome::Lost))
            .count() as u64;
        let seed = self.campaign.seed + ended;
        let run_dir = self.lab.run_dir(&self.campaign.tag, exp.number, index);
        let (run, _) = self
            .ledger
            .start_run(row, seed, &run_dir.to_string_lossy(), &commit)?;
        let next_state = if exp.state == State::Confirming {
            State::Confirming
        } else {
            State::Running
        };
        self.ledger
            .transition(&exp, next_state, json!({"run": index, "seed": seed}))?;
        if exp.number == 0
            && index == 0
            && let Some(dir) = self
                .lab
                .config
                .task
                .baseline_dir
                .as_deref()
                .map(|d| worktree.join(d))
                .filter(|d| d.is_dir())
        {
            return self.reuse_baseline(row, run, &dir, &run_dir);
        }
        self.launch(&exp, run, seed, &run_dir, None)
    }

    /// Takes the baseline's first run from results the repository already has (`run_0`).
    fn reuse_baseline(
        &mut self,
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
        let worktree = self.lab.worktree(&self.campaign.tag, 0);
        let collected = metrics::collect(
            &self.lab.config.metrics.sources,
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
        self.ledger.finish_run(
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
    pub(super) fn reattach(
        &mut self,
        row: ExperimentId,
        run: RunId,
        handle: Handle,
    ) -> Result<(), EngineError> {
        let exp = self.ledger.experiment_by_row(row)?;
        let Some(r) = self.ledger.runs(row)?.into_iter().find(|r| r.row == run) else {
            self.queue.push_back(Work::Run(row));
            return Ok(());
        };
        let run_dir = std::path::PathBuf::from(&r.run_dir);
        self.launch(&exp, run, r.seed, &run_dir, Some(handle))
    }

    /// Starts (or re-attaches to) one run in a slot thread.
    fn launch(
        &mut self,
        exp: &autolab_core::experiment::Experiment,
        run: RunId,
        seed: u64,
        run_dir: &std::path::Path,
        attach: Option<Handle>,
    ) -> Result<(), EngineError> {
        let row = exp.row;
        let worktree = self.lab.worktree(&self.campaign.tag, exp.number);
        let run_dir = run_dir.to_path_buf();

        let config = &self.lab.config;
        let apply = config.params.as_ref().map(|p| &p.apply);
        let name = self.experiment_name(exp.number);
        let tmp = run_dir.join("tmp");
        let _ = std::fs::create_dir_all(&tmp);
        let mut env = allowed_env(&config.runner.env_allow);
        env.push(("AUTOLAB_SEED".into(), seed.to_string()));
        env.push((
            "AUTOLAB_RUN_DIR".into(),
            run_dir.to_string_lossy().into_owned(),
        ));
        env.push(("AUTOLAB_EXPERIMENT".into(), name.clone()));
        env.push(("AUTOLAB_TAG".into(), self.campaign.tag.clone()));
        env.push(("TMPDIR".into(), tmp.to_string_lossy().into_owned()));
        // Python writes stdout in blocks to a pipe: lines would arrive late (or after stderr's),
        // hiding progress from stall detection and early stopping. Unbuffered unless the lab
        // passes its own value through `env_allow`.
        if !env.iter().any(|(k, _)| k == "PYTHONUNBUFFERED") {
            env.push(("PYTHONUNBUFFERED".into(), "1".into()));
        }
        env.extend(param_env(apply, exp.params.as_ref()));
        if attach.is_none() {
            let index = run_dir.file_name().unwrap_or_default().to_string_lossy();
            env.extend(crate::mlflow::prepare_run(
                &config.metrics.sources,
                &run_dir,
                &self.campaign.tag,
                exp.number,
                &index,
            ));
        }
        let sandbox = self.sandbox_spec(&worktree, &run_dir);
        let spec = RunSpec {
            command: render_command(
                &config.task.command,
                apply,
                exp.params.as_ref(),
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
        let watch = if exp.number == 0 {
            None
        } else {
            self.early_stop_watch()?
        };
        let cancel = Arc::new(AtomicBool::new(false));
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
            repo: self.lab.repo.clone(),
            spec,
            evaluate,
            protected: self.campaign.protected.clone(),
            base: self.campaign.base_commit.clone(),
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
        self.observer.report(Report::RunStarted {
            number: exp.number,
            title: exp.title.clone(),
        });
        Ok(())
    }

    /// An early-stopping watcher against the incumbent's curve, when `[early_stop]` is set.
    fn early_stop_watch(&self) -> Result<Option<LineWatch>, EngineError> {
        let Some(rule) = self.lab.config.early_stop.clone() else {
            return Ok(None);
        };
        let Some(inc) = self.incumbent()? else {
            return Ok(None);
        };
        let Some(reference) = self.ledger.runs(inc.row)?.into_iter().find(|r| {
            r.outcome == RunOutcome::Exited && (r.commit.is_none() || r.commit == inc.commit)
        }) else {
            return Ok(None);
        };
        let log = read_end(&std::path::Path::new(&reference.run_dir).join("stdout.log"));
        let goal = self
            .lab
            .config
            .metrics
            .score
            .get(&rule.metric)
            .map(|s| s.goal)
            .unwrap_or(Goal::Minimize);
        Ok(
            early_stop::Watcher::new(early_stop::curve(&log, &rule), rule, goal)
                .map(|mut w| Box::new(move |line: &str| w.line(line)) as LineWatch),
        )
    }

    /// The sandbox for a run, when `[sandbox]` is on and a helper is known.
    fn sandbox_spec(
        &self,
        worktree: &std::path::Path,
        run_dir: &std::path::Path,
    ) -> Option<SandboxSpec> {
        let sb = &self.lab.config.sandbox;
        let helper = self.opts.sandbox_helper.clone()?;
        if !sb.enabled {
            return None;
        }
        let mut writable = vec![worktree.to_path_buf(), run_dir.to_path_buf()];
        for w in &sb.writable {
            let p = std::path::Path::new(w);
            writable.push(if p.is_absolute() {
                p.to_path_buf()
            } else {
                self.lab.root.join(p)
            });
        }
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
            visible: vec![self.lab.root.clone()],
            read_only: vec![worktree.join(".git")],
            private_tmp_bytes: sb.max_disk_bytes.map(|b| b / 4).or(sb.max_memory_bytes),
        })
    }
}

fn join(files: &[&String]) -> String {
    files
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
