//! `autolab paper`: a LaTeX paper about a campaign, written by the LLM section by section from
//! the report's facts, with every number a ledger fact (`\fact{key}` placeholders; any other
//! number is refused and re-asked), related work from Semantic Scholar / OpenAlex / arXiv,
//! the ledger's table and figures, built with latexmk. Every attempt is kept; `paper.pdf` is
//! replaced only by a newer good build. `--review` reviews it at the end.

mod inputs;
mod literature;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use autolab_core::StatePaths;
use autolab_core::ledger::{Ledger, Writeup};
use autolab_engine::writeup::{latex, paper};
use serde_json::json;

use super::common::pick_campaign;
use crate::output::CliError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign (default: the most recently active).
    #[arg(long)]
    pub tag: Option<String>,
    /// Where to write it (default: `.autolab/papers/<tag>/`).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Review the paper when it is built (`autolab review`).
    #[arg(long)]
    pub review: bool,
}

/// The lab's config with an `[agent]`, the ledger open for writing, and the LLM caller.
pub(crate) struct Writer {
    pub root: PathBuf,
    pub config: autolab_core::config::Config,
    pub ledger: Ledger,
    pub caller: autolab_engine::llm::Caller,
}

/// Everything the write-up needs before any money is spent: an `[agent]`, the tools, a key.
pub(crate) fn writer(dir: &Path, review: bool) -> Result<(Writer, latex::Toolchain), CliError> {
    let repo = autolab_core::git::Repo::discover(dir)?;
    let root = repo.root.clone();
    let config = autolab_core::config::Config::load_lab(&root)?;
    let Some(agent) = config.agent.clone() else {
        return Err(CliError::usage(
            "the write-up needs an LLM, and autolab.toml has no [agent] section",
            Some("add [agent] (see README: LLM experts), or use `autolab report` (no LLM needed)"),
        ));
    };
    let tools = latex::preflight(review).map_err(|m| CliError::usage(m, None))?;
    let path = StatePaths::new(&root).ledger();
    if !path.exists() {
        return Err(CliError::usage(
            format!("no campaign has run in {} yet", root.display()),
            Some("start one with `autolab run --tag <name>`"),
        ));
    }
    let ledger = Ledger::open(&path)?;
    let caller = caller(&agent)?;
    Ok((
        Writer {
            root,
            config,
            ledger,
            caller,
        },
        tools,
    ))
}

/// Keeps the LLM exchanges of a write-up in the ledger.
/// The LLM of `[agent]`, with its USD budget, for a command outside a campaign.
pub(crate) fn caller(
    agent: &autolab_core::config::Agent,
) -> Result<autolab_engine::llm::Caller, CliError> {
    let client = autolab_llm::client(&autolab_engine::llm::provider_config(agent)).map_err(|e| {
        CliError::usage(
            format!("[agent]: {e}"),
            Some("export the API key in the variable named by [agent].api_key_env, or point base_url at a local server"),
        )
    })?;
    Ok(autolab_engine::llm::Caller::new(
        std::sync::Arc::from(client),
        &agent.model,
        agent.max_tokens,
        agent.temperature,
        0.0,
        agent.max_usd,
    ))
}

pub(crate) fn keep_transcripts(
    ledger: &mut Ledger,
    campaign: autolab_core::ids::CampaignId,
    transcripts: &[autolab_core::ledger::Transcript],
) -> Result<(), CliError> {
    for t in transcripts {
        ledger.record_transcript(campaign, t)?;
    }
    Ok(())
}

pub fn paper(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    let (mut w, tools) = writer(dir, args.review)?;
    let campaign = pick_campaign(&w.ledger, args.tag.as_deref())?;
    let out = args.out.clone().unwrap_or_else(|| {
        StatePaths::new(&w.root)
            .state_dir()
            .join("papers")
            .join(&campaign.tag)
    });
    std::fs::create_dir_all(&out)
        .map_err(|e| CliError::failure(format!("cannot create {}: {e}", out.display()), None))?;
    let inputs = inputs::gather(&w.ledger, &w.root, &w.config, &campaign, &out)?;
    let lit = literature::client(&w.config.writeup);
    let mut cache = literature::LedgerCache(&w.ledger);
    eprintln!(
        "writing the paper for `{}` ({} kept changes) into {}",
        campaign.tag,
        inputs.changes.len(),
        out.display()
    );
    let result = paper::write_paper(
        &w.caller,
        paper::PaperInput {
            goal: inputs.goal,
            report: &inputs.report,
            changes: inputs.changes,
            playbook: inputs.playbook,
            template: inputs.template,
            template_dir: inputs.template_dir,
            figures: inputs.figures,
            out: out.clone(),
            settings: w.config.writeup.clone(),
            tools,
            build_limit: Duration::from_secs(120),
        },
        Some(&lit),
        &mut cache,
    );
    keep_transcripts(&mut w.ledger, campaign.id, &result.transcripts)?;
    let attempts: Vec<serde_json::Value> = result
        .attempts
        .iter()
        .map(|a| json!({"dir": a.dir, "pdf": a.pdf, "errors": a.errors, "chktex": a.warnings}))
        .collect();
    w.ledger.writeups().record(
        campaign.id,
        &Writeup {
            kind: "paper".into(),
            path: result.pdf.as_ref().map(|p| p.display().to_string()),
            model: Some(w.caller.model.clone()),
            temperature: w.caller.temperature.map(f64::from),
            body: json!({
                "status": if result.pdf.is_some() { "compiled" } else { "failed" },
                "attempts": attempts,
                "notes": result.notes,
                "failure": result.failure,
                "cited": result.cited.iter().map(|p| json!({"title": p.title, "year": p.year, "source": p.source.as_str()})).collect::<Vec<_>>(),
                "template": inputs.template_name,
            }),
            ..Writeup::default()
        },
    )?;
    for n in &result.notes {
        eprintln!("note: {n}");
    }
    if let Some(a) = result.attempts.last()
        && !a.warnings.is_empty()
    {
        eprintln!(
            "chktex: {} warnings (see {})",
            a.warnings.len(),
            a.dir.display()
        );
    }
    let Some(pdf) = result.pdf else {
        let kept = out.join("paper.pdf");
        let hint = if kept.is_file() {
            format!("the earlier paper is still there: {}", kept.display())
        } else {
            "every attempt's directory (paper.tex, build.log) is kept for a look".to_string()
        };
        return Err(CliError::failure(
            format!(
                "no paper was built: {}",
                result.failure.unwrap_or_else(|| "unknown failure".into())
            ),
            Some(&hint),
        ));
    };
    println!("{}", pdf.display());
    if args.review {
        return super::review::review_pdf(&mut w, &campaign, &pdf);
    }
    Ok(ExitCode::SUCCESS)
}
