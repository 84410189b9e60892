//! Writing one section: the prompt (the facts as keys, the kept changes, the playbook, the
//! papers that may be cited), the reply cleaned, then checked — every literal number must be
//! a ledger fact, every `\fact{}` key known, every citation in the bibliography, no refused
//! command — and re-asked with the offending sentences, a bounded number of times. What
//! still offends after that is removed, never printed.

use autolab_core::ledger::Transcript;

use super::facts::Facts;
use super::numbers::{Offence, check};
use super::prose::{cited, clean, drop_unknown_citations, refused, without_refused};
use crate::llm::{CallError, Caller, assistant, user};

/// What a section is about (after AI-Scientist's per-section advice).
pub fn advice(section: &str) -> &'static str {
    match section {
        "title" => {
            "A concise, descriptive title for the paper: one line, plain text, no LaTeX commands."
        }
        "abstract" => {
            "One paragraph: what is done and why it matters, why it is hard, how it is solved, and how it is verified (the headline result)."
        }
        "introduction" => {
            "What the paper is about, why it matters and is hard, the contributions as a bullet list (itemize), how they are verified."
        }
        "related work" => {
            "Academic siblings of this work: compare and contrast with the papers listed, citing them; say how they differ in assumptions or method."
        }
        "background" => {
            "The concepts and prior work needed to follow the method; a short problem setting with notation if useful."
        }
        "method" => {
            "What was changed and why, building on the background: the kept changes, each with its motivation."
        }
        "experimental setup" => {
            "The task, the metric and its direction, how runs were judged (repeats, noise), the budget; only facts given, no invented hardware or datasets."
        }
        "results" => {
            "The results of the runs, with the facts given; refer to \\cref{tab:results} and \\cref{fig:progress}; include the gain's confidence interval and the limitations; when the facts have ablation keys, say which changes carried the gain (\\cref{tab:ablation}). Do not invent results."
        }
        "conclusion" => "A brief recap, then possible future work.",
        _ => "",
    }
}

/// The material every section is written from.
pub struct Brief {
    pub goal: String,
    pub facts: Facts,
    /// The kept changes: `#id title — hypothesis`, then the diff (trimmed).
    pub changes: String,
    pub playbook: String,
    /// `key: title (authors, year)` per line; empty when nothing may be cited.
    pub papers: String,
    pub cite_keys: Vec<String>,
    pub title: String,
}

fn prompt(b: &Brief, section: &str) -> String {
    let mut p = format!(
        "You are writing a research paper in LaTeX, one section at a time, about an automated research campaign.\n\n\
         # Goal of the campaign\n{}\n\n\
         # Facts (the only numbers the paper may contain)\n{}\n\n\
         # Kept changes (in order)\n{}\n\n\
         # Playbook (what was learned)\n{}\n\n",
        b.goal.trim(),
        b.facts.table(),
        if b.changes.trim().is_empty() {
            "(none: no change beat the baseline)"
        } else {
            b.changes.trim()
        },
        if b.playbook.trim().is_empty() {
            "(empty)"
        } else {
            b.playbook.trim()
        },
    );
    if !b.papers.trim().is_empty() {
        p.push_str(&format!(
            "# Papers you may cite (with \\citep{{key}} or \\citet{{key}}, these keys only)\n{}\n\n",
            b.papers.trim()
        ));
    }
    if !b.title.is_empty() {
        p.push_str(&format!("# Title\n{}\n\n", b.title));
    }
    p.push_str(&format!(
        "# Write the section: {section}\n{}\n\n\
         Rules:\n\
         - Write every number as \\fact{{key}} with a key from the facts, e.g. \\fact{{best.score}}; write no digits yourself (a percentage is \\fact{{gain.percent}}\\%).\n\
         - Tables and figures exist already (labels tab:results and fig:progress; tab:ablation when the facts have ablation keys): refer to them, never write a figure, table or \\includegraphics.\n\
         - Reply with the section's LaTeX body only: no \\section heading, no preamble, no code fences.",
        advice(section)
    ));
    p
}

/// The most a section may hold (a paper's longest section is a few thousand characters).
pub const MAX_SECTION_CHARS: usize = 20_000;

/// `text` cut to [`MAX_SECTION_CHARS`] at a paragraph (else a sentence) boundary.
fn capped(text: String) -> String {
    if text.chars().count() <= MAX_SECTION_CHARS {
        return text;
    }
    let cut: String = text.chars().take(MAX_SECTION_CHARS).collect();
    let end = cut
        .rfind("\n\n")
        .or_else(|| cut.rfind(". ").map(|i| i + 1))
        .unwrap_or(cut.len());
    cut[..end].to_string()
}

