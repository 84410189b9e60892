use std::fmt;
use std::path::{Path, PathBuf};

/// A config problem: what, where (file, line, key) and what would be valid.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl std::error::Error for ConfigError {}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl ConfigError {
    pub fn missing(path: &Path) -> ConfigError {
        ConfigError {
            file: path.to_path_buf(),
            line: None,
            key: None,
            message: "no autolab.toml here".into(),
            hint: Some("run `autolab init` in your repository to write a starter config".into()),
        }
    }

    pub fn io(path: &Path, e: &std::io::Error) -> ConfigError {
        ConfigError {
            file: path.to_path_buf(),
            line: None,
            key: None,
            message: format!("cannot read: {e}"),
            hint: None,
        }
    }

    /// An error found after parsing, located by scanning the text for `key` in `[section]`.
    pub fn at_key(
        path: &Path,
        text: &str,
        section: &str,
        key: &str,
        message: String,
        hint: Option<String>,
    ) -> ConfigError {
        ConfigError {
            file: path.to_path_buf(),
            line: locate(text, section, key),
            key: Some(format!("{section}.{key}")),
            message,
            hint,
        }
    }

    pub fn from_toml(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
        let line = e.span().map(|span| line_of(text, span.start));
        let raw = e.message().trim().to_string();
        let key = line.and_then(|l| key_on_line(text, l));
        let mut hint = None;
        let mut message = raw.clone();
        if let Some((unknown, expected)) = parse_unknown_field(&raw) {
            let best = closest(&unknown, &expected);
            message = format!("unknown key `{unknown}`");
            hint = Some(match best {
                Some(b) => format!(
                    "did you mean `{b}`? valid keys here: {}",
                    expected.join(", ")
                ),
                None => format!("valid keys here: {}", expected.join(", ")),
            });
        } else if let Some(field) = raw
            .strip_prefix("missing field `")
            .and_then(|r| r.strip_suffix('`'))
        {
            message = format!("missing required key `{field}`");
        } else if raw.starts_with("invalid type") {
            hint = Some("check the value's type: strings need quotes, lists use [ ]".into());
        } else if raw.contains("unknown variant") {
            hint = None;
        } else if e.span().is_some() && !raw.contains("missing") {
            hint = Some("this is not valid TOML; see https://toml.io".into());
        }
        ConfigError {
            file: path.to_path_buf(),
            line,
            key,
            message,
            hint,
        }
    }
}

/// The 1-based line of byte `offset`; an offset past the last newline (an unterminated string
/// at the end of the file) is on the last line, not on a line the file does not have.
fn line_of(text: &str, offset: usize) -> usize {
    let bytes = &text.as_bytes()[..offset.min(text.len())];
    let line = bytes.iter().filter(|b| **b == b'\n').count() + 1;
    line.min(text.lines().count().max(1))
}

fn key_on_line(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let (k, _) = l.split_once('=')?;
    let k = k.trim();
    (!k.is_empty() && !k.starts_with('#') && !k.starts_with('[')).then(|| k.to_string())
}

/// The 1-based line of `key = ...` inside `[section]`, or the section header, if found.
fn locate(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    let mut header = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            current = name.trim().to_string();
            if current == section {
                header = Some(i + 1);
            }
            continue;
        }
        if current == section
            && let Some((k, _)) = t.split_once('=')
            && k.trim() == key
        {
            return Some(i + 1);
        }
    }
    header
}

fn parse_unknown_field(msg: &str) -> Option<(String, Vec<String>)> {
    let rest = msg.strip_prefix("unknown field `")?;
    let (unknown, rest) = rest.split_once('`')?;
    let expected = rest
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect();
    Some((unknown.to_string(), expected))
}

/// The candidate nearest to `word` by edit distance, if it is plausibly a typo.
pub(crate) fn closest<'a>(word: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Found by the property tests: an unterminated string at the end of a file that ends with
    /// a newline was reported on line 2 of a 1-line file.
    #[test]
    fn error_at_end_of_file_is_on_the_last_line() {
        let text = "command=\"\"\"\n";
        let e = crate::config::Config::parse(Path::new("autolab.toml"), text).unwrap_err();
        assert_eq!(e.line, Some(1), "{e:?}");
        assert_eq!(line_of(text, text.len()), 1);
        assert_eq!(line_of("a\nb", 3), 2);
        assert_eq!(line_of("", 0), 1);
        // A byte offset inside a character counts the newlines before it, without panicking.
        assert_eq!(line_of("\né", 2), 2);
    }
}
