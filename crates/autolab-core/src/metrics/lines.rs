use indexmap::IndexMap;

/// Reads `name: value` lines (autoresearch's summary) and `METRIC a=1 b=2` lines.
///
/// A later line overrides an earlier one with the same name, so a final summary wins over
/// progress lines. Lines with several `name: value` pairs (`step: 10 loss: 0.5`) yield each pair.
pub fn parse_lines(text: &str) -> IndexMap<String, f64> {
    let mut out = IndexMap::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("METRIC ") {
            for pair in rest.split_whitespace() {
                if let Some((name, value)) = pair.split_once('=')
                    && is_name(name)
                    && let Some(v) = parse_value(value)
                {
                    out.insert(name.to_string(), v);
                }
            }
            continue;
        }
        for (name, v) in colon_pairs(line) {
            out.insert(name, v);
        }
    }
    out
}

/// `name: value` pairs on one line; the whole line must be such pairs.
fn colon_pairs(line: &str) -> Vec<(String, f64)> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let tok = tokens[i];
        let (name, value) = if let Some((n, v)) = tok.split_once(':').filter(|(_, v)| !v.is_empty())
        {
            // `name:value` glued together
            (n, Some(v))
        } else if let Some(n) = tok.strip_suffix(':') {
            (n, tokens.get(i + 1).copied())
        } else {
            return Vec::new();
        };
        let Some(value) = value else {
            return Vec::new();
        };
        if !is_name(name) {
            return Vec::new();
        }
        match parse_value(value) {
            Some(v) => pairs.push((name.to_string(), v)),
            None => return Vec::new(),
        }
        i += if tok.ends_with(':') { 2 } else { 1 };
    }
    pairs
}

pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
}

/// A number as experiments print it: `0.5`, `1e-3`, `nan`, `inf`, `-inf`, `12%` is not one.
pub(crate) fn parse_value(s: &str) -> Option<f64> {
    let s = s.trim().trim_end_matches(',');
    match s.to_ascii_lowercase().as_str() {
        "nan" | "+nan" | "-nan" => return Some(f64::NAN),
        "inf" | "+inf" | "infinity" => return Some(f64::INFINITY),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    if !s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.'))
    {
        return None;
    }
    s.parse::<f64>().ok()
}
