//! A reader of server-sent events (the `text/event-stream` format), enough for LLM streams:
//! `event:` and `data:` fields, multi-line data, comments, CRLF or LF line ends.

use std::io::{self, BufRead};

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Event {
    /// The `event:` field, empty when the server sent none.
    pub name: String,
    /// The `data:` lines joined by `\n`.
    pub data: String,
}

/// Reads events from `input` one at a time.
pub(crate) struct EventReader<R> {
    input: R,
    line: Vec<u8>,
}

impl<R: BufRead> EventReader<R> {
    pub fn new(input: R) -> Self {
        EventReader {
            input,
            line: Vec::new(),
        }
    }

    /// The next event, or `None` at the end of the stream. An event that the stream ends in
    /// the middle of (no blank line after it) is still returned.
    pub fn next_event(&mut self) -> io::Result<Option<Event>> {
        let mut event = Event::default();
        let mut has_data = false;
        loop {
            self.line.clear();
            if self.input.read_until(b'\n', &mut self.line)? == 0 {
                return Ok(has_data.then_some(event));
            }
            let line = String::from_utf8_lossy(&self.line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if has_data {
                    return Ok(Some(event));
                }
                event = Event::default();
                continue;
            }
            if line.starts_with(':') {
                continue; // comment / keep-alive
            }
            let (field, value) = match line.split_once(':') {
                Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                None => (line, ""),
            };
            match field {
                "event" => event.name = value.to_string(),
                "data" => {
                    if has_data {
                        event.data.push('\n');
                    }
                    event.data.push_str(value);
                    has_data = true;
                }
                _ => {} // id, retry, unknown fields
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(input: &str) -> Vec<Event> {
        let mut reader = EventReader::new(input.as_bytes());
        let mut out = Vec::new();
        while let Ok(Some(e)) = reader.next_event() {
            out.push(e);
        }
        out
    }

    fn ev(name: &str, data: &str) -> Event {
        Event {
            name: name.into(),
            data: data.into(),
        }
    }

    #[test]
    fn data_only_events() {
        let got = events("data: {\"a\":1}\n\ndata: [DONE]\n\n");
        assert_eq!(got, vec![ev("", "{\"a\":1}"), ev("", "[DONE]")]);
    }

    #[test]
    fn named_events_crlf_comments_and_multiline_data() {
        let got = events(
            ": ping\r\nevent: message_start\r\ndata: one\r\ndata:two\r\nid: 7\r\n\r\n\r\nevent: ping\r\ndata: {}\r\n",
        );
        assert_eq!(got, vec![ev("message_start", "one\ntwo"), ev("ping", "{}")]);
    }

    #[test]
    fn an_event_without_data_is_not_dispatched() {
        let got = events("event: lonely\n\ndata: x\n\n");
        assert_eq!(got, vec![ev("", "x")]);
    }
}
