//! Following running jobs' logs: each poll reads what every followed job's stdout gained since
//! the last poll, for all of them in one shell call (on the login node over ssh), so a cluster
//! job gets early stopping (its metric lines reach the run's watch) and stall detection like a
//! local run. A job printing faster than [`READ_CAP`] per poll has the excess skipped.

use std::collections::HashMap;

use super::script::shell_quote;

/// Bytes read per job and poll at most.
pub(crate) const READ_CAP: u64 = 256 * 1024;
/// Bytes of unread output kept per job at most (the waiter drains it every wake).
pub(crate) const KEEP_CAP: usize = 1 << 20;

/// A followed job's log: where it is and how far it was read.
#[derive(Debug, Clone)]
pub(crate) struct Followed {
    pub path: String,
    pub offset: u64,
}

/// The shell script that prints, for each `(id, log)`, a header `@@autolab <id> <size>` and the
/// bytes after `log.offset` (at most [`READ_CAP`], the newest), then a newline.
pub(crate) fn read_script(jobs: &[(String, Followed)]) -> String {
    let mut s = String::new();
    for (id, f) in jobs {
        s.push_str(&format!(
            "p={}; o={}; s=$(wc -c < \"$p\" 2>/dev/null || echo 0); s=$((s + 0)); \
             printf '@@autolab %s %s\\n' {} \"$s\"; \
             if [ \"$s\" -gt \"$o\" ]; then b=$((s - o)); \
             if [ \"$b\" -gt {cap} ]; then o=$((s - {cap})); b={cap}; fi; \
             tail -c +$((o + 1)) \"$p\" | head -c \"$b\"; fi; echo\n",
            shell_quote(&f.path),
            f.offset,
            shell_quote(id),
            cap = READ_CAP,
        ));
    }
    s
}

/// What each job's log gained: (new size, the bytes read), parsed from [`read_script`]'s output.
/// `offsets` are the offsets the script was written with.
pub(crate) fn parse_reads(
    out: &[u8],
    offsets: &HashMap<String, u64>,
) -> HashMap<String, (u64, Vec<u8>)> {
    let mut got = HashMap::new();
    let mut rest = out;
    while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
        let header = String::from_utf8_lossy(&rest[..nl]).to_string();
        rest = &rest[nl + 1..];
        let mut parts = header.split_whitespace();
        let (Some("@@autolab"), Some(id), Some(size)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Ok(size) = size.parse::<u64>() else {
            continue;
        };
        let offset = offsets.get(id).copied().unwrap_or(0);
        let n = if size > offset {
            (size - offset).min(READ_CAP) as usize
        } else {
            0
        };
        // A log that is shorter than expected (still being written) ends early.
        let n = n.min(rest.len().saturating_sub(1));
        got.insert(id.to_string(), (size, rest[..n].to_vec()));
        rest = &rest[n..];
        if rest.first() == Some(&b'\n') {
            rest = &rest[1..];
        }
    }
    got
}

/// Splits `buf` into the complete lines it holds (without their newline), leaving the
/// unfinished last line in it.
pub(crate) fn complete_lines(buf: &mut Vec<u8>) -> Vec<String> {
    let Some(last) = buf.iter().rposition(|b| *b == b'\n') else {
        return Vec::new();
    };
    let lines = buf[..last]
        .split(|b| *b == b'\n')
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    buf.drain(..=last);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str) -> Vec<u8> {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        out.stdout
    }

    #[test]
    fn the_script_reads_what_each_log_gained() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.log");
        let b = dir.path().join("b b.log");
        std::fs::write(&a, "step: 1\nstep: 2\npartial").unwrap();
        std::fs::write(&b, "x".repeat((READ_CAP + 10) as usize)).unwrap();
        let jobs = vec![
            (
                "11".to_string(),
                Followed {
                    path: a.display().to_string(),
                    offset: 8,
                },
            ),
            (
                "12".to_string(),
                Followed {
                    path: b.display().to_string(),
                    offset: 0,
                },
            ),
            (
                "13".to_string(),
                Followed {
                    path: dir.path().join("missing").display().to_string(),
                    offset: 0,
                },
            ),
        ];
        let offsets = jobs.iter().map(|(id, f)| (id.clone(), f.offset)).collect();
        let got = parse_reads(&run(&read_script(&jobs)), &offsets);
        assert_eq!(got["11"], (23, b"step: 2\npartial".to_vec()));
        assert_eq!(got["12"].0, READ_CAP + 10);
        assert_eq!(
            got["12"].1.len() as u64,
            READ_CAP,
            "capped to the newest bytes"
        );
        assert_eq!(got["13"], (0, Vec::new()));
    }

    #[test]
    fn complete_lines_leave_the_unfinished_one() {
        let mut buf = b"a\nb\nc".to_vec();
        assert_eq!(complete_lines(&mut buf), ["a", "b"]);
        assert_eq!(buf, b"c");
        buf.extend_from_slice(b"d\n");
        assert_eq!(complete_lines(&mut buf), ["cd"]);
        assert!(buf.is_empty());
        assert!(complete_lines(&mut buf).is_empty());
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever a login node prints, parsing never panics nor returns more bytes than a
        /// read may hold.
        #[test]
        fn parsing_any_output_is_bounded(
            out in prop::collection::vec(any::<u8>(), 0..2000),
            headers in prop::collection::vec(("[0-9]{1,3}", 0u64..5000), 0..4),
        ) {
            let mut text = Vec::new();
            for (id, size) in &headers {
                text.extend_from_slice(format!("@@autolab {id} {size}\n").as_bytes());
                text.extend_from_slice(&out);
            }
            let offsets = headers.iter().map(|(id, _)| (id.clone(), 10)).collect();
            for (_, (_, bytes)) in parse_reads(&text, &offsets) {
                prop_assert!(bytes.len() as u64 <= READ_CAP);
            }
            let _ = parse_reads(&out, &HashMap::new());
        }

        #[test]
        fn complete_lines_lose_no_byte(chunks in prop::collection::vec("[a-c\n]{0,8}", 0..8)) {
            let mut buf = Vec::new();
            let mut seen = String::new();
            for c in &chunks {
                buf.extend_from_slice(c.as_bytes());
                for l in complete_lines(&mut buf) {
                    seen.push_str(&l);
                    seen.push('\n');
                }
            }
            seen.push_str(&String::from_utf8_lossy(&buf));
            prop_assert_eq!(seen, chunks.concat());
        }
    }
}
