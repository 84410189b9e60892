//! The explorer (AlphaLab's phase 1): before any experiment, the LLM studies the lab — the
//! goal, the editable and protected files, the README and docs, samples of the data files, the
//! output of the read-only commands the user lists in `[explore] commands` — and writes
//! `.autolab/brief.md`: domain, data, the metric and its traps, baselines, risks, and a ranked
//! list of research directions. Each version is kept in the ledger; the user may edit the
//! file (the edit becomes the next version); every strategist prompt carries it.

mod samples;

pub use samples::{DataFiles, DataSample, find_data, sample};

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use autolab_core::ledger::{Ledger, Transcript};
use autolab_runner::{LocalRunner, RunSpec, Runner, allowed_env};
use serde::Serialize;

use crate::lab::Lab;
use crate::llm::context::{FileView, editable_files, goal_text, summarize, tail_chars};
use crate::llm::{Caller, user};

/// The role the explorer's LLM calls are recorded under.
pub const EXPLORER_ROLE: &str = "explorer";
/// The longest brief kept (characters).
pub const MAX_BRIEF: usize = 20_000;
/// Characters of one doc shown, and of all docs.
const DOC_CAP: usize = 8_000;
const DOCS_CAP: usize = 20_000;
/// Characters of a command's output shown (its end).
const OUTPUT_CAP: usize = 6_000;

/// What the explorer reads.
#[derive(Debug, Clone, Serialize)]
pub struct Material {
    pub goal: String,
    pub metric: String,
    pub editable: Vec<FileView>,
    pub protected: Vec<FileView>,
    pub docs: Vec<FileView>,
    pub data: DataFiles,
    pub commands: Vec<CommandOutput>,
}

/// One `[explore] commands` entry and what it printed.
#[derive(Debug, Clone, Serialize)]
pub struct CommandOutput {
    pub command: String,
    /// `exit code 0`, `timed out`, `could not run: …`.
    pub status: String,
    pub output: String,
}

/// Gathers everything but the commands' output.
pub fn gather(lab: &Lab) -> Material {
    let config = &lab.config;
    let head = lab.repo.head().unwrap_or_else(|_| "HEAD".into());
    let editable = editable_files(&lab.repo, &head, &config.task.editable);
    let protected = editable_files(&lab.repo, &head, &config.task.protected);
    let shown: Vec<String> = editable
        .iter()
        .chain(&protected)
        .map(|f| f.path.clone())
        .collect();
    Material {
        goal: goal_text(&lab.root, config),
        metric: format!(
            "{} ({})",
            config.metrics.primary,
            config
                .metrics
                .score
                .get(&config.metrics.primary)
                .map(|s| s.goal.as_str())
                .unwrap_or("")
        ),
        docs: docs(lab, &head, &shown),
        data: find_data(&lab.root),
        editable,
        protected,
        commands: Vec::new(),
    }
}

/// The lab's README and other Markdown/text docs at its root (and in `docs/`), capped.
fn docs(lab: &Lab, commit: &str, skip: &[String]) -> Vec<FileView> {
    let files = lab.repo.files_at(commit).unwrap_or_default();
    let is_doc = |f: &str| {
        let top = !f.contains('/') || f.starts_with("docs/") && f.matches('/').count() == 1;
        let lower = f.to_ascii_lowercase();
        top && (lower.ends_with(".md") || lower.ends_with(".rst") || lower.starts_with("readme"))
    };
    let mut out = Vec::new();
    let mut total = 0;
    let mut list: Vec<&String> = files
        .iter()
        .filter(|f| is_doc(f) && !skip.contains(f))
        .collect();
    // The README first.
    list.sort_by_key(|f| (!f.to_ascii_lowercase().starts_with("readme"), f.to_string()));
    for f in list {
        if total >= DOCS_CAP {
            break;
        }
        let Ok(text) = lab.repo.run(&["show", &format!("{commit}:{f}")]) else {
            continue;
        };
        let text = summarize(&text, DOC_CAP.min(DOCS_CAP - total));
        total += text.len();
        out.push(FileView {
            path: f.clone(),
            content: text,
        });
    }
    out
}

