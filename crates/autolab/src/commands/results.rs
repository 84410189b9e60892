//! `autolab results`: a campaign's experiments as a table, TSV, JSON or Markdown.

use std::path::Path;
use std::process::ExitCode;

use autolab_core::ledger::Ledger;
use autolab_core::results::results_tsv;
use serde_json::Value;

use super::common::{experiment_json, fmt_score, open_ledger, pick_campaign, short};
use crate::output::CliError;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Table,
    Tsv,
    Json,
    /// One JSON object per line (appendable; for dashboards that tail it).
    Jsonl,
    Md,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign (default: the most recently active).
    #[arg(long)]
    pub tag: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Same as `--format json`.
    #[arg(long)]
    pub json: bool,
}

pub fn results(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    let opened = open_ledger(dir)?;
    let campaign = pick_campaign(&opened.ledger, args.tag.as_deref())?;
    let format = if args.json { Format::Json } else { args.format };
    let rows = rows_json(&opened.ledger, &campaign.tag)?;
    match format {
        Format::Jsonl => {
            for r in &rows {
                println!("{}", serde_json::to_string(r).unwrap_or_default());
            }
        }
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        ),
        Format::Tsv => {
            let config = autolab_core::config::Config::load_lab(&opened.root).ok();
            let primary = config
                .map(|c| c.metrics.primary)
                .unwrap_or_else(|| "score".into());
            print!(
                "{}",
                results_tsv(&primary, &opened.ledger.experiments(campaign.id)?)
            );
        }
        Format::Table | Format::Md => print_table(&rows, matches!(format, Format::Md)),
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rows_json(ledger: &Ledger, tag: &str) -> Result<Vec<Value>, CliError> {
    let campaign = pick_campaign(ledger, Some(tag))?;
    let mut rows = Vec::new();
    let mut numbers = std::collections::HashMap::new();
    for e in ledger.experiments(campaign.id)? {
        let runs = ledger.run_count(e.row)?;
        let mut row = experiment_json(tag, &e, runs);
        // Projects mode: which project the run belongs to, and its place in the series (a
        // ledger from before projects has none).
        if let Ok(Some((id, run))) = ledger.projects().of_experiment(e.row) {
            let number = *numbers
                .entry(id)
                .or_insert_with(|| ledger.projects().get(id).ok().flatten().map(|p| p.number));
            row["project"] = serde_json::json!(number);
            row["project_run"] = serde_json::json!(run);
        }
        rows.push(row);
    }
    Ok(rows)
}

fn print_table(rows: &[Value], markdown: bool) {
    let header = ["id", "verdict", "score", "commit", "proposer", "title"];
    let body: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                format!("{:04}", r["id"].as_u64().unwrap_or(0)),
                r["verdict"]
                    .as_str()
                    .unwrap_or(r["state"].as_str().unwrap_or(""))
                    .to_string(),
                fmt_score(r["score"].as_f64()),
                short(r["commit"].as_str()),
                r["proposer"].as_str().unwrap_or("").to_string(),
                r["title"].as_str().unwrap_or("").to_string(),
            ]
        })
        .collect();
    if markdown {
        println!("| {} |", header.join(" | "));
        println!("|{}", "---|".repeat(header.len()));
        for r in &body {
            println!(
                "| {} |",
                r.iter()
                    .map(|c| c.replace('|', "\\|"))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
        return;
    }
    let mut widths = header.map(str::len);
    for r in &body {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.to_vec());
    for r in &body {
        line(r.iter().map(String::as_str).collect());
    }
}