/// Why a section's text is not acceptable yet.
fn offences(text: &str, b: &Brief) -> Vec<Offence> {
    let mut out = check(text, &b.facts);
    for c in refused(text) {
        out.push(Offence {
            sentence: text
                .lines()
                .find(|l| l.contains(&c))
                .unwrap_or("")
                .trim()
                .to_string(),
            what: format!(
                "{c} is not allowed: only text styling, lists, citations, references and math (figures and tables are autolab's)"
            ),
        });
    }
    if !super::prose::braces_balance(text) {
        out.push(Offence {
            sentence: String::new(),
            what: "the braces { } do not balance".into(),
        });
    }
    for key in cited(text) {
        if !b.cite_keys.contains(&key) {
            out.push(Offence {
                sentence: String::new(),
                what: format!("the citation key `{key}` is not in the list of papers"),
            });
        }
    }
    out
}

/// A section written and checked.
pub struct Written {
    pub text: String,
    /// What was removed after the re-asks ran out.
    pub removed: Vec<String>,
    pub reasks: u32,
}

/// Writes `section`, re-asking up to `reasks` times; removes what still offends.
pub fn write(
    caller: &Caller,
    b: &Brief,
    section: &str,
    reasks: u32,
    log: &mut Vec<Transcript>,
) -> Result<Written, CallError> {
    let mut messages = vec![user(prompt(b, section))];
    let mut text = capped(clean(
        &caller
            .call(messages.clone(), "writer", Some(section), log)?
            .text,
    ));
    let mut asked = 0;
    loop {
        let found = offences(&text, b);
        if found.is_empty() {
            return Ok(Written {
                text,
                removed: Vec::new(),
                reasks: asked,
            });
        }
        if asked >= reasks {
            return Ok(strip(text, b, found, asked));
        }
        asked += 1;
        messages.push(assistant(text.clone()));
        let listed: Vec<String> = found
            .iter()
            .map(|o| {
                if o.sentence.is_empty() {
                    format!("- {}", o.what)
                } else {
                    format!("- \"{}\": {}", o.sentence, o.what)
                }
            })
            .collect();
        messages.push(user(format!(
            "The section cannot be used as written:\n{}\n\nRewrite the whole section: every number as \\fact{{key}} from the facts (or leave the number out), cite only the listed keys, no figures or tables.",
            listed.join("\n")
        )));
        text = capped(clean(
            &caller
                .call(messages.clone(), "writer", Some(section), log)?
                .text,
        ));
    }
}

/// `text` as it may be printed: checked, with what offends removed.
pub fn accept(b: &Brief, text: String) -> String {
    let found = offences(&text, b);
    if found.is_empty() {
        text
    } else {
        strip(text, b, found, 0).text
    }
}

/// The text without the sentences and lines that still offend.
fn strip(text: String, b: &Brief, found: Vec<Offence>, asked: u32) -> Written {
    let mut removed = Vec::new();
    let lines_before = text.lines().count();
    let text = without_refused(&text);
    let dropped = lines_before - text.lines().count();
    if dropped > 0 {
        removed.push(format!(
            "{dropped} line(s) with commands that are not allowed"
        ));
    }
    let text = drop_unknown_citations(&text, &b.cite_keys);
    // Sentence by sentence (paragraphs with their line breaks and comments gone): a sentence
    // that still offends goes, the others stay.
    let mut paragraphs = Vec::new();
    for para in text.split("\n\n") {
        let flat = para
            .lines()
            .map(uncommented)
            .collect::<Vec<_>>()
            .join(" ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let mut kept = Vec::new();
        for sentence in sentences(&flat) {
            let bad: Vec<Offence> = offences(sentence, b)
                .into_iter()
                .filter(|o| !o.what.contains("braces"))
                .collect();
            match bad.first() {
                None => kept.push(sentence),
                Some(o) => removed.push(format!("\"{sentence}\" ({})", o.what)),
            }
        }
        let kept = kept.join(" ");
        if !kept.trim().is_empty() {
            paragraphs.push(kept);
        }
    }
    let mut text = paragraphs.join("\n\n");
    let left = offences(&text, b);
    if !left.is_empty() {
        // What is left still offends as a whole (braces across sentences): none of it is printed.
        removed.push(format!(
            "the rest of the section ({})",
            left.iter()
                .map(|o| o.what.clone())
                .collect::<Vec<_>>()
                .join("; ")
        ));
        text = String::new();
    }
    if found.is_empty() {
        removed.clear();
    }
    Written {
        text,
        removed,
        reasks: asked,
    }
}

/// The sentences of a flattened paragraph, each with its closing punctuation.
fn sentences(flat: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = flat.as_bytes();
    for (i, c) in bytes.iter().enumerate() {
        if matches!(c, b'.' | b'?' | b'!') && bytes.get(i + 1) == Some(&b' ') {
            out.push(flat[start..=i].trim());
            start = i + 1;
        }
    }
    if start < flat.len() && !flat[start..].trim().is_empty() {
        out.push(flat[start..].trim());
    }
    out
}

/// A line without its LaTeX comment (an unescaped `%` to the end).
fn uncommented(line: &str) -> &str {
    let b = line.as_bytes();
    for (i, c) in b.iter().enumerate() {
        if *c == b'%' && (i == 0 || b[i - 1] != b'\\') {
            return &line[..i];
        }
    }
    line
}
