//! AI-Scientist's review: a NeurIPS-style form as JSON, written by an ensemble of reviewers
//! (each with reflection rounds), joined by an area chair's meta-review whose scores are the
//! reviewers' means. Every form is checked field by field; a reviewer whose JSON is missing a
//! field is re-asked once.

use autolab_core::ledger::Transcript;
use serde_json::{Value, json};

use super::prompt_hash;
use crate::llm::{CallError, Caller, assistant, user};

/// The form's fields, in AI-Scientist's order.
pub const FIELDS: [&str; 16] = [
    "Summary",
    "Strengths",
    "Weaknesses",
    "Originality",
    "Quality",
    "Clarity",
    "Significance",
    "Questions",
    "Limitations",
    "Ethical Concerns",
    "Soundness",
    "Presentation",
    "Contribution",
    "Overall",
    "Confidence",
    "Decision",
];

/// Scored fields and their ranges.
const SCORES: [(&str, i64, i64); 9] = [
    ("Originality", 1, 4),
    ("Quality", 1, 4),
    ("Clarity", 1, 4),
    ("Significance", 1, 4),
    ("Soundness", 1, 4),
    ("Presentation", 1, 4),
    ("Contribution", 1, 4),
    ("Overall", 1, 10),
    ("Confidence", 1, 5),
];

const SYSTEM: &str = "You are an AI researcher who is reviewing a paper that was submitted to a prestigious ML venue. Be critical and cautious in your decision. If a paper is bad or you are unsure, give it bad scores and reject it.";

const FORM: &str = r#"Respond in the following format:

THOUGHT:
<THOUGHT>

REVIEW JSON:
```json
<JSON>
```

In <THOUGHT>, briefly discuss your reasoning for the evaluation, specific to this paper.

In <JSON>, provide the review with these fields, in this order:
- "Summary": a summary of the paper's content and contributions.
- "Strengths": a list of strengths.
- "Weaknesses": a list of weaknesses.
- "Originality", "Quality", "Clarity", "Significance": ratings from 1 to 4 (low, medium, high, very high).
- "Questions": a list of clarifying questions for the authors.
- "Limitations": a list of limitations and potential negative societal impacts.
- "Ethical Concerns": true or false.
- "Soundness", "Presentation", "Contribution": ratings from 1 to 4 (poor, fair, good, excellent).
- "Overall": a rating from 1 to 10 (very strong reject to award quality).
- "Confidence": a rating from 1 to 5 (low, medium, high, very high, absolute).
- "Decision": "Accept" or "Reject" (nothing else).
This JSON is read by a program: keep the format exact."#;

/// The review JSON in a reply (a ```json block, else the outermost braces).
pub fn extract(reply: &str) -> Option<Value> {
    let block = reply
        .split("```json")
        .nth(1)
        .and_then(|r| r.split("```").next())
        .map(str::to_string);
    let text = block.unwrap_or_else(|| match (reply.find('{'), reply.rfind('}')) {
        (Some(a), Some(b)) if b > a => reply[a..=b].to_string(),
        _ => String::new(),
    });
    serde_json::from_str(text.trim()).ok()
}

