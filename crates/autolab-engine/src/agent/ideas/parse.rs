//! Ideas as a model writes them (`{"ideas": [{"title", "hypothesis", "plan", "files",
//! "expected_effect", "risk"}]}`), read leniently, with errors meant to be quoted back to it.

use serde_json::{Map, Value};

use super::Idea;

/// How many `{` / `[` positions [`parse_ideas`] tries as the start of the JSON.
const MAX_STARTS: usize = 512;

/// The ideas in a model's reply.
///
/// The JSON may be wrapped in prose or in a ```` ```json ```` fence; the first JSON value in
/// the reply that holds ideas is used: an object with key `ideas` (also nested inside
/// another object), or a bare list of idea objects. Keys are matched ignoring case, `_`,
/// `-` and spaces (`expectedEffect` is `expected_effect`); unknown keys are ignored.
/// `title` must be a non-empty string; the other text fields may be missing or null (empty),
/// numbers or booleans (`"risk": 0.3` is `"0.3"`), or lists of strings (joined by lines);
/// `files` may be a list or one comma-separated string. Trailing commas are forgiven.
///
/// Errors are meant to be quoted back to the model: they say what was expected and where
/// (line and column in the reply for JSON syntax, the JSON path such as `ideas[1].title`
/// for content).
pub fn parse_ideas(text: &str) -> Result<Vec<Idea>, String> {
    let mut plausible_error: Option<String> = None;
    let mut other_error: Option<String> = None;
    // (bytes parsed before the error, message) of the JSON that got furthest.
    let mut syntax_error: Option<(usize, String)> = None;
    let mut resume = 0;
    let starts = text
        .char_indices()
        .filter(|&(_, c)| c == '{' || c == '[')
        .map(|(i, _)| i);
    let mut tries = 0;
    for start in starts {
        if start < resume {
            continue;
        }
        tries += 1;
        if tries > MAX_STARTS {
            break;
        }
        let rest = &text[start..];
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        let parsed = stream.next();
        let end = start + stream.byte_offset();
        let value = match parsed {
            Some(Ok(value)) => value,
            Some(Err(err)) => {
                // A reply whose only fault is trailing commas is read without them.
                if let Some(Ok(value)) = without_trailing_commas(rest).and_then(|fixed| {
                    serde_json::Deserializer::from_str(&fixed)
                        .into_iter::<Value>()
                        .next()
                }) && let Ok(ideas) = ideas_from_value(&value)
                {
                    return Ok(ideas);
                }
                let progress = byte_offset(rest, err.line(), err.column());
                if syntax_error.as_ref().is_none_or(|(p, _)| progress > *p) {
                    syntax_error = Some((progress, syntax_message(text, start, &err)));
                }
                resume = start + progress.max(1);
                continue;
            }
            None => continue,
        };
        resume = end.max(start + 1);
        match ideas_from_value(&value) {
            Ok(ideas) => return Ok(ideas),
            Err(Shape::Plausible(msg)) => {
                plausible_error.get_or_insert(msg);
            }
            Err(Shape::Other(msg)) => {
                other_error.get_or_insert(msg);
            }
        }
    }
    Err(plausible_error
        .or(syntax_error.map(|(_, msg)| msg))
        .or(other_error)
        .unwrap_or_else(|| format!("{EXPECTED}, but the reply contains no JSON object or list")))
}

const EXPECTED: &str = "expected a JSON object with key `ideas` holding a list of ideas \
                        (each with `title`, `hypothesis`, `plan`, `files`, `expected_effect` \
                        and `risk`)";

/// Why a parsed JSON value is not a list of ideas.
enum Shape {
    /// It is meant to be one (it has `ideas`, or is a list of objects) but is wrong.
    Plausible(String),
    /// It is some other JSON.
    Other(String),
}

fn ideas_from_value(value: &Value) -> Result<Vec<Idea>, Shape> {
    match value {
        Value::Object(map) => {
            if let Some(list) = field(map, "ideas") {
                return match list {
                    Value::Array(items) => ideas_from_items(items, "ideas"),
                    other => Err(Shape::Plausible(format!(
                        "{EXPECTED}; `ideas` is {}, not a list",
                        describe(other)
                    ))),
                };
            }
            if let Some(items) = nested_ideas(value) {
                return ideas_from_items(items, "ideas");
            }
            let keys: Vec<String> = map.keys().map(|k| format!("`{k}`")).collect();
            Err(Shape::Other(format!(
                "{EXPECTED}, or a list of ideas; found an object with keys {}",
                if keys.is_empty() {
                    "(none)".to_string()
                } else {
                    keys.join(", ")
                }
            )))
        }
        Value::Array(items) if items.iter().all(Value::is_object) => ideas_from_items(items, ""),
        other => Err(Shape::Other(format!(
            "{EXPECTED}, or a list of ideas; found {}",
            describe(other)
        ))),
    }
}

