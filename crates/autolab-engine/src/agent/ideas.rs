//! Research ideas as a model writes them (`{"ideas": [{"title", "hypothesis", "plan",
//! "files", "expected_effect", "risk"}]}`), AI-Scientist's `seed_ideas.json`, and the
//! near-duplicate test that keeps tried ideas from coming back.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

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
}

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
    Ok(Idea {
        title,
        hypothesis: text("hypothesis")?,
        plan: text("plan")?,
        files,
        expected_effect: text("expected_effect")?,
        risk: text("risk")?,
    })
}

/// The value of `key` in `map`, ignoring case, `_`, `-` and spaces in keys.
fn field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
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
fn text_of(value: &Value) -> Option<String> {
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

fn describe(value: &Value) -> String {
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
            })
        })
        .collect()
}

/// The threshold [`is_near_duplicate`] is meant to be used with. On the pairs in this
/// module's tests, paraphrased titles score 0.54 or more and different ideas about the same
/// part of the code 0.39 or less; it sits a little below the middle because a repeated
/// experiment costs a run while a dropped idea costs only another ask.
pub const NEAR_DUPLICATE_THRESHOLD: f64 = 0.45;

/// How alike two idea texts are, in [0, 1], symmetric; 1 for texts equal up to case.
///
/// Both texts become content words: lowercased alphanumeric runs (decimals such as `0.1`
/// kept whole), stop words and filler such as "improve" dropped, `lr` and `wd` expanded.
/// The score is the mean of
/// - the Dice coefficient of the sets of word stems (light suffix stemming, so
///   "rates"/"rate" and "scheduling"/"schedule" agree), where stems nearly every idea
///   shares ("learning", "rate", "model", "optimizer", ...) and words that only say which
///   way to change something ("increase", "larger", ...) weigh half; this catches reworded
///   titles;
/// - the Dice coefficient of the sets of character trigrams of the words other than those
///   common ones, which catches spelling variants ("layerwise" / "layer-wise",
///   "warmup" / "warm-up").
///
/// It is halved when one text only raises something ("increase", "larger", "add") and the
/// other only lowers it ("decrease", "smaller", "remove"), and halved when both name
/// numbers and share none ("dropout 0.1" / "dropout 0.2"): those are different
/// experiments. Word overlap cannot see synonyms: "switch to Lion" and "replace AdamW
/// with Lion" score low.
pub fn similarity(a: &str, b: &str) -> f64 {
    if a.trim().to_lowercase() == b.trim().to_lowercase() {
        return 1.0;
    }
    let (wa, wb) = (words(a), words(b));
    if wa.is_empty() || wb.is_empty() {
        return 0.0;
    }
    let stems = |ws: &[String]| -> BTreeSet<String> { ws.iter().map(|w| stem(w)).collect() };
    let mut score =
        (weighted_dice(&stems(&wa), &stems(&wb)) + dice(&trigrams(&wa), &trigrams(&wb))) / 2.0;
    if directions_clash(a, b) {
        score /= 2.0;
    }
    let numbers = |ws: &[String]| -> BTreeSet<String> {
        ws.iter()
            .filter(|w| w.chars().all(|c| c.is_ascii_digit() || c == '.'))
            .cloned()
            .collect()
    };
    let (na, nb) = (numbers(&wa), numbers(&wb));
    if !na.is_empty() && !nb.is_empty() && na.is_disjoint(&nb) {
        score /= 2.0;
    }
    score
}

/// Whether `candidate` is a near-duplicate of one of the `tried` (title, hypothesis)
/// pairs: its title, or its title and hypothesis together, reach `threshold` in
/// [`similarity`] with that idea's — unless the two titles change something in opposite
/// directions.
pub fn is_near_duplicate(candidate: &Idea, tried: &[(String, String)], threshold: f64) -> bool {
    let whole = format!("{} {}", candidate.title, candidate.hypothesis);
    tried.iter().any(|(title, hypothesis)| {
        if directions_clash(&candidate.title, title) {
            return false;
        }
        similarity(&candidate.title, title) >= threshold
            || similarity(&whole, &format!("{title} {hypothesis}")) >= threshold
    })
}

#[rustfmt::skip]
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "an", "and", "any", "approach", "are", "as", "at",
    "based", "be", "been", "before", "better", "between", "both", "but", "by", "can", "could",
    "do", "does", "each", "effect", "enhance", "enhanced", "enhancing", "experiment", "for",
    "from", "has", "have", "how", "if", "improve", "improved", "improvement", "improves",
    "improving", "in", "instead", "into", "is", "it", "its", "may", "method", "might", "new",
    "not", "of", "on", "or", "our", "per", "performance", "result", "results", "should", "so",
    "such", "than", "that", "the", "their", "then", "there", "these", "this", "those",
    "through", "to", "try", "trying", "use", "used", "using", "via", "we", "when", "which",
    "while", "will", "wise", "with", "would",
];

