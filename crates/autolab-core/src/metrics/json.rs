use indexmap::IndexMap;
use serde_json::Value;

/// Reads metrics from JSON text at `pointer` (RFC 6901, plus `*` matching any key).
///
/// The pointer may end at a number (then `name` names it, else its last segment does) or at an
/// object, whose numeric members all become metrics. AI-Scientist's `final_info.json`
/// (`{"<dataset>": {"means": {...}}}`) is read with pointer `/*/means`.
pub fn read_json_metrics(
    text: &str,
    pointer: &str,
    name: Option<&str>,
) -> Result<IndexMap<String, f64>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    let segments: Vec<String> = match pointer.strip_prefix('/') {
        _ if pointer.is_empty() => Vec::new(),
        Some(rest) => rest
            .split('/')
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect(),
        None => {
            return Err(format!(
                "JSON pointer `{pointer}` must be empty or start with `/`"
            ));
        }
    };
    let mut found = Vec::new();
    walk(&doc, &segments, &mut found);
    let target = found
        .into_iter()
        .next()
        .ok_or_else(|| format!("nothing at JSON pointer `{pointer}`"))?;
    let mut out = IndexMap::new();
    match target {
        Value::Object(map) => {
            for (k, v) in map {
                if let Some(x) = number(v) {
                    out.insert(k.clone(), x);
                }
            }
            if out.is_empty() {
                return Err(format!("the object at `{pointer}` has no numeric member"));
            }
        }
        v => {
            let x = number(v)
                .ok_or_else(|| format!("the value at `{pointer}` is not a number: {v}"))?;
            let key = name
                .map(str::to_string)
                .or_else(|| segments.last().cloned())
                .unwrap_or_else(|| "value".into());
            out.insert(key, x);
        }
    }
    Ok(out)
}

fn walk<'a>(v: &'a Value, segs: &[String], out: &mut Vec<&'a Value>) {
    let Some((first, rest)) = segs.split_first() else {
        out.push(v);
        return;
    };
    match v {
        Value::Object(map) if first == "*" => map.values().for_each(|c| walk(c, rest, out)),
        Value::Object(map) => {
            if let Some(c) = map.get(first) {
                walk(c, rest, out);
            }
        }
        Value::Array(items) if first == "*" => items.iter().for_each(|c| walk(c, rest, out)),
        Value::Array(items) => {
            if let Some(c) = first.parse::<usize>().ok().and_then(|i| items.get(i)) {
                walk(c, rest, out);
            }
        }
        _ => {}
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => super::lines::parse_value(s),
        // A list of per-seed values (AI-Scientist's `all_results`) is read as its mean.
        Value::Array(items) if !items.is_empty() => {
            let xs: Option<Vec<f64>> = items.iter().map(|i| i.as_f64()).collect();
            xs.map(|xs| xs.iter().sum::<f64>() / xs.len() as f64)
        }
        _ => None,
    }
}
