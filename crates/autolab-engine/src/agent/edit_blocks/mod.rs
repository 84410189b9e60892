//! SEARCH/REPLACE edit blocks, the format aider made familiar to models:
//!
//! ````text
//! train.py
//! ```python
//! <<<<<<< SEARCH
//! lr = 0.01
//! =======
//! lr = 0.003
//! >>>>>>> REPLACE
//! ```
//! ````
//!
//! The path may also stand on the line right after the opening fence (aider's "diff-fenced"
//! variant), may be decorated (`` `train.py` ``, `### train.py`, `**train.py**`, `train.py:`),
//! and may be left out for the second and later blocks of the same file. Several
//! SEARCH/REPLACE pairs may share one fence. Markers may have 5 to 9 `<`, `=` or `>`.
//!
//! SEARCH and REPLACE hold whole lines: each section's text is its lines, each ending in
//! `\n` (an empty section is `""`). CRLF input is read as LF.

use std::fmt;

/// One edit: replace the lines `search` of file `path` with the lines `replace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditBlock {
    pub path: String,
    pub search: String,
    pub replace: String,
}

impl EditBlock {
    /// The block in the format [`parse_edit_blocks`] reads (a fenced block with the path on
    /// the line before the fence).
    pub fn render(&self) -> String {
        format!(
            "{}\n```\n<<<<<<< SEARCH\n{}=======\n{}>>>>>>> REPLACE\n```\n",
            self.path,
            as_section(&self.search),
            as_section(&self.replace)
        )
    }
}

/// `text` with a final newline when it has any content.
fn as_section(text: &str) -> String {
    if text.is_empty() || text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    }
}

/// A reply whose SEARCH/REPLACE blocks cannot be read. `line` is 1-based in the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for EditParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SEARCH/REPLACE block at line {}: {}",
            self.line, self.message
        )
    }
}

impl std::error::Error for EditParseError {}

fn parse_error(line: usize, message: impl Into<String>) -> EditParseError {
    EditParseError {
        line,
        message: message.into(),
    }
}

/// The edit blocks in a model's reply, in order. A reply without blocks gives `Ok(vec![])`;
/// a block that starts (`<<<<<<< SEARCH`) but is malformed is an error naming the line and
/// what was expected there.
pub fn parse_edit_blocks(text: &str) -> Result<Vec<EditBlock>, EditParseError> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut blocks = Vec::new();
    let mut last_path: Option<String> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if is_replace_marker(line) {
            return Err(parse_error(
                i + 1,
                format!(
                    "found `{}` without a `<<<<<<< SEARCH` line and a `=======` line before it",
                    line.trim()
                ),
            ));
        }
        if !is_search_marker(line) {
            i += 1;
            continue;
        }
        let start = i + 1;
        let Some(path) = path_before(&lines, i).or_else(|| last_path.clone()) else {
            return Err(parse_error(
                start,
                "expected a file path (for example `train.py`) on the line before the opening \
                 ``` fence of this block",
            ));
        };

        i += 1;
        let mut search = String::new();
        loop {
            let Some(&l) = lines.get(i) else {
                return Err(parse_error(
                    i,
                    format!(
                        "expected `=======` after the SEARCH lines of the block that starts at \
                         line {start}, found the end of the reply"
                    ),
                ));
            };
            if is_divider(l) {
                break;
            }
            if is_search_marker(l) || is_replace_marker(l) {
                return Err(parse_error(
                    i + 1,
                    format!(
                        "expected `=======` to end the SEARCH lines of the block that starts at \
                         line {start}, found `{}`",
                        l.trim()
                    ),
                ));
            }
            search.push_str(l);
            search.push('\n');
            i += 1;
        }

        i += 1;
        let mut replace = String::new();
        loop {
            let Some(&l) = lines.get(i) else {
                return Err(parse_error(
                    i,
                    format!(
                        "expected `>>>>>>> REPLACE` after the REPLACE lines of the block that \
                         starts at line {start}, found the end of the reply"
                    ),
                ));
            };
            if is_replace_marker(l) {
                break;
            }
            if is_search_marker(l) || is_divider(l) {
                return Err(parse_error(
                    i + 1,
                    format!(
                        "expected `>>>>>>> REPLACE` to end the REPLACE lines of the block that \
                         starts at line {start}, found `{}`",
                        l.trim()
                    ),
                ));
            }
            replace.push_str(l);
            replace.push('\n');
            i += 1;
        }
        i += 1;
        if lines.get(i).is_some_and(|l| is_fence(l)) {
            i += 1;
        }
        last_path = Some(path.clone());
        blocks.push(EditBlock {
            path,
            search,
            replace,
        });
    }
    Ok(blocks)
}

