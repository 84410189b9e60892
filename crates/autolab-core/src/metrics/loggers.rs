//! The `tensorboard` and `wandb` sources: finding the files a run's logger wrote, and turning
//! their series into metric values.
//!
//! Which files belong to the run: the run dir is fresh per run, so everything found there does.
//! The worktree outlives runs (repeats of an experiment share it), so there only files modified
//! since the run started count — the run dir's creation time. With an evaluation command the
//! metrics come from the evaluation's own dir, so files the training wrote before it are left
//! out, as its metrics would be. Where the filesystem records no creation time, the newest
//! file in the worktree is taken.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use indexmap::IndexMap;

use super::tfevents::{EVENTS_FILE_PREFIX, read_scalars};
use super::wandb::{has_wandb_header, read_wandb};
use super::{Collected, RunOutputs};
use crate::config::{SeriesValue, WandbFrom};

/// How deep, and through how many entries, a search for event files goes.
const MAX_DEPTH: usize = 8;
const MAX_ENTRIES: usize = 50_000;

/// A file found, with its modification time.
#[derive(Debug, Clone)]
struct Found {
    path: PathBuf,
    modified: SystemTime,
}

impl Found {
    fn new(path: PathBuf) -> Option<Found> {
        let modified = fs::metadata(&path).and_then(|m| m.modified()).ok()?;
        Some(Found { path, modified })
    }
}

/// When the run started: its (fresh) dir's creation time, where the filesystem records it.
fn run_started(run_dir: &Path) -> Option<SystemTime> {
    fs::metadata(run_dir).and_then(|m| m.created()).ok()
}

/// Picks the run's files: all found in the run dir; else those in the worktree modified since
/// the run started (or the newest, if the start is unknown). Oldest first.
fn run_files(
    in_run_dir: Vec<Found>,
    in_worktree: Vec<Found>,
    started: Option<SystemTime>,
    what: &str,
) -> Result<Vec<Found>, String> {
    let mut files = if !in_run_dir.is_empty() {
        in_run_dir
    } else {
        let newest = in_worktree.iter().max_by_key(|f| f.modified).cloned();
        match (started, newest) {
            (_, None) => return Err(format!("no {what} found in the run dir or the worktree")),
            (None, Some(newest)) => vec![newest],
            (Some(start), Some(newest)) => {
                let fresh: Vec<Found> = in_worktree
                    .into_iter()
                    .filter(|f| f.modified >= start)
                    .collect();
                if fresh.is_empty() {
                    return Err(format!(
                        "no {what} written during this run; the newest in the worktree, {}, is older than the run",
                        newest.path.display()
                    ));
                }
                fresh
            }
        }
    };
    files.sort_by_key(|f| f.modified);
    Ok(files)
}

/// Files under `root` (or `root` itself) whose name `matches`, without following symlinks or
/// entering hidden directories, `node_modules` or `__pycache__`.
fn search(root: &Path, matches: &dyn Fn(&str) -> bool) -> Vec<Found> {
    let mut out = Vec::new();
    if root.is_file() {
        if root
            .file_name()
            .is_some_and(|n| matches(&n.to_string_lossy()))
        {
            out.extend(Found::new(root.to_path_buf()));
        }
        return out;
    }
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    let mut seen = 0usize;
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_ENTRIES {
                return out;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if kind.is_dir() {
                if depth < MAX_DEPTH
                    && !name.starts_with('.')
                    && name != "node_modules"
                    && name != "__pycache__"
                {
                    stack.push((entry.path(), depth + 1));
                }
            } else if kind.is_file() && matches(&name) {
                out.extend(Found::new(entry.path()));
            }
        }
    }
    out
}

fn is_events_file(name: &str) -> bool {
    name.starts_with(EVENTS_FILE_PREFIX)
}

