//! `autolab doctor`: is this machine and this lab ready? Each problem comes with its fix.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};

use autolab_core::config::{Apply, Config, SandboxConfig};
use autolab_core::git::{Repo, path_matches};

use crate::output::CliError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also send the configured LLM one tiny request (a few tokens) to check the endpoint,
    /// the model name and the API key.
    #[arg(long)]
    pub llm: bool,
}

struct Check {
    ok: bool,
    what: String,
    fix: Option<String>,
}

pub fn doctor(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    let mut checks = Vec::new();
    let mut sandbox = SandboxConfig::default();
    let mut add =
        |ok: bool, what: String, fix: Option<String>| checks.push(Check { ok, what, fix });

    let git = Command::new("git")
        .arg("--version")
        .stdin(Stdio::null())
        .output();
    match git {
        Ok(o) if o.status.success() => add(
            true,
            String::from_utf8_lossy(&o.stdout).trim().to_string(),
            None,
        ),
        _ => add(
            false,
            "git is not installed".into(),
            Some("install git (apt-get install git)".into()),
        ),
    }
    add(
        Path::new("/bin/sh").exists(),
        "/bin/sh runs lab commands".into(),
        Some("install a POSIX shell".into()),
    );

    match Repo::discover(dir) {
        Err(_) => add(
            false,
            format!("{} is not in a git repository", dir.display()),
            Some("git init && git add -A && git commit -m init".into()),
        ),
        Ok(repo) => {
            let head = repo.head();
            add(
                head.is_ok(),
                format!("git repository at {}", repo.root.display()),
                Some("make a first commit: git add -A && git commit -m init".into()),
            );
            let excluded = std::fs::read_to_string(repo.git_dir.join("info/exclude"))
                .unwrap_or_default()
                .lines()
                .any(|l| l.trim() == ".autolab/");
            add(excluded, ".autolab/ is git-ignored (.git/info/exclude)".into(), Some("run `autolab init` or `autolab run` once, or add `.autolab/` to .git/info/exclude".into()));
            match Config::load_lab(&repo.root) {
                Err(e) => add(false, format!("config: {e}"), e.hint.clone()),
                Ok(config) => {
                    add(
                        true,
                        format!("config {} is valid", config.path.display()),
                        None,
                    );
                    sandbox = config.sandbox.clone();
                    check_command(&config, &repo.root, &mut add);
                    check_files(&repo, &config, head.ok().as_deref(), &mut add);
                    check_params_file(&repo.root, &mut add);
                    check_cluster(&config, &mut add);
                    check_llm(&config, args.llm, &mut add);
                }
            }
        }
    }
    if !sandbox.enabled {
        checks.push(Check {
            ok: true,
            what: "sandbox off: `enabled = false` in [sandbox]; runs are not contained".into(),
            fix: None,
        });
    }
    for layer in sandbox_layers(&sandbox)
        .into_iter()
        .filter(|_| sandbox.enabled)
    {
        checks.push(Check {
            ok: true,
            what: format!(
                "sandbox layer {:<18} {}: {}",
                layer.name,
                if layer.active { "active  " } else { "INACTIVE" },
                layer.detail
            ),
            fix: None,
        });
    }
    let mut failed = 0;
    for c in &checks {
        if c.ok {
            println!("ok    {}", c.what);
        } else {
            failed += 1;
            println!("FAIL  {}", c.what);
            if let Some(f) = &c.fix {
                println!("      fix: {f}");
            }
        }
    }
    if failed > 0 {
        println!("{failed} problem(s)");
        return Ok(ExitCode::from(1));
    }
    println!("all checks passed");
    Ok(ExitCode::SUCCESS)
}

