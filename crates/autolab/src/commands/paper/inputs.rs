//! What a paper is written from: the report's facts, the kept changes with their diffs, the
//! playbook, the progress figure (drawn from the ledger), and the template — `[writeup]
//! template`, else the lab's `latex/template.tex` (AI-Scientist's templates ship one), else
//! the built-in article.

use std::path::{Path, PathBuf};

use autolab_core::config::Config;
use autolab_core::experiment::Verdict;
use autolab_core::ledger::{Campaign, Ledger};
use autolab_engine::writeup::latex::BUILTIN_TEMPLATE;
use autolab_engine::writeup::paper::{Change, Figure};
use serde_json::Value;

use crate::output::CliError;

pub struct Inputs {
    pub report: Value,
    pub goal: String,
    pub changes: Vec<Change>,
    pub playbook: String,
    pub template: String,
    pub template_dir: Option<PathBuf>,
    pub template_name: String,
    pub figures: Vec<Figure>,
}

/// The template's text and directory: `[writeup] template`, the lab's `latex/template.tex`,
/// or the built-in one.
fn template(root: &Path, config: &Config) -> Result<(String, Option<PathBuf>, String), CliError> {
    let chosen = match &config.writeup.template {
        Some(t) => Some(root.join(t)),
        None => Some(root.join("latex/template.tex")).filter(|p| p.is_file()),
    };
    let Some(path) = chosen else {
        return Ok((BUILTIN_TEMPLATE.to_string(), None, "built-in".into()));
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        CliError::usage(
            format!("cannot read the LaTeX template {}: {e}", path.display()),
            Some("set [writeup] template to a .tex file in the lab, or remove it to use the built-in article"),
        )
    })?;
    if !text.contains("TITLE HERE") {
        return Err(CliError::usage(
            format!("{} has no `TITLE HERE` placeholder", path.display()),
            Some(
                "a template marks where autolab writes: TITLE HERE, ABSTRACT HERE, INTRO HERE, … (as AI-Scientist's templates do)",
            ),
        ));
    }
    let name = path
        .strip_prefix(root)
        .unwrap_or(&path)
        .display()
        .to_string();
    Ok((text, path.parent().map(Path::to_path_buf), name))
}

pub fn gather(
    ledger: &Ledger,
    root: &Path,
    config: &Config,
    campaign: &Campaign,
    out: &Path,
) -> Result<Inputs, CliError> {
    let report = crate::commands::report::facts::facts(ledger, root, &campaign.tag)?;
    let exps = ledger.experiments(campaign.id)?;
    let repo = autolab_core::git::Repo::discover(root)?;
    let mut changes = Vec::new();
    for e in exps
        .iter()
        .filter(|e| e.verdict.is_some_and(Verdict::keeps) && e.number > 0)
    {
        let (idea, _) = ledger.idea(e.row)?;
        let diff = match &e.commit {
            Some(c) if *c != e.parent => repo.diff(&e.parent, c).unwrap_or_default(),
            _ => String::new(),
        };
        changes.push(Change {
            id: e.number,
            title: e.title.clone(),
            hypothesis: idea.and_then(|i| i["hypothesis"].as_str().map(str::to_string)),
            diff,
        });
    }
    let playbook =
        std::fs::read_to_string(autolab_core::StatePaths::new(root).playbook()).unwrap_or_default();
    let (template, template_dir, template_name) = template(root, config)?;
    let figures_dir = out.join("figures");
    std::fs::create_dir_all(&figures_dir).map_err(|e| {
        CliError::failure(
            format!("cannot create {}: {e}", figures_dir.display()),
            None,
        )
    })?;
    let mut figures = Vec::new();
    let progress = figures_dir.join("progress.png");
    let metric = report["primary"].as_str().unwrap_or("score").to_string();
    match crate::plot_png::progress(
        &exps,
        config.score_goal(),
        exps.iter().find(|e| e.number == 0),
        &metric,
        &progress,
    ) {
        Ok(()) => figures.push(Figure {
            file: progress,
            label: "fig:progress".into(),
            caption: format!(
                "Every judged experiment's {metric} in order, the kept ones labelled, the running best and the baseline's noise band (from the ledger)."
            ),
        }),
        Err(why) => eprintln!("note: no progress figure: {why}"),
    }
    Ok(Inputs {
        goal: autolab_engine::llm::context::goal_text(root, config),
        report,
        changes,
        playbook,
        template,
        template_dir,
        template_name,
        figures,
    })
}