/// Reads a `tensorboard` source into `c`.
pub(crate) fn tensorboard(
    dir: Option<&str>,
    tags: Option<&[String]>,
    mode: SeriesValue,
    rename: &IndexMap<String, String>,
    out: &RunOutputs<'_>,
    c: &mut Collected,
) {
    let (in_run, in_tree) = match dir {
        Some(d) => (out.run_dir.join(d), out.worktree.join(d)),
        None => (out.run_dir.to_path_buf(), out.worktree.to_path_buf()),
    };
    let what = match dir {
        Some(d) => format!("TensorBoard event files (events.out.tfevents.*) under `{d}`"),
        None => "TensorBoard event files (events.out.tfevents.*)".to_string(),
    };
    let files = match run_files(
        search(&in_run, &is_events_file),
        search(&in_tree, &is_events_file),
        run_started(out.run_dir),
        &what,
    ) {
        Ok(files) => files,
        Err(e) => {
            c.problems.push(e);
            return;
        }
    };
    // tag -> (index of the file it was read from, its values in file order)
    let mut series: IndexMap<String, (usize, Vec<f64>)> = IndexMap::new();
    let mut clashes: IndexMap<String, Vec<usize>> = IndexMap::new();
    for (i, file) in files.iter().enumerate() {
        let bytes = match fs::read(&file.path) {
            Ok(b) => b,
            Err(e) => {
                c.problems
                    .push(format!("cannot read {}: {e}", file.path.display()));
                continue;
            }
        };
        let mut in_file: IndexMap<String, Vec<f64>> = IndexMap::new();
        for (tag, _step, value) in read_scalars(&bytes) {
            if tags.is_none_or(|t| t.contains(&tag)) {
                in_file.entry(tag).or_default().push(value);
            }
        }
        for (tag, values) in in_file {
            // The newest file wins a tag several files hold.
            if let Some((before, _)) = series.insert(tag.clone(), (i, values)) {
                clashes.entry(tag).or_insert_with(|| vec![before]).push(i);
            }
        }
    }
    for (tag, idx) in &clashes {
        let paths: Vec<String> = idx
            .iter()
            .map(|&i| files[i].path.display().to_string())
            .collect();
        c.problems.push(format!(
            "tag `{tag}` is in {} event files ({}); read the newest — set `dir` to choose one",
            paths.len(),
            paths.join(", ")
        ));
    }
    let listed = list_paths(files.iter().map(|f| &f.path));
    if series.is_empty() && tags.is_none() {
        c.problems.push(format!("no scalar in {listed}"));
        return;
    }
    for tag in tags.unwrap_or_default() {
        if !series.contains_key(tag) {
            c.problems
                .push(format!("tag `{tag}` not found in {listed}"));
        }
    }
    for (tag, (_, values)) in series {
        if let Some(v) = reduce(&values, mode) {
            let name = rename.get(&tag).cloned().unwrap_or(tag);
            c.values.insert(name, v);
        }
    }
}

/// Reads a `wandb` source into `c`.
pub(crate) fn wandb(
    dir: &str,
    keys: Option<&[String]>,
    from: WandbFrom,
    rename: &IndexMap<String, String>,
    out: &RunOutputs<'_>,
    c: &mut Collected,
) {
    let file = match run_files(
        wandb_files(&out.run_dir.join(dir)),
        wandb_files(&out.worktree.join(dir)),
        run_started(out.run_dir),
        &format!("W&B run file (run-*.wandb) under `{dir}`"),
    ) {
        // A run may have started several W&B runs: the newest is read.
        Ok(mut files) => match files.pop() {
            Some(f) => f.path,
            None => return,
        },
        Err(e) => {
            c.problems.push(e);
            return;
        }
    };
    let bytes = match fs::read(&file) {
        Ok(b) => b,
        Err(e) => {
            c.problems
                .push(format!("cannot read {}: {e}", file.display()));
            return;
        }
    };
    if !has_wandb_header(&bytes) {
        c.problems.push(format!(
            "{} is not a W&B run file (no `:W&B` header)",
            file.display()
        ));
        return;
    }
    let run = read_wandb(&bytes);
    let values = match from {
        WandbFrom::Summary => run.summary,
        WandbFrom::HistoryLast | WandbFrom::HistoryMin | WandbFrom::HistoryMax => {
            let mode = match from {
                WandbFrom::HistoryMin => SeriesValue::Min,
                WandbFrom::HistoryMax => SeriesValue::Max,
                _ => SeriesValue::Last,
            };
            let mut series: IndexMap<String, Vec<f64>> = IndexMap::new();
            for row in run.history {
                for (k, v) in row {
                    series.entry(k).or_default().push(v);
                }
            }
            series
                .into_iter()
                .filter_map(|(k, vs)| reduce(&vs, mode).map(|v| (k, v)))
                .collect()
        }
    };
    let part = if from == WandbFrom::Summary {
        "summary"
    } else {
        "history"
    };
    if values.is_empty() {
        c.problems.push(format!(
            "no numeric value in the {part} of {}",
            file.display()
        ));
        return;
    }
    for key in keys.unwrap_or_default() {
        if !values.contains_key(key) {
            c.problems.push(format!(
                "key `{key}` not in the {part} of {}",
                file.display()
            ));
        }
    }
    for (key, v) in values {
        if keys.is_none_or(|k| k.contains(&key)) {
            let name = rename.get(&key).cloned().unwrap_or(key);
            c.values.insert(name, v);
        }
    }
}

