//! `autolab paper`'s engine: related work from the literature services (BibTeX built from
//! their records), the sections written and checked one by one, the ledger's table and
//! figures placed by autolab, the build with bounded LLM fixes of LaTeX errors. Every attempt
//! keeps its own directory; `paper.pdf` is only ever replaced by a newer good build.

use std::path::{Path, PathBuf};
use std::time::Duration;

use autolab_core::config::Writeup;
use autolab_core::ledger::Transcript;
use serde_json::Value;

use super::facts::{Facts, shown};
use super::latex::{self, SECTIONS, Section, Toolchain};
use super::numbers::latex_escape;
use super::prose::{bib_keys, clean};
use super::sections::{Brief, write};
use crate::literature::{self, Cache, Literature};
use crate::llm::{CallError, Caller, user};

/// A kept change as the paper describes it.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub id: u32,
    pub title: String,
    pub hypothesis: Option<String>,
    pub diff: String,
}

/// A figure autolab made from the ledger.
#[derive(Debug, Clone)]
pub struct Figure {
    pub file: PathBuf,
    pub label: String,
    pub caption: String,
}

pub struct PaperInput<'a> {
    pub goal: String,
    /// `autolab report`'s facts.
    pub report: &'a Value,
    pub changes: Vec<Change>,
    pub playbook: String,
    /// The template's text and the directory whose files (styles, bibliography styles) it needs.
    pub template: String,
    pub template_dir: Option<PathBuf>,
    pub figures: Vec<Figure>,
    pub out: PathBuf,
    pub settings: Writeup,
    pub tools: Toolchain,
    /// How long one LaTeX build may take.
    pub build_limit: Duration,
}

/// One build.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub dir: PathBuf,
    pub pdf: Option<PathBuf>,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

/// What writing the paper gave. `failure` says why there is no new PDF; any earlier
/// `paper.pdf` is left as it was.
#[derive(Debug, Default)]
pub struct Paper {
    pub pdf: Option<PathBuf>,
    pub attempts: Vec<Attempt>,
    pub notes: Vec<String>,
    pub cited: Vec<literature::Paper>,
    pub transcripts: Vec<Transcript>,
    pub failure: Option<String>,
}

/// Numbers on the changed lines of the kept diffs (a parameter's old and new value).
fn diff_numbers(changes: &[Change], facts: &mut Facts) {
    for c in changes {
        for line in c.diff.lines() {
            let changed = (line.starts_with('+') && !line.starts_with("+++"))
                || (line.starts_with('-') && !line.starts_with("---"));
            if !changed {
                continue;
            }
            for token in line[1..]
                .split(|ch: char| !(ch.is_ascii_digit() || ch == '.' || ch == 'e' || ch == '-'))
            {
                let t = token
                    .trim_end_matches(['.', '-', 'e'])
                    .trim_start_matches(['.', 'e']);
                if t.chars().any(|ch| ch.is_ascii_digit())
                    && let Ok(v) = t.parse::<f64>()
                {
                    facts.allow(v, format!("diff of #{}", c.id));
                }
            }
        }
    }
}

/// A title as plain text: the first line, without LaTeX commands, math or braces.
fn plain_title(text: &str) -> String {
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                // A command and its braced argument go.
                while chars.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                    chars.next();
                }
                if chars.peek() == Some(&'{') {
                    let mut depth = 0;
                    for c in chars.by_ref() {
                        match c {
                            '{' => depth += 1,
                            '}' => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            '$' | '{' | '}' | '%' | '#' | '&' | '_' | '^' | '~' => {}
            c => out.push(c),
        }
    }
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    flat.trim_matches('"').chars().take(200).collect()
}

