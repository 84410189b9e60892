//! The data files of a lab, as the explorer sees them: path, size, and a small sample — the
//! first rows of a CSV/TSV/JSONL, the start of a JSON, a NumPy array's header (dtype, shape),
//! a Parquet file's magic. Never more than [`HEAD_BYTES`] of any file is read. Hidden files,
//! files whose names look like secrets (keys, credentials, tokens) and autolab's own
//! results.tsv are never read: the sample goes to an LLM provider.

use std::io::Read;
use std::path::Path;

use serde::Serialize;

/// The most of one file read for its sample.
pub const HEAD_BYTES: usize = 64 * 1024;
/// Data files sampled at most (the rest are counted).
pub const MAX_FILES: usize = 20;
/// Directory entries looked at, at most.
const MAX_ENTRIES: usize = 20_000;
/// How deep below the lab's root the walk goes.
const MAX_DEPTH: usize = 4;
/// Lines of a table shown.
const ROWS: usize = 6;
/// Characters of one shown line.
const LINE_CHARS: usize = 300;
/// Characters of a JSON document shown.
const JSON_CHARS: usize = 1500;

/// Directories never walked: version control, autolab's state, environments, caches, logs.
const SKIP_DIRS: [&str; 12] = [
    "target",
    "node_modules",
    "__pycache__",
    "venv",
    "env",
    "wandb",
    "mlruns",
    "runs",
    "site-packages",
    "dist",
    "build",
    "latex",
];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataSample {
    /// Relative to the lab's root.
    pub path: String,
    pub bytes: u64,
    /// `csv`, `tsv`, `json`, `jsonl`, `npy`, `npz`, `parquet`.
    pub kind: String,
    pub sample: String,
}

/// What the walk found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DataFiles {
    pub samples: Vec<DataSample>,
    /// Data files beyond [`MAX_FILES`], not sampled.
    pub more: usize,
    /// Files left unread because their names look like secrets.
    pub secret_looking: usize,
}

/// Words in a file name that mark it as a secret, never sent to an LLM.
const SECRET_WORDS: [&str; 12] = [
    "secret",
    "credential",
    "password",
    "passwd",
    "token",
    "private",
    "apikey",
    "api_key",
    "api-key",
    "service-account",
    "service_account",
    "id_rsa",
];

/// Whether a file's name looks like it holds a secret.
pub fn looks_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| lower.contains(w))
        || lower.ends_with(".pem")
        || lower.ends_with(".key")
        || lower.contains("key.json")
}

fn kind_of(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "csv" => "csv",
        "tsv" => "tsv",
        "json" => "json",
        "jsonl" | "ndjson" => "jsonl",
        "npy" => "npy",
        "npz" => "npz",
        "parquet" | "pq" => "parquet",
        _ => return None,
    })
}

/// The lab's data files under `root` (symlinks not followed; hidden and [`SKIP_DIRS`]
/// directories not walked), smallest depth first, each sampled.
pub fn find_data(root: &Path) -> DataFiles {
    let mut found: Vec<(usize, String, std::path::PathBuf, &'static str)> = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    let mut seen = 0;
    let mut secret_looking = 0;
    'walk: while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        // At most the entries left to look at are read from one directory.
        let mut entries: Vec<_> = entries.flatten().take(MAX_ENTRIES - seen).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            seen += 1;
            if seen >= MAX_ENTRIES {
                break 'walk;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(ft) = e.file_type() else { continue };
            if name.starts_with('.') || (depth == 0 && name == "results.tsv") {
                continue;
            }
            if ft.is_dir() {
                if depth < MAX_DEPTH && !SKIP_DIRS.contains(&name.as_str()) {
                    stack.push((e.path(), depth + 1));
                }
            } else if ft.is_file()
                && let Some(kind) = kind_of(&name)
            {
                if looks_secret(&name) {
                    secret_looking += 1;
                    continue;
                }
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or(name);
                found.push((depth, rel, e.path(), kind));
            }
        }
    }
    found.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let more = found.len().saturating_sub(MAX_FILES);
    // Taken a directory at a time, round robin: a directory of ten thousand shards does not
    // crowd out the others.
    let mut by_dir: Vec<(String, std::collections::VecDeque<_>)> = Vec::new();
    for f in found {
        let dir = f.1.rsplit_once('/').map_or("", |(d, _)| d).to_string();
        match by_dir.iter_mut().find(|(d, _)| *d == dir) {
            Some((_, files)) => files.push_back(f),
            None => by_dir.push((dir, std::collections::VecDeque::from([f]))),
        }
    }
    let mut picked = Vec::new();
    while picked.len() < MAX_FILES && by_dir.iter().any(|(_, f)| !f.is_empty()) {
        for (_, files) in by_dir.iter_mut() {
            if picked.len() < MAX_FILES
                && let Some(f) = files.pop_front()
            {
                picked.push(f);
            }
        }
    }
    picked.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let samples = picked
        .into_iter()
        .map(|(_, rel, path, kind)| {
            let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let head = read_head(&path);
            DataSample {
                path: rel,
                bytes,
                kind: kind.into(),
                sample: sample(kind, &head, bytes),
            }
        })
        .collect();
    DataFiles {
        samples,
        more,
        secret_looking,
    }
}