/// `.wandb` files under a W&B dir: `root` itself, files directly in it (a run dir given as
/// `dir`), or in its `latest-run`, `run-*` and `offline-run-*` directories.
fn wandb_files(root: &Path) -> Vec<Found> {
    let is_run_file = |p: &Path| p.extension().is_some_and(|e| e == "wandb") && p.is_file();
    if is_run_file(root) {
        return Found::new(root.to_path_buf()).into_iter().collect();
    }
    let files_in = |dir: &Path| -> Vec<PathBuf> {
        fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| is_run_file(p))
                    .collect()
            })
            .unwrap_or_default()
    };
    let direct = files_in(root);
    if !direct.is_empty() {
        return direct.into_iter().filter_map(Found::new).collect();
    }
    let mut paths: Vec<PathBuf> = Vec::new();
    if let Ok(entries) = fs::read_dir(root) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let run_dir = name == "latest-run"
                || name.starts_with("run-")
                || name.starts_with("offline-run-");
            // `latest-run` is a symlink to one of the others: followed, then deduplicated.
            if run_dir && entry.path().is_dir() {
                for p in files_in(&entry.path()) {
                    let p = fs::canonicalize(&p).unwrap_or(p);
                    if !paths.contains(&p) {
                        paths.push(p);
                    }
                }
            }
        }
    }
    paths.into_iter().filter_map(Found::new).collect()
}

/// The last, least or largest of a series; NaN counts as a value only for `last`.
fn reduce(values: &[f64], mode: SeriesValue) -> Option<f64> {
    match mode {
        SeriesValue::Last => values.last().copied(),
        SeriesValue::Min => values
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .reduce(f64::min)
            .or(values.first().copied()),
        SeriesValue::Max => values
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .reduce(f64::max)
            .or(values.first().copied()),
    }
}

/// `a` or `a, b and 3 more`, for messages.
fn list_paths<'a>(paths: impl Iterator<Item = &'a PathBuf>) -> String {
    let all: Vec<String> = paths.map(|p| p.display().to_string()).collect();
    match all.len() {
        0..=2 => all.join(", "),
        n => format!("{}, {} and {} more", all[0], all[1], n - 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduce_picks_last_min_max_and_skips_nan_for_extremes() {
        let v = [3.0, f64::NAN, 1.0, 2.0];
        assert_eq!(reduce(&v, SeriesValue::Last), Some(2.0));
        assert_eq!(reduce(&v, SeriesValue::Min), Some(1.0));
        assert_eq!(reduce(&v, SeriesValue::Max), Some(3.0));
        assert!(reduce(&[f64::NAN], SeriesValue::Min).unwrap().is_nan());
        assert_eq!(reduce(&[], SeriesValue::Max), None);
    }
}