/// The `[agent]` LLM: its key is there, and (with `--llm`) one tiny request is answered.
fn check_llm(config: &Config, call: bool, add: &mut impl FnMut(bool, String, Option<String>)) {
    let Some(agent) = &config.agent else {
        return;
    };
    let client = match autolab_llm::client(&autolab_engine::llm::provider_config(agent)) {
        Ok(c) => c,
        Err(e) => {
            add(
                false,
                format!("LLM: {e}"),
                Some("export the key in the variable named by [agent].api_key_env (it is never stored), or point base_url at a local server".into()),
            );
            return;
        }
    };
    if !call {
        add(
            true,
            format!(
                "LLM: {} (`autolab doctor --llm` sends it one tiny request)",
                client.describe()
            ),
            None,
        );
        return;
    }
    let req = autolab_llm::ChatRequest::new(
        vec![autolab_llm::Message {
            role: autolab_llm::Role::User,
            content: "Reply with the single word OK.".into(),
        }],
        16,
    );
    let started = std::time::Instant::now();
    match client.complete(&req) {
        Ok(r) => add(
            true,
            format!(
                "LLM: {} answered in {:.1}s ({} + {} tokens, ${:.5})",
                client.describe(),
                started.elapsed().as_secs_f64(),
                r.usage.prompt_tokens,
                r.usage.completion_tokens,
                r.cost_usd
            ),
            None,
        ),
        Err(e) => {
            let fix = match &e {
                autolab_llm::LlmError::Http {
                    status: 401 | 403, ..
                } => {
                    "the provider refused the API key: check the variable named by [agent].api_key_env"
                }
                autolab_llm::LlmError::Http { status: 404, .. } => {
                    "check [agent].base_url (OpenAI-compatible servers end in /v1) and the model name"
                }
                autolab_llm::LlmError::Transport(_) => {
                    "is the server running and [agent].base_url right? (Ollama: http://127.0.0.1:11434/v1)"
                }
                _ => "check [agent].provider, base_url and model",
            };
            add(
                false,
                format!("LLM: {} failed: {e}", client.describe()),
                Some(fix.into()),
            );
        }
    }
}

/// The command's program exists (the same check `run` makes before it starts).
fn check_command(config: &Config, root: &Path, add: &mut impl FnMut(bool, String, Option<String>)) {
    match super::preflight::check_lab_program(config, root) {
        Ok(program) if program.is_empty() => {}
        Ok(program) => add(
            true,
            format!("the command's program `{program}` is there"),
            None,
        ),
        Err(missing) => add(
            false,
            format!(
                "the command's program `{}` is not found (looked in {})",
                missing.program, missing.looked_in
            ),
            Some(missing.hint()),
        ),
    }
}

fn check_files(
    repo: &Repo,
    config: &Config,
    head: Option<&str>,
    add: &mut impl FnMut(bool, String, Option<String>),
) {
    let Some(head) = head else { return };
    let files = repo.files_at(head).unwrap_or_default();
    for pattern in &config.task.editable {
        let ok = files.iter().any(|f| path_matches(pattern, f));
        add(
            ok,
            format!("editable `{pattern}` matches committed files"),
            Some(format!("commit `{pattern}` or fix task.editable")),
        );
    }
    if let Some(p) = &config.params
        && let Apply::Json(f) | Apply::Toml(f) = &p.apply
    {
        let ok = config.task.editable.iter().any(|e| path_matches(e, f));
        add(
            ok,
            format!("params file `{f}` is editable"),
            Some(format!("add \"{f}\" to task.editable")),
        );
    }
}

/// The sandbox layers a run of this lab gets on this machine (with its configured limits),
/// found by sandboxing `true`.
fn sandbox_layers(sb: &SandboxConfig) -> Vec<autolab_runner::Layer> {
    use autolab_runner::{LocalRunner, RunSpec, Runner, SandboxSpec};
    let Ok(dir) = tempfile::tempdir() else {
        return Vec::new();
    };
    let Ok(helper) = std::env::current_exe() else {
        return Vec::new();
    };
    let spec = RunSpec {
        command: "true".into(),
        workdir: dir.path().to_path_buf(),
        run_dir: dir.path().join("run"),
        env: autolab_runner::allowed_env(&[]),
        timeout: std::time::Duration::from_secs(30),
        kill_grace: std::time::Duration::from_secs(1),
        max_log_bytes: 1 << 20,
        sandbox: Some(SandboxSpec {
            helper,
            landlock: sb.landlock,
            writable: vec![dir.path().to_path_buf()],
            network_none: sb.network_none,
            max_procs: Some(sb.max_procs),
            max_file_bytes: Some(sb.max_file_bytes),
            max_address_space: sb.max_memory_bytes,
            visible: Vec::new(),
            read_only: Vec::new(),
            private_tmp_bytes: sb.max_disk_bytes.map(|b| b / 4).or(sb.max_memory_bytes),
        }),
        stall_timeout: None,
        max_disk_bytes: sb.max_disk_bytes,
        disk_watch: Vec::new(),
        line_sink: None,
    };
    let cancel = std::sync::atomic::AtomicBool::new(false);
    LocalRunner
        .run(&spec, &cancel, &mut |_| {}, None)
        .map(|f| f.layers)
        .unwrap_or_default()
}

