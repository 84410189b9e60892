//! Applying parsed edit blocks to files: exact match first, then up to whitespace; failures
//! described for the model.

use std::collections::BTreeMap;
use std::fmt;

use super::{EditBlock, as_section, normalize_path};

/// Why an edit block could not be applied. The messages are written for the model, so a
/// coder can quote them back verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyError {
    /// The SEARCH lines are not in the file, neither exactly nor up to whitespace.
    NotFound {
        path: String,
        /// The first lines of the SEARCH section.
        search_excerpt: String,
        /// The lines of the file most like the SEARCH section ([`closest_lines`]); empty
        /// when nothing resembles it.
        closest: String,
    },
    /// The SEARCH lines occur `count` times.
    Ambiguous { path: String, count: usize },
    /// The file is outside `editable` or protected.
    NotEditable { path: String },
    /// A non-empty SEARCH names a file that does not exist.
    Missing { path: String },
    /// The path would lead out of the lab (absolute, `..`, into `.git`, or through a symlink
    /// that points out); `reason` says which, naming the path.
    Refused { path: String, reason: String },
}

/// How many SEARCH lines a NotFound message quotes.
const EXCERPT_LINES: usize = 20;

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApplyError::NotFound {
                path,
                search_excerpt,
                closest,
            } => {
                write!(
                    f,
                    "SEARCH block for {path} did not match any lines exactly (nor after \
                     ignoring trailing whitespace and a uniform indentation difference). \
                     SEARCH must copy existing lines of {path} character for character, \
                     comments and blank lines included. The SEARCH section was:\n```\n{}```\n",
                    as_section(search_excerpt)
                )?;
                if closest.is_empty() {
                    write!(
                        f,
                        "No lines of {path} resemble it; check the file name and the file's \
                         current content."
                    )
                } else {
                    write!(
                        f,
                        "Here are the closest lines in {path}:\n```\n{}```\nCopy the lines you \
                         want to change from the file as it is now.",
                        as_section(closest)
                    )
                }
            }
            ApplyError::Ambiguous { path, count } => write!(
                f,
                "SEARCH block for {path} matches {count} places; add unchanged neighbouring \
                 lines to both SEARCH and REPLACE so that SEARCH matches exactly one place."
            ),
            ApplyError::NotEditable { path } => write!(
                f,
                "{path} may not be edited in this lab (it is not editable, or it is \
                 protected); leave it unchanged and make the change in an editable file."
            ),
            ApplyError::Refused { reason, .. } => write!(
                f,
                "refused: {reason}. Nothing was written; edit only files inside the lab, by \
                 their path relative to the lab root."
            ),
            ApplyError::Missing { path } => write!(
                f,
                "{path} does not exist. To create it, use an empty SEARCH section; to edit an \
                 existing file, use its exact path."
            ),
        }
    }
}

impl std::error::Error for ApplyError {}

/// All failures of one [`apply_edit_blocks`] call as one message for the model, saying that
/// nothing was applied.
pub fn failure_report(errors: &[ApplyError]) -> String {
    let mut out = format!(
        "{} of your SEARCH/REPLACE blocks failed, so none of the blocks were applied. Fix the \
         failing blocks and send all blocks again.\n",
        errors.len()
    );
    for (n, e) in errors.iter().enumerate() {
        out.push_str(&format!("\n{}. {e}\n", n + 1));
    }
    out
}