fn read_head(path: &Path) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(HEAD_BYTES as u64).read_to_end(&mut buf);
    }
    buf
}

fn cut(line: &str, max: usize) -> String {
    if line.chars().count() <= max {
        return line.to_string();
    }
    let mut s: String = line.chars().take(max).collect();
    s.push('…');
    s
}

/// The sample of a file of `kind` from its first bytes `head` (of `bytes` in all).
pub fn sample(kind: &str, head: &[u8], bytes: u64) -> String {
    match kind {
        "csv" | "tsv" | "jsonl" => table(head, bytes),
        "json" => {
            let text = String::from_utf8_lossy(head);
            let shown = cut(text.trim(), JSON_CHARS);
            if (head.len() as u64) < bytes {
                format!("{shown}\n[first {} bytes of {bytes}]", head.len())
            } else {
                shown
            }
        }
        "npy" => npy_header(head).unwrap_or_else(|| "not a NumPy .npy file (no magic)".into()),
        "npz" => {
            if head.starts_with(b"PK") {
                "a NumPy .npz archive (zip of .npy arrays; not opened)".into()
            } else {
                "not a zip archive".into()
            }
        }
        "parquet" => {
            if head.starts_with(b"PAR1") {
                "a Parquet file (its schema is in the footer; not read)".into()
            } else {
                "not a Parquet file (no PAR1 magic)".into()
            }
        }
        _ => String::new(),
    }
}

/// The first rows of a line-oriented file, and about how many rows it has.
fn table(head: &[u8], bytes: u64) -> String {
    let text = String::from_utf8_lossy(head);
    let whole = (head.len() as u64) >= bytes;
    // The last line of a cut head is partial: only whole lines count.
    let mut lines: Vec<&str> = text.lines().collect();
    if !whole && !text.ends_with('\n') {
        lines.pop();
    }
    if lines.is_empty() && !text.is_empty() {
        return format!(
            "{}\n[no line end in the first {} bytes of {bytes}]",
            cut(&text, LINE_CHARS),
            head.len()
        );
    }
    let mut out: Vec<String> = lines
        .iter()
        .take(ROWS)
        .map(|l| cut(l, LINE_CHARS))
        .collect();
    let rows = if whole {
        format!("{} lines", lines.len())
    } else {
        let used: usize = lines.iter().map(|l| l.len() + 1).sum();
        let per = (used as f64 / lines.len().max(1) as f64).max(1.0);
        format!(
            "about {} lines (estimated from the first {})",
            (bytes as f64 / per).round() as u64,
            lines.len()
        )
    };
    out.push(format!("[{rows}]"));
    out.join("\n")
}

/// A `.npy` file's header dict (`{'descr': '<f8', 'fortran_order': False, 'shape': (100, 3), }`).
fn npy_header(head: &[u8]) -> Option<String> {
    if !head.starts_with(b"\x93NUMPY") || head.len() < 10 {
        return None;
    }
    let major = head[6];
    let (len, start): (usize, usize) = if major == 1 {
        (u16::from_le_bytes([head[8], head[9]]) as usize, 10)
    } else {
        if head.len() < 12 {
            return None;
        }
        (
            u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize,
            12,
        )
    };
    let text = head.get(start..start.checked_add(len)?)?;
    Some(cut(String::from_utf8_lossy(text).trim(), LINE_CHARS))
}
