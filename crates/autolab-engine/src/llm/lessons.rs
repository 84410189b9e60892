//! The playbook's LLM side: one lesson per verdict (what was tried, what happened, the likely
//! why), and a digest that compacts the older lessons when the playbook outgrows its budget.
//! A reply that is not a lesson is refused; the playbook then keeps the templated one.

use autolab_core::ids::ExperimentId;
use std::sync::Arc;

use autolab_core::ledger::Transcript;
use serde::Serialize;

use super::prompts::Templates;
use super::{CallError, Caller, user};

/// Characters a lesson may take in the playbook.
pub const LESSON_CHARS: usize = 400;

/// What the lesson prompt is told about the experiment.
#[derive(Debug, Clone, Serialize)]
pub struct LessonVars {
    pub goal: String,
    pub number: u32,
    pub title: String,
    pub expert: Option<String>,
    pub hypothesis: Option<String>,
    pub verdict: String,
    pub reason: Option<String>,
    pub metric: String,
    pub value: String,
    pub best: String,
    pub stats: Option<String>,
    pub diff: Option<String>,
    pub log_tail: Option<String>,
    /// Ideas waiting to be implemented ("title — hypothesis"), which the lesson may drop.
    pub waiting: Vec<String>,
}

pub struct LessonJob {
    pub caller: Caller,
    pub templates: Arc<Templates>,
    pub row: ExperimentId,
    pub vars: LessonVars,
    /// The titles of `vars.waiting`, in order.
    pub waiting_titles: Vec<String>,
}

/// What the compaction prompt is told.
#[derive(Debug, Clone, Serialize)]
pub struct DigestVars {
    pub goal: String,
    pub previous: Option<String>,
    pub lessons: Vec<String>,
    pub max_items: usize,
    pub max_chars: usize,
}

pub struct DigestJob {
    pub caller: Caller,
    pub templates: Arc<Templates>,
    /// The highest experiment number among the lessons compacted.
    pub through: u32,
    pub vars: DigestVars,
}

/// A finished lesson or digest call.
pub struct Written {
    /// The experiment row (lesson) or the number compacted through (digest).
    pub key: i64,
    pub text: Result<String, String>,
    pub transcripts: Vec<Transcript>,
    pub out_of_budget: bool,
    /// The LLM could not be reached: worth trying again later.
    pub unavailable: bool,
    /// The LLM answered (whatever it said).
    pub transcripts_answered: bool,
    /// Titles of waiting ideas the lesson says the result disproved.
    pub drop: Vec<String>,
}

pub fn write_lesson(job: LessonJob) -> Written {
    let written = ask(&job.caller, &job.templates, "lesson", &job.vars, job.row.0);
    let (text, drop) = match written.text {
        Ok(reply) => {
            let (rest, picked) = split_drop(&reply);
            let drop = picked
                .into_iter()
                .filter_map(|i| job.waiting_titles.get(i - 1).cloned())
                .collect();
            (clean_lesson(&rest), drop)
        }
        Err(e) => (Err(e), Vec::new()),
    };
    Written {
        text,
        drop,
        ..written
    }
}

/// The reply without its `DROP: 2, 3` line, and the (1-based) numbers that line names.
pub fn split_drop(reply: &str) -> (String, Vec<usize>) {
    let mut picked = Vec::new();
    let mut rest = Vec::new();
    for line in reply.lines() {
        let t = line.trim().trim_start_matches(['-', '*']).trim();
        match t.strip_prefix("DROP:").or_else(|| t.strip_prefix("Drop:")) {
            Some(list) => picked.extend(
                list.split([',', ' '])
                    .filter_map(|x| x.trim().trim_start_matches('#').parse::<usize>().ok())
                    .filter(|n| *n > 0),
            ),
            None => rest.push(line),
        }
    }
    picked.sort_unstable();
    picked.dedup();
    (rest.join("\n"), picked)
}

pub fn compact(job: DigestJob) -> Written {
    let max = job.vars.max_chars;
    let written = ask(
        &job.caller,
        &job.templates,
        "compact",
        &job.vars,
        i64::from(job.through),
    );
    Written {
        text: written.text.and_then(|t| clean_digest(&t, max)),
        ..written
    }
}

fn ask<S: Serialize>(
    caller: &Caller,
    templates: &Templates,
    role: &str,
    vars: S,
    key: i64,
) -> Written {
    let mut transcripts = Vec::new();
    let prompt = match templates.render(role, vars) {
        Ok(p) => p,
        Err(e) => {
            return Written {
                key,
                text: Err(e),
                transcripts,
                out_of_budget: false,
                unavailable: false,
                transcripts_answered: false,
                drop: Vec::new(),
            };
        }
    };
    let result = caller.call(vec![user(prompt)], role, None, &mut transcripts);
    Written {
        key,
        out_of_budget: matches!(result, Err(CallError::Budget { .. })),
        unavailable: matches!(result, Err(CallError::Unavailable(_))),
        transcripts_answered: result.is_ok(),
        text: result.map(|r| r.text).map_err(|e| e.to_string()),
        transcripts,
        drop: Vec::new(),
    }
}

