//! `autolab init`: a commented starter autolab.toml for the repository it runs in.

use std::path::Path;
use std::process::ExitCode;

use autolab_core::config::{CONFIG_FILE, Config};
use autolab_core::git::Repo;
use autolab_engine::lab::exclude;

use crate::output::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Preset {
    /// karpathy/autoresearch: program.md, train.py, prepare.py, `uv run train.py`, val_bpb.
    Autoresearch,
    /// A SakanaAI AI-Scientist template: experiment.py, plot.py, prompt.json, final_info.json.
    AiScientist,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Overwrite an existing autolab.toml.
    #[arg(long)]
    pub force: bool,
    /// Configure for a known repository layout (detected when omitted).
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
}

/// The preset a repository's files suggest.
fn detect(root: &Path) -> Option<Preset> {
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
fn preset_config(root: &Path, preset: Preset) -> String {
    match preset {
        Preset::Autoresearch => include_str!("presets/autoresearch.toml").to_string(),
        Preset::AiScientist => {
            let found = std::fs::read_to_string(root.join("run_0/final_info.json"))
                .ok()
                .and_then(|t| autolab_core::metrics::read_json_metrics(&t, "/*/means", None).ok())
                .map(|m| m.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            let primary = found
                .iter()
                .find(|k| k.contains("loss"))
                .or(found.first())
                .cloned()
                .unwrap_or_else(|| "final_train_loss".into());
            let goal = if ["loss", "error", "time", "perplexity"]
                .iter()
                .any(|w| primary.contains(w))
            {
                "minimize"
            } else {
                "maximize"
            };
            let quoted = if primary
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                primary.clone()
            } else {
                format!("\"{primary}\"")
            };
            include_str!("presets/ai_scientist.toml")
                .replace("{{PRIMARY}}", &quoted)
                .replace("{{GOAL}}", goal)
                .replace(
                    "{{FOUND}}",
                    &if found.is_empty() {
                        "none found (no run_0/final_info.json)".to_string()
                    } else {
                        found.join(", ")
                    },
                )
        }
    }
}

pub fn init(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    let repo = Repo::discover(dir)?;
    let path = repo.root.join(CONFIG_FILE);
    if path.exists() && !args.force {
        return Err(CliError::usage(
            format!("{} already exists", path.display()),
            Some("edit it, or pass --force to overwrite it"),
        ));
    }
    let preset = args.preset.or_else(|| detect(&repo.root));
    let guess = Guess::of(&repo.root);
    let text = match preset {
        Some(p) => preset_config(&repo.root, p),
        None => starter(&guess),
    };
    // The starter must itself be a valid config.
    Config::parse(&path, &text)?;
    std::fs::write(&path, &text)?;
    exclude(&repo, &[".autolab/", "/results.tsv"])?;
    if let Some(p) = preset {
        eprintln!("wrote {} (preset {p:?})", path.display());
        eprintln!(
            "next: check [metrics] and [agent], commit autolab.toml, then `autolab run --tag <name>`"
        );
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("wrote {}", path.display());
    eprintln!("  command:  {}", guess.command);
    eprintln!("  editable: {}", guess.editable.join(", "));
    if !guess.protected.is_empty() {
        eprintln!("  protected: {}", guess.protected.join(", "));
    }
    eprintln!("git-ignored .autolab/ and results.tsv in .git/info/exclude");
    eprintln!(
        "next: check the metric names in [metrics], commit autolab.toml, then `autolab run --tag <name>`"
    );
    Ok(ExitCode::SUCCESS)
}

struct Guess {
    command: String,
    editable: Vec<String>,
    protected: Vec<String>,
    goal_file: Option<String>,
    params_json: bool,
    /// `[params]` lines guessed from params.json's values.
    params: Vec<String>,
}

impl Guess {
    fn of(root: &Path) -> Guess {
        let has = |f: &str| root.join(f).is_file();
        let script = ["train.py", "experiment.py", "main.py", "run.py"]
            .into_iter()
            .find(|f| has(f));
        let command = match script {
            Some(s) if has("pyproject.toml") && has("uv.lock") => format!("uv run {s}"),
            Some(s) => format!("python3 {s}"),
            None if has("run.sh") => "sh run.sh".into(),
            None if has("Makefile") => "make".into(),
            None => "python3 train.py".into(),
        };
        let mut editable: Vec<String> = script
            .map(|s| vec![s.to_string()])
            .unwrap_or_else(|| vec!["train.py".into()]);
        let params_json = has("params.json");
        if params_json {
            editable.push("params.json".into());
        }
        let protected = ["prepare.py", "evaluate.py", "eval.py"]
            .into_iter()
            .filter(|f| has(f))
            .map(str::to_string)
            .collect();
        let goal_file = ["program.md", "GOAL.md"]
            .into_iter()
            .find(|f| has(f))
            .map(str::to_string);
        let params = if params_json {
            guess_params(&root.join("params.json"))
        } else {
            Vec::new()
        };
        Guess {
            command,
            editable,
            protected,
            goal_file,
            params_json,
            params,
        }
    }
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn starter(g: &Guess) -> String {
    let goal = match &g.goal_file {
        Some(f) => {
            format!("goal_file = \"{f}\"                  # what the campaign is trying to achieve")
        }
        None => "goal = \"Lower the validation loss.\"   # or goal_file = \"program.md\"".into(),
    };
    let guessed = if g.params_json {
        g.params.clone()
    } else {
        Vec::new()
    };
    let params = if !guessed.is_empty() {
        format!(
            r#"
# The built-in optimizer's search space, guessed from params.json: widen or narrow the ranges.
# Values are written into params.json and committed.
[params]
apply = {{ json = "params.json" }}      # or {{ toml = "f.toml" }}, {{ args = "--lr {{lr}}" }}, {{ env = "P_" }}
{}
"#,
            guessed.join("\n")
        )
    } else {
        r#"
# The built-in optimizer's search space (uncomment to tune declared parameters):
# [params]
# apply = { json = "params.json" }    # must be listed in task.editable
# lr = { log_float = [1e-4, 1.0], default = 0.01 }
"#
        .to_string()
    };
    format!(
        r#"# autolab.toml: how autolab runs and judges experiments in this lab.

[task]
{goal}
command = "{command}"            # run from the lab root; AUTOLAB_SEED and AUTOLAB_RUN_DIR are set
editable = [{editable}]          # files a candidate may change
protected = [{protected}]        # files no candidate may change (checked before every run)
timeout = "10m"                  # a run past this is killed: verdict `timeout`

[metrics]
# Where numbers come from: `name: value` or `METRIC name=value` lines in the output,
# {{ kind = "regex", name = "x", pattern = "x=([0-9.]+)" }}, or
# {{ kind = "json", file = "final_info.json", pointer = "/*/means" }}.
sources = [{{ kind = "lines" }}]
score = {{ val_loss = {{ goal = "minimize" }} }}
{params}
[decide]
policy = "strict"                # keep a candidate only if its score is strictly better

[runner]
kind = "local"
parallel = 1                     # runs at once
"#,
        command = g.command,
        editable = list(&g.editable),
        protected = list(&g.protected),
    )
}

/// A search range around each value in a params file: ×/÷10 for positive floats, ×/÷2 for
/// integers; booleans become a choice; other values are left alone.
fn guess_params(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&text)
    else {
        return Vec::new();
    };
    let bare = |k: &str| {
        k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    map.iter()
        .filter(|(k, _)| bare(k))
        .filter_map(|(k, v)| match v {
            serde_json::Value::Number(n) if n.is_i64() => {
                let x = n.as_i64().unwrap_or(0);
                (x > 0).then(|| {
                    format!(
                        "{k} = {{ int = [{}, {}], default = {x} }}",
                        (x / 2).max(1),
                        x * 2
                    )
                })
            }
            serde_json::Value::Number(n) => {
                let x = n.as_f64().unwrap_or(0.0);
                (x > 0.0).then(|| {
                    format!(
                        "{k} = {{ log_float = [{:e}, {:e}], default = {x:e} }}",
                        x / 10.0,
                        x * 10.0
                    )
                })
            }
            serde_json::Value::Bool(b) => {
                Some(format!("{k} = {{ choice = [true, false], default = {b} }}"))
            }
            _ => None,
        })
        .collect()
}
