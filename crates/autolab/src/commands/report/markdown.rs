//! The report as Markdown. Each number is followed by the experiment it came from (`#3`).

use std::fmt::Write;

use serde_json::Value;

fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.is_finite() => autolab_core::stats::fmt_value(x),
        _ => "-".into(),
    }
}

fn minutes(v: &Value) -> String {
    v.as_f64()
        .map_or("-".into(), |s| format!("{:.1} min", s / 60.0))
}

/// Text in a table cell: no line breaks, no pipes.
fn cell(v: &Value) -> String {
    v.as_str()
        .unwrap_or("")
        .replace(['\n', '\r'], " ")
        .replace('|', "\\|")
}

pub fn render(f: &Value) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Campaign `{}`\n", f["tag"].as_str().unwrap_or(""));
    if let Some(goal) = f["goal"].as_str() {
        let _ = writeln!(md, "**Goal.** {}\n", goal.trim());
    }
    let _ = writeln!(
        md,
        "**Setup.** `{}`, editing {}; policy `{}`; score: {} `{}`.\n",
        f["command"].as_str().unwrap_or("?"),
        f["editable"]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(|x| x.as_str())
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default(),
        f["policy"].as_str().unwrap_or("?"),
        f["direction"].as_str().unwrap_or("?"),
        f["primary"].as_str().unwrap_or("score"),
    );
    let budget = &f["budget"];
    let _ = writeln!(
        md,
        "**Budget.** {} experiments{}; {} experiments run in {} wall time, {} of runs; LLM cost ${:.4}.\n",
        budget["max_experiments"]
            .as_u64()
            .map_or("no limit on".into(), |n| format!("at most {n}")),
        budget["max_hours"]
            .as_f64()
            .map_or(String::new(), |h| format!(", at most {h} h")),
        f["experiments"],
        minutes(&f["wall_secs"]),
        minutes(&f["compute_secs"]),
        f["llm_usd"].as_f64().unwrap_or(0.0),
    );
    let _ = writeln!(md, "## Result\n");
    match (&f["baseline"], &f["best"]) {
        (b, x) if b.is_object() && x.is_object() => {
            let _ = writeln!(
                md,
                "Baseline: {} (#{}). Best: {} (#{}, \"{}\").",
                num(&b["score"]),
                b["id"],
                num(&x["score"]),
                x["id"],
                cell(&x["title"])
            );
            let g = &f["gain"];
            if g.is_object() {
                let ci = &g["ci95"];
                let _ = writeln!(
                    md,
                    "Gain over the baseline: {}{} (#{} vs #{}), 95 % interval {} (runs: {} of #{}, {} of #{}).",
                    num(&g["value"]),
                    g["relative"]
                        .as_f64()
                        .map_or(String::new(), |r| format!(" ({:.1} %)", 100.0 * r)),
                    x["id"],
                    b["id"],
                    if ci.is_object() {
                        format!("[{}, {}]", num(&ci["low"]), num(&ci["high"]))
                    } else {
                        "not measured (single runs, no noise estimate)".into()
                    },
                    g["runs"]["baseline"],
                    b["id"],
                    g["runs"]["best"],
                    x["id"],
                );
            } else {
                let _ = writeln!(md, "No change beat the baseline.");
            }
        }
        _ => {
            let _ = writeln!(md, "No scored experiment yet.");
        }
    }
    let _ = writeln!(
        md,
        "\n![progress: score per experiment, kept ones labelled, the running best](progress.png)\n\n(also as [SVG](progress.svg))\n"
    );
    let _ = writeln!(md, "## Kept changes\n");
    let kept = f["kept"].as_array().cloned().unwrap_or_default();
    if kept.is_empty() {
        let _ = writeln!(md, "None.\n");
    } else {
        let _ = writeln!(md, "| # | change | by | score | gain over | p | runs |");
        let _ = writeln!(md, "|---|--------|----|-------|-----------|---|------|");
        for k in &kept {
            let _ = writeln!(
                md,
                "| {id} | {title}{hyp} | {by} | {score} (#{id}) | {gain} over #{over} | {p} | {runs} |",
                id = k["id"],
                title = cell(&k["title"]),
                hyp = k["hypothesis"]
                    .as_str()
                    .map_or(String::new(), |h| format!(" — {}", cell(&Value::from(h)))),
                by = cell(&k["by"]),
                score = num(&k["score"]),
                gain = k["gain"]
                    .as_f64()
                    .map_or("-".into(), |g| format!("{g:+.6}")),
                over = k["over"],
                p = k["p"].as_f64().map_or(String::new(), |p| format!("{p:.4}")),
                runs = k["runs"].as_u64().map_or(String::new(), |n| n.to_string()),
            );
        }
        let _ = writeln!(md);
    }
    if let Some(ids) = f["curves"].as_array().filter(|c| !c.is_empty()) {
        let _ = writeln!(md, "## Learning curves\n");
        for id in ids {
            let _ = writeln!(
                md,
                "![#{id}: {} over step, one line per run](curves-{id}.svg)\n",
                f["primary"].as_str().unwrap_or("the score")
            );
        }
    }
    let _ = writeln!(md, "## Verdicts\n");
    let counts: Vec<String> = f["counts"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, v)| v.as_u64().unwrap_or(0) > 0)
                .map(|(k, v)| format!("{k} {v}"))
                .collect()
        })
        .unwrap_or_default();
    let _ = writeln!(md, "{}\n", counts.join(" · "));
    if let Some(causes) = f["causes"].as_array().filter(|c| !c.is_empty()) {
        let _ = writeln!(md, "Why candidates failed:\n");
        for c in causes {
            let ids: Vec<String> = c["ids"]
                .as_array()
                .map(|a| a.iter().map(|i| format!("#{i}")).collect())
                .unwrap_or_default();
            let _ = writeln!(
                md,
                "- {} ({}): {} — {}",
                c["verdict"].as_str().unwrap_or(""),
                c["count"],
                cell(&c["reason"]),
                ids.join(", ")
            );
        }
        let _ = writeln!(md);
    }
    if let Some(who) = f["proposers"].as_array().filter(|w| !w.is_empty()) {
        let _ = writeln!(md, "## Proposers\n");
        let _ = writeln!(md, "| proposer | judged | kept | rate |");
        let _ = writeln!(md, "|----------|--------|------|------|");
        for w in who {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.0} % |",
                cell(&w["name"]),
                w["judged"],
                w["kept"],
                100.0 * w["rate"].as_f64().unwrap_or(0.0)
            );
        }
        let _ = writeln!(md);
    }
    ablation(&mut md, &f["ablation"]);
    if let Some(projects) = f["projects"].as_array().filter(|p| !p.is_empty()) {
        let _ = writeln!(md, "## Projects\n");
        let _ = writeln!(md, "| project | idea | status | runs | review | paper |");
        let _ = writeln!(md, "|---------|------|--------|------|--------|-------|");
        for p in projects {
            let review = match p["score"].as_f64() {
                Some(s) => format!("{s}/10 {}", p["decision"].as_str().unwrap_or("")),
                None => String::new(),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} |",
                p["number"],
                cell(&p["title"]),
                cell(&p["status"]),
                p["runs"],
                review.trim(),
                cell(&p["paper"])
            );
        }
        let _ = writeln!(md);
    }
    let _ = writeln!(
        md,
        "_Every number above is read from the campaign's ledger; `#N` names the experiment it belongs to (`autolab show N`)._"
    );
    md
}

