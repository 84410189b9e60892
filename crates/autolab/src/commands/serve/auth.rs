//! Who may look and who may act. Bound to loopback, anyone on this machine may look; bound to
//! any other address, every request needs the token printed at start (in the URL once, then a
//! cookie). Controls always need the token in the request itself (a form field or header, not
//! the cookie alone: a cross-site form cannot forge it), unless `--allow-controls` on loopback,
//! and `--read-only` has none.

use std::io::Read;

/// The cookie the token is kept in after the first visit.
pub const COOKIE: &str = "autolab_token";

#[derive(Debug, Clone)]
pub struct Access {
    pub token: String,
    /// Every request needs the token (bound beyond loopback).
    pub token_to_look: bool,
    pub controls: Controls,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controls {
    /// `--read-only`: none.
    Hidden,
    /// With the token.
    WithToken,
    /// `--allow-controls` on loopback: without the token too.
    Open,
}

/// A fresh token: 128 random bits, hex.
pub fn new_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The token a request carries: `?token=`, `Authorization: Bearer`, or the cookie.
pub fn carried(
    query: Option<&str>,
    authorization: Option<&str>,
    cookie: Option<&str>,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(q) = query {
        for pair in q.split('&') {
            if let Some(v) = pair.strip_prefix("token=") {
                out.push(v.to_string());
            }
        }
    }
    if let Some(v) = authorization.and_then(|a| a.strip_prefix("Bearer ")) {
        out.push(v.trim().to_string());
    }
    if let Some(c) = cookie {
        for part in c.split(';') {
            if let Some(v) = part.trim().strip_prefix(&format!("{COOKIE}=")) {
                out.push(v.to_string());
            }
        }
    }
    out
}

impl Access {
    pub fn valid(&self, candidates: &[String]) -> bool {
        candidates.iter().any(|c| same(c, &self.token))
    }

    /// Whether a control request with these explicit tokens (form field or header, never the
    /// cookie) may act.
    pub fn may_act(&self, explicit: &[String]) -> Result<(), &'static str> {
        match self.controls {
            Controls::Hidden => Err("this dashboard is read-only (--read-only)"),
            Controls::Open => Ok(()),
            Controls::WithToken if self.valid(explicit) => Ok(()),
            Controls::WithToken => Err(
                "controls need the token printed when `autolab serve` started, in the form's `token` field or an `Authorization: Bearer` header (a page opened with ?token=… sends it)",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(controls: Controls) -> Access {
        Access {
            token: "abc123".into(),
            token_to_look: true,
            controls,
        }
    }

    #[test]
    fn tokens_come_from_the_query_the_header_or_the_cookie() {
        let got = carried(
            Some("tag=t&token=q1"),
            Some("Bearer h2"),
            Some("x=1; autolab_token=c3"),
        );
        assert_eq!(got, ["q1", "h2", "c3"]);
        assert!(carried(Some("tokens=x"), Some("Basic x"), Some("other=1")).is_empty());
    }

    #[test]
    fn acting_needs_the_token_unless_open_and_never_when_read_only() {
        let t = vec!["abc123".to_string()];
        let wrong = vec!["abc124".to_string()];
        assert!(access(Controls::WithToken).may_act(&t).is_ok());
        assert!(access(Controls::WithToken).may_act(&wrong).is_err());
        assert!(access(Controls::WithToken).may_act(&[]).is_err());
        assert!(access(Controls::Open).may_act(&[]).is_ok());
        assert!(access(Controls::Hidden).may_act(&t).is_err());
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
        assert_eq!(new_token().unwrap().len(), 32);
    }
}
