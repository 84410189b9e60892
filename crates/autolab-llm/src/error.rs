//! What can go wrong talking to a provider. No message ever contains the API key: the
//! client redacts it from reply bodies before they land here.

/// Bodies and excerpts kept in errors are cut to this many characters.
pub(crate) const EXCERPT_CHARS: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The environment variable that should hold the API key is unset or empty.
    #[error("no API key: environment variable {var} is not set")]
    MissingKey { var: String },
    /// The provider answered with a non-success status; `body` is truncated.
    #[error("LLM provider answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    /// The request did not get a complete answer: timeout, refused or dropped connection,
    /// TLS failure, a stream that ended early.
    #[error("could not reach the LLM provider: {0}")]
    Transport(String),
    /// The provider answered something that is not a reply in its wire format.
    #[error("unexpected reply from the LLM provider: {0}")]
    Protocol(String),
    /// The configuration cannot work, e.g. a `base_url` that is not http(s).
    #[error("invalid LLM configuration: {0}")]
    Config(String),
}

/// The first [`EXCERPT_CHARS`] characters of `s`, marked when cut.
pub(crate) fn excerpt(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}… ({} bytes in all)", &s[..cut], s.len()),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_cuts_long_text_on_a_char_boundary() {
        let long = "é".repeat(EXCERPT_CHARS + 10);
        let e = excerpt(&long);
        assert!(e.starts_with(&"é".repeat(EXCERPT_CHARS)));
        assert!(e.contains("bytes in all"));
        assert_eq!(excerpt("  short \n"), "short");
    }
}
