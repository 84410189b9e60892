//! Job scripts and job files: templates, quoting, time limits, names, capped logs.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::RunSpec;

/// Where the job sees its worktree and run directory (remote paths with ssh).
pub(super) struct JobPaths {
    pub(super) workdir: String,
    pub(super) run_dir: String,
}

/// Quotes `s` for a POSIX shell.
pub(crate) fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

pub(super) fn valid_env_name(k: &str) -> bool {
    let mut b = k.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Fills `{name}` placeholders in one pass (values are never re-scanned).
pub(super) fn render(template: &str, vars: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let hit = after.find('}').and_then(|close| {
            let name = &after[..close];
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (v, close))
        });
        match hit {
            Some((v, close)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whole minutes covering `d` (at least 1).
pub(super) fn minutes_ceil(d: Duration) -> u64 {
    (d.as_millis().div_ceil(60_000) as u64).max(1)
}

pub(super) fn job_name(spec: &RunSpec) -> String {
    let base: String = spec
        .run_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    format!("autolab-{base}")
}

/// Keeps the first and last bytes of a log over `max` bytes, like the local runner's pumps;
/// returns whether the file was cut.
pub(super) fn cap_log(path: &Path, max: u64) -> std::io::Result<bool> {
    let len = std::fs::metadata(path)?.len();
    if len <= max {
        return Ok(false);
    }
    let tail = (max / 2).min(1 << 20);
    let head = max.saturating_sub(tail);
    let mut src = std::fs::File::open(path)?;
    let tmp = path.with_extension("capping");
    let mut dst = std::fs::File::create(&tmp)?;
    std::io::copy(&mut (&mut src).take(head), &mut dst)?;
    writeln!(
        dst,
        "\n[autolab: {} bytes of output omitted here]",
        len - head - tail
    )?;
    src.seek(SeekFrom::Start(len - tail))?;
    std::io::copy(&mut src, &mut dst)?;
    dst.flush()?;
    std::fs::rename(&tmp, path)?;
    Ok(true)
}

/// Appends an autolab note to a log (created if missing).
pub(super) fn note(path: &Path, text: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "[autolab: {text}]");
    }
}

pub(super) fn output_text(out: &Output) -> String {
    let mut s = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if s.is_empty() {
        s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    }
    s
}