/// Lowercased alphanumeric words (a `.` between digits stays: `0.1`), stop words and
/// single letters dropped, abbreviations expanded; a hyphenated word without stop words
/// also counts joined (`warm-up`: `warm`, `up`, `warmup`; but `per-layer` is `layer`).
fn words(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.to_lowercase().chars().collect();
    // Runs of alphanumerics, grouped when joined by single hyphens.
    let mut groups: Vec<Vec<String>> = vec![Vec::new()];
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let decimal_point = c == '.'
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if c.is_alphanumeric() || decimal_point {
            current.push(c);
            continue;
        }
        let hyphen = c == '-' && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
        if let Some(group) = groups.last_mut()
            && !current.is_empty()
        {
            group.push(std::mem::take(&mut current));
        }
        if !hyphen {
            groups.push(Vec::new());
        }
    }
    if let Some(group) = groups.last_mut()
        && !current.is_empty()
    {
        group.push(current);
    }
    let mut out = Vec::new();
    for group in groups {
        let joined = (group.len() > 1 && !group.iter().any(|w| STOP_WORDS.contains(&w.as_str())))
            .then(|| group.concat());
        for w in group.into_iter().chain(joined) {
            match w.as_str() {
                w if STOP_WORDS.contains(&w) => {}
                // The `s` of "model's", stray letters.
                w if w.chars().count() == 1 && !w.chars().all(|c| c.is_ascii_digit()) => {}
                "lr" => out.extend(["learning".to_string(), "rate".to_string()]),
                "wd" => out.extend(["weight".to_string(), "decay".to_string()]),
                _ => out.push(w),
            }
        }
    }
    out
}

/// A light stem: plural, "-ing", "-ed", "-ation", "-ly", "-wise" and a final "e" removed
/// where at least three characters remain.
fn stem(word: &str) -> String {
    let mut w = word.to_string();
    for suffix in ["wise", "ations", "ation", "ings", "ing", "ed", "ly"] {
        if let Some(rest) = w.strip_suffix(suffix)
            && rest.chars().count() >= 3
        {
            w = rest.to_string();
            break;
        }
    }
    if let Some(rest) = w.strip_suffix("es")
        && ["s", "x", "z", "ch", "sh"]
            .iter()
            .any(|e| rest.ends_with(e))
        && rest.chars().count() >= 3
    {
        w = rest.to_string();
    } else if w.ends_with('s')
        && !w.ends_with("ss")
        && !w.ends_with("us")
        && !w.ends_with("is")
        && w.chars().count() > 3
    {
        w.pop();
    }
    if w.ends_with('e') && w.chars().count() > 3 {
        w.pop();
    }
    w
}

/// The character trigrams of the words that are not generic (of all words when every
/// word is generic), with word boundaries marked by spaces.
fn trigrams(words: &[String]) -> BTreeSet<String> {
    let specific: Vec<&str> = words
        .iter()
        .filter(|w| !is_generic(&stem(w)))
        .map(String::as_str)
        .collect();
    let chosen = if specific.is_empty() {
        words.iter().map(String::as_str).collect()
    } else {
        specific
    };
    let joined: Vec<char> = format!(" {} ", chosen.join(" ")).chars().collect();
    joined
        .windows(3)
        .map(|w| w.iter().collect::<String>())
        .filter(|g| g.trim().chars().count() >= 2)
        .collect()
}

/// Stems that nearly every idea for a training script shares; they count less.
#[rustfmt::skip]
const GENERIC_STEMS: &[&str] = &[
    "learn", "rat", "model", "train", "loss", "network", "neural", "optimizer",
];
const GENERIC_WEIGHT: f64 = 0.5;

/// Generic stems, and the words that only say which way to change something.
fn is_generic(stem: &str) -> bool {
    GENERIC_STEMS.contains(&stem) || UP.iter().chain(DOWN).any(|w| self::stem(w) == stem)
}

/// The Dice coefficient with generic stems weighing [`GENERIC_WEIGHT`].
fn weighted_dice(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let weight = |s: &String| {
        if is_generic(s) { GENERIC_WEIGHT } else { 1.0 }
    };
    let total: f64 = a.iter().chain(b).map(weight).sum();
    if total == 0.0 {
        return 0.0;
    }
    2.0 * a.intersection(b).map(weight).sum::<f64>() / total
}

fn dice(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    2.0 * a.intersection(b).count() as f64 / (a.len() + b.len()) as f64
}

#[rustfmt::skip]
const UP: &[&str] = &[
    "add", "adding", "bigger", "deeper", "double", "doubling", "grow", "higher", "increase",
    "increased", "increases", "increasing", "larger", "longer", "more", "raise", "raising",
    "wider",
];
#[rustfmt::skip]
const DOWN: &[&str] = &[
    "decrease", "decreased", "decreases", "decreasing", "drop", "dropping", "fewer", "halve",
    "halving", "less", "lower", "lowering", "narrower", "reduce", "reduced", "reduces",
    "reducing", "remove", "removing", "shallower", "shorter", "shrink", "smaller",
];

/// Whether one text only moves things up and the other only down.
fn directions_clash(a: &str, b: &str) -> bool {
    let direction = |text: &str| {
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).collect();
        let up = words.iter().any(|w| UP.contains(w));
        let down = words.iter().any(|w| DOWN.contains(w));
        match (up, down) {
            (true, false) => 1,
            (false, true) => -1,
            _ => 0,
        }
    };
    direction(a) * direction(b) == -1
}
