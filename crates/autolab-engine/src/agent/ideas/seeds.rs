//! AI-Scientist's `seed_ideas.json` as ideas.

use serde_json::Value;

use super::Idea;
use super::parse::{describe, field, text_of};

/// Ideas from AI-Scientist's `seed_ideas.json` (a list of `{"Name", "Title", "Experiment",
/// "Interestingness", "Feasibility", "Novelty"}`): the title is `Title` (or `Name` with
/// spaces for underscores), hypothesis and plan are `Experiment` (or the title), and `risk`
/// carries the scores ("feasibility 4/10, novelty 4/10, interestingness 6/10").
pub fn seed_ideas_from_ai_scientist(json: &str) -> Result<Vec<Idea>, String> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| format!("seed ideas are not valid JSON: {e}"))?;
    let Value::Array(items) = value else {
        return Err(format!(
            "expected seed ideas as a list of objects with `Title` and `Experiment`; found {}",
            describe(&value)
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let Value::Object(map) = item else {
                return Err(format!(
                    "seed idea {i} is {}; expected an object with `Title` and `Experiment`",
                    describe(item)
                ));
            };
            let string = |key: &str| {
                field(map, key)
                    .and_then(text_of)
                    .filter(|s| !s.trim().is_empty())
            };
            let title = string("Title")
                .or_else(|| string("Name").map(|n| n.replace('_', " ")))
                .ok_or_else(|| format!("seed idea {i} has no `Title` (nor `Name`)"))?;
            let experiment = string("Experiment");
            let scores: Vec<String> = ["Feasibility", "Novelty", "Interestingness"]
                .iter()
                .filter_map(|k| string(k).map(|v| format!("{} {v}/10", k.to_lowercase())))
                .collect();
            Ok(Idea {
                hypothesis: experiment.clone().unwrap_or_else(|| title.clone()),
                plan: experiment.unwrap_or_else(|| title.clone()),
                title,
                files: Vec::new(),
                expected_effect: String::new(),
                risk: scores.join(", "),
                novelty: None,
            }
            .clean())
        })
        .collect()
}
