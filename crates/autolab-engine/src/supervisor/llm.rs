//! The LLM's diagnosis: the failed runs' log tails and the rules' reading, one call, a JSON
//! answer `{"cause": …, "advice": …}`; anything else leaves the rules' diagnosis standing.

use autolab_core::ledger::Transcript;

use super::{Diagnosis, Failure};
use crate::llm::context::tail_chars;
use crate::llm::{Caller, json_in, user};

/// The role LLM calls of the supervisor are recorded under.
pub const DIAGNOSIS_ROLE: &str = "supervisor";
/// Characters of each failure's log the prompt carries (its end).
const TAIL_CHARS: usize = 1500;
/// At most this many failures go into the prompt (the newest).
const MAX_FAILURES: usize = 6;
/// The longest cause or advice kept.
const MAX_FIELD: usize = 600;

fn prompt(goal: &str, failures: &[Failure], rules: &Diagnosis) -> String {
    let mut p = format!(
        "You supervise an automated research campaign. Its goal: {goal}\n\n\
         Its last {} experiments failed in a row. Find their common cause from their logs.\n\n",
        failures.len()
    );
    let skip = failures.len().saturating_sub(MAX_FAILURES);
    for f in &failures[skip..] {
        p.push_str(&format!(
            "## Experiment #{}: {} ({}), exit code {}\n```\n{}\n```\n\n",
            f.number,
            f.verdict,
            f.reason,
            f.exit_code.map_or("none".into(), |c| c.to_string()),
            tail_chars(&f.log_tail, TAIL_CHARS)
        ));
    }
    p.push_str(&format!(
        "A rule-based reading says: {}\n\n\
         Answer with one JSON object and nothing else: {{\"cause\": \"the common cause in one \
         sentence, quoting the decisive error\", \"advice\": \"what the user should change, in \
         one sentence\"}}",
        rules.line()
    ));
    p
}

fn field(v: &serde_json::Value, key: &str) -> Option<String> {
    let s: String = v[key]
        .as_str()?
        .chars()
        .filter(|c| !c.is_control() || *c == ' ')
        .take(MAX_FIELD)
        .collect();
    let s = s.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// Asks the LLM for the common cause; `Err` says why the rules' diagnosis stands.
pub fn llm_diagnosis(
    caller: &Caller,
    goal: &str,
    failures: &[Failure],
    rules: &Diagnosis,
    log: &mut Vec<Transcript>,
) -> Result<Diagnosis, String> {
    let reply = caller
        .call(
            vec![user(prompt(goal, failures, rules))],
            DIAGNOSIS_ROLE,
            None,
            log,
        )
        .map_err(|e| e.to_string())?;
    let v = json_in(&reply.text).ok_or("the reply holds no JSON object")?;
    let cause = field(&v, "cause").ok_or("the reply has no `cause`")?;
    Ok(Diagnosis {
        cause,
        advice: field(&v, "advice"),
        by: "llm".into(),
        ..rules.clone()
    })
}