/// `<<<<<<< SEARCH` (5 to 9 `<`).
fn is_search_marker(line: &str) -> bool {
    is_marker(line, '<', "SEARCH")
}

/// `>>>>>>> REPLACE` (5 to 9 `>`).
fn is_replace_marker(line: &str) -> bool {
    is_marker(line, '>', "REPLACE")
}

fn is_marker(line: &str, c: char, word: &str) -> bool {
    let t = line.trim();
    let n = t.chars().take_while(|&x| x == c).count();
    (5..=9).contains(&n) && t[n..].trim_start() == word
}

/// `=======` (5 to 9 `=`).
fn is_divider(line: &str) -> bool {
    let t = line.trim();
    (5..=9).contains(&t.len()) && t.chars().all(|c| c == '=')
}

/// A markdown fence: three or more backticks (or tildes), optionally a language.
fn is_fence(line: &str) -> bool {
    let t = line.trim();
    ["```", "~~~"]
        .iter()
        .any(|f| t.starts_with(f) && !t.trim_start_matches(['`', '~']).contains(['`', '~']))
}

/// The path of the block whose `<<<<<<< SEARCH` is line `i`: on the line before the
/// opening fence (one blank line may sit between), or on the line between the fence and
/// the marker, or, without a fence, on the line before the marker.
fn path_before(lines: &[&str], i: usize) -> Option<String> {
    let prev = *lines.get(i.checked_sub(1)?)?;
    if !is_fence(prev) {
        return path_of(prev);
    }
    let before_fence = i.checked_sub(2)?;
    let mut candidates = lines[..before_fence + 1].iter().rev();
    let first = candidates.next()?;
    if !first.trim().is_empty() {
        return path_of(first);
    }
    candidates.next().and_then(|l| path_of(l))
}

/// The file path a line names, if it is nothing but a (decorated) path: `train.py`,
/// `` `src/model.py` ``, `## train.py`, `**train.py**`, `File: train.py`, `./train.py:`.
/// Paths have no spaces and hold a `.` or `/`, or are names like `Makefile` or `LICENSE`.
fn path_of(line: &str) -> Option<String> {
    if is_fence(line) || is_search_marker(line) || is_replace_marker(line) || is_divider(line) {
        return None;
    }
    let mut s = line.trim().trim_start_matches('#').trim();
    for prefix in ["file:", "filename:", "path:"] {
        if let Some(head) = s.get(..prefix.len())
            && head.eq_ignore_ascii_case(prefix)
        {
            s = s[prefix.len()..].trim();
        }
    }
    let decoration = ['`', '*', '"', '\''];
    s = s
        .trim_matches(decoration)
        .trim_end_matches(':')
        .trim_matches(decoration);
    let path = normalize_path(s);
    let allowed = |c: char| c.is_alphanumeric() || "._-/+@".contains(c);
    // A lone word is a path only when it looks like an extensionless file name
    // (`Makefile`, `LICENSE`); otherwise it is prose such as "Then:".
    let file_like = path.contains(['.', '/'])
        || path.to_ascii_lowercase().ends_with("file")
        || path.chars().all(|c| !c.is_lowercase());
    let valid = !path.is_empty()
        && path.chars().all(allowed)
        && path.chars().any(|c| c.is_alphanumeric())
        && !path.ends_with('/')
        && file_like;
    valid.then(|| path.to_string())
}

/// `./train.py` → `train.py`.
fn normalize_path(path: &str) -> &str {
    let mut p = path.trim();
    while let Some(rest) = p.strip_prefix("./") {
        p = rest;
    }
    p
}

mod apply;

pub use apply::{ApplyError, apply_edit_blocks, closest_lines, failure_report};