/// An effect `{gain, lo, hi}` as `+g [lo, hi]`, or why a variant was not measured.
fn effect(e: &Value, measured: &Value) -> String {
    match (e["gain"].as_f64(), e["lo"].as_f64(), e["hi"].as_f64()) {
        (Some(g), Some(lo), Some(hi)) => format!("{g:+.4} [{lo:+.4}, {hi:+.4}]"),
        _ => format!("— {}", cell(&measured["why"]).trim())
            .trim()
            .to_string(),
    }
}

/// `autolab ablate`'s table: each kept change's contribution both ways.
fn ablation(md: &mut String, a: &Value) {
    let Some(rows) = a["rows"].as_array() else {
        return;
    };
    let _ = writeln!(
        md,
        "## Ablation
"
    );
    let _ = writeln!(
        md,
        "Which kept changes carried the gain (`autolab ablate`): each variant run {} times, gains toward the goal with {:.0}% intervals.
",
        a["repeats"],
        a["confidence"].as_f64().unwrap_or(0.95) * 100.0
    );
    let _ = writeln!(
        md,
        "| # | change | leave-one-out (#{inc} − without it) | add-one-in (alone − #0) |",
        inc = a["incumbent"]
    );
    let _ = writeln!(md, "|---|--------|---------------|------------|");
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            r["change"]["number"],
            cell(&r["change"]["title"]),
            effect(&r["leave_one_out"], &r["without"]),
            effect(&r["add_one_in"], &r["alone"])
        );
    }
    let _ = writeln!(
        md,
        "
Total: {} (#{} against the baseline, both measured again).
",
        effect(&a["total"], &a["baseline"]),
        a["incumbent"]
    );
}