/// Runs the `[explore] commands` in the lab's root, sandboxed like runs (when `helper` is
/// given and `[sandbox]` is on) with nothing writable but their own directory under
/// `.autolab/explore/`.
pub fn run_commands(lab: &Lab, helper: Option<PathBuf>) -> Vec<CommandOutput> {
    let config = &lab.config;
    let base = lab.paths().explore_dir();
    let runner = LocalRunner;
    let cancel = AtomicBool::new(false);
    let mut out = Vec::new();
    for (i, command) in config.explore.commands.iter().enumerate() {
        let run_dir = base.join(format!("command-{}", i + 1));
        let _ = std::fs::remove_dir_all(&run_dir);
        if let Err(e) = std::fs::create_dir_all(run_dir.join("tmp")) {
            out.push(CommandOutput {
                command: command.clone(),
                status: format!("could not run: cannot create {}: {e}", run_dir.display()),
                output: String::new(),
            });
            continue;
        }
        let mut env = allowed_env(&config.runner.env_allow);
        env.push((
            "TMPDIR".into(),
            run_dir.join("tmp").to_string_lossy().into_owned(),
        ));
        let spec = RunSpec {
            command: command.clone(),
            workdir: lab.root.clone(),
            run_dir: run_dir.clone(),
            env,
            timeout: config.explore.command_timeout,
            kill_grace: config.runner.kill_grace,
            max_log_bytes: config.runner.max_log_bytes,
            sandbox: crate::campaign::sandbox_for(
                lab,
                helper.clone(),
                vec![run_dir.clone()],
                vec![lab.root.join(".git")],
            ),
            stall_timeout: None,
            max_disk_bytes: config.sandbox.max_disk_bytes,
            disk_watch: vec![run_dir.clone()],
            line_sink: None,
        };
        let (status, output) = match runner.run(&spec, &cancel, &mut |_| {}, None) {
            Ok(f) => {
                let status = match f.exit {
                    autolab_runner::Exit::Code(c) => format!("exit code {c}"),
                    autolab_runner::Exit::TimedOut => format!(
                        "timed out after {}",
                        autolab_core::config::format_duration(config.explore.command_timeout)
                    ),
                    other => format!("{other:?}").to_lowercase(),
                };
                let mut text = std::fs::read_to_string(&f.stdout).unwrap_or_default();
                let err = std::fs::read_to_string(&f.stderr).unwrap_or_default();
                if !err.trim().is_empty() {
                    text.push_str("\n[stderr]\n");
                    text.push_str(&err);
                }
                (status, tail(&text, OUTPUT_CAP))
            }
            Err(e) => (format!("could not run: {e}"), String::new()),
        };
        out.push(CommandOutput {
            command: command.clone(),
            status,
            output,
        });
    }
    out
}

fn tail(text: &str, cap: usize) -> String {
    let count = text.chars().count();
    if count <= cap {
        return text.to_string();
    }
    format!(
        "[… {} characters cut]\n{}",
        count - cap,
        tail_chars(text, cap)
    )
}

fn fmt_bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / f64::from(1u32 << 30)),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

/// The explorer's prompt.
pub fn prompt(m: &Material) -> String {
    let mut p = String::from(
        "You are the explorer of an automated research campaign. Before any experiment runs, \
         study the lab below and write a research brief for the experts who will propose \
         changes to the editable code.\n\n",
    );
    p.push_str(&format!("# Goal\n{}\n\n# Metric\n{}\n\n", m.goal, m.metric));
    let files = |title: &str, fs: &[FileView], p: &mut String| {
        if fs.is_empty() {
            return;
        }
        p.push_str(&format!("# {title}\n"));
        for f in fs {
            p.push_str(&format!("## {}\n```\n{}\n```\n", f.path, f.content));
        }
        p.push('\n');
    };
    files(
        "Editable files (the experts may change these)",
        &m.editable,
        &mut p,
    );
    files(
        "Protected files (the evaluation; never changed)",
        &m.protected,
        &mut p,
    );
    files("Docs", &m.docs, &mut p);
    p.push_str("# Data files found\n");
    if m.data.samples.is_empty() {
        p.push_str("none in the lab's directory\n");
    }
    for d in &m.data.samples {
        p.push_str(&format!(
            "## {} ({}, {})\n```\n{}\n```\n",
            d.path,
            d.kind,
            fmt_bytes(d.bytes),
            d.sample
        ));
    }
    if m.data.more > 0 {
        p.push_str(&format!("… and {} more data files\n", m.data.more));
    }
    if m.data.secret_looking > 0 {
        p.push_str(&format!(
            "({} files whose names look like keys or credentials were not read)\n",
            m.data.secret_looking
        ));
    }
    for c in &m.commands {
        p.push_str(&format!(
            "\n# Output of `{}` ({})\n```\n{}\n```\n",
            c.command, c.status, c.output
        ));
    }
    p.push_str(
        "\n# Your task\nWrite the brief in Markdown with exactly these sections:\n\
         ## Domain\n## Data (shape, quirks, leakage risks)\n## The metric and its traps\n\
         ## Baselines\n## Risks\n## Research directions (ranked, most promising first)\n\
         Be concrete and specific to this lab; say what you could not tell. Answer with the \
         brief only.",
    );
    p
}

