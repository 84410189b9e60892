//! The presets of `autolab init`: repository layouts it recognizes (karpathy/autoresearch, an
//! AI-Scientist template) and the config each gets.

use std::path::Path;

use super::list;
use super::program::{self, Goal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// karpathy/autoresearch: program.md, train.py, prepare.py, `uv run train.py`, val_bpb.
    Autoresearch,
    /// A SakanaAI AI-Scientist template: experiment.py, plot.py, prompt.json, final_info.json.
    AiScientist,
}

impl Preset {
    /// The name as it is typed on the command line (`ai-scientist`).
    pub fn name(self) -> String {
        use clap::ValueEnum;
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}

/// The preset a repository's files suggest.
pub(super) fn detect(root: &Path) -> Option<Preset> {
    let has = |f: &str| root.join(f).is_file();
    if has("train.py") && has("prepare.py") && has("program.md") {
        Some(Preset::Autoresearch)
    } else if has("experiment.py") && (has("prompt.json") || has("seed_ideas.json")) {
        Some(Preset::AiScientist)
    } else {
        None
    }
}

/// The preset's config text, filled in from what the repository holds.
pub(super) fn preset_config(root: &Path, preset: Preset, notes: &mut Vec<String>) -> String {
    match preset {
        Preset::Autoresearch => autoresearch_config(root, notes),
        Preset::AiScientist => ai_scientist_config(root, notes),
    }
}

/// A TOML key: bare when it can be, else quoted.
pub(super) fn key(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        name.to_string()
    } else {
        toml_str(name)
    }
}

pub(super) fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

pub(super) fn score_line(primary: &str, goal: Goal) -> String {
    format!(
        "score = {{ {} = {{ goal = \"{}\" }} }}",
        key(primary),
        goal.as_str()
    )
}

pub(super) fn autoresearch_config(root: &Path, notes: &mut Vec<String>) -> String {
    let prog = program::read(root);
    let (primary, metrics_from) = match prog.metrics.first() {
        Some(m) => (m.clone(), prog.metrics_from.clone().unwrap_or_default()),
        None => {
            notes.push("no metric named in program.md or printed by the scripts: assuming autoresearch's `val_bpb`; check [metrics]".into());
            ("val_bpb".to_string(), "autoresearch's default".to_string())
        }
    };
    let goal = prog
        .goal
        .as_ref()
        .map(|g| g.value)
        .unwrap_or(Goal::Minimize);
    let goal_from = prog
        .goal
        .as_ref()
        .map(|g| g.from.clone())
        .unwrap_or_else(|| "no statement found: autoresearch's default".into());
    notes.push(format!("metric:    {primary} (from {metrics_from})"));
    notes.push(format!("goal:      {} (from {goal_from})", goal.as_str()));
    let (command, command_from) = match &prog.command {
        Some(c) => (c.value.clone(), c.from.clone()),
        None => (
            "uv run train.py".to_string(),
            "autoresearch's default".to_string(),
        ),
    };
    notes.push(format!("command:   {command} (from {command_from})"));
    let has = |f: &str| root.join(f).is_file();
    let mut protected: Vec<String> = ["prepare.py", "program.md", "pyproject.toml", "uv.lock"]
        .into_iter()
        .filter(|f| has(f))
        .map(str::to_string)
        .collect();
    // The evaluator the command runs (e.g. `python run.py`) is part of the fixed harness.
    if let Some(script) = command
        .split_whitespace()
        .find(|w| w.ends_with(".py"))
        .filter(|s| *s != "train.py" && has(s))
    {
        protected.push(script.to_string());
    }
    let mut sources = "[{ kind = \"lines\" }]".to_string();
    let mut sources_note = "the summary block: `val_bpb: …`, `peak_vram_mb: …`".to_string();
    if prog.spaced {
        let pattern = format!(r"(?m)^\s*{}\s*:\s*(\S+)", regex::escape(&primary));
        sources = format!(
            "[{{ kind = \"lines\" }}, {{ kind = \"regex\", name = {}, pattern = '{}' }}]",
            toml_str(&primary),
            pattern
        );
        sources_note = format!("`{primary} : value` is printed with a space before the colon");
    }
    let others = if prog.metrics.len() > 1 {
        format!("  (also reported: {})", prog.metrics[1..].join(", "))
    } else {
        String::new()
    };
    include_str!("../presets/autoresearch.toml")
        .replace("{{COMMAND}}", &toml_str(&command))
        .replace("{{PROTECTED}}", &list(&protected))
        .replace("{{SOURCES}}", &sources)
        .replace("{{SOURCES_NOTE}}", &sources_note)
        .replace("{{SCORE}}", &score_line(&primary, goal))
        .replace(
            "{{SCORE_NOTE}}",
            &format!("{} from {goal_from}{others}", goal.as_str()),
        )
        .replace("{{PRIMARY}}", &toml_str(&primary))
        .replace(
            "{{POLICY_NOTE}}",
            &format!(
                "autoresearch keeps a change iff {primary} is {}",
                match goal {
                    Goal::Minimize => "lower",
                    Goal::Maximize => "higher",
                }
            ),
        )
}

pub(super) fn ai_scientist_config(root: &Path, notes: &mut Vec<String>) -> String {
    let found = std::fs::read_to_string(root.join("run_0/final_info.json"))
        .ok()
        .and_then(|t| autolab_core::metrics::read_json_metrics(&t, "/*/means", None).ok())
        .map(|m| m.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    if found.is_empty() {
        notes.push("no run_0/final_info.json: the campaign will run the baseline itself; to reuse one as AI-Scientist does, run `autolab init --force --probe` (or `python experiment.py --out_dir=run_0`) and commit run_0".into());
    }
    let primary = found
        .iter()
        .find(|k| k.contains("loss"))
        .or(found.first())
        .cloned()
        .unwrap_or_else(|| "final_train_loss".into());
    let goal = program::name_goal(&primary).unwrap_or(Goal::Maximize);
    include_str!("../presets/ai_scientist.toml")
        .replace("{{SCORE}}", &score_line(&primary, goal))
        .replace(
            "{{FOUND}}",
            &if found.is_empty() {
                "none found (no run_0/final_info.json)".to_string()
            } else {
                found.join(", ")
            },
        )
}
