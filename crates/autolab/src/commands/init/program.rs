//! What an autoresearch-style repository states about itself: the metric its `program.md`
//! greps for (or its scripts print), which way is better, and the command it runs.

use std::path::Path;

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    Minimize,
    Maximize,
}

impl Goal {
    pub fn as_str(self) -> &'static str {
        match self {
            Goal::Minimize => "minimize",
            Goal::Maximize => "maximize",
        }
    }
}

/// A fact and where it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Found<T> {
    pub value: T,
    pub from: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Program {
    /// Metric names, the primary first.
    pub metrics: Vec<String>,
    pub metrics_from: Option<String>,
    pub goal: Option<Found<Goal>>,
    pub command: Option<Found<String>>,
    /// The primary metric is printed as `name : value` (space before the colon).
    pub spaced: bool,
}

/// Reads `program.md` and the repository's top-level Python files.
pub fn read(root: &Path) -> Program {
    let program = std::fs::read_to_string(root.join("program.md")).unwrap_or_default();
    let scripts = python_files(root);
    let mut p = Program::default();

    let grepped = grepped_names(&program);
    if !grepped.is_empty() {
        p.metrics = grepped;
        p.metrics_from = Some("program.md (its grep pattern)".into());
    } else {
        // Names the scripts print as `name: {value}` that program.md mentions, in the order
        // program.md mentions them.
        let printed: Vec<String> = scripts
            .iter()
            .flat_map(|(_, text)| printed_names(text))
            .collect();
        let mut named: Vec<(usize, String)> = printed
            .into_iter()
            .filter_map(|n| word_at(&program, &n).map(|i| (i, n)))
            .collect();
        named.sort();
        named.dedup_by(|a, b| a.1 == b.1);
        if !named.is_empty() {
            p.metrics = named.into_iter().map(|(_, n)| n).collect();
            p.metrics_from = Some("program.md and the lines the scripts print".into());
        }
    }
    if let Some(primary) = p.metrics.first().cloned() {
        p.spaced = scripts.iter().any(|(_, text)| spaced_print(text, &primary));
        let mut sources = vec![("program.md".to_string(), program.clone())];
        sources.extend(
            [
                "prepare.py",
                "run.py",
                "train.py",
                "evaluate.py",
                "README.md",
            ]
            .iter()
            .filter_map(|f| {
                std::fs::read_to_string(root.join(f))
                    .ok()
                    .map(|t| (f.to_string(), t))
            }),
        );
        p.goal = sources
            .iter()
            .find_map(|(file, text)| stated_goal(file, text, &primary))
            .or_else(|| {
                name_goal(&primary).map(|g| Found {
                    value: g,
                    from: format!("the name `{primary}`"),
                })
            });
    }
    p.command = stated_command(&program);
    p
}

