//! The numbers in JSON as Python's `json` writes it: JSON plus `NaN`, `Infinity`, `-Infinity`.
//!
//! Written by hand rather than with serde_json because serde_json, without its
//! `float_roundtrip` feature, may read a float one unit in the last place off; here each
//! number token goes through `str::parse::<f64>`, which rounds correctly, so a value logged
//! from Python reads back bit for bit.

use indexmap::IndexMap;

/// Nesting deeper than this is not read.
const MAX_DEPTH: usize = 32;

/// Inserts the numbers in `text` into `out`: a number as `key`, an object's numeric members as
/// `key.member` (recursively). Strings, booleans, null, arrays and media objects (those with
/// a `_type` member, like W&B's images and histograms) hold no metric. Malformed text inserts
/// nothing.
pub(crate) fn insert_numbers(key: &str, text: &str, out: &mut IndexMap<String, f64>) {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let Some(v) = p.value(0) else {
        return;
    };
    p.blank();
    if p.i == p.s.len() {
        v.flatten(key, out);
    }
}

enum Json {
    Number(f64),
    Object(Vec<(String, Json)>),
    Other,
}

impl Json {
    fn flatten(self, key: &str, out: &mut IndexMap<String, f64>) {
        match self {
            Json::Number(x) => {
                out.insert(key.to_string(), x);
            }
            Json::Object(members) if !members.iter().any(|(k, _)| k == "_type") => {
                for (k, v) in members {
                    v.flatten(&format!("{key}.{k}"), out);
                }
            }
            _ => {}
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn blank(&mut self) {
        while self.s.get(self.i).is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, word: &str) -> bool {
        let found = self
            .s
            .get(self.i..)
            .is_some_and(|rest| rest.starts_with(word.as_bytes()));
        if found {
            self.i += word.len();
        }
        found
    }

    fn value(&mut self, depth: usize) -> Option<Json> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.blank();
        match *self.s.get(self.i)? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(|_| Json::Other),
            _ if self.eat("true") || self.eat("false") || self.eat("null") => Some(Json::Other),
            _ if self.eat("NaN") => Some(Json::Number(f64::NAN)),
            _ if self.eat("Infinity") => Some(Json::Number(f64::INFINITY)),
            _ if self.eat("-Infinity") => Some(Json::Number(f64::NEG_INFINITY)),
            _ => self.number(),
        }
    }

    fn number(&mut self) -> Option<Json> {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        {
            self.i += 1;
        }
        let token = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        // `str::parse` also takes `inf` and `nan`, but those letters never reach here.
        token.parse::<f64>().ok().map(Json::Number)
    }

    /// A string token, unescaped.
    fn string(&mut self) -> Option<String> {
        let start = self.i;
        self.i += 1; // the opening quote
        loop {
            match *self.s.get(self.i)? {
                b'\\' => self.i += 2,
                b'"' => break,
                _ => self.i += 1,
            }
        }
        self.i += 1;
        let token = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        serde_json::from_str(token).ok()
    }

    fn object(&mut self, depth: usize) -> Option<Json> {
        self.i += 1;
        let mut members = Vec::new();
        self.blank();
        if self.eat("}") {
            return Some(Json::Object(members));
        }
        loop {
            self.blank();
            if self.s.get(self.i) != Some(&b'"') {
                return None;
            }
            let key = self.string()?;
            self.blank();
            if !self.eat(":") {
                return None;
            }
            members.push((key, self.value(depth + 1)?));
            self.blank();
            if self.eat("}") {
                return Some(Json::Object(members));
            }
            if !self.eat(",") {
                return None;
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<Json> {
        self.i += 1;
        self.blank();
        if self.eat("]") {
            return Some(Json::Other);
        }
        loop {
            self.value(depth + 1)?;
            self.blank();
            if self.eat("]") {
                return Some(Json::Other);
            }
            if !self.eat(",") {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> IndexMap<String, f64> {
        let mut out = IndexMap::new();
        insert_numbers("k", text, &mut out);
        out
    }

    #[test]
    fn numbers_read_exactly() {
        // serde_json (without float_roundtrip) reads this one unit in the last place off
        assert_eq!(read("181267.90784478714")["k"], 181_267.907_844_787_14);
        assert_eq!(read(" -1.5e-3 ")["k"], -0.0015);
        assert_eq!(read("1000000000004")["k"], 1e12 + 4.0);
        assert!(read("NaN")["k"].is_nan());
        assert_eq!(read("-Infinity")["k"], f64::NEG_INFINITY);
    }

    #[test]
    fn objects_flatten_and_the_rest_is_skipped() {
        let m = read(
            r#"{"y": 3.5, "z": {"w": 1, "n": NaN}, "s": "a\"}", "b": true, "l": [1, {"q": 2}],
                "img": {"_type": "image-file", "width": 8}, "\u00e9": Infinity}"#,
        );
        assert_eq!(m.len(), 4, "{m:?}");
        assert_eq!(m["k.y"], 3.5);
        assert_eq!(m["k.z.w"], 1.0);
        assert!(m["k.z.n"].is_nan());
        assert_eq!(m["k.é"], f64::INFINITY);
    }

    #[test]
    fn malformed_text_reads_nothing() {
        for bad in [
            "",
            "1 2",
            "{",
            "{\"a\": }",
            "{\"a\" 1}",
            "[1,",
            "\"open",
            "--",
            "{\"a\": 1,}",
            "tru",
        ] {
            assert!(read(bad).is_empty(), "{bad}");
        }
        assert!(read(&"[".repeat(100_000)).is_empty());
        assert!(read("\"\\").is_empty());
    }

    proptest::proptest! {
        // As in tests/suite: a failure found becomes a named test, not a persisted file.
        #![proptest_config(proptest::test_runner::Config {
            failure_persistence: None,
            ..Default::default()
        })]

        #[test]
        fn never_panics(text in "[-+.0-9eE{}\\[\\]\",: a-zNI\\\\]{0,40}") {
            let _ = read(&text);
        }

        #[test]
        fn finite_floats_read_back_bit_for_bit(x in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL) {
            // `{:?}` and Python's `repr` both write the shortest text that reads back exactly
            proptest::prop_assert_eq!(read(&format!("{x:?}"))["k"].to_bits(), x.to_bits());
            let obj = read(&format!("{{\"a\": {{\"b\": {x:e}}}}}"));
            proptest::prop_assert_eq!(obj["k.a.b"].to_bits(), x.to_bits());
        }
    }
}