/// A record cut to a sane size (a hostile or broken service can send anything).
fn trimmed(mut p: literature::Paper) -> literature::Paper {
    let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    p.title = cut(&p.title, 300);
    p.authors = p.authors.iter().take(20).map(|a| cut(a, 100)).collect();
    p.venue = p.venue.as_deref().map(|v| cut(v, 200));
    p.abstract_text = p.abstract_text.as_deref().map(|a| cut(a, 2000));
    p.url = p.url.as_deref().map(|u| cut(u, 500));
    p.doi = p.doi.as_deref().map(|d| cut(d, 200));
    p.arxiv_id = p.arxiv_id.as_deref().map(|d| cut(d, 50));
    p
}

/// Titles are anybody's text: what pdflatex cannot set (beyond Latin-1) prints as `?`.
fn settable(t: &str) -> String {
    t.chars()
        .map(|c| {
            if (c as u32) < 0x100 && !c.is_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// `autolab ablate`'s table (when the report has one), from the ledger's numbers only.
pub(super) fn ablation_table(report: &Value) -> Option<String> {
    let a = &report["ablation"];
    let rows = a["rows"].as_array()?;
    let effect = |e: &Value| match (e["gain"].as_f64(), e["lo"].as_f64(), e["hi"].as_f64()) {
        (Some(g), Some(lo), Some(hi)) => {
            latex_escape(&format!("{} [{}, {}]", shown(g), shown(lo), shown(hi)))
        }
        _ => "--".into(),
    };
    let lines: Vec<String> = rows
        .iter()
        .map(|r| {
            let title: String = r["change"]["title"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(48)
                .collect();
            format!(
                "\\#{} & {} & {} & {} \\\\",
                r["change"]["number"].as_u64().unwrap_or(0),
                latex_escape(&settable(&title)),
                effect(&r["leave_one_out"]),
                effect(&r["add_one_in"])
            )
        })
        .collect();
    Some(format!(
        "\\begin{{table}}[!htbp]\n\\centering\n\\begin{{tabular}}{{llll}}\n\\toprule\nExperiment & Change & Leave-one-out & Add-one-in \\\\\n\\midrule\n{}\n\\bottomrule\n\\end{{tabular}}\n\\caption{{Ablation of the kept changes, {} runs of each variant: the final incumbent's gain over itself without the change (leave-one-out) and the change's gain alone over the baseline (add-one-in), toward the goal, with {}\\% intervals.}}\n\\label{{tab:ablation}}\n\\end{{table}}\n",
        lines.join("\n"),
        a["repeats"].as_u64().unwrap_or(0),
        (a["confidence"].as_f64().unwrap_or(0.95) * 100.0).round()
    ))
}

/// The results table, from the ledger's numbers only.
fn results_table(report: &Value) -> String {
    let num = |v: &Value| {
        v.as_f64()
            .map_or("--".to_string(), |x| latex_escape(&shown(x)))
    };
    let mut rows = Vec::new();
    if let Some(b) = report["baseline"].as_object() {
        rows.push(format!(
            "\\#{} & baseline & {} & -- & -- & -- \\\\",
            b.get("id").and_then(Value::as_u64).unwrap_or(0),
            num(&report["baseline"]["score"])
        ));
    }
    for k in report["kept"].as_array().into_iter().flatten() {
        let title: String = k["title"].as_str().unwrap_or("").chars().take(48).collect();
        rows.push(format!(
            "\\#{} & {} & {} & {} & {} & {} \\\\",
            k["id"].as_u64().unwrap_or(0),
            latex_escape(&settable(&title)),
            num(&k["score"]),
            num(&k["gain"]),
            num(&k["p"]),
            num(&k["runs"]),
        ));
    }
    let metric = latex_escape(report["primary"].as_str().unwrap_or("score"));
    format!(
        "\\begin{{table}}[!htbp]\n\\centering\n\\begin{{tabular}}{{llllll}}\n\\toprule\nExperiment & Change & {metric} & Gain & $p$ & Runs \\\\\n\\midrule\n{}\n\\bottomrule\n\\end{{tabular}}\n\\caption{{The baseline and each kept change, from the campaign's ledger: its score, its gain over the change before it, the test's $p$ and the runs it rests on.}}\n\\label{{tab:results}}\n\\end{{table}}\n",
        rows.join("\n")
    )
}

fn floats(report: &Value, figures: &[Figure]) -> String {
    let mut out = results_table(report);
    if let Some(t) = ablation_table(report) {
        out.push_str(&t);
    }
    for f in figures {
        let name = f
            .file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push_str(&format!(
            "\n\\begin{{figure}}[!htbp]\n\\centering\n\\includegraphics[width=\\linewidth]{{{name}}}\n\\caption{{{}}}\n\\label{{{}}}\n\\end{{figure}}\n",
            latex_escape(&f.caption),
            f.label
        ));
    }
    out
}

/// The literature queries the LLM asks for, or the goal's words when it gives none.
fn queries(
    caller: &Caller,
    goal: &str,
    changes: &[Change],
    n: u32,
    log: &mut Vec<Transcript>,
) -> Result<(Vec<String>, bool), CallError> {
    let titles: Vec<&str> = changes.iter().map(|c| c.title.as_str()).collect();
    let reply = caller.call(
        vec![user(format!(
            "A research campaign had this goal:\n{}\n\nIts kept changes: {}\n\nPropose up to {n} short literature search queries (a few keywords each) for its related work. Reply with JSON only: {{\"queries\": [\"...\"]}}",
            goal.trim(),
            if titles.is_empty() { "(none)".to_string() } else { titles.join("; ") }
        ))],
        "writer",
        Some("queries"),
        log,
    )?;
    let text = clean(&reply.text);
    // `{"queries": [...]}` as asked, or a bare list.
    let object = text
        .find('{')
        .and_then(|i| serde_json::from_str::<Value>(text.get(i..=text.rfind('}')?)?).ok())
        .map(|v| v["queries"].clone());
    let list = text
        .find('[')
        .and_then(|i| serde_json::from_str::<Value>(text.get(i..=text.rfind(']')?)?).ok());
    let mut out: Vec<String> = object
        .filter(Value::is_array)
        .or(list)
        .and_then(|v| {
            v.as_array().map(|a| {
                a.iter()
                    .filter_map(|q| {
                        q.as_str()
                            .map(|s| s.trim().chars().take(200).collect::<String>())
                    })
                    .filter(|s| !s.is_empty())
                    .collect()
            })
        })
        .unwrap_or_default();
    let mut fell_back = false;
    if out.is_empty() {
        fell_back = true;
        out.push(
            goal.split_whitespace()
                .take(8)
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    out.truncate(n.max(1) as usize);
    Ok((out, fell_back))
}

/// The next free `attempt-N` directory under `out`.
fn next_attempt(out: &Path) -> PathBuf {
    let n = std::fs::read_dir(out)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("attempt-")?
                .parse::<u32>()
                .ok()
        })
        .max()
        .unwrap_or(0);
    out.join(format!("attempt-{}", n + 1))
}

/// The line a LaTeX error points at.
fn error_line(errors: &[String]) -> Option<usize> {
    errors.iter().find_map(|e| {
        let from_file = e
            .split(".tex:")
            .nth(1)
            .and_then(|r| r.split(':').next()?.parse().ok());
        from_file.or_else(|| {
            e.split("| l.")
                .nth(1)
                .and_then(|r| r.split_whitespace().next()?.parse().ok())
        })
    })
}

fn copy_dir_files(from: &Path, to: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(from)?.flatten() {
        if e.file_type()?.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

/// Writes, builds and fixes the paper. Never fails for a citation.
pub fn write_paper(
    caller: &Caller,
    input: PaperInput,
    lit: Option<&Literature>,
    cache: &mut dyn Cache,
) -> Paper {
    let mut paper = Paper::default();
    let mut log = Vec::new();
    let result = compose(caller, &input, lit, cache, &mut paper, &mut log);
    paper.transcripts = log;
    if let Err(e) = result {
        paper.failure = Some(e);
    }
    paper
}

fn compose(
    caller: &Caller,
    input: &PaperInput,
    lit: Option<&Literature>,
    cache: &mut dyn Cache,
    paper: &mut Paper,
    log: &mut Vec<Transcript>,
) -> Result<(), String> {
    let s = &input.settings;
    let mut facts = Facts::from_report(input.report);
    diff_numbers(&input.changes, &mut facts);
    // Related work: the LLM's queries, answered by the services; BibTeX from their records.
    let mut found: Vec<literature::Paper> = Vec::new();
    if let Some(lit) = lit.filter(|_| s.queries > 0 && s.max_citations > 0) {
        let (qs, fell_back) = queries(caller, &input.goal, &input.changes, s.queries, log)
            .map_err(|e| e.to_string())?;
        if fell_back {
            paper.notes.push(format!(
                "the LLM gave no search queries; the goal's words were searched instead (\"{}\")",
                qs.join("; ")
            ));
        }
        let mut failures: Vec<String> = Vec::new();
        let mut unanswered = 0;
        for q in &qs {
            let f = lit.search(q, 5, cache);
            if f.source.is_none() {
                unanswered += 1;
            }
            failures.extend(f.failures.iter().map(|e| e.to_string()));
            for p in f.papers.into_iter().map(trimmed) {
                let same = |x: &literature::Paper| x.title.to_lowercase() == p.title.to_lowercase();
                if !found.iter().any(same) && found.len() < s.max_citations as usize {
                    found.push(p);
                }
            }
        }
        failures.sort();
        failures.dedup();
        if unanswered > 0 {
            paper.notes.push(format!(
                "{unanswered} of {} literature queries found no service answering; the paper was written without their citations ({})",
                qs.len(),
                failures.join("; ")
            ));
        } else if !failures.is_empty() {
            paper.notes.push(format!(
                "some literature services failed and the next one answered: {}",
                failures.join("; ")
            ));
        }
    }
    let template_bib = latex::template_bib(&input.template);
    let (keys, bib) = literature::bibtex(&found);
    for p in &found {
        if let Some(y) = p.year {
            facts.allow(f64::from(y), "a citation's year");
        }
    }
    let mut cite_keys = bib_keys(&template_bib);
    cite_keys.extend(keys.iter().cloned());
    let papers: String = keys
        .iter()
        .zip(&found)
        .map(|(k, p)| format!("{k}: {}", p.line()))
        .collect::<Vec<_>>()
        .join("\n");
    paper.cited = found;
    let changes = input
        .changes
        .iter()
        .map(|c| {
            let diff: String = c.diff.chars().take(3000).collect();
            format!(
                "#{} {} — {}\n```diff\n{}\n```",
                c.id,
                c.title,
                c.hypothesis.as_deref().unwrap_or(""),
                diff.trim()
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    let mut brief = Brief {
        goal: input.goal.clone(),
        facts,
        changes,
        playbook: input.playbook.clone(),
        papers,
        cite_keys,
        title: String::new(),
    };
    let mut texts: Vec<(Section, String)> = Vec::new();
    for section in SECTIONS {
        let w = write(caller, &brief, section.name, s.reasks, log).map_err(|e| e.to_string())?;
        for r in &w.removed {
            paper.notes.push(format!(
                "{}: removed after {} re-asks: {r}",
                section.name, w.reasks
            ));
        }
        let mut text = w.text;
        if section.name == "title" {
            text = plain_title(&text);
            if text.is_empty() {
                text = "Results of an automated research campaign".into();
            }
            brief.title = text.clone();
        }
        texts.push((section, text));
    }
    let floats = floats(input.report, &input.figures);
    std::fs::create_dir_all(&input.out)
        .map_err(|e| format!("cannot create {}: {e}", input.out.display()))?;
    for round in 0..=s.fix_attempts {
        let filled: Vec<(Section, String)> = texts
            .iter()
            .map(|(sec, t)| (*sec, super::numbers::substitute(t, &brief.facts)))
            .collect();
        let (doc, starts) = latex::fill(&input.template, &filled, &floats, &bib);
        let dir = next_attempt(&input.out);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        if let Some(t) = &input.template_dir {
            copy_dir_files(t, &dir).map_err(|e| {
                format!("cannot copy the template's files from {}: {e}", t.display())
            })?;
        }
        for f in &input.figures {
            if let Some(name) = f.file.file_name() {
                std::fs::copy(&f.file, dir.join(name))
                    .map_err(|e| format!("cannot copy {}: {e}", f.file.display()))?;
            }
        }
        std::fs::write(dir.join("references.bib"), format!("{template_bib}\n{bib}"))
            .and_then(|_| std::fs::write(dir.join("paper.tex"), &doc))
            .map_err(|e| format!("cannot write the paper into {}: {e}", dir.display()))?;
        let b = latex::build(&dir, "paper.tex", &input.tools, input.build_limit);
        paper.attempts.push(Attempt {
            dir: dir.clone(),
            pdf: b.pdf.clone(),
            errors: b.errors.clone(),
            warnings: b.warnings.clone(),
        });
        if let Some(pdf) = b.pdf {
            let publish = input.out.join("paper.pdf");
            let tmp = input.out.join(".paper.pdf.new");
            // A review of the earlier paper is kept, under a name that says so.
            let review = input.out.join("review.json");
            if review.is_file() {
                let _ = std::fs::rename(&review, input.out.join("review-of-earlier-paper.json"));
            }
            std::fs::copy(&pdf, &tmp)
                .and_then(|_| std::fs::rename(&tmp, &publish))
                .and_then(|_| std::fs::write(input.out.join("paper.tex"), &doc))
                .map_err(|e| format!("cannot publish {}: {e}", publish.display()))?;
            paper.pdf = Some(publish);
            return Ok(());
        }
        if round == s.fix_attempts {
            break;
        }
        // Which section the error is in; errors outside the LLM's text cannot be fixed by it.
        let line = error_line(&b.errors);
        // An error in autolab's own table or figures is not the LLM's to fix.
        if let (Some(l), Some(at)) = (line, doc.find(&floats)) {
            let first = doc[..at].matches('\n').count() + 1;
            let last = first + floats.matches('\n').count();
            if (first..=last).contains(&l) {
                return Err(format!(
                    "autolab's results table or figures do not compile: {}; see {}",
                    b.errors.join(" / "),
                    b.log.display()
                ));
            }
        }
        let Some(name) = line.and_then(|l| {
            starts
                .iter()
                .filter(|(_, start)| *start <= l)
                .max_by_key(|(_, start)| *start)
                .map(|(n, _)| *n)
        }) else {
            return Err(format!(
                "the paper does not compile and the error is outside the written sections (the template or autolab's tables): {}; see {}",
                b.errors.join(" / "),
                b.log.display()
            ));
        };
        let Some(slot) = texts.iter_mut().find(|(sec, _)| sec.name == name) else {
            break;
        };
        let fixed = caller
            .call(
                vec![
                    user(format!(
                        "This LaTeX section ({name}) of a paper does not compile:\n\n{}\n\nLaTeX says:\n{}\n\nReply with the corrected section body only; keep every \\fact{{...}} placeholder, write no digits yourself, no figures or tables.",
                        slot.1,
                        b.errors.join("\n")
                    )),
                ],
                "writer",
                Some("latex-fix"),
                log,
            )
            .map_err(|e| e.to_string())?;
        let candidate = clean(&fixed.text);
        // A fix must pass the same checks as the section did.
        let again = super::sections::accept(&brief, candidate);
        paper.notes.push(format!(
            "{name}: the LLM was asked to fix a LaTeX error ({})",
            b.errors.first().cloned().unwrap_or_default()
        ));
        slot.1 = again;
    }
    let last = paper
        .attempts
        .last()
        .map(|a| a.errors.join(" / "))
        .unwrap_or_default();
    Err(format!(
        "the paper did not compile after {} fix rounds: {last}; every attempt is kept under {}",
        s.fix_attempts,
        input.out.display()
    ))
}
