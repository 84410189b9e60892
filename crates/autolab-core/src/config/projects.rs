//! `[task] mode = "projects"` and `[projects]`: AI-Scientist's way of working. Each idea is a
//! small project from the base commit: a series of runs, each changed after the last one's
//! results, with notes, figures, a paper and a review; ideas with their scores form an archive
//! the next ideation reads.

use serde::Deserialize;

type Problem = (String, String, Option<String>);

#[derive(Debug, Clone, PartialEq)]
pub struct Projects {
    /// Runs a project may have (AI-Scientist: 5).
    pub runs_per_idea: u32,
    /// A command run in the project's directory (with its `run_0` … `run_k`) when it ends,
    /// e.g. AI-Scientist's `python plot.py`.
    pub plot: Option<String>,
    /// Write the project's paper (`autolab paper`'s machinery) when it ends.
    pub paper: bool,
    /// Review that paper.
    pub review: bool,
    /// Ideas generated earlier to run first, after `seed_ideas.json` (AI-Scientist's
    /// `ideas.json`, as with its `--skip-idea-generation`).
    pub ideas_file: Option<String>,
    /// At most this many projects (ideas) in the campaign.
    pub max_ideas: Option<u32>,
}

impl Default for Projects {
    fn default() -> Self {
        Projects {
            runs_per_idea: 5,
            plot: None,
            paper: true,
            review: true,
            ideas_file: None,
            max_ideas: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProjects {
    #[serde(default)]
    runs_per_idea: Option<i64>,
    #[serde(default)]
    plot: Option<String>,
    #[serde(default)]
    paper: Option<bool>,
    #[serde(default)]
    review: Option<bool>,
    #[serde(default)]
    ideas_file: Option<String>,
    #[serde(default)]
    max_ideas: Option<i64>,
}

pub(super) fn validate(r: Option<RawProjects>) -> Result<Projects, Problem> {
    let d = Projects::default();
    let Some(r) = r else {
        return Ok(d);
    };
    let runs = r.runs_per_idea.unwrap_or(i64::from(d.runs_per_idea));
    if !(1..=20).contains(&runs) {
        return Err((
            "runs_per_idea".into(),
            format!("`runs_per_idea = {runs}` must be between 1 and 20"),
            None,
        ));
    }
    let paper = r.paper.unwrap_or(d.paper);
    let review = r.review.unwrap_or(d.review);
    if review && !paper && r.review == Some(true) {
        return Err((
            "review".into(),
            "`review = true` needs `paper = true`: a review reads the project's paper".into(),
            None,
        ));
    }
    if let Some(m) = r.max_ideas.filter(|m| !(1..=10_000).contains(m)) {
        return Err((
            "max_ideas".into(),
            format!("`max_ideas = {m}` must be between 1 and 10000"),
            None,
        ));
    }
    Ok(Projects {
        ideas_file: r.ideas_file.filter(|f| !f.trim().is_empty()),
        max_ideas: r.max_ideas.map(|m| m as u32),
        runs_per_idea: runs as u32,
        plot: r.plot.filter(|p| !p.trim().is_empty()),
        paper,
        review: review && paper,
    })
}
