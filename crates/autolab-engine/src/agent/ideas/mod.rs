//! Research ideas: as a model writes them ([`parse`]), from AI-Scientist's `seed_ideas.json`
//! ([`seeds`]), and the near-duplicate test that keeps tried ideas from coming back
//! ([`similarity`]).

mod parse;
mod seeds;
mod similarity;

pub use parse::parse_ideas;
pub use seeds::seed_ideas_from_ai_scientist;
pub use similarity::{NEAR_DUPLICATE_THRESHOLD, is_near_duplicate, similarity};

/// One idea for an experiment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Idea {
    pub title: String,
    pub hypothesis: String,
    pub plan: String,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub expected_effect: String,
    #[serde(default)]
    pub risk: String,
    /// The novelty check's decision (`[agent] novelty`), when one ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub novelty: Option<super::novelty::Novelty>,
}
