//! `autolab show`: one experiment in full, or the lab's research brief (`autolab show brief`).

use std::path::Path;
use std::process::ExitCode;

use autolab_core::git::Repo;
use serde_json::json;

use super::common::{experiment_json, fmt_score, open_ledger, pick_campaign, printable, short};
use crate::output::CliError;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment's number in its campaign (0 = baseline), or `brief` for the research brief.
    #[arg(value_name = "N|brief")]
    pub what: String,
    /// The campaign (default: the most recently active).
    #[arg(long)]
    pub tag: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

pub fn show(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    if args.what == "brief" {
        return super::show_brief::show_brief(dir, args.json);
    }
    let id: u32 = args.what.parse().map_err(|_| {
        CliError::usage(
            format!(
                "`{}` is neither an experiment number nor `brief`",
                args.what
            ),
            Some("`autolab show 3` shows experiment #3; `autolab show brief` the research brief"),
        )
    })?;
    let opened = open_ledger(dir)?;
    let ledger = &opened.ledger;
    let campaign = pick_campaign(ledger, args.tag.as_deref())?;
    let e = ledger.experiment(campaign.id, id)?.ok_or_else(|| {
        CliError::usage(
            format!("no experiment #{id} in campaign `{}`", campaign.tag),
            Some("`autolab results` lists them"),
        )
    })?;
    let v = detail_json(ledger, &opened.root, &campaign.tag, &e)?;
    let runs = ledger.runs(e.row)?;
    let diff = v["diff"].as_str().unwrap_or_default().to_string();
    let (idea, expert) = (
        Some(v["idea"].clone()).filter(|i| !i.is_null()),
        v["expert"].as_str().map(str::to_string),
    );
    let transcripts = ledger.transcripts(e.row)?;
    let lesson = ledger.lesson(e.row)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    println!("experiment #{:04} of campaign `{}`", e.number, campaign.tag);
    println!("title      {}", e.title);
    println!(
        "proposer   {}{}",
        e.proposer,
        expert
            .as_deref()
            .map(|x| format!(" ({x})"))
            .unwrap_or_default()
    );
    if let Some(i) = &idea {
        println!("hypothesis {}", i["hypothesis"].as_str().unwrap_or(""));
        println!("plan       {}", i["plan"].as_str().unwrap_or(""));
        if let Some(n) = i.get("novelty").filter(|n| n.is_object()) {
            let closest: Vec<String> = n["closest"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| match c["year"].as_i64() {
                    Some(y) => format!("{} ({y})", c["title"].as_str().unwrap_or("?")),
                    None => c["title"].as_str().unwrap_or("?").to_string(),
                })
                .collect();
            println!(
                "novelty    {}: {}{}",
                n["decision"].as_str().unwrap_or("?"),
                n["reason"].as_str().unwrap_or(""),
                if closest.is_empty() {
                    String::new()
                } else {
                    format!(" — closest: {}", closest.join("; "))
                }
            );
        }
    }
    if !transcripts.is_empty() {
        let (p, c, usd): (u64, u64, f64) = transcripts.iter().fold((0, 0, 0.0), |a, t| {
            (
                a.0 + t.prompt_tokens,
                a.1 + t.completion_tokens,
                a.2 + t.cost_usd,
            )
        });
        println!(
            "llm        {} call(s), {p} prompt + {c} completion tokens, ${usd:.4}",
            transcripts.len()
        );
    }
    if let Some(p) = &e.params {
        println!("params     {p}");
    }
    println!("state      {}", e.state.as_str());
    println!(
        "verdict    {}",
        e.verdict.map(|v| v.as_str()).unwrap_or("-")
    );
    if let Some(r) = &e.reason {
        println!("reason     {r}");
    }
    if let Some((text, _)) = &lesson {
        println!("lesson     {text}");
    }
    println!("score      {}", fmt_score(e.score));
    if let Some(st) = &e.stats {
        print_stats(st);
    }
    for (k, v) in &e.metrics {
        println!("  {k:<18} {v}");
    }
    println!(
        "commit     {} (parent {})",
        short(e.commit.as_deref()),
        short(Some(&e.parent))
    );
    println!("lines      +{} -{}", e.lines_added, e.lines_removed);
    println!("runs       {}", runs.len());
    for r in &runs {
        println!(
            "  run {} seed {}{} {}{}  {}",
            r.index,
            r.seed,
            r.budget.map(|b| format!(" budget {b}")).unwrap_or_default(),
            r.outcome.as_str(),
            r.exit_code
                .map(|c| format!(" (exit {c})"))
                .unwrap_or_default(),
            r.run_dir
        );
    }
    if !diff.is_empty() {
        println!("\ndiff:\n{}", diff.trim_end());
    }
    if let Some(tail) = runs
        .iter()
        .rev()
        .find_map(|r| r.log_tail.as_deref())
        .filter(|t| !t.is_empty())
    {
        println!("\nlog tail:\n{}", printable(tail));
    }
    Ok(ExitCode::SUCCESS)
}

