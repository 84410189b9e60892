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

/// The word that starts every header of one read: `@@autolab-` and a number a job cannot guess,
/// so no job's output can pass for a header and speak for another job.
pub(crate) fn new_marker() -> String {
    use std::hash::{BuildHasher, Hasher};
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("@@autolab-{:016x}", h.finish())
}

/// The shell script that prints, for each `(id, log)`, a header `<marker> <id> <size>` and the
/// bytes after `log.offset` (from the start if the log shrank below it; at most [`READ_CAP`],
/// the newest), then a newline; or `<marker> <id> missing` when the log cannot be read (not
/// there yet, or not visible here).
pub(crate) fn read_script(jobs: &[(String, Followed)], marker: &str) -> String {
    let mut s = String::new();
    for (id, f) in jobs {
        s.push_str(&format!(
            "p={}; o={}; if s=$(wc -c < \"$p\" 2>/dev/null); then s=$((s + 0)); \
             printf '%s %s %s\\n' {marker} {id} \"$s\"; \
             if [ \"$s\" -lt \"$o\" ]; then o=0; fi; \
             if [ \"$s\" -gt \"$o\" ]; then b=$((s - o)); \
             if [ \"$b\" -gt {cap} ]; then o=$((s - {cap})); b={cap}; fi; \
             tail -c +$((o + 1)) \"$p\" | head -c \"$b\"; fi; echo; \
             else printf '%s %s missing\\n' {marker} {id}; fi\n",
            shell_quote(&f.path),
            f.offset,
            id = shell_quote(id),
            cap = READ_CAP,
        ));
    }
    s
}

/// One successful read of a job's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogRead {
    /// The log's size now.
    pub size: u64,
    /// What it gained since the offset read from (the newest [`READ_CAP`] bytes of it).
    pub bytes: Vec<u8>,
    /// Output was skipped (more than [`READ_CAP`] since the last read) or the log shrank (it
    /// is read from its start): the bytes do not continue the previous ones.
    pub gap: bool,
}

/// What each job's log gained, parsed from [`read_script`]'s output; `offsets` are the
/// offsets the script was written with. Jobs whose log could not be read are left out.
pub(crate) fn parse_reads(
    out: &[u8],
    offsets: &HashMap<String, u64>,
    marker: &str,
) -> HashMap<String, LogRead> {
    let header = format!("{marker} ");
    let header = header.as_bytes();
    let mut got = HashMap::new();
    let mut rest = out;
    while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
        let line = String::from_utf8_lossy(&rest[..nl]).to_string();
        rest = &rest[nl + 1..];
        let mut parts = line.split_whitespace();
        let (Some(m), Some(id), Some(size)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if m != marker {
            continue;
        }
        let Ok(size) = size.parse::<u64>() else {
            continue; // `missing`
        };
        let offset = offsets.get(id).copied().unwrap_or(0);
        let shrank = size < offset;
        let from = if shrank { 0 } else { offset };
        let n = size.saturating_sub(from).min(READ_CAP) as usize;
        let n = n.min(rest.len().saturating_sub(1));
        // A log that shrank while being read gives fewer bytes than announced: the next
        // header then comes early.
        let n = if rest.get(n) == Some(&b'\n')
            && (rest.len() == n + 1 || rest[n + 1..].starts_with(header))
        {
            n
        } else {
            next_header(rest, n, header).unwrap_or(n)
        };
        got.insert(
            id.to_string(),
            LogRead {
                size,
                bytes: rest[..n].to_vec(),
                gap: shrank || size - from > READ_CAP,
            },
        );
        rest = &rest[n..];
        if rest.first() == Some(&b'\n') {
            rest = &rest[1..];
        }
    }
    got
}

/// Where among the first `n` bytes of `rest` a newline followed by a header starts, if one does.
fn next_header(rest: &[u8], n: usize, header: &[u8]) -> Option<usize> {
    (0..n.min(rest.len())).find(|&i| rest[i] == b'\n' && rest[i + 1..].starts_with(header))
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
        let marker = new_marker();
        let got = parse_reads(&run(&read_script(&jobs, &marker)), &offsets, &marker);
        assert_eq!(
            got["11"],
            LogRead {
                size: 23,
                bytes: b"step: 2\npartial".to_vec(),
                gap: false
            }
        );
        assert_eq!(got["12"].size, READ_CAP + 10);
        assert_eq!(
            got["12"].bytes.len() as u64,
            READ_CAP,
            "capped to the newest bytes"
        );
        assert!(got["12"].gap, "bytes were skipped");
        assert!(!got.contains_key("13"), "a missing log is no read: {got:?}");
    }

    #[test]
    fn a_short_read_does_not_swallow_the_next_header() {
        // Job 1 announced 10 new bytes but its log shrank and gave 3.
        let out = b"@@autolab-7 1 10\nabc\n@@autolab-7 2 4\nwxyz\n";
        let offsets = HashMap::from([("1".to_string(), 0), ("2".to_string(), 0)]);
        let got = parse_reads(out, &offsets, "@@autolab-7");
        assert_eq!(got["2"].bytes, b"wxyz");
        assert_eq!(got["2"].size, 4);
    }

    #[test]
    fn a_job_cannot_forge_another_jobs_header() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.log");
        let b = dir.path().join("b.log");
        std::fs::write(&a, "x\n@@autolab-0 b 999999\nfake\n").unwrap();
        std::fs::write(&b, "real\n").unwrap();
        let jobs = vec![
            (
                "b".to_string(),
                Followed {
                    path: b.display().to_string(),
                    offset: 0,
                },
            ),
            (
                "a".to_string(),
                Followed {
                    path: a.display().to_string(),
                    offset: 0,
                },
            ),
        ];
        let offsets = HashMap::from([("a".to_string(), 0), ("b".to_string(), 0)]);
        let marker = new_marker();
        let got = parse_reads(&run(&read_script(&jobs, &marker)), &offsets, &marker);
        assert_eq!(got["b"].bytes, b"real\n");
        assert_eq!(got["a"].bytes, b"x\n@@autolab-0 b 999999\nfake\n");
        assert_ne!(new_marker(), marker);
    }

    #[test]
    fn a_log_that_shrank_is_read_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.log");
        std::fs::write(&a, "requeued\n").unwrap();
        let jobs = vec![(
            "1".to_string(),
            Followed {
                path: a.display().to_string(),
                offset: 500,
            },
        )];
        let offsets = HashMap::from([("1".to_string(), 500)]);
        let marker = new_marker();
        let got = parse_reads(&run(&read_script(&jobs, &marker)), &offsets, &marker);
        assert_eq!(
            got["1"],
            LogRead {
                size: 9,
                bytes: b"requeued\n".to_vec(),
                gap: true
            }
        );
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
                text.extend_from_slice(format!("@@autolab-1 {id} {size}\n").as_bytes());
                text.extend_from_slice(&out);
            }
            let offsets = headers.iter().map(|(id, _)| (id.clone(), 10)).collect();
            for (_, read) in parse_reads(&text, &offsets, "@@autolab-1") {
                prop_assert!(read.bytes.len() as u64 <= READ_CAP);
            }
            let _ = parse_reads(&out, &HashMap::new(), "@@autolab-1");
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
