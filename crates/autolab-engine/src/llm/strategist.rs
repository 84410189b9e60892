//! Ideation: the chosen expert is asked for ideas as JSON; malformed JSON is re-asked once with
//! the parse error; near-duplicates of tried ideas are dropped, and an answer of nothing but
//! repeats is re-asked once with the titles already tried.

use std::sync::Arc;

use autolab_core::ledger::Transcript;
use serde::Serialize;

use super::context::IdeaContext;
use super::prompts::Templates;
use super::{CallError, Caller, assistant, user};
use crate::agent::experts::Expert;
use crate::agent::ideas::{Idea, is_near_duplicate, parse_ideas};

/// Ideas at least this similar to a tried one are dropped.
pub const DUPLICATE_THRESHOLD: f64 = crate::agent::ideas::NEAR_DUPLICATE_THRESHOLD;
/// At most this many tried titles are quoted back when every idea repeated one.
const MAX_TITLES_RESENT: usize = 60;

/// The ideas that repeat neither a tried one nor an earlier one of the same answer.
fn fresh_ideas(ideas: Vec<Idea>, tried: &[(String, String)]) -> Vec<Idea> {
    let mut seen = tried.to_vec();
    let mut fresh = Vec::new();
    for idea in ideas {
        if is_near_duplicate(&idea, &seen, DUPLICATE_THRESHOLD) {
            continue;
        }
        seen.push((idea.title.clone(), idea.hypothesis.clone()));
        fresh.push(idea);
    }
    fresh
}

pub struct IdeaJob {
    pub caller: Caller,
    pub templates: Arc<Templates>,
    pub ctx: IdeaContext,
    pub expert: Expert,
    pub n_ideas: u32,
    /// Check each fresh idea's novelty (`[agent] novelty`).
    pub novelty: Option<crate::agent::novelty::NoveltyCheck>,
}

pub struct IdeaOutcome {
    pub expert: String,
    pub ideas: Result<Vec<Idea>, String>,
    pub transcripts: Vec<Transcript>,
    /// The budget stopped it.
    pub out_of_budget: bool,
    /// The LLM could not be reached: worth trying again later.
    pub unavailable: bool,
}

#[derive(Serialize)]
struct Vars<'a> {
    #[serde(flatten)]
    ctx: &'a IdeaContext,
    expert: &'a str,
    persona: &'a str,
    n_ideas: u32,
}

pub fn ideate(job: IdeaJob) -> IdeaOutcome {
    let mut transcripts = Vec::new();
    let expert = job.expert.name.clone();
    let fail = |msg: String, transcripts: Vec<Transcript>, e: Option<&CallError>| IdeaOutcome {
        expert: expert.clone(),
        ideas: Err(msg),
        transcripts,
        out_of_budget: matches!(e, Some(CallError::Budget { .. })),
        unavailable: matches!(e, Some(CallError::Unavailable(_))),
    };
    let prompt = match job.templates.render(
        "strategist",
        Vars {
            ctx: &job.ctx,
            expert: &job.expert.name,
            persona: &job.expert.persona,
            n_ideas: job.n_ideas,
        },
    ) {
        Ok(p) => p,
        Err(e) => return fail(e, transcripts, None),
    };
    let mut messages = vec![user(prompt)];
    let mut reply = match job.caller.call(
        messages.clone(),
        "strategist",
        Some(&expert),
        &mut transcripts,
    ) {
        Ok(r) => r.text,
        Err(e) => return fail(e.to_string(), transcripts, Some(&e)),
    };
    let mut parsed = parse_ideas(&reply);
    if let Err(err) = &parsed {
        // One re-ask, quoting the parse error.
        messages.push(assistant(reply.clone()));
        messages.push(user(format!(
            "Your reply could not be read as the JSON I asked for: {err}\nAnswer again with JSON only: {{\"ideas\": [{{\"title\": ..., \"hypothesis\": ..., \"plan\": ..., \"files\": [...], \"expected_effect\": ..., \"risk\": ...}}]}}"
        )));
        reply = match job.caller.call(
            messages.clone(),
            "strategist",
            Some(&expert),
            &mut transcripts,
        ) {
            Ok(r) => r.text,
            Err(e) => return fail(e.to_string(), transcripts, Some(&e)),
        };
        parsed = parse_ideas(&reply);
    }
    let ideas = match parsed {
        Ok(ideas) => ideas,
        Err(e) => {
            return fail(
                format!("no valid ideas after a re-ask: {e}"),
                transcripts,
                None,
            );
        }
    };
    let mut fresh = fresh_ideas(ideas, &job.ctx.tried_pairs);
    if fresh.is_empty() {
        // One re-ask, naming what was already tried.
        let tried: Vec<String> = job
            .ctx
            .tried_pairs
            .iter()
            .rev()
            .take(MAX_TITLES_RESENT)
            .map(|(t, _)| format!("- {t}"))
            .collect();
        messages.push(assistant(reply.clone()));
        messages.push(user(format!(
            "Every idea you proposed repeats one already tried. These were tried (newest first):\n{}\n\nPropose {} different ideas, in the same JSON shape.",
            tried.join("\n"),
            job.n_ideas
        )));
        let again = match job
            .caller
            .call(messages, "strategist", Some(&expert), &mut transcripts)
        {
            Ok(r) => r.text,
            Err(e) => return fail(e.to_string(), transcripts, Some(&e)),
        };
        fresh = parse_ideas(&again)
            .map(|ideas| fresh_ideas(ideas, &job.ctx.tried_pairs))
            .unwrap_or_default();
    }
    if fresh.is_empty() {
        return fail(
            "every idea repeated one already tried, also after a re-ask naming them".into(),
            transcripts,
            None,
        );
    }
    if let Some(nc) = &job.novelty {
        for idea in &mut fresh {
            idea.novelty = Some(crate::agent::novelty::check(
                &job.caller,
                nc,
                idea,
                &mut transcripts,
            ));
        }
        // Known ideas are kept, after the others.
        fresh.sort_by_key(|i| i.novelty.as_ref().is_some_and(|n| n.is_known()));
    }
    IdeaOutcome {
        expert,
        ideas: Ok(fresh),
        transcripts,
        out_of_budget: false,
        unavailable: false,
    }
}
