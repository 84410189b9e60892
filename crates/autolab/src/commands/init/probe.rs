//! `init --probe`: the command run once the way a campaign runs it (a worktree of HEAD, the
//! cleared environment, the sandbox, the time limit), and the metrics it reported.

use std::path::{Path, PathBuf};
use std::time::Duration;

use autolab_core::StatePaths;
use autolab_core::config::Config;
use autolab_core::git::Repo;
use autolab_core::metrics::{self, RunOutputs};
use autolab_runner::{Exit, LocalRunner, RunSpec, Runner, SandboxSpec, allowed_env};

use crate::output::CliError;

/// What the probe run did.
pub struct Probe {
    pub exit: Exit,
    pub elapsed: Duration,
    /// Metric values it reported, in the order first seen.
    pub metrics: Vec<(String, f64)>,
    pub problems: Vec<String>,
    /// The last lines of its output (stdout then stderr).
    pub tail: String,
    /// Files the run left in its run dir (AI-Scientist's `final_info.json` …), copied here.
    pub outputs: Vec<PathBuf>,
}

impl Probe {
    pub fn succeeded(&self) -> bool {
        self.exit == Exit::Code(0)
    }
}

/// Runs `config`'s command once in a throwaway worktree of HEAD under `.autolab/probe/`.
pub fn probe(repo: &Repo, config: &Config) -> Result<Probe, CliError> {
    let head = repo.head().map_err(|_| {
        CliError::usage(
            "`init --probe` needs a commit: it runs the committed files, as campaign runs do",
            Some("commit your code first: git add -A && git commit -m init"),
        )
    })?;
    if let Err(missing) = super::super::preflight::check_lab_program(config, &repo.root) {
        return Err(CliError::usage(
            format!(
                "cannot probe: the command's program `{}` is not found (looked in {})",
                missing.program, missing.looked_in
            ),
            Some(&missing.hint()),
        ));
    }
    let base = StatePaths::new(&repo.root).probes();
    let worktree = base.join("worktree");
    let run_dir = base.join("run");
    repo.remove_worktree(&worktree)?;
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(run_dir.join("tmp"))?;
    let wt = worktree.to_string_lossy().into_owned();
    repo.run(&["worktree", "add", "--quiet", "--detach", &wt, &head])?;
    let result = run_once(repo, config, &worktree, &run_dir);
    let _ = repo.remove_worktree(&worktree);
    result
}

fn run_once(
    repo: &Repo,
    config: &Config,
    worktree: &Path,
    run_dir: &Path,
) -> Result<Probe, CliError> {
    let mut env = allowed_env(&config.runner.env_allow);
    env.push(("AUTOLAB_SEED".into(), "0".into()));
    env.push((
        "AUTOLAB_RUN_DIR".into(),
        run_dir.to_string_lossy().into_owned(),
    ));
    env.push(("AUTOLAB_EXPERIMENT".into(), "probe".into()));
    env.push(("AUTOLAB_TAG".into(), "probe".into()));
    env.push((
        "TMPDIR".into(),
        run_dir.join("tmp").to_string_lossy().into_owned(),
    ));
    let sb = &config.sandbox;
    let sandbox = match std::env::current_exe() {
        Ok(helper) if sb.enabled => {
            let mut writable = vec![worktree.to_path_buf(), run_dir.to_path_buf()];
            writable.extend(sb.writable.iter().map(|w| {
                let p = Path::new(w);
                if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    repo.root.join(p)
                }
            }));
            Some(SandboxSpec {
                helper,
                landlock: sb.landlock,
                writable,
                network_none: sb.network_none,
                max_procs: Some(sb.max_procs),
                max_file_bytes: Some(sb.max_file_bytes),
                max_address_space: sb.max_memory_bytes,
                visible: vec![repo.root.clone()],
                read_only: vec![worktree.join(".git")],
                private_tmp_bytes: sb.max_disk_bytes.map(|b| b / 4).or(sb.max_memory_bytes),
            })
        }
        _ => None,
    };
    let spec = RunSpec {
        command: autolab_engine::coder::render_command(
            &config.task.command,
            None,
            None,
            run_dir,
            0,
            "probe",
        ),
        workdir: worktree.to_path_buf(),
        run_dir: run_dir.to_path_buf(),
        env,
        timeout: config.task.timeout,
        kill_grace: config.runner.kill_grace,
        max_log_bytes: config.runner.max_log_bytes,
        sandbox,
        stall_timeout: config.task.stall_timeout,
        max_disk_bytes: config.sandbox.max_disk_bytes,
        disk_watch: vec![worktree.to_path_buf(), run_dir.to_path_buf()],
        line_sink: None,
    };
    crate::signals::install();
    let finished = LocalRunner
        .run(&spec, &crate::signals::STOP, &mut |_| {}, None)
        .map_err(|e| CliError::failure(format!("the probe run could not start: {e}"), None))?;
    let mut log = std::fs::read_to_string(&finished.stdout).unwrap_or_default();
    log.push_str(&std::fs::read_to_string(&finished.stderr).unwrap_or_default());
    let collected = metrics::collect(
        &config.metrics.sources,
        &RunOutputs {
            log: &log,
            run_dir,
            worktree,
        },
    );
    let lines: Vec<&str> = log.lines().collect();
    let tail = lines[lines.len().saturating_sub(15)..].join("\n");
    let outputs = std::fs::read_dir(run_dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file() && p != &finished.stdout && p != &finished.stderr)
                .collect()
        })
        .unwrap_or_default();
    Ok(Probe {
        exit: finished.exit,
        elapsed: finished.elapsed,
        metrics: collected.values.into_iter().collect(),
        problems: collected.problems,
        tail,
        outputs,
    })
}