/// Everything known of experiment `e` (what `show --json` prints; the dashboard's experiment
/// page shows the same).
pub fn detail_json(
    ledger: &autolab_core::ledger::Ledger,
    root: &Path,
    tag: &str,
    e: &autolab_core::experiment::Experiment,
) -> Result<serde_json::Value, CliError> {
    let runs = ledger.runs(e.row)?;
    let repo = Repo::discover(root)?;
    let diff = match &e.commit {
        Some(c) if *c != e.parent => repo
            .diff(&e.parent, c)
            .unwrap_or_else(|err| format!("(diff unavailable: {err})")),
        _ => String::new(),
    };
    let events = ledger.events(e.row)?;
    let (idea, expert) = ledger.idea(e.row)?;
    let transcripts = ledger.transcripts(e.row)?;
    let lesson = ledger.lesson(e.row)?;
    let mut v = experiment_json(tag, e, runs.len() as u32);
    v["diff"] = json!(diff);
    v["run_list"] = serde_json::to_value(&runs).unwrap_or_default();
    v["stats"] = e.stats.clone().unwrap_or(serde_json::Value::Null);
    v["idea"] = idea.unwrap_or(serde_json::Value::Null);
    v["expert"] = json!(expert);
    v["transcripts"] = serde_json::to_value(&transcripts).unwrap_or_default();
    v["lesson"] = match &lesson {
        Some((text, by_llm)) => json!({"text": text, "by_llm": by_llm}),
        None => serde_json::Value::Null,
    };
    v["events"] = events
        .iter()
        .map(|ev| json!({"at": ev.at, "kind": ev.kind, "from": ev.from, "to": ev.to, "detail": ev.detail}))
        .collect();
    Ok(v)
}

/// The statistics a noise-aware verdict rests on, for people.
fn print_stats(st: &serde_json::Value) {
    let sample = |v: &serde_json::Value| {
        format!(
            "n {} mean {} sd {}",
            v["n"],
            fmt_score(v["mean"].as_f64()),
            fmt_score(v["sd"].as_f64())
        )
    };
    if st.get("noise_runs").is_some() {
        println!(
            "noise      {} (baseline runs with different seeds)",
            sample(&st["noise_runs"])
        );
        return;
    }
    if st.get("candidate").is_none() {
        return;
    }
    println!("candidate  {}", sample(&st["candidate"]));
    println!(
        "incumbent  #{} {}",
        st["incumbent"]["id"],
        sample(&st["incumbent"])
    );
    println!(
        "test       {} at confidence {}: gain {} se {} t {} df {} p {} (alpha per look {})",
        st["test"].as_str().unwrap_or("?"),
        st["confidence"],
        fmt_score(st["gain"].as_f64()),
        fmt_score(st["se"].as_f64()),
        st["t"]
            .as_f64()
            .map(|t| format!("{t:.3}"))
            .unwrap_or_else(|| "inf".into()),
        st["df"]
            .as_f64()
            .map(|t| format!("{t:.1}"))
            .unwrap_or_else(|| "inf".into()),
        st["p"]
            .as_f64()
            .map(autolab_core::stats::fmt_p)
            .unwrap_or_default(),
        st["alpha_per_look"]
            .as_f64()
            .map(autolab_core::stats::fmt_p)
            .unwrap_or_default(),
    );
}

#[cfg(test)]
mod tests {
    use super::super::common::printable;

    #[test]
    fn escape_sequences_in_a_log_never_reach_the_terminal() {
        assert_eq!(
            printable("loss: 1\n\x1b]0;pwned\x07\x1b[2Jdone\tok\r"),
            "loss: 1\n^[]0;pwned^G^[[2Jdone\tok^M"
        );
    }
}
