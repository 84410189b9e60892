//! `[params]` guessed from a params.json: each key either becomes a search range or is listed
//! as skipped, with why.

use std::path::Path;

/// What `init` made of a params file.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Guessed {
    /// `[params]` lines.
    pub lines: Vec<String>,
    /// (key, why it was left out) for every value that got no range.
    pub skipped: Vec<(String, String)>,
}

/// A float as a person would write it: rounded to 6 significant digits (so `3e-4 / 10` is `3e-5`,
/// not `2.9999999999999997e-5`), then the shortest exponent form that reads back as that value
/// (always a TOML float).
pub fn short_float(x: f64) -> String {
    let rounded: f64 = format!("{x:.5e}").parse().unwrap_or(x);
    format!("{rounded:e}")
}

/// A search range around each value in a JSON params file: ×/÷10 (log scale) for positive
/// floats, ×/÷2 for positive integers; booleans become a choice. Zero, negative numbers,
/// strings, lists, objects and keys that need quoting are listed as skipped.
pub fn guess_params(path: &Path) -> Guessed {
    let mut g = Guessed::default();
    let Ok(text) = std::fs::read_to_string(path) else {
        return g;
    };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(&text)
    else {
        g.skipped.push((
            path.display().to_string(),
            "not a JSON object of parameters".into(),
        ));
        return g;
    };
    let bare = |k: &str| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    for (k, v) in &map {
        if !bare(k) {
            g.skipped.push((
                k.clone(),
                "its name is not letters, digits, `_` and `-`".into(),
            ));
            continue;
        }
        let mut skip = |why: String| g.skipped.push((k.clone(), why));
        match v {
            serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => {
                let x = n.as_i64().unwrap_or(i64::MAX);
                if x > 0 && x < i64::MAX / 2 {
                    g.lines.push(format!(
                        "{k} = {{ int = [{}, {}], default = {x} }}",
                        (x / 2).max(1),
                        x * 2
                    ));
                } else {
                    skip(format!(
                        "{x}: no scale to guess a range from; declare one, e.g. `{k} = {{ int = [0, 10], default = {x} }}`"
                    ));
                }
            }
            serde_json::Value::Number(n) => {
                let x = n.as_f64().unwrap_or(0.0);
                if x > 0.0 && x.is_finite() {
                    g.lines.push(format!(
                        "{k} = {{ log_float = [{}, {}], default = {} }}",
                        short_float(x / 10.0),
                        short_float(x * 10.0),
                        short_float(x)
                    ));
                } else {
                    skip(format!(
                        "{}: no scale to guess a range from; declare one, e.g. `{k} = {{ float = [0.0, 1.0], default = {} }}`",
                        short_float(x),
                        short_float(x)
                    ));
                }
            }
            serde_json::Value::Bool(b) => g
                .lines
                .push(format!("{k} = {{ choice = [true, false], default = {b} }}")),
            serde_json::Value::String(s) => skip(format!(
                "a string; list the values to try, e.g. `{k} = {{ choice = [{}], default = {} }}`",
                serde_json::Value::String(s.clone()),
                serde_json::Value::String(s.clone())
            )),
            serde_json::Value::Null => skip("null".into()),
            serde_json::Value::Array(_) => skip("a list (not tunable as one parameter)".into()),
            serde_json::Value::Object(_) => {
                skip("an object (nested values are not tunable)".into())
            }
        }
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_written_short_and_read_back_exactly() {
        assert_eq!(short_float(3e-4 / 10.0), "3e-5");
        assert_eq!(short_float(3e-4 * 10.0), "3e-3");
        assert_eq!(short_float(0.05), "5e-2");
        assert_eq!(short_float(1.0), "1e0");
        assert_eq!(short_float(2.5e7), "2.5e7");
        for x in [3e-5, 0.003, 0.05, 1.0, 2.5e7, 123.456] {
            assert_eq!(short_float(x).parse::<f64>().unwrap(), x);
        }
    }

    #[test]
    fn every_value_is_a_range_or_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("params.json");
        std::fs::write(
            &p,
            r#"{"lr": 0.0003, "steps": 200, "warmup": 0, "dropout": 0.0, "opt": "adam", "bias": true, "shift": -1.5, "my key": 2}"#,
        )
        .unwrap();
        let g = guess_params(&p);
        let mut lines = g.lines.clone();
        lines.sort();
        assert_eq!(
            lines,
            vec![
                "bias = { choice = [true, false], default = true }",
                "lr = { log_float = [3e-5, 3e-3], default = 3e-4 }",
                "steps = { int = [100, 400], default = 200 }",
            ]
        );
        let mut skipped: Vec<&str> = g.skipped.iter().map(|(k, _)| k.as_str()).collect();
        skipped.sort();
        assert_eq!(skipped, vec!["dropout", "my key", "opt", "shift", "warmup"]);
    }
}
