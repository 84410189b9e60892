//! What the strategist and the coder are told: the goal, the code, results so far, the
//! playbook and the human's steering — gathered on the main thread, handed to the jobs.

use std::path::Path;

use autolab_core::config::Config;
use autolab_core::git::{Repo, path_matches};
use serde::Serialize;

/// Characters of one file shown in full; longer files are summarized.
const FILE_CAP: usize = 16_000;
/// Characters of all files together.
const TOTAL_CAP: usize = 60_000;
/// Lines of a diff shown per recent experiment.
const DIFF_LINES: usize = 30;

#[derive(Debug, Clone, Serialize)]
pub struct FileView {
    pub path: String,
    pub content: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResultRow {
    pub id: u32,
    pub verdict: String,
    pub score: Option<String>,
    pub title: String,
    pub expert: Option<String>,
    pub reason: Option<String>,
    pub diff: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IdeaContext {
    pub goal: String,
    pub metric: String,
    pub goal_direction: String,
    pub files: Vec<FileView>,
    pub leaderboard: Vec<ResultRow>,
    pub recent: Vec<ResultRow>,
    pub playbook: String,
    pub steering: Option<String>,
    /// "title — hypothesis" of every idea tried, for the prompt.
    pub tried: Vec<String>,
    /// (title, hypothesis) pairs, for near-duplicate checks.
    #[serde(skip)]
    pub tried_pairs: Vec<(String, String)>,
    /// `explore` while much budget remains, `refine` near its end; none without a budget.
    pub phase: Option<Phase>,
    /// Percent of the tightest budget (experiments, hours, USD) the ideas will start at.
    pub budget_used: Option<u32>,
    /// Projects mode: the earlier ideas with their outcome and review score (AI-Scientist's
    /// archive, its `prev_ideas_string`).
    pub archive: Vec<String>,
    /// The explorer's research brief (`.autolab/brief.md`), as the user left it.
    pub brief: Option<String>,
}

/// What the strategist is asked for, by how much of the campaign's budget is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Broad, diverse, bold ideas.
    Explore,
    /// Small, low-risk refinements of the incumbent.
    Refine,
}

/// The share of the budget from which ideation refines the incumbent instead of exploring.
pub const REFINE_FROM: f64 = 0.75;

impl Phase {
    /// The phase at `used` (0 to 1) of the budget.
    pub fn at(used: f64) -> Phase {
        if used >= REFINE_FROM {
            Phase::Refine
        } else {
            Phase::Explore
        }
    }
}

/// The campaign's goal: `goal`, else `goal_file`, else `program.md` (autoresearch), else
/// AI-Scientist's `prompt.json`.
pub fn goal_text(root: &Path, config: &Config) -> String {
    if let Some(g) = &config.task.goal {
        return g.clone();
    }
    let read = |name: &str| std::fs::read_to_string(root.join(name)).ok();
    if let Some(text) = config.task.goal_file.as_deref().and_then(read) {
        return text;
    }
    if let Some(text) = read("program.md") {
        return text;
    }
    if let Some(v) =
        read("prompt.json").and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
    {
        let parts: Vec<&str> = ["system", "task_description"]
            .iter()
            .filter_map(|k| v[*k].as_str())
            .collect();
        if !parts.is_empty() {
            return parts.join("\n\n");
        }
    }
    format!("Improve the score ({}).", config.metrics.primary)
}

/// The editable files at `commit`, capped; large files are shown as their head.
pub fn editable_files(repo: &Repo, commit: &str, patterns: &[String]) -> Vec<FileView> {
    let files = repo.files_at(commit).unwrap_or_default();
    let mut out = Vec::new();
    let mut total = 0;
    for path in files
        .iter()
        .filter(|f| patterns.iter().any(|p| path_matches(p, f)))
    {
        let Ok(content) = repo.run(&["show", &format!("{commit}:{path}")]) else {
            continue;
        };
        let content = summarize(&content, FILE_CAP.min(TOTAL_CAP.saturating_sub(total)));
        total += content.len();
        out.push(FileView {
            path: path.clone(),
            content,
        });
        if total >= TOTAL_CAP {
            break;
        }
    }
    out
}

/// The file if it fits in `cap` characters, else its head with a note of what was cut.
pub fn summarize(content: &str, cap: usize) -> String {
    if content.len() <= cap {
        return content.to_string();
    }
    let mut head = String::new();
    let mut shown = 0;
    for line in content.lines() {
        if head.len() + line.len() + 1 > cap {
            break;
        }
        head.push_str(line);
        head.push('\n');
        shown += 1;
    }
    let total = content.lines().count();
    format!(
        "{head}... ({} more lines not shown; {} characters in all)\n",
        total - shown,
        content.len()
    )
}

/// The human's steering, read fresh: the lab's steering file and `.autolab/steering.md`.
pub fn steering(root: &Path, steering_file: &str) -> Option<String> {
    let mut parts = Vec::new();
    for p in [
        root.join(steering_file),
        autolab_core::StatePaths::new(root).steering(),
    ] {
        if let Ok(t) = std::fs::read_to_string(&p)
            && !t.trim().is_empty()
        {
            parts.push(t.trim().to_string());
        }
    }
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// The last `n` characters of `text`.
pub fn tail_chars(text: &str, n: usize) -> String {
    let count = text.chars().count();
    text.chars().skip(count.saturating_sub(n)).collect()
}

/// The first lines of a diff.
pub fn short_diff(diff: &str) -> String {
    let lines: Vec<&str> = diff.lines().collect();
    let mut s = lines[..lines.len().min(DIFF_LINES)].join("\n");
    if lines.len() > DIFF_LINES {
        s.push_str(&format!(
            "\n... ({} more diff lines)",
            lines.len() - DIFF_LINES
        ));
    }
    s
}
