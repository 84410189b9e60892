//! `autolab review`: AI-Scientist's review form for a paper (a PDF, or the campaign's
//! `autolab paper`), by an ensemble of reviewers with reflection rounds and a meta-review;
//! every form is stored in the ledger with its model, temperature and prompt hash, and
//! written as `review.json` beside the PDF.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use autolab_core::StatePaths;
use autolab_core::ledger::{Campaign, Writeup};
use autolab_engine::writeup::{latex, review};
use serde_json::json;

use super::common::pick_campaign;
use super::paper::{Writer, keep_transcripts, writer};
use crate::output::CliError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The paper (default: the campaign's `.autolab/papers/<tag>/paper.pdf`).
    pub pdf: Option<PathBuf>,
    /// The campaign the review is kept with (default: the most recently active).
    #[arg(long)]
    pub tag: Option<String>,
}

pub fn review(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    let (mut w, _) = writer(dir, true)?;
    let campaign = pick_campaign(&w.ledger, args.tag.as_deref())?;
    let pdf = args.pdf.unwrap_or_else(|| {
        StatePaths::new(&w.root)
            .state_dir()
            .join("papers")
            .join(&campaign.tag)
            .join("paper.pdf")
    });
    if !pdf.is_file() {
        return Err(CliError::usage(
            format!("no paper at {}", pdf.display()),
            Some("write one with `autolab paper`, or give the PDF: `autolab review PAPER.pdf`"),
        ));
    }
    review_pdf(&mut w, &campaign, &pdf)
}

/// Reviews `pdf` and keeps the forms.
pub(crate) fn review_pdf(
    w: &mut Writer,
    campaign: &Campaign,
    pdf: &Path,
) -> Result<ExitCode, CliError> {
    let text = latex::pdf_text(pdf).map_err(|m| CliError::failure(m, None))?;
    if text.trim().is_empty() {
        return Err(CliError::failure(
            format!(
                "{} has no text to review (a scanned or empty PDF?)",
                pdf.display()
            ),
            None,
        ));
    }
    let s = &w.config.writeup;
    eprintln!(
        "reviewing {} ({} reviewers, {} reflection rounds)",
        pdf.display(),
        s.reviews,
        s.reflections
    );
    let done = review::review(&w.caller, &text, s.reviews, s.reflections);
    keep_transcripts(&mut w.ledger, campaign.id, &done.transcripts)?;
    let row = |kind: &str, r: &review::Review| Writeup {
        kind: kind.into(),
        path: Some(pdf.display().to_string()),
        model: Some(w.caller.model.clone()),
        temperature: r.temperature.map(f64::from),
        prompt_hash: Some(r.prompt_hash.clone()),
        body: r.form.clone(),
        ..Writeup::default()
    };
    for r in &done.reviews {
        w.ledger.writeups().record(campaign.id, &row("review", r))?;
    }
    if let Some(m) = &done.meta {
        w.ledger
            .writeups()
            .record(campaign.id, &row("meta-review", m))?;
    }
    for n in &done.notes {
        eprintln!("note: {n}");
    }
    if let Some(f) = &done.failure
        && done.reviews.is_empty()
    {
        return Err(CliError::failure(format!("no review: {f}"), None));
    }
    let out = pdf.with_file_name("review.json");
    let doc = json!({
        "paper": pdf,
        "model": w.caller.model,
        "reviews": done.reviews.iter().map(|r| json!({"form": r.form, "temperature": r.temperature, "prompt_hash": r.prompt_hash, "reflections": r.reflections})).collect::<Vec<_>>(),
        "meta_review": done.meta.as_ref().map(|m| &m.form),
        "notes": done.notes,
        "failure": done.failure,
    });
    std::fs::write(&out, serde_json::to_string_pretty(&doc).unwrap_or_default())?;
    let head = done.meta.as_ref().or(done.reviews.first());
    if let Some(h) = head {
        println!(
            "Overall {} / 10, {} ({} review{}{})",
            h.form["Overall"],
            h.form["Decision"].as_str().unwrap_or("?"),
            done.reviews.len(),
            if done.reviews.len() == 1 { "" } else { "s" },
            if done.meta.is_some() {
                " and a meta-review"
            } else {
                ""
            }
        );
    }
    println!("{}", out.display());
    Ok(ExitCode::SUCCESS)
}