/// Applies `blocks` in order to `files` (path → content), each block seeing the edits of
/// the blocks before it, and returns the paths whose content changed (or which were
/// created), in the order first edited.
///
/// All or nothing: if any block fails, `files` is left unchanged and every failure is
/// returned (later blocks are still tried, so one reply gets all its failures at once).
///
/// - A path that is absolute, has a `..` segment or is inside `.git` fails with
///   [`ApplyError::Refused`]; one for which `editable` is false with [`ApplyError::NotEditable`].
/// - A SEARCH that is empty (or only whitespace) creates a missing file with the REPLACE
///   lines, fills an empty file, and appends the REPLACE lines to a non-empty file (as
///   aider does, so "add a function at the end" works); a non-empty SEARCH on a missing file
///   fails with [`ApplyError::Missing`].
/// - SEARCH matches whole lines. An exact match is tried first; two or more exact matches
///   fail with [`ApplyError::Ambiguous`]. Without one, lines match when equal after dropping
///   trailing whitespace and one uniform indentation difference (the file's lines all
///   indented by the same extra prefix, or all by the same prefix less); REPLACE is then
///   re-indented by that difference. Several such matches are ambiguous too.
/// - Files with CRLF line ends keep them; a file without a final newline keeps lacking it.
pub fn apply_edit_blocks(
    files: &mut BTreeMap<String, String>,
    blocks: &[EditBlock],
    editable: &dyn Fn(&str) -> bool,
) -> Result<Vec<String>, Vec<ApplyError>> {
    // Working copies of the files the blocks touch; None = does not exist.
    let mut work: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut errors = Vec::new();
    for block in blocks {
        let path = normalize_path(&block.path).to_string();
        if let Err(refused) = autolab_core::confine::spelled(&path) {
            errors.push(ApplyError::Refused {
                path,
                reason: refused.to_string(),
            });
            continue;
        }
        if !editable(&path) {
            errors.push(ApplyError::NotEditable { path });
            continue;
        }
        if !work.contains_key(&path) {
            work.insert(path.clone(), files.get(&path).cloned());
            order.push(path.clone());
        }
        let Some(slot) = work.get_mut(&path) else {
            continue;
        };
        match apply_one(slot.as_deref(), &path, &block.search, &block.replace) {
            Ok(new) => *slot = Some(new),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut changed = Vec::new();
    for path in order {
        if let Some(Some(new)) = work.remove(&path)
            && files.get(&path) != Some(&new)
        {
            files.insert(path.clone(), new);
            changed.push(path);
        }
    }
    Ok(changed)
}

/// `content` (None: the file does not exist) with one block applied.
fn apply_one(
    content: Option<&str>,
    path: &str,
    search: &str,
    replace: &str,
) -> Result<String, ApplyError> {
    let search_lines = section_lines(search);
    let replace_lines = section_lines(replace);
    let empty_search = search_lines.iter().all(|l| l.trim().is_empty());
    let Some(content) = content else {
        return if empty_search {
            Ok(replace.replace("\r\n", "\n"))
        } else {
            Err(ApplyError::Missing { path: path.into() })
        };
    };
    let mut text = Text::parse(content);
    if empty_search {
        if content.trim().is_empty() {
            let mut fresh = Text::parse(&replace.replace("\r\n", "\n"));
            fresh.eol = text.eol;
            return Ok(fresh.render());
        }
        if replace_lines.is_empty() {
            return Ok(content.to_string());
        }
        text.lines
            .extend(replace_lines.iter().map(|l| l.to_string()));
        text.trailing = replace.ends_with('\n');
        return Ok(text.render());
    }

    let exact = windows_where(&text.lines, search_lines.len(), |i| {
        text.lines[i..i + search_lines.len()]
            .iter()
            .zip(&search_lines)
            .all(|(c, s)| c.as_str() == *s)
    });
    let (at, new_lines) = match exact.as_slice() {
        [at] => (
            *at,
            replace_lines
                .iter()
                .map(|l| l.to_string())
                .collect::<Vec<_>>(),
        ),
        [] => {
            let loose: Vec<(usize, Indent)> = (0..windows(&text.lines, search_lines.len()))
                .filter_map(|i| {
                    loose_match(&text.lines[i..i + search_lines.len()], &search_lines)
                        .map(|d| (i, d))
                })
                .collect();
            match loose.as_slice() {
                [(at, indent)] => (*at, replace_lines.iter().map(|l| indent.apply(l)).collect()),
                [] => {
                    return Err(ApplyError::NotFound {
                        path: path.into(),
                        search_excerpt: excerpt(&search_lines),
                        closest: closest_lines(content, search),
                    });
                }
                many => {
                    return Err(ApplyError::Ambiguous {
                        path: path.into(),
                        count: many.len(),
                    });
                }
            }
        }
        many => {
            return Err(ApplyError::Ambiguous {
                path: path.into(),
                count: many.len(),
            });
        }
    };
    text.lines.splice(at..at + search_lines.len(), new_lines);
    Ok(text.render())
}

/// The lines of a SEARCH or REPLACE section (`"a\nb\n"` → `["a", "b"]`, `""` → `[]`).
fn section_lines(section: &str) -> Vec<&str> {
    if section.is_empty() {
        return Vec::new();
    }
    let body = section.strip_suffix('\n').unwrap_or(section);
    body.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect()
}

fn excerpt(lines: &[&str]) -> String {
    let mut out: String = lines
        .iter()
        .take(EXCERPT_LINES)
        .map(|l| format!("{l}\n"))
        .collect();
    if lines.len() > EXCERPT_LINES {
        out.push_str(&format!(
            "... ({} more lines)\n",
            lines.len() - EXCERPT_LINES
        ));
    }
    out
}

/// How many windows of `len` lines fit in `lines`.
fn windows(lines: &[String], len: usize) -> usize {
    if len == 0 || len > lines.len() {
        0
    } else {
        lines.len() - len + 1
    }
}

fn windows_where(lines: &[String], len: usize, matches: impl Fn(usize) -> bool) -> Vec<usize> {
    (0..windows(lines, len)).filter(|&i| matches(i)).collect()
}

/// A file's content as lines, its line end, and whether it ends with one.
struct Text {
    lines: Vec<String>,
    eol: &'static str,
    trailing: bool,
}

impl Text {
    fn parse(content: &str) -> Text {
        let crlf = content.contains("\r\n")
            && content.matches('\n').count() == content.matches("\r\n").count();
        let eol = if crlf { "\r\n" } else { "\n" };
        let trailing = content.ends_with(eol);
        let body = content.strip_suffix(eol).unwrap_or(content);
        let lines = if content.is_empty() {
            Vec::new()
        } else {
            body.split(eol).map(str::to_string).collect()
        };
        Text {
            lines,
            eol,
            trailing,
        }
    }

    fn render(&self) -> String {
        if self.lines.is_empty() {
            return String::new();
        }
        let mut out = self.lines.join(self.eol);
        if self.trailing {
            out.push_str(self.eol);
        }
        out
    }
}

/// A uniform indentation difference between the file's lines and SEARCH's.
#[derive(Debug, Clone, PartialEq)]
enum Indent {
    /// The file's lines have this extra prefix.
    Add(String),
    /// The file's lines lack this prefix.
    Remove(String),
}

impl Indent {
    /// A REPLACE line re-indented like the file (trailing whitespace dropped).
    fn apply(&self, line: &str) -> String {
        let line = line.trim_end();
        if line.is_empty() {
            return String::new();
        }
        match self {
            Indent::Add(prefix) => format!("{prefix}{line}"),
            Indent::Remove(prefix) => line
                .strip_prefix(prefix.as_str())
                .unwrap_or_else(|| line.trim_start())
                .to_string(),
        }
    }
}

fn leading_whitespace(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// Whether `file` matches `search` up to trailing whitespace and one uniform indentation
/// difference, and that difference.
fn loose_match(file: &[String], search: &[&str]) -> Option<Indent> {
    let (f0, s0) = file
        .iter()
        .zip(search)
        .find(|(_, s)| !s.trim().is_empty())?;
    let (fw, sw) = (leading_whitespace(f0), leading_whitespace(s0));
    let indent = if let Some(extra) = fw.strip_suffix(sw) {
        Indent::Add(extra.to_string())
    } else if let Some(extra) = sw.strip_suffix(fw) {
        Indent::Remove(extra.to_string())
    } else {
        return None;
    };
    let all = file.iter().zip(search).all(|(f, s)| {
        if s.trim().is_empty() {
            return f.trim().is_empty();
        }
        let s = s.trim_end();
        let expected = match &indent {
            Indent::Add(prefix) => Some(format!("{prefix}{s}")),
            Indent::Remove(prefix) => s.strip_prefix(prefix.as_str()).map(str::to_string),
        };
        expected.as_deref() == Some(f.trim_end())
    });
    all.then_some(indent)
}

/// The lines of `content` most like `search`: the window of as many lines as `search` has
/// whose lines (compared without surrounding whitespace, by character-bigram overlap) best
/// resemble it, one line per `\n`. Empty when nothing resembles it (mean line similarity
/// below 0.3) or either side is empty.
pub fn closest_lines(content: &str, search: &str) -> String {
    let file: Vec<&str> = content.lines().collect();
    let wanted: Vec<&str> = search.lines().collect();
    if file.is_empty() || wanted.iter().all(|l| l.trim().is_empty()) {
        return String::new();
    }
    let len = wanted.len().min(file.len());
    let file_grams: Vec<Vec<(char, char)>> = file.iter().map(|l| bigrams(l)).collect();
    let wanted_grams: Vec<Vec<(char, char)>> = wanted.iter().map(|l| bigrams(l)).collect();
    let line_sim = |f: usize, w: usize| -> f64 {
        let (a, b) = (file[f].trim(), wanted[w].trim());
        match (a.is_empty(), b.is_empty()) {
            (true, true) => 1.0,
            (true, false) | (false, true) => 0.0,
            _ if a == b => 1.0,
            _ => dice_sorted(&file_grams[f], &wanted_grams[w]),
        }
    };
    let mut best = (0.0, 0);
    for start in 0..=file.len() - len {
        let score: f64 = (0..len).map(|k| line_sim(start + k, k)).sum();
        if score > best.0 {
            best = (score, start);
        }
    }
    if best.0 / len as f64 <= 0.3 {
        return String::new();
    }
    file[best.1..best.1 + len]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The sorted, deduplicated character bigrams of a trimmed line (a one-character line is
/// its own bigram).
fn bigrams(line: &str) -> Vec<(char, char)> {
    let chars: Vec<char> = line.trim().chars().collect();
    let mut grams: Vec<(char, char)> = match chars.as_slice() {
        [] => Vec::new(),
        [c] => vec![(*c, ' ')],
        _ => chars.windows(2).map(|w| (w[0], w[1])).collect(),
    };
    grams.sort_unstable();
    grams.dedup();
    grams
}

/// Dice coefficient of two sorted, deduplicated lists.
fn dice_sorted<T: Ord>(a: &[T], b: &[T]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    2.0 * common as f64 / (a.len() + b.len()) as f64
}
