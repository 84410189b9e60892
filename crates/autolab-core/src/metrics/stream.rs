//! Metrics read from a run's output as it is printed, line by line, so a value printed early
//! survives however much output follows (the kept log is capped: its middle is dropped).

use std::sync::Mutex;

use indexmap::IndexMap;

use super::lines::{parse_lines, parse_value};
use crate::config::Source;

/// What the `lines` and `regex` sources saw in the whole stream.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Streamed {
    /// `lines`: each name's last value.
    pub lines: IndexMap<String, f64>,
    /// `regex`: each named pattern's last match.
    pub regex: IndexMap<String, f64>,
    /// Scored metrics whose last mention was a line that is not a metric line (e.g.
    /// `val_loss = 0.1`): the name and that line. Their value, if any, came from earlier.
    pub ignored: Vec<(String, String)>,
}

/// Where a scored metric was last read, and last mentioned in a line that did not parse.
#[derive(Debug, Default, Clone)]
struct Sightings {
    parsed: Option<u64>,
    unparsed: Option<(u64, String)>,
}

/// Reads each line with the lab's text sources; safe to feed from two streams at once.
#[derive(Debug)]
pub struct StreamReader {
    lines: bool,
    patterns: Vec<(String, regex::Regex)>,
    /// Scored metric names whose mentions are watched.
    watched: Vec<String>,
    seen: Mutex<(Streamed, u64, IndexMap<String, Sightings>)>,
}

impl StreamReader {
    /// A reader for `sources`, or None when no source reads text.
    pub fn new(sources: &[Source]) -> Option<StreamReader> {
        let lines = sources.iter().any(|s| matches!(s, Source::Lines {}));
        let patterns: Vec<(String, regex::Regex)> = sources
            .iter()
            .filter_map(|s| match s {
                Source::Regex { name, pattern } => {
                    regex::Regex::new(pattern).ok().map(|re| (name.clone(), re))
                }
                _ => None,
            })
            .collect();
        (lines || !patterns.is_empty()).then(|| StreamReader {
            lines,
            patterns,
            watched: Vec::new(),
            seen: Mutex::new(Default::default()),
        })
    }

    /// Also watches lines that mention these (scored) metrics without being metric lines.
    pub fn watching(mut self, names: impl IntoIterator<Item = String>) -> StreamReader {
        self.watched = names.into_iter().collect();
        self
    }

    pub fn line(&self, line: &str) {
        let parsed = if self.lines {
            parse_lines(line)
        } else {
            IndexMap::new()
        };
        let matched: Vec<(&String, f64)> = self
            .patterns
            .iter()
            .filter_map(|(name, re)| {
                let last = re
                    .captures_iter(line)
                    .filter_map(|cap| cap.get(1).or_else(|| cap.get(0)))
                    .filter_map(|m| parse_value(m.as_str()))
                    .last()?;
                Some((name, last))
            })
            .collect();
        let Ok(mut guard) = self.seen.lock() else {
            return;
        };
        let (seen, count, sightings) = &mut *guard;
        *count += 1;
        for name in &self.watched {
            let read = parsed.contains_key(name) || matched.iter().any(|(n, _)| *n == name);
            if read {
                sightings.entry(name.clone()).or_default().parsed = Some(*count);
            } else if line
                .to_ascii_lowercase()
                .contains(&name.to_ascii_lowercase())
            {
                sightings.entry(name.clone()).or_default().unparsed =
                    Some((*count, line.chars().take(120).collect()));
            }
        }
        {
            for (k, v) in parsed {
                // Re-inserted at the end: the order is that of the last sighting.
                seen.lines.shift_remove(&k);
                seen.lines.insert(k, v);
            }
            for (name, v) in matched {
                seen.regex.insert(name.clone(), v);
            }
        }
    }

    /// What was seen so far.
    pub fn seen(&self) -> Streamed {
        let Ok(guard) = self.seen.lock() else {
            return Streamed::default();
        };
        let (seen, _, sightings) = &*guard;
        let mut out = seen.clone();
        out.ignored = sightings
            .iter()
            .filter_map(|(name, s)| match &s.unparsed {
                Some((at, line)) if s.parsed.is_none_or(|p| p < *at) => {
                    Some((name.clone(), line.clone()))
                }
                _ => None,
            })
            .collect();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_value_of_each_metric_wins_and_early_ones_are_kept() {
        let r = StreamReader::new(&[Source::Lines {}]).unwrap();
        r.line("val_loss: 0.9");
        r.line("step: 1 train_loss: 2.0");
        for _ in 0..1000 {
            r.line("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        }
        r.line("step: 2 train_loss: 1.5");
        let seen = r.seen();
        assert_eq!(seen.lines["val_loss"], 0.9);
        assert_eq!(seen.lines["train_loss"], 1.5);
        assert_eq!(seen.lines["step"], 2.0);
    }

    #[test]
    fn regex_sources_see_every_line() {
        let r = StreamReader::new(&[Source::Regex {
            name: "tok_s".into(),
            pattern: "tok/s=([0-9.]+)".into(),
        }])
        .unwrap();
        r.line("tok/s=10.5");
        r.line("noise");
        r.line("tok/s=12 and tok/s=13");
        assert_eq!(r.seen().regex["tok_s"], 13.0);
        assert!(r.seen().lines.is_empty());
    }

    #[test]
    fn sources_that_read_no_text_need_no_reader() {
        assert!(
            StreamReader::new(&[Source::Json {
                file: "final_info.json".into(),
                pointer: String::new(),
                name: None,
            }])
            .is_none()
        );
    }

    #[test]
    fn a_last_mention_that_is_no_metric_line_is_reported() {
        let r = StreamReader::new(&[Source::Lines {}])
            .unwrap()
            .watching(["val_loss".to_string()]);
        r.line("step: 500 val_loss: 0.105");
        r.line("val_loss = 0.100654");
        let seen = r.seen();
        assert_eq!(seen.lines["val_loss"], 0.105);
        assert_eq!(
            seen.ignored,
            [("val_loss".to_string(), "val_loss = 0.100654".to_string())]
        );
        // A metric line after it settles it.
        r.line("val_loss: 0.1");
        assert!(r.seen().ignored.is_empty());
    }
}