fn python_files(root: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(root)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "py"))
                .filter_map(|e| {
                    let text = std::fs::read_to_string(e.path()).ok()?;
                    Some((e.file_name().to_string_lossy().into_owned(), text))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `grep "^val_bpb:\|^peak_vram_mb:" run.log` → val_bpb, peak_vram_mb.
fn grepped_names(program: &str) -> Vec<String> {
    let Ok(re) = Regex::new(r"\^([A-Za-z_][A-Za-z0-9_./-]*)\s*:") else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::new();
    for line in program.lines().filter(|l| l.contains("grep")) {
        for cap in re.captures_iter(line) {
            let n = cap[1].to_string();
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    names
}

/// Names printed as a number: `print(f"val_rmse: {x:.4f}")`, `print("loss:", x)`.
fn printed_names(text: &str) -> Vec<String> {
    let Ok(re) = Regex::new(r#"print\(\s*f?["']([A-Za-z_][A-Za-z0-9_.]*)\s*:\s*(\{|["']\s*,)"#)
    else {
        return Vec::new();
    };
    re.captures_iter(text).map(|c| c[1].to_string()).collect()
}

fn spaced_print(text: &str, name: &str) -> bool {
    Regex::new(&format!(r#"["']{}\s+:"#, regex::escape(name))).is_ok_and(|re| re.is_match(text))
}

/// Where `name` first appears as a whole word.
fn word_at(text: &str, name: &str) -> Option<usize> {
    Regex::new(&format!(
        r"(^|[^A-Za-z0-9_]){}([^A-Za-z0-9_]|$)",
        regex::escape(name)
    ))
    .ok()?
    .find(text)
    .map(|m| m.start())
}

const MIN_STRONG: [&str; 6] = [
    "lower is better",
    "smaller is better",
    "lowest",
    "minimi",
    "(lower",
    "less is better",
];
const MAX_STRONG: [&str; 6] = [
    "higher is better",
    "larger is better",
    "highest",
    "maximi",
    "(higher",
    "more is better",
];

/// The direction a file states: first a line naming the metric with a clear phrase
/// ("lower is better", "get the lowest"), then such a phrase anywhere, then "lower"/"higher"
/// on a line naming the metric.
fn stated_goal(file: &str, text: &str, metric: &str) -> Option<Found<Goal>> {
    let lines: Vec<(usize, String)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.to_ascii_lowercase()))
        .collect();
    let metric_l = metric.to_ascii_lowercase();
    let names = |l: &str| word_at(l, &metric_l).is_some();
    let first = |l: &str, words_min: &[&str], words_max: &[&str]| {
        let at = |ws: &[&str]| ws.iter().filter_map(|w| l.find(w)).min();
        match (at(words_min), at(words_max)) {
            (Some(a), Some(b)) => Some(if a <= b {
                Goal::Minimize
            } else {
                Goal::Maximize
            }),
            (Some(_), None) => Some(Goal::Minimize),
            (None, Some(_)) => Some(Goal::Maximize),
            (None, None) => None,
        }
    };
    let passes: [(bool, &[&str], &[&str]); 3] = [
        (true, &MIN_STRONG, &MAX_STRONG),
        (false, &MIN_STRONG, &MAX_STRONG),
        (true, &["lower"], &["higher"]),
    ];
    for (need_name, mins, maxs) in passes {
        for (n, l) in &lines {
            if need_name && !names(l) {
                continue;
            }
            if let Some(g) = first(l, mins, maxs) {
                return Some(Found {
                    value: g,
                    from: format!("{file}:{n}"),
                });
            }
        }
    }
    None
}

/// The direction a metric's name suggests.
pub fn name_goal(name: &str) -> Option<Goal> {
    let n = name.to_ascii_lowercase();
    let min = [
        "loss",
        "error",
        "err",
        "bpb",
        "rmse",
        "mse",
        "mae",
        "perplexity",
        "ppl",
        "time",
        "wer",
        "cer",
        "regret",
    ];
    let max = [
        "acc",
        "score",
        "f1",
        "auc",
        "sharpe",
        "reward",
        "return",
        "bleu",
        "rouge",
        "precision",
        "recall",
        "iou",
        "map",
    ];
    if min.iter().any(|w| n.contains(w)) {
        Some(Goal::Minimize)
    } else if max.iter().any(|w| n.contains(w)) {
        Some(Goal::Maximize)
    } else {
        None
    }
}

/// The command program.md runs an experiment with: the first `uv run x.py`, `python x.py`,
/// `python3 x.py` (inline code or a code line) that is not data preparation, without
/// redirections or comments.
fn stated_command(program: &str) -> Option<Found<String>> {
    let re = Regex::new(
        r"(?:^|`|\s)((?:uv run|python3?)\s+[A-Za-z0-9_./-]+\.py(?:\s+--?[A-Za-z0-9_=./{}-]+)*)",
    )
    .ok()?;
    for (i, line) in program.lines().enumerate() {
        for cap in re.captures_iter(line) {
            let cmd = cap[1].trim().to_string();
            if cmd.contains("prepare") || cmd.contains("setup") {
                continue;
            }
            return Some(Found {
                value: cmd,
                from: format!("program.md:{}", i + 1),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn karpathy_style_program_md_names_the_grepped_metric_and_the_lowest_goal() {
        let md = "You launch it simply as: `uv run train.py`.\n\
                  **The goal is simple: get the lowest val_bpb.**\n\
                  grep \"^val_bpb:\\|^peak_vram_mb:\" run.log\n";
        assert_eq!(grepped_names(md), vec!["val_bpb", "peak_vram_mb"]);
        assert_eq!(
            stated_goal("program.md", md, "val_bpb").map(|f| f.value),
            Some(Goal::Minimize)
        );
        assert_eq!(stated_command(md).unwrap().value, "uv run train.py");
    }

    #[test]
    fn a_higher_is_better_score_is_maximized() {
        let md = "The goal is simple: get the highest score.\nHigher is better.\n\
                  Run the experiment: `uv run train.py > run.log 2>&1`\n\
                  grep \"^score:\\|^val_pass:\" run.log\n";
        assert_eq!(grepped_names(md)[0], "score");
        assert_eq!(
            stated_goal("program.md", md, "score").map(|f| f.value),
            Some(Goal::Maximize)
        );
        assert_eq!(stated_command(md).unwrap().value, "uv run train.py");
    }

    #[test]
    fn printed_names_need_a_number_after_the_colon() {
        let py = "print(f\"val_accuracy : {score:.4f}\")\nprint(f\"RESULT: IMPROVED (+{d})\")\nprint(\"loss:\", x)\n";
        assert_eq!(printed_names(py), vec!["val_accuracy", "loss"]);
        assert!(spaced_print(py, "val_accuracy"));
        assert!(!spaced_print(py, "loss"));
    }

    #[test]
    fn data_preparation_is_not_the_command() {
        let md =
            "```bash\npython prepare.py        # data\npython run.py            # baseline\n```\n";
        assert_eq!(stated_command(md).unwrap().value, "python run.py");
    }
}
