//! `autolab init`: a commented starter autolab.toml for the repository it runs in.

use std::path::Path;
use std::process::ExitCode;

use autolab_core::config::{CONFIG_FILE, Config};
use autolab_core::git::Repo;
use autolab_engine::lab::exclude;

use crate::output::CliError;

mod params;
mod presets;
mod probe;
mod program;

pub use presets::Preset;
use presets::{detect, preset_config, score_line, toml_str};

use program::Goal;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Overwrite an existing autolab.toml.
    #[arg(long)]
    pub force: bool,
    /// Configure for a known repository layout (detected when omitted).
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Run the command once (in a worktree of HEAD, sandboxed, with the config's timeout) and
    /// use the metrics it prints. With the AI-Scientist preset, its output becomes `run_0`.
    #[arg(long)]
    pub probe: bool,
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
    exclude(&repo, &[".autolab/", "/results.tsv"])?;
    let preset = args.preset.or_else(|| detect(&repo.root));
    let guess = Guess::of(&repo.root);
    let mut notes = Vec::new();
    let mut probed = None;
    if preset == Some(Preset::AiScientist) && !repo.root.join("run_0").exists() {
        let asked = !args.probe
            && super::common::confirm(
                "no run_0 here: run the baseline once now to make it (as long as one run)?",
            );
        if args.probe || asked {
            let draft = preset_config(&repo.root, Preset::AiScientist, &mut Vec::new());
            let config = Config::parse(&path, &draft)?;
            let p = probe::probe(&repo, &config)?;
            if p.succeeded() {
                let run0 = repo.root.join("run_0");
                std::fs::create_dir_all(&run0)?;
                for f in &p.outputs {
                    if let Some(name) = f.file_name() {
                        std::fs::copy(f, run0.join(name))?;
                    }
                }
                notes.push(format!(
                    "made run_0 from the baseline run ({} file(s)): commit it so campaigns reuse it",
                    p.outputs.len()
                ));
            }
            probed = Some(p);
        }
    }
    let mut text = match preset {
        Some(p) => preset_config(&repo.root, p, &mut notes),
        None => starter(&guess, &mut notes),
    };
    // The starter must itself be a valid config.
    let config = Config::parse(&path, &text)?;
    if args.probe && probed.is_none() {
        probed = Some(probe::probe(&repo, &config)?);
    }
    if let Some(p) = &probed {
        text = offer_probe(&text, &config, p, &mut notes);
        Config::parse(&path, &text)?;
    }
    std::fs::write(&path, &text)?;
    match preset {
        Some(p) => eprintln!("wrote {} (preset {})", path.display(), p.name()),
        None => {
            eprintln!("wrote {}", path.display());
            eprintln!("  command:  {}", guess.command);
            eprintln!("  editable: {}", guess.editable.join(", "));
            if !guess.protected.is_empty() {
                eprintln!("  protected: {}", guess.protected.join(", "));
            }
        }
    }
    for n in &notes {
        eprintln!("  {n}");
    }
    eprintln!("git-ignored .autolab/ and results.tsv in .git/info/exclude");
    if let Some(p) = probed.as_ref().filter(|p| !p.succeeded()) {
        return Err(CliError::failure(
            format!(
                "the probe run failed ({:?} after {:.1}s); {} was written, but the command does not work yet",
                p.exit,
                p.elapsed.as_secs_f64(),
                path.display()
            ),
            Some(&format!(
                "fix the command or its code, then `autolab init --force --probe`\nlast lines of its output:\n{}",
                p.tail
            )),
        ));
    }
    eprintln!(
        "next: check [metrics]{}, commit autolab.toml, then `autolab run --tag <name>`",
        if config.agent.is_some() || matches!(preset, Some(Preset::Autoresearch)) {
            " and [agent]"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// The probe's metrics, offered: the configured score stays when the run reported it; else the
/// score moves to a metric the run did report. Either way the config lists what it reported.
/// The printed metric most worth scoring: held-out ones first (validation, then test or
/// eval), then any that is not a training metric, then any with a known direction; never a
/// counter (`step`, `epoch`).
fn pick_score(names: &[&str]) -> Option<String> {
    let known = |n: &str| program::name_goal(n).is_some();
    let has = |n: &str, marks: &[&str]| {
        let l = n.to_ascii_lowercase();
        marks.iter().any(|m| l.contains(m))
    };
    let counter = |n: &str| ["step", "epoch", "iter"].contains(&n.to_ascii_lowercase().as_str());
    names
        .iter()
        .find(|n| has(n, &["val"]) && known(n))
        .or_else(|| {
            names
                .iter()
                .find(|n| has(n, &["test", "eval", "dev"]) && known(n))
        })
        .or_else(|| names.iter().find(|n| !has(n, &["train"]) && known(n)))
        .or_else(|| names.iter().find(|n| known(n)))
        .or_else(|| names.iter().find(|n| !counter(n)))
        .map(|n| n.to_string())
}

fn offer_probe(text: &str, config: &Config, p: &probe::Probe, notes: &mut Vec<String>) -> String {
    let shown: Vec<String> = p
        .metrics
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    notes.push(format!(
        "probe: {:?} after {:.1}s; reported {}",
        p.exit,
        p.elapsed.as_secs_f64(),
        if shown.is_empty() {
            "no metric".to_string()
        } else {
            shown.join(", ")
        }
    ));
    for problem in &p.problems {
        notes.push(format!("probe: {problem}"));
    }
    let primary = &config.metrics.primary;
    let names: Vec<&str> = p.metrics.iter().map(|(k, _)| k.as_str()).collect();
    let mut out = String::new();
    let chosen = if names.is_empty() || names.contains(&primary.as_str()) {
        None
    } else {
        let pick = pick_score(&names);
        pick.map(|n| {
            let goal = program::name_goal(&n).unwrap_or(Goal::Minimize);
            notes.push(format!(
                "probe: `{primary}` was not reported; scoring `{n}` ({}) instead",
                goal.as_str()
            ));
            (n, goal)
        })
    };
    if names.is_empty() {
        notes.push("probe: print `name: value` lines (e.g. `val_loss: 0.42`), or set [metrics].sources to where the numbers are".into());
    }
    for line in text.lines() {
        let t = line.trim_start();
        match &chosen {
            Some((n, goal)) if t.starts_with("score = ") => {
                out.push_str(&score_line(n, *goal));
                out.push('\n');
            }
            Some((n, _)) if t.starts_with("primary = ") => {
                out.push_str(&format!("primary = {}\n", toml_str(n)));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
        if t.starts_with("score = ") && !shown.is_empty() {
            out.push_str(&format!(
                "# `autolab init --probe`: the command reported {}\n",
                shown.join(", ")
            ));
        }
    }
    out
}

struct Guess {
    command: String,
    editable: Vec<String>,
    protected: Vec<String>,
    goal_file: Option<String>,
    params_json: bool,
    /// `[params]` guessed from params.json's values, and the values left out.
    params: params::Guessed,
    /// Why the policy is what it is: (noise-aware?, evidence).
    noisy: (bool, String),
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
        let script_file = script.or_else(|| has("run.sh").then_some("run.sh"));
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
            params::guess_params(&root.join("params.json"))
        } else {
            params::Guessed::default()
        };
        let noisy = noise_evidence(root, script_file);
        Guess {
            command,
            editable,
            protected,
            goal_file,
            params_json,
            params,
            noisy,
        }
    }
}

/// Whether a run of the script may vary from seed to seed, and the evidence: it reads
/// `AUTOLAB_SEED`, seeds or draws random numbers, shuffles, uses dropout or a framework whose
/// training is nondeterministic. Only a script read in full and showing none of these is
/// taken as deterministic.
fn noise_evidence(root: &Path, script: Option<&str>) -> (bool, String) {
    let Some(script) = script else {
        return (true, "the default".into());
    };
    let Ok(text) = std::fs::read_to_string(root.join(script)) else {
        return (true, "the default".into());
    };
    let markers = [
        "AUTOLAB_SEED",
        "random",
        "seed",
        "shuffle",
        "dropout",
        "torch",
        "tensorflow",
        "jax",
        "sklearn",
        "$RANDOM",
    ];
    let lower = text.to_ascii_lowercase();
    match markers
        .iter()
        .find(|m| lower.contains(&m.to_ascii_lowercase()))
    {
        Some(m) => (true, format!("{script} uses `{m}`")),
        None => (
            false,
            format!("{script} shows no seed or randomness, so reruns should agree"),
        ),
    }
}

pub(super) fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn starter(g: &Guess, notes: &mut Vec<String>) -> String {
    let goal = match &g.goal_file {
        Some(f) => {
            format!("goal_file = \"{f}\"                  # what the campaign is trying to achieve")
        }
        None => "goal = \"Lower the validation loss.\"   # or goal_file = \"program.md\"".into(),
    };
    for (k, why) in &g.params.skipped {
        notes.push(format!("params.json `{k}` skipped: {why}"));
    }
    if !g.params.lines.is_empty() {
        notes.push(format!(
            "params.json: {} parameter(s) to tune",
            g.params.lines.len()
        ));
    }
    let skipped: String = g
        .params
        .skipped
        .iter()
        .map(|(k, why)| format!("# skipped `{k}`: {why}\n"))
        .collect();
    let params = if g.params_json && !(g.params.lines.is_empty() && skipped.is_empty()) {
        format!(
            r#"
# The built-in optimizer's search space, guessed from params.json: widen or narrow the ranges.
# Values are written into params.json and committed.
[params]
apply = {{ json = "params.json" }}      # or {{ toml = "f.toml" }}, {{ args = "--lr {{lr}}" }}, {{ env = "P_" }}
{}{}"#,
            g.params
                .lines
                .iter()
                .map(|l| format!("{l}\n"))
                .collect::<String>(),
            skipped
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
    let (noisy, why) = &g.noisy;
    notes.push(format!(
        "policy:   {} ({why})",
        if *noisy { "noise-aware" } else { "strict" }
    ));
    let policy = if *noisy {
        format!(
            "policy = \"noise-aware\"          # {why}: repeated baseline runs (AUTOLAB_SEED varies) measure\n                                 # the noise; a candidate is kept only when its gain clears it"
        )
    } else {
        format!(
            "policy = \"strict\"               # {why}; keep a candidate iff its score is strictly better\n                                 # (use \"noise-aware\" if runs vary)"
        )
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
{policy}

[runner]
kind = "local"
parallel = 1                     # runs at once
"#,
        command = g.command,
        editable = list(&g.editable),
        protected = list(&g.protected),
    )
}

#[cfg(test)]
mod pick_tests {
    use super::pick_score;

    #[test]
    fn a_held_out_metric_is_scored_before_a_training_one() {
        let printed = ["epoch", "train_loss", "test_accuracy", "test_loss"];
        assert_eq!(pick_score(&printed).as_deref(), Some("test_accuracy"));
        assert_eq!(
            pick_score(&["epoch", "train_loss", "val_loss"]).as_deref(),
            Some("val_loss")
        );
        assert_eq!(
            pick_score(&["step", "train_loss"]).as_deref(),
            Some("train_loss")
        );
        assert_eq!(
            pick_score(&["epoch", "throughput"]).as_deref(),
            Some("throughput")
        );
    }
}
