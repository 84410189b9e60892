//! Path patterns of `editable` and `protected`: `*` and `?` within a segment, `**` across
//! segments, a directory naming everything below it.

/// Whether `path` matches a pattern: `*` and `?` within a segment, `**` across segments; a
/// pattern naming a directory matches everything below it. A path that could leave the
/// directory it is relative to (absolute, or with a `..` segment) matches nothing: `src` must
/// not admit `src/../../x`.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
    if pattern.is_empty() || !is_plain_relative(path) {
        return false;
    }
    let pat: Vec<&str> = pattern.split('/').collect();
    let segs: Vec<&str> = path.split('/').collect();
    match_segments(&pat, &segs)
        || (!pattern.contains('*') && path.starts_with(&format!("{pattern}/")))
}

fn match_segments(pat: &[&str], segs: &[&str]) -> bool {
    match (pat.first(), segs.first()) {
        (None, None) => true,
        (Some(&"**"), _) => {
            match_segments(&pat[1..], segs) || (!segs.is_empty() && match_segments(pat, &segs[1..]))
        }
        (Some(p), Some(s)) => {
            glob_segment(p.as_bytes(), s.as_bytes()) && match_segments(&pat[1..], &segs[1..])
        }
        _ => false,
    }
}

fn glob_segment(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob_segment(&p[1..], s) || (!s.is_empty() && glob_segment(p, &s[1..])),
        (Some(b'?'), Some(_)) => glob_segment(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob_segment(&p[1..], &s[1..]),
        _ => false,
    }
}

/// Whether `path` is relative and names no parent (`..`) segment.
fn is_plain_relative(path: &str) -> bool {
    !path.is_empty() && !path.starts_with('/') && !path.split('/').any(|s| s == "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_paths() {
        assert!(path_matches("train.py", "train.py"));
        assert!(!path_matches("train.py", "src/train.py"));
        assert!(path_matches("*.py", "model.py"));
        assert!(!path_matches("*.py", "src/model.py"));
        assert!(path_matches("src/**/*.py", "src/a/b/model.py"));
        assert!(path_matches("src/**", "src/x"));
        assert!(path_matches("src", "src/deep/file"));
        assert!(path_matches("**/conf?.json", "a/conf1.json"));
        assert!(!path_matches("", "x"));
    }

    #[test]
    fn paths_that_climb_out_or_are_absolute_match_nothing() {
        assert!(!path_matches("src", "src/../../escaped.txt"));
        assert!(!path_matches("src/**", "src/a/../../../x"));
        assert!(!path_matches("**", "../x"));
        assert!(!path_matches("**", "/etc/passwd"));
        assert!(!path_matches("*", ".."));
        assert!(
            path_matches("src", "src/..hidden"),
            "`..hidden` is a name, not a parent"
        );
    }
}
