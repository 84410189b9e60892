//! The planner: after run k of a project, the LLM reads the results so far and answers with
//! the notes for run k (AI-Scientist's `notes.txt`) and the next change, or that the project
//! is done. Its prompt follows AI-Scientist's experiment loop.

use autolab_core::ledger::Transcript;
use serde_json::Value;

use super::RunSummary;
use crate::agent::ideas::Idea;
use crate::llm::{CallError, Caller, assistant, user};

pub struct PlanJob {
    pub caller: Caller,
    pub project: i64,
    pub idea: Idea,
    pub baseline: Option<RunSummary>,
    /// The project's runs so far, the last one just judged.
    pub runs: Vec<RunSummary>,
    pub runs_per_idea: u32,
    pub command: String,
}

pub struct PlanOutcome {
    pub project: i64,
    /// The run the notes are about.
    pub run: u32,
    pub notes: String,
    /// The next run's change; `None`: the project is done.
    pub next: Option<Idea>,
    pub transcripts: Vec<Transcript>,
    /// Why the planner gave no usable answer (the project then ends with what it has).
    pub error: Option<String>,
    pub out_of_budget: bool,
    /// The LLM could not be reached: the planner is asked again later.
    pub unavailable: Option<String>,
}

impl PlanOutcome {
    /// A planner that gave nothing (its thread failed).
    pub fn failed(project: i64, run: u32, why: &str) -> PlanOutcome {
        PlanOutcome {
            project,
            run,
            notes: String::new(),
            next: None,
            transcripts: Vec::new(),
            error: Some(why.into()),
            out_of_budget: false,
            unavailable: None,
        }
    }
}

fn describe(r: &RunSummary) -> String {
    match r.verdict.as_str() {
        "crashed" | "timeout" | "invalid" => format!(
            "Run {} ({}) failed: {}",
            r.index,
            r.title,
            r.reason.as_deref().unwrap_or(&r.verdict)
        ),
        _ => format!(
            "Run {} ({}) completed. Results: {}",
            r.index, r.title, r.metrics
        ),
    }
}

fn prompt(job: &PlanJob) -> String {
    let last = job.runs.last().map(|r| r.index).unwrap_or(0);
    let earlier: Vec<String> = job.runs.iter().map(describe).collect();
    format!(
        "Your goal is to implement the following idea: {}.\nThe proposed experiment is as follows: {}\n\n\
         You are given a total of up to {} runs; {} are done. Each run is `{}` with the code as you changed it.\n\n\
         The baseline results (run 0) are: {}\n\n{}\n\n\
         Someone else will use notes.txt to write a paper about this. Write the notes for run {last}: \
         an experiment description, the run number and its results, as verbosely as necessary.\n\
         Then decide the next run: what to change in the code (you will implement it next), or that the experiments are complete.\n\n\
         Answer with JSON only:\n\
         {{\"notes\": \"...\", \"done\": false, \"next\": {{\"title\": \"short title of run {}\", \"plan\": \"what to change, concretely\"}}}}\n\
         or, when finished: {{\"notes\": \"...\", \"done\": true}}",
        job.idea.title,
        job.idea.plan,
        job.runs_per_idea,
        job.runs.len(),
        job.command,
        job.baseline
            .as_ref()
            .map_or("(none)".to_string(), |b| b.metrics.to_string()),
        earlier.join("\n"),
        last + 1
    )
}

fn parse(text: &str) -> Option<Value> {
    let (a, b) = (text.find('{')?, text.rfind('}')?);
    serde_json::from_str(text.get(a..=b)?).ok()
}

/// Asks the planner (one re-ask when the JSON cannot be read).
pub fn plan(job: PlanJob) -> PlanOutcome {
    let run = job.runs.last().map(|r| r.index).unwrap_or(0);
    let mut out = PlanOutcome {
        project: job.project,
        run,
        notes: String::new(),
        next: None,
        transcripts: Vec::new(),
        error: None,
        out_of_budget: false,
        unavailable: None,
    };
    let mut messages = vec![user(prompt(&job))];
    let mut parsed = None;
    for attempt in 0..2 {
        let reply = match job
            .caller
            .call(messages.clone(), "planner", None, &mut out.transcripts)
        {
            Ok(r) => r.text,
            Err(e) => {
                out.out_of_budget = matches!(e, CallError::Budget { .. });
                if matches!(e, CallError::Unavailable(_)) {
                    out.unavailable = Some(e.to_string());
                }
                out.error = Some(e.to_string());
                return out;
            }
        };
        parsed = parse(&reply);
        if parsed.is_some() || attempt == 1 {
            break;
        }
        messages.push(assistant(reply));
        messages.push(user(
            "Your answer could not be read as the JSON asked for. Answer with JSON only: {\"notes\": \"...\", \"done\": true|false, \"next\": {\"title\": \"...\", \"plan\": \"...\"}}",
        ));
    }
    let Some(v) = parsed else {
        out.error =
            Some("the planner's answer was not the JSON asked for, also after a re-ask".into());
        return out;
    };
    out.notes = v["notes"]
        .as_str()
        .unwrap_or("")
        .trim()
        .chars()
        .take(20_000)
        .collect();
    let done = v["done"].as_bool().unwrap_or(false);
    let next_title = v["next"]["title"]
        .as_str()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let next_plan = v["next"]["plan"]
        .as_str()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if !done
        && run < job.runs_per_idea
        && let (Some(title), Some(plan)) = (next_title, next_plan)
    {
        out.next = Some(Idea {
            title: format!("{} — run {}: {}", job.idea.title, run + 1, title)
                .chars()
                .take(200)
                .collect(),
            hypothesis: job.idea.hypothesis.clone(),
            plan: format!(
                "{plan}\n\n(Run {} of at most {} of the project \"{}\"; its earlier runs' changes are already in the code.)",
                run + 1,
                job.runs_per_idea,
                job.idea.title
            ),
            files: job.idea.files.clone(),
            expected_effect: String::new(),
            risk: String::new(),
            novelty: None,
        }
        .clean());
    }
    out
}
