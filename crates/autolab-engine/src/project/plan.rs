//! The planner: after run k of a project, the LLM reads the results so far and answers with
//! the notes for run k (AI-Scientist's `notes.txt`) and the next change, or that the project
//! is done. Its prompt follows AI-Scientist's experiment loop.

use autolab_core::ledger::Transcript;

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

use crate::llm::json_in as parse;

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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use autolab_llm::fake::{FakeReply, FakeServer};
    use serde_json::json;

    use super::*;

    fn run(index: u32, verdict: &str, score: Option<f64>) -> RunSummary {
        RunSummary {
            index,
            experiment: index,
            title: format!("step {index}"),
            verdict: verdict.into(),
            score,
            metrics: json!({"loss": score}),
            reason: (verdict == "crashed").then(|| "exit code 1: boom".into()),
            lines: (1, 0),
        }
    }

    fn job(server: &FakeServer, runs: Vec<RunSummary>, per_idea: u32) -> PlanJob {
        let mut cfg = autolab_llm::ProviderConfig::new(autolab_llm::Provider::OpenAi, "m");
        cfg.base_url = Some(server.url());
        cfg.max_retries = 0;
        let client = autolab_llm::client(&cfg).unwrap();
        PlanJob {
            caller: Caller::new(Arc::from(client), "m", 256, None, 0.0, None),
            project: 7,
            idea: Idea {
                title: "Lower beta".into(),
                hypothesis: "h".into(),
                plan: "lower it".into(),
                files: vec!["e.py".into()],
                expected_effect: String::new(),
                risk: String::new(),
                novelty: None,
            },
            baseline: Some(run(0, "kept", Some(10.0))),
            runs,
            runs_per_idea: per_idea,
            command: "python e.py --out_dir=run_i".into(),
        }
    }

    const NEXT: &str = r#"{"notes": "Run 1 lowered it.", "done": false, "next": {"title": "lower more", "plan": "halve beta"}}"#;

    #[test]
    fn the_next_run_is_planned_from_the_results_so_far() {
        let server = FakeServer::start(vec![FakeReply::openai(NEXT)]);
        let out = plan(job(
            &server,
            vec![run(1, "kept", Some(8.0)), run(2, "crashed", None)],
            5,
        ));
        assert_eq!((out.project, out.run), (7, 2));
        assert_eq!(out.notes, "Run 1 lowered it.");
        let next = out.next.unwrap();
        assert_eq!(next.title, "Lower beta — run 3: lower more");
        assert!(
            next.plan.starts_with("halve beta") && next.plan.contains("Run 3 of at most 5"),
            "{}",
            next.plan
        );
        assert_eq!(next.files, ["e.py"]);
        let p = server.requests()[0].prompt_text();
        assert!(
            p.contains("implement the following idea: Lower beta."),
            "{p}"
        );
        assert!(
            p.contains("The baseline results (run 0) are: {\"loss\":10.0}"),
            "{p}"
        );
        assert!(
            p.contains("Run 1 (step 1) completed. Results: {\"loss\":8.0}"),
            "{p}"
        );
        assert!(
            p.contains("Run 2 (step 2) failed: exit code 1: boom"),
            "{p}"
        );
        assert!(
            p.contains("2 are done") && p.contains("up to 5 runs"),
            "{p}"
        );
    }

    #[test]
    fn done_or_out_of_runs_plans_nothing_more() {
        let server = FakeServer::start(vec![FakeReply::openai(r#"{"notes": "n", "done": true}"#)]);
        assert!(
            plan(job(&server, vec![run(1, "kept", Some(8.0))], 5))
                .next
                .is_none()
        );
        let server = FakeServer::start(vec![FakeReply::openai(NEXT)]);
        let out = plan(job(
            &server,
            vec![run(1, "kept", Some(8.0)), run(2, "kept", Some(7.0))],
            2,
        ));
        assert!(out.next.is_none(), "two runs of two are done");
        assert_eq!(out.notes, "Run 1 lowered it.");
    }

    #[test]
    fn unreadable_answers_are_re_asked_once_then_end_the_plan() {
        let server = FakeServer::start(vec![FakeReply::openai("no json"), FakeReply::openai(NEXT)]);
        let out = plan(job(&server, vec![run(1, "kept", Some(8.0))], 5));
        assert!(out.next.is_some() && out.error.is_none());
        assert!(
            server.requests()[1]
                .prompt_text()
                .contains("could not be read as the JSON")
        );
        let server = FakeServer::start(vec![FakeReply::openai("no json")]);
        let out = plan(job(&server, vec![run(1, "kept", Some(8.0))], 5));
        assert!(out.next.is_none());
        assert!(out.error.unwrap().contains("also after a re-ask"));
        assert_eq!(server.requests().len(), 2);
    }

    #[test]
    fn an_unreachable_llm_is_told_apart_from_a_bad_answer() {
        let server = FakeServer::start(vec![FakeReply::status(503, "overloaded")]);
        let out = plan(job(&server, vec![run(1, "kept", Some(8.0))], 5));
        assert!(out.unavailable.is_some(), "{:?}", out.error);
        let server = FakeServer::start(vec![FakeReply::status(400, "bad request")]);
        let out = plan(job(&server, vec![run(1, "kept", Some(8.0))], 5));
        assert!(out.unavailable.is_none() && out.error.is_some());
    }
}
