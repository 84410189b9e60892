//! The novelty check of an LLM idea (`[agent] novelty`): up to K literature queries chosen by
//! the LLM, then its judgement — novel, or known with the closest papers. Known ideas are
//! kept but tried after the others. An outage, a 429 or an unreadable answer never stalls
//! the loop: the idea goes on as "unknown".

use std::sync::Arc;

use autolab_core::ledger::Transcript;
use serde::{Deserialize, Serialize};

use super::ideas::Idea;
use crate::literature::{Literature, Paper, SharedCache};
use crate::llm::{Caller, assistant, user};

/// What the check decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Novelty {
    /// `novel`, `known` or `unknown` (the check could not decide: outage, budget, no answer).
    pub decision: String,
    pub reason: String,
    pub queries: Vec<String>,
    /// The papers the LLM named as closest (for `known`), else the first ones found.
    pub closest: Vec<Closest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closest {
    pub title: String,
    pub year: Option<i32>,
    pub source: String,
}

impl Novelty {
    pub fn is_known(&self) -> bool {
        self.decision == "known"
    }
}

/// The check's client, cache and number of queries (one per campaign, shared by its threads).
#[derive(Clone)]
pub struct NoveltyCheck {
    pub literature: Arc<Literature>,
    pub cache: SharedCache,
    pub queries: u32,
}

fn closest(p: &Paper) -> Closest {
    Closest {
        title: p.title.clone(),
        year: p.year,
        source: p.source.as_str().to_string(),
    }
}

fn unknown(reason: String, queries: Vec<String>, found: &[Paper]) -> Novelty {
    Novelty {
        decision: "unknown".into(),
        reason,
        queries,
        closest: found.iter().take(3).map(closest).collect(),
    }
}

use crate::llm::json_in;

/// Checks one idea: the LLM asks for queries one at a time and decides when it has seen enough.
pub fn check(
    caller: &Caller,
    nc: &NoveltyCheck,
    idea: &Idea,
    log: &mut Vec<Transcript>,
) -> Novelty {
    let mut queries: Vec<String> = Vec::new();
    let mut found: Vec<Paper> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut messages = vec![user(format!(
        "You judge whether a research idea is novel, using literature searches.\n\n\
         Idea: {}\nHypothesis: {}\nPlan: {}\n\n\
         Each turn, answer with JSON only, one of:\n\
         {{\"decision\": \"search\", \"query\": \"a few keywords\"}}\n\
         {{\"decision\": \"novel\", \"reason\": \"...\"}}\n\
         {{\"decision\": \"known\", \"reason\": \"...\", \"closest\": [indices of the papers that already do it]}}\n\
         You may search up to {} times; decide \"known\" only when a paper found does essentially the same.",
        idea.title, idea.hypothesis, idea.plan, nc.queries
    ))];
    for round in 0..=nc.queries {
        let reply = match caller.call(messages.clone(), "novelty", None, log) {
            Ok(r) => r.text,
            Err(e) => return unknown(format!("the LLM could not judge it: {e}"), queries, &found),
        };
        messages.push(assistant(reply.clone()));
        let Some(v) = json_in(&reply) else {
            return unknown(
                "the LLM's answer was not the JSON asked for".into(),
                queries,
                &found,
            );
        };
        let reason = v["reason"].as_str().unwrap_or("").to_string();
        match v["decision"].as_str() {
            Some("novel") if !queries.is_empty() && found.is_empty() && !failures.is_empty() => {
                // Nothing could be searched: a "novel" verdict would rest on nothing.
                return unknown(
                    format!("no literature service answered: {}", failures.join("; ")),
                    queries,
                    &found,
                );
            }
            Some("novel") => {
                return Novelty {
                    decision: "novel".into(),
                    reason,
                    queries,
                    closest: found.iter().take(3).map(closest).collect(),
                };
            }
            Some("known") => {
                let picked: Vec<Closest> = v["closest"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|i| found.get(i.as_u64()? as usize))
                    .map(closest)
                    .collect();
                if picked.is_empty() {
                    return unknown(
                        format!("judged known without naming a paper found: {reason}"),
                        queries,
                        &found,
                    );
                }
                return Novelty {
                    decision: "known".into(),
                    reason,
                    queries,
                    closest: picked,
                };
            }
            _ => {}
        }
        let Some(q) = v["query"].as_str().map(str::trim).filter(|q| !q.is_empty()) else {
            return unknown(
                "the LLM neither searched nor decided".into(),
                queries,
                &found,
            );
        };
        if round == nc.queries {
            break;
        }
        queries.push(q.to_string());
        let mut cache = nc.cache.clone();
        let f = nc.literature.search(q, 5, &mut cache);
        if f.source.is_none() {
            failures.extend(f.failures.iter().map(|e| e.to_string()));
        }
        let offset = found.len();
        let listed: Vec<String> = f
            .papers
            .iter()
            .enumerate()
            .map(|(i, p)| format!("[{}] {}", offset + i, p.line()))
            .collect();
        found.extend(f.papers);
        let answer = if listed.is_empty() {
            if f.source.is_none() {
                "The search failed (no literature service answered).".to_string()
            } else {
                "No papers found.".to_string()
            }
        } else {
            format!("Results for \"{q}\":\n{}", listed.join("\n"))
        };
        messages.push(user(format!(
            "{answer}\n\nSearch again or decide, in the same JSON."
        )));
    }
    if found.is_empty() && !failures.is_empty() {
        return unknown(
            format!("no literature service answered: {}", failures.join("; ")),
            queries,
            &found,
        );
    }
    unknown(
        "no decision within the query budget".into(),
        queries,
        &found,
    )
}