/// A list under key `ideas` somewhere inside `value`.
fn nested_ideas(value: &Value) -> Option<&Vec<Value>> {
    match value {
        Value::Object(map) => match field(map, "ideas") {
            Some(Value::Array(items)) => Some(items),
            _ => map.values().find_map(nested_ideas),
        },
        Value::Array(items) => items.iter().find_map(nested_ideas),
        _ => None,
    }
}

fn ideas_from_items(items: &[Value], list: &str) -> Result<Vec<Idea>, Shape> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| idea_from(item, &format!("{list}[{i}]")).map_err(Shape::Plausible))
        .collect()
}

fn idea_from(item: &Value, at: &str) -> Result<Idea, String> {
    let Value::Object(map) = item else {
        return Err(format!(
            "`{at}` is {}; each idea must be an object with `title`, `hypothesis` and `plan`",
            describe(item)
        ));
    };
    let text = |key: &str| -> Result<String, String> {
        match field(map, key) {
            None => Ok(String::new()),
            Some(v) => text_of(v)
                .ok_or_else(|| format!("`{at}.{key}` is {}; expected a string", describe(v))),
        }
    };
    let title = match field(map, "title") {
        None => return Err(format!("`{at}` has no `title`; every idea needs a title")),
        Some(v) => text_of(v)
            .ok_or_else(|| format!("`{at}.title` is {}; expected a string", describe(v)))?,
    };
    if title.trim().is_empty() {
        return Err(format!("`{at}.title` is empty; every idea needs a title"));
    }
    let files = match field(map, "files") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, f)| match f {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!(
                    "`{at}.files[{i}]` is {}; expected a file path string",
                    describe(other)
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "`{at}.files` is {}; expected a list of file paths",
                describe(other)
            ));
        }
    };
    let idea = Idea {
        title,
        hypothesis: text("hypothesis")?,
        plan: text("plan")?,
        files,
        expected_effect: text("expected_effect")?,
        risk: text("risk")?,
        novelty: None,
    }
    .clean();
    if idea.title.is_empty() {
        return Err(format!("`{at}.title` has no printable text"));
    }
    Ok(idea)
}

/// The value of `key` in `map`, ignoring case, `_`, `-` and spaces in keys.
pub(super) fn field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    let want = key_form(key);
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| key_form(k) == want)
            .map(|(_, v)| v)
    })
}

fn key_form(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A text field's value: strings as they are, null as empty, numbers and booleans as
/// written, a list of such values one per line.
pub(super) fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Null => Some(String::new()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::Array(_) => None,
                other => text_of(other),
            })
            .collect::<Option<Vec<_>>>()
            .map(|lines| lines.join("\n")),
        Value::Object(_) => None,
    }
}

pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() > 40 => {
            format!(
                "the string \"{}...\"",
                s.chars().take(40).collect::<String>()
            )
        }
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(items) if items.is_empty() => "an empty list".into(),
        Value::Array(items) => format!("a list of {} items", items.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// The message for invalid JSON starting at byte `start` of `text`, with line and column
/// in `text` (1-based, columns in characters).
fn syntax_message(text: &str, start: usize, err: &serde_json::Error) -> String {
    let rest = &text[start..];
    let at = start + byte_offset(rest, err.line(), err.column());
    let (line, column) = line_column(text, at);
    let (start_line, start_column) = line_column(text, start);
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    let what = full.strip_suffix(&suffix).unwrap_or(&full);
    let hint = if err.is_eof() {
        " (the JSON ends early; was the reply cut off? Send shorter ideas.)"
    } else {
        ""
    };
    format!(
        "{EXPECTED}; the JSON that starts at line {start_line} column {start_column} is invalid \
         at line {line} column {column}: {what}{hint}"
    )
}

/// The byte offset in `s` of serde_json's 1-based `line` and byte `column`, clamped to `s`.
fn byte_offset(s: &str, line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        s.match_indices('\n')
            .nth(line - 2)
            .map_or(s.len(), |(i, _)| i + 1)
    };
    let mut at = (line_start + column.saturating_sub(1)).min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// 1-based line and character column of byte `at` in `text`.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// `json` without commas that stand right before `}` or `]` (outside strings), or None
/// when it has none.
fn without_trailing_commas(json: &str) -> Option<String> {
    let chars: Vec<char> = json.chars().collect();
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped, mut changed) = (false, false, false);
    for (i, &c) in chars.iter().enumerate() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        if c == ',' {
            let next = chars[i + 1..].iter().find(|n| !n.is_whitespace());
            if matches!(next, Some('}' | ']')) {
                changed = true;
                continue;
            }
        }
        out.push(c);
    }
    changed.then_some(out)
}
