//! Ideation: the chosen expert is asked for ideas as JSON; malformed JSON is re-asked once with
//! the parse error; near-duplicates of tried ideas are dropped.

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

pub struct IdeaJob {
    pub caller: Caller,
    pub templates: Arc<Templates>,
    pub ctx: IdeaContext,
    pub expert: Expert,
    pub n_ideas: u32,
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
        reply = match job
            .caller
            .call(messages, "strategist", Some(&expert), &mut transcripts)
        {
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
    let mut seen = job.ctx.tried_pairs.clone();
    let mut fresh = Vec::new();
    for idea in ideas {
        if is_near_duplicate(&idea, &seen, DUPLICATE_THRESHOLD) {
            continue;
        }
        seen.push((idea.title.clone(), idea.hypothesis.clone()));
        fresh.push(idea);
    }
    if fresh.is_empty() {
        return fail(
            "every idea repeated one already tried".into(),
            transcripts,
            None,
        );
    }
    IdeaOutcome {
        expert,
        ideas: Ok(fresh),
        transcripts,
        out_of_budget: false,
        unavailable: false,
    }
}