/// For `kind = "slurm" | "lsf"`: the scheduler's commands (over ssh when set) and a trivial job.
fn check_cluster(config: &Config, add: &mut impl FnMut(bool, String, Option<String>)) {
    use autolab_core::config::RunnerKind;
    use autolab_runner::{ClusterRunner, RunSpec, Runner, Scheduler};
    let (scheduler, s, tools) = match &config.runner.kind {
        RunnerKind::Local => return,
        RunnerKind::Slurm(s) => (Scheduler::Slurm, s, ["sbatch", "squeue", "scancel"]),
        RunnerKind::Lsf(s) => (Scheduler::Lsf, s, ["bsub", "bjobs", "bkill"]),
    };
    let on = s.ssh.clone().unwrap_or_else(|| "this host".into());
    if let Some(target) = &s.ssh {
        let ok = Command::new("ssh")
            .args(&s.ssh_args)
            .args(["-o", "BatchMode=yes", target, "true"])
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|st| st.success());
        add(
            ok,
            format!("ssh {target} works"),
            Some(format!(
                "check `ssh {target} true` by hand (keys, ~/.ssh/config)"
            )),
        );
        if !ok {
            return;
        }
    }
    for tool in tools {
        let probe = format!("command -v {tool}");
        let ok = match &s.ssh {
            None => Command::new("sh")
                .args(["-c", &probe])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|st| st.success()),
            Some(t) => Command::new("ssh")
                .args(&s.ssh_args)
                .args(["-o", "BatchMode=yes", t, &probe])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|st| st.success()),
        };
        add(
            ok,
            format!("`{tool}` is available on {on}"),
            Some(format!(
                "install the scheduler's client tools on {on}, or load their module in [runner].setup"
            )),
        );
    }
    let Ok(dir) = tempfile::tempdir() else { return };
    let Some(mut cfg) = autolab_engine::cluster_config(&config.runner.kind) else {
        return;
    };
    cfg.poll_interval = std::time::Duration::from_millis(500);
    let spec = RunSpec {
        command: "echo autolab-doctor-ok".into(),
        workdir: dir.path().to_path_buf(),
        run_dir: dir.path().join("run"),
        env: Vec::new(),
        timeout: std::time::Duration::from_secs(120),
        kill_grace: std::time::Duration::from_secs(1),
        max_log_bytes: 1 << 20,
        sandbox: None,
        stall_timeout: None,
        max_disk_bytes: None,
        disk_watch: Vec::new(),
        line_sink: None,
    };
    let ran = ClusterRunner::new(cfg).and_then(|r| {
        r.run(
            &spec,
            &std::sync::atomic::AtomicBool::new(false),
            &mut |_| {},
            None,
        )
    });
    let ok = ran
        .as_ref()
        .is_ok_and(|f| f.exit == autolab_runner::Exit::Code(0))
        && std::fs::read_to_string(dir.path().join("run/stdout.log"))
            .is_ok_and(|t| t.contains("autolab-doctor-ok"));
    add(
        ok,
        format!("a trivial job runs on {on} ({scheduler:?})"),
        Some(match ran {
            Err(e) => format!("submitting failed: {e}"),
            Ok(f) => format!(
                "the job ended {:?}; check [runner].submit_args and the scheduler's logs",
                f.exit
            ),
        }),
    );
}

/// Declared params against the committed params file (a misspelled one is tuned in vain).
fn check_params_file(root: &Path, add: &mut impl FnMut(bool, String, Option<String>)) {
    let Ok(lab) = autolab_engine::Lab::open(root) else {
        return;
    };
    match autolab_engine::lab_checks::params_file_keys(&lab) {
        Ok(()) => {}
        Err(e) => add(false, e.to_string(), crate::hints::hint(&e)),
    }
}
