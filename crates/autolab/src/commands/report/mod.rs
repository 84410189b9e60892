//! `autolab report`: a campaign in facts, from the ledger alone (no LLM): goal, budget, compute
//! and cost, baseline → best with the gain's interval, the kept changes in order, why
//! candidates failed, how each proposer did, and the progress plot. Every number names the
//! experiment it came from. Markdown (with `progress.png` and `.svg` beside it), one self-contained HTML
//! page, or JSON.

pub(crate) mod facts;
mod markdown;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use autolab_core::StatePaths;
use serde_json::json;

use super::common::{open_ledger, pick_campaign};
use crate::output::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Md,
    Html,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign (default: the most recently active).
    #[arg(long)]
    pub tag: Option<String>,
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// Where to write it (default: `.autolab/reports/<tag>/`).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
}

const HTML: &str = include_str!("report.html");

pub fn report(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    let opened = open_ledger(dir)?;
    let ledger = &opened.ledger;
    let tag = pick_campaign(ledger, args.tag.as_deref())?.tag;
    let mut facts = facts::facts(ledger, &opened.root, &tag)?;
    let out = args.out.unwrap_or_else(|| {
        StatePaths::new(&opened.root)
            .state_dir()
            .join("reports")
            .join(&tag)
    });
    std::fs::create_dir_all(&out)
        .map_err(|e| CliError::failure(format!("cannot create {}: {e}", out.display()), None))?;
    let campaign = pick_campaign(ledger, Some(&tag))?;
    let exps = ledger.experiments(campaign.id)?;
    let goal = autolab_core::config::Config::load_lab(&opened.root)
        .map_or(autolab_core::config::Goal::Minimize, |c| c.score_goal());
    let plot = crate::plot::progress(&exps, goal, exps.iter().find(|e| e.number == 0));
    // Learning curves (the primary metric over `step`, as runs printed them) of the baseline
    // and each kept change.
    let mut curves: Vec<(u32, String)> = Vec::new();
    for e in exps.iter().filter(|e| {
        e.number == 0
            || e.verdict
                .is_some_and(autolab_core::experiment::Verdict::keeps)
    }) {
        if let Some(svg) =
            crate::curves::learning_curves(&opened.root, ledger, &ledger.runs(e.row)?)
        {
            curves.push((e.number, svg));
        }
    }
    facts["curves"] = json!(curves.iter().map(|(n, _)| n).collect::<Vec<_>>());
    let written = match args.format {
        Format::Json => {
            let path = out.join("report.json");
            std::fs::write(
                &path,
                serde_json::to_string_pretty(&facts).unwrap_or_default(),
            )?;
            path
        }
        Format::Md => {
            std::fs::write(out.join("progress.svg"), &plot)?;
            let metric = facts["primary"].as_str().unwrap_or("score");
            let baseline = exps.iter().find(|e| e.number == 0);
            if let Err(why) =
                crate::plot_png::progress(&exps, goal, baseline, metric, &out.join("progress.png"))
            {
                eprintln!("note: {why}; the SVG plot is there");
            }
            for (n, svg) in &curves {
                std::fs::write(out.join(format!("curves-{n}.svg")), svg)?;
            }
            let path = out.join("report.md");
            std::fs::write(&path, markdown::render(&facts))?;
            path
        }
        Format::Html => {
            // The kept changes' diffs, for the page's anchors.
            let repo = autolab_core::git::Repo::discover(&opened.root)?;
            let diffs: Vec<serde_json::Value> = exps
                .iter()
                .filter(|e| {
                    e.verdict
                        .is_some_and(autolab_core::experiment::Verdict::keeps)
                        && e.number > 0
                })
                .map(|e| {
                    let diff = match &e.commit {
                        Some(c) if *c != e.parent => repo.diff(&e.parent, c).unwrap_or_default(),
                        _ => String::new(),
                    };
                    json!({"id": e.number, "title": e.title, "diff": diff})
                })
                .collect();
            let mut env = minijinja::Environment::new();
            env.add_template("report.html", HTML)
                .map_err(|e| CliError::failure(format!("report template: {e}"), None))?;
            let page = env
                .get_template("report.html")
                .and_then(|t| {
                    t.render(minijinja::Value::from(minijinja::value::Serde(&json!({
                        "f": facts, "plot": plot, "diffs": diffs,
                        "curves": curves.iter().map(|(n, svg)| json!({"id": n, "svg": svg})).collect::<Vec<_>>(),
                    }))))
                })
                .map_err(|e| CliError::failure(format!("report template: {e}"), None))?;
            let path = out.join("report.html");
            std::fs::write(&path, page)?;
            path
        }
    };
    println!("{}", written.display());
    Ok(ExitCode::SUCCESS)
}
