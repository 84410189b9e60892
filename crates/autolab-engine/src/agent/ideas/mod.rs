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

/// Characters an idea may not carry: control characters (NUL breaks git's arguments, ESC
/// rewrites a terminal) and the bidirectional overrides that make text read otherwise.
fn unwanted(c: char, keep_newlines: bool) -> bool {
    (c.is_control() && !(keep_newlines && (c == '\n' || c == '\t')))
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

impl Idea {
    /// The idea as it may be recorded, committed and shown: a one-line title of at most 200
    /// characters, text without control characters (a model's text is anybody's text).
    pub fn clean(mut self) -> Idea {
        let text = |s: &str| {
            s.chars()
                .filter(|c| !unwanted(*c, true))
                .collect::<String>()
        };
        self.title = self
            .title
            .chars()
            .map(|c| if c == '\n' || c == '\t' { ' ' } else { c })
            .filter(|c| !unwanted(*c, false))
            .collect::<String>()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(200)
            .collect();
        self.hypothesis = text(&self.hypothesis);
        self.plan = text(&self.plan);
        self.expected_effect = text(&self.expected_effect);
        self.risk = text(&self.risk);
        self.files
            .retain(|f| !f.chars().any(|c| unwanted(c, false)));
        self
    }
}

#[cfg(test)]
mod clean_tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_go_and_the_title_is_one_line() {
        let i = Idea {
            title: "Tune\u{0}\x1b[31m red\n\u{202e}x".into(),
            hypothesis: "a\nb\u{7}".into(),
            plan: "p".into(),
            files: vec!["ok.py".into(), "bad\u{0}.py".into()],
            expected_effect: String::new(),
            risk: String::new(),
            novelty: None,
        }
        .clean();
        assert_eq!(i.title, "Tune[31m red x");
        assert_eq!(i.hypothesis, "a\nb");
        assert_eq!(i.files, ["ok.py"]);
    }
}