/// The brief in an LLM reply: its fence removed, control characters dropped, capped.
pub fn clean_brief(reply: &str) -> Result<String, String> {
    let mut text = reply.trim();
    if let Some(rest) = text.strip_prefix("```") {
        let rest = rest.split_once('\n').map_or("", |(_, r)| r);
        text = rest.trim_end().strip_suffix("```").unwrap_or(rest).trim();
    }
    let text: String = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect();
    let text = text.trim();
    if text.len() < 40 || !text.contains('#') {
        return Err(format!(
            "the reply is not a brief (no Markdown sections): {:?}",
            text.chars().take(120).collect::<String>()
        ));
    }
    let mut out: String = text.chars().take(MAX_BRIEF).collect();
    if out.len() < text.len() {
        out.push_str("\n\n[cut]");
    }
    out.push('\n');
    Ok(out)
}

/// What one exploration produced.
#[derive(Debug, Clone)]
pub struct Explored {
    pub version: i64,
    pub path: PathBuf,
    pub text: String,
    pub material: Material,
}

/// Explores the lab: gathers, runs the commands, asks the LLM, writes brief.md and records
/// the version. Transcripts go to `log` whatever happens.
pub fn explore(
    lab: &Lab,
    ledger: &Ledger,
    caller: &Caller,
    helper: Option<PathBuf>,
    log: &mut Vec<Transcript>,
) -> Result<Explored, String> {
    let mut material = gather(lab);
    material.commands = run_commands(lab, helper);
    let reply = caller
        .call(vec![user(prompt(&material))], EXPLORER_ROLE, None, log)
        .map_err(|e| e.to_string())?;
    let text = clean_brief(&reply.text)?;
    let path = lab.paths().brief();
    write_file(&path, &text)?;
    let version = ledger
        .briefs()
        .record("explorer", Some(&caller.model), &text)
        .map_err(|e| e.to_string())?;
    Ok(Explored {
        version,
        path,
        text,
        material,
    })
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let tmp = path.with_extension("md.tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The brief the strategist reads now: brief.md as the user left it. An edit (or a brief the
/// user wrote by hand) is recorded as a new version; a deleted file is restored from the
/// newest version; an empty file means no brief.
pub fn current_brief(lab: &Lab, ledger: &Ledger) -> Result<Option<String>, crate::EngineError> {
    let path = lab.paths().brief();
    let latest = ledger.briefs().latest()?;
    let on_disk = match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(crate::EngineError::io(&path, e)),
        Ok(m) if !m.is_file() => {
            return Err(crate::EngineError::Usage {
                message: format!("{} is not a regular file", path.display()),
                hint: Some("make it the brief's text (or remove it)".into()),
            });
        }
        // Read as text whatever its encoding, at most a brief's length (it goes into every
        // ideation prompt).
        Ok(_) => {
            let bytes = std::fs::read(&path).map_err(|e| crate::EngineError::io(&path, e))?;
            let text = String::from_utf8_lossy(&bytes);
            let mut t: String = text.chars().take(MAX_BRIEF).collect();
            if t.len() < text.len() {
                t.push_str("\n\n[cut]\n");
            }
            Some(t)
        }
    };
    let text = match (on_disk, latest) {
        (Some(t), Some(b)) if t.trim() == b.text.trim() => t,
        (Some(t), _) => {
            ledger.briefs().record("user", None, &t)?;
            t
        }
        (None, Some(b)) => {
            let _ = write_file(&path, &b.text);
            b.text
        }
        (None, None) => return Ok(None),
    };
    Ok((!text.trim().is_empty()).then_some(text))
}

#[cfg(test)]
mod tests;