/// Whether `form` has every field with a value of the right kind and range.
pub fn validate(form: &Value) -> Result<(), String> {
    let mut problems = Vec::new();
    for f in FIELDS {
        if form.get(f).is_none_or(Value::is_null) {
            problems.push(format!("\"{f}\" is missing"));
        }
    }
    for (f, lo, hi) in SCORES {
        if let Some(v) = form.get(f).filter(|v| !v.is_null()) {
            match v.as_f64() {
                Some(x) if x >= lo as f64 && x <= hi as f64 => {}
                _ => problems.push(format!(
                    "\"{f}\" must be a number from {lo} to {hi}, not {v}"
                )),
            }
        }
    }
    if let Some(d) = form.get("Decision").filter(|v| !v.is_null())
        && !matches!(d.as_str(), Some("Accept" | "Reject"))
    {
        problems.push(format!(
            "\"Decision\" must be \"Accept\" or \"Reject\", not {d}"
        ));
    }
    if let Some(e) = form.get("Ethical Concerns").filter(|v| !v.is_null())
        && !e.is_boolean()
    {
        problems.push("\"Ethical Concerns\" must be true or false".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// One review as stored.
#[derive(Debug, Clone)]
pub struct Review {
    pub form: Value,
    pub temperature: Option<f32>,
    pub prompt_hash: String,
    pub reflections: u32,
}

#[derive(Debug, Default)]
pub struct Reviewed {
    pub reviews: Vec<Review>,
    /// With more than one review: the area chair's, scores averaged over the reviews.
    pub meta: Option<Review>,
    pub notes: Vec<String>,
    pub transcripts: Vec<Transcript>,
    pub failure: Option<String>,
}

/// Asks for a form until it validates (one re-ask).
fn ask_form(
    caller: &Caller,
    messages: &mut Vec<autolab_llm::Message>,
    who: &str,
    log: &mut Vec<Transcript>,
) -> Result<Result<Value, String>, CallError> {
    let reply = caller
        .call(messages.clone(), "reviewer", Some(who), log)?
        .text;
    messages.push(assistant(reply.clone()));
    let problem = match extract(&reply) {
        Some(form) => match validate(&form) {
            Ok(()) => return Ok(Ok(form)),
            Err(p) => p,
        },
        None => "no JSON found".to_string(),
    };
    messages.push(user(format!(
        "The review JSON cannot be used: {problem}. Answer again in the same format with every field."
    )));
    let reply = caller
        .call(messages.clone(), "reviewer", Some(who), log)?
        .text;
    messages.push(assistant(reply.clone()));
    Ok(match extract(&reply) {
        Some(form) => validate(&form).map(|()| form),
        None => Err("no JSON found after a re-ask".into()),
    })
}

/// Reviews `text` (the paper's text) with `n` reviewers, each with `reflections` rounds.
pub fn review(caller: &Caller, text: &str, n: u32, reflections: u32) -> Reviewed {
    let mut out = Reviewed::default();
    let mut log = Vec::new();
    let paper: String = text.chars().take(120_000).collect();
    let prompt = format!(
        "{SYSTEM}\n\n## Review form\n{FORM}\n\nHere is the paper you are asked to review:\n```\n{paper}\n```"
    );
    let hash = prompt_hash(&prompt);
    let mut reviewer = caller.clone();
    if reviewer.temperature.is_none() {
        reviewer.temperature = Some(0.75);
    }
    for i in 0..n.max(1) {
        let who = format!("reviewer-{}", i + 1);
        let mut messages = vec![user(prompt.clone())];
        let mut form = match ask_form(&reviewer, &mut messages, &who, &mut log) {
            Ok(Ok(f)) => f,
            Ok(Err(why)) => {
                out.notes.push(format!("{who}: {why}; left out"));
                continue;
            }
            Err(e) => {
                out.failure = Some(e.to_string());
                break;
            }
        };
        let mut rounds = 0;
        for r in 1..=reflections {
            let last = messages
                .last()
                .map(|m| m.content.clone())
                .unwrap_or_default();
            if last.contains("I am done") {
                break;
            }
            messages.push(user(format!(
                "Round {r}/{reflections}. Carefully consider the accuracy and soundness of the review you just wrote, and refine it; keep its spirit unless there are glaring issues. Answer in the same format. If there is nothing to improve, repeat the previous JSON exactly and write \"I am done\" at the end of your thoughts, before the JSON."
            )));
            match ask_form(&reviewer, &mut messages, &who, &mut log) {
                Ok(Ok(f)) => {
                    form = f;
                    rounds = r;
                }
                Ok(Err(why)) => {
                    out.notes.push(format!(
                        "{who}: reflection {r} unusable ({why}); its earlier review stands"
                    ));
                    break;
                }
                Err(e) => {
                    out.failure = Some(e.to_string());
                    break;
                }
            }
        }
        out.reviews.push(Review {
            form,
            temperature: reviewer.temperature,
            prompt_hash: hash.clone(),
            reflections: rounds,
        });
        if out.failure.is_some() {
            break;
        }
    }
    if out.reviews.is_empty() && out.failure.is_none() {
        out.failure = Some(format!(
            "no reviewer gave a usable review: {}",
            out.notes.join("; ")
        ));
    }
    if out.reviews.len() > 1 && out.failure.is_none() {
        let joined = out
            .reviews
            .iter()
            .enumerate()
            .map(|(i, r)| format!("Review {}:\n```json\n{}\n```", i + 1, r.form))
            .collect::<Vec<_>>()
            .join("\n\n");
        let meta_prompt = format!(
            "You are an Area Chair at a machine learning conference, meta-reviewing a paper reviewed by {} reviewers. Aggregate the reviews into one meta-review in the same format: be critical and cautious, find consensus, respect every reviewer's opinion.\n\n## Review form\n{FORM}\n\n{joined}",
            out.reviews.len()
        );
        let mut messages = vec![user(meta_prompt.clone())];
        match ask_form(&reviewer, &mut messages, "area-chair", &mut log) {
            Ok(Ok(mut form)) => {
                for (f, lo, hi) in SCORES {
                    let vals: Vec<f64> = out
                        .reviews
                        .iter()
                        .filter_map(|r| r.form[f].as_f64())
                        .collect();
                    if !vals.is_empty() {
                        let mean = (vals.iter().sum::<f64>() / vals.len() as f64).round();
                        form[f] = json!(mean.clamp(lo as f64, hi as f64) as i64);
                    }
                }
                out.meta = Some(Review {
                    form,
                    temperature: reviewer.temperature,
                    prompt_hash: prompt_hash(&meta_prompt),
                    reflections: 0,
                });
            }
            Ok(Err(why)) => out.notes.push(format!(
                "the meta-review was unusable ({why}); the reviews stand alone"
            )),
            Err(e) => out.failure = Some(e.to_string()),
        }
    }
    out.transcripts = log;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn full() -> Value {
        json!({"Summary": "s", "Strengths": ["a"], "Weaknesses": ["b"], "Originality": 2, "Quality": 3,
               "Clarity": 3, "Significance": 2, "Questions": ["q"], "Limitations": ["l"],
               "Ethical Concerns": false, "Soundness": 3, "Presentation": 3, "Contribution": 2,
               "Overall": 5, "Confidence": 4, "Decision": "Reject"})
    }

    #[test]
    fn a_full_form_validates_and_each_broken_field_is_named() {
        assert_eq!(validate(&full()), Ok(()));
        let mut f = full();
        f.as_object_mut().unwrap().remove("Confidence");
        f["Overall"] = json!(11);
        f["Decision"] = json!("Weak Accept");
        let e = validate(&f).unwrap_err();
        assert!(e.contains("\"Confidence\" is missing"), "{e}");
        assert!(
            e.contains("\"Overall\" must be a number from 1 to 10"),
            "{e}"
        );
        assert!(e.contains("Weak Accept"), "{e}");
    }

    #[test]
    fn the_json_is_found_in_a_fenced_block_or_in_braces() {
        let r = format!("THOUGHT:\nok\n\nREVIEW JSON:\n```json\n{}\n```", full());
        assert_eq!(extract(&r), Some(full()));
        assert_eq!(extract(&format!("here {} there", full())), Some(full()));
        assert_eq!(extract("no json"), None);
    }
}