/// The lesson in a reply: its prose lines joined, fences and list marks dropped, capped. A reply
/// holding code or edit blocks is not a lesson.
pub fn clean_lesson(reply: &str) -> Result<String, String> {
    if reply.contains("<<<<<<<") || reply.contains(">>>>>>>") {
        return Err("the reply held an edit block, not a lesson".into());
    }
    let mut in_fence = false;
    let mut parts = Vec::new();
    for line in reply.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence || t.is_empty() {
            continue;
        }
        let t = t.trim_start_matches(['-', '*', '•', '#']).trim();
        let t = t
            .strip_prefix("Lesson:")
            .or_else(|| t.strip_prefix("lesson:"))
            .unwrap_or(t)
            .trim();
        if !t.is_empty() {
            parts.push(t.to_string());
        }
    }
    let text = parts.join(" ");
    if text.is_empty() {
        return Err("the reply held no lesson".into());
    }
    Ok(cap(&text, LESSON_CHARS))
}

/// The digest in a reply: its bullet lines (a line without a mark gets one), within `max` chars.
pub fn clean_digest(reply: &str, max: usize) -> Result<String, String> {
    if reply.contains("<<<<<<<") {
        return Err("the reply held an edit block, not a summary".into());
    }
    let mut out = String::new();
    for line in reply.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("```") {
            continue;
        }
        let body = line.trim_start_matches(['-', '*', '•']).trim();
        if body.is_empty() {
            continue;
        }
        let item = format!("- {body}\n");
        if out.len() + item.len() > max {
            break;
        }
        out.push_str(&item);
    }
    if out.is_empty() {
        return Err("the reply held no summary".into());
    }
    Ok(out)
}

/// `text` cut to at most `max` bytes on a character boundary, marked with `…` when cut.
pub fn cap(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", text[..end].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lesson_is_prose_within_its_cap() {
        assert_eq!(
            clean_lesson(
                "Lesson:\n- Raising lr to 0.05 cut val_loss by 0.3:\n  the old lr was too small.\n"
            )
            .unwrap(),
            "Raising lr to 0.05 cut val_loss by 0.3: the old lr was too small."
        );
        assert_eq!(
            clean_lesson("```\nsome code\n```\nDropout hurt.").unwrap(),
            "Dropout hurt."
        );
        let long = "é".repeat(500);
        let capped = clean_lesson(&long).unwrap();
        assert!(capped.len() <= LESSON_CHARS && capped.ends_with('…'));
        assert!(
            clean_lesson("a.py\n```\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n```").is_err()
        );
        assert!(clean_lesson("```\nonly code\n```").is_err());
    }

    #[test]
    fn a_drop_line_names_waiting_ideas_and_leaves_the_lesson() {
        let (rest, picked) = split_drop("Wider nets overfit.\nDROP: 3, #1 2 x 0\n");
        assert_eq!(rest, "Wider nets overfit.");
        assert_eq!(picked, [1, 2, 3]);
        assert_eq!(split_drop("No drop here.").1, Vec::<usize>::new());
    }

    #[test]
    fn a_digest_is_bullets_within_its_budget() {
        let d = clean_digest("Summary\n* lr 0.05 works\n\n- dropout hurts\n", 1000).unwrap();
        assert_eq!(d, "- Summary\n- lr 0.05 works\n- dropout hurts\n");
        let d = clean_digest("- aaaa\n- bbbb\n- cccc\n", 15).unwrap();
        assert_eq!(d, "- aaaa\n- bbbb\n");
        assert!(clean_digest("\n```\n", 100).is_err());
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    fn replyish_line() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("```".to_string()),
            Just("Lesson:".to_string()),
            Just("- ".to_string()),
            Just("<<<<<<< SEARCH".to_string()),
            Just(String::new()),
            "[-*•# a-zé:.]{0,40}",
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn a_cleaned_lesson_is_one_capped_line(lines in prop::collection::vec(replyish_line(), 0..12)) {
            let reply = lines.join("\n");
            if let Ok(lesson) = clean_lesson(&reply) {
                prop_assert!(lesson.len() <= LESSON_CHARS);
                prop_assert!(!lesson.contains('\n'));
                prop_assert!(!lesson.trim().is_empty());
                prop_assert!(!reply.contains("<<<<<<<"));
            }
        }

        #[test]
        fn a_cleaned_digest_is_bullets_within_budget(
            lines in prop::collection::vec(replyish_line(), 0..12),
            max in 1usize..400,
        ) {
            let reply = lines.join("\n");
            if let Ok(digest) = clean_digest(&reply, max) {
                prop_assert!(digest.len() <= max);
                prop_assert!(digest.lines().all(|l| l.starts_with("- ") && l.len() > 2));
            }
        }
    }
}
