//! Reading metric values out of a finished run.

mod crc;
mod json;
mod lines;
mod loggers;
mod proto;
mod pyjson;
mod stream;
mod tfevents;
mod wandb;

use std::path::Path;

use indexmap::IndexMap;

use crate::config::Source;

pub use json::read_json_metrics;
pub use lines::{is_name as is_metric_name, parse_lines};
pub use stream::{StreamReader, Streamed};
pub use tfevents::read_scalars;
pub use wandb::{WandbRun, read_wandb};

/// Metric values read from a run, and what went wrong reading them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Collected {
    pub values: IndexMap<String, f64>,
    pub problems: Vec<String>,
}

/// Where a run's outputs are.
pub struct RunOutputs<'a> {
    /// The run's combined output text (stdout then stderr).
    pub log: &'a str,
    pub run_dir: &'a Path,
    pub worktree: &'a Path,
}

/// Applies every source in order; a later source overrides an earlier one's value.
pub fn collect(sources: &[Source], out: &RunOutputs<'_>) -> Collected {
    collect_with(sources, out, None)
}

/// [`collect`], with what the text sources saw in the whole output stream (`streamed`)
/// taking the place of the (capped) log for them.
pub fn collect_with(
    sources: &[Source],
    out: &RunOutputs<'_>,
    streamed: Option<&Streamed>,
) -> Collected {
    let mut c = Collected::default();
    for source in sources {
        match source {
            Source::Lines {} => match streamed {
                Some(s) => c.values.extend(s.lines.clone()),
                None => c.values.extend(parse_lines(out.log)),
            },
            Source::Regex { name, .. } if streamed.is_some_and(|s| s.regex.contains_key(name)) => {
                if let Some(v) = streamed.and_then(|s| s.regex.get(name)) {
                    c.values.insert(name.clone(), *v);
                }
            }
            Source::Regex { name, pattern } => match regex::Regex::new(pattern) {
                Ok(re) => {
                    let last = re
                        .captures_iter(out.log)
                        .filter_map(|cap| cap.get(1).or_else(|| cap.get(0)))
                        .filter_map(|m| lines::parse_value(m.as_str()))
                        .last();
                    match last {
                        Some(v) => {
                            c.values.insert(name.clone(), v);
                        }
                        None => c
                            .problems
                            .push(format!("regex for `{name}` matched no number")),
                    }
                }
                Err(e) => c.problems.push(format!("invalid regex for `{name}`: {e}")),
            },
            Source::Json {
                file,
                pointer,
                name,
            } => {
                let rendered = file.replace("{run_dir}", &out.run_dir.to_string_lossy());
                let candidates = [out.run_dir.join(&rendered), out.worktree.join(&rendered)];
                match candidates.iter().find(|p| p.is_file()) {
                    None => c.problems.push(format!(
                        "JSON metrics file `{rendered}` not found in the run dir or worktree"
                    )),
                    Some(path) => match crate::read_plain(path, 64 << 20) {
                        Err(e) => c
                            .problems
                            .push(format!("cannot read {}: {e}", path.display())),
                        Ok(text) => match read_json_metrics(&text, pointer, name.as_deref()) {
                            Ok(values) => c.values.extend(values),
                            Err(e) => c.problems.push(format!("{}: {e}", path.display())),
                        },
                    },
                }
            }
            Source::Tensorboard {
                dir,
                tags,
                mode,
                rename,
            } => loggers::tensorboard(dir.as_deref(), tags.as_deref(), *mode, rename, out, &mut c),
            Source::Wandb {
                dir,
                keys,
                from,
                rename,
            } => loggers::wandb(dir, keys.as_deref(), *from, rename, out, &mut c),
            // Read from the tracking server by the engine, which knows the run's MLflow run id.
            Source::Mlflow { .. } => {}
        }
    }
    c
}

#[cfg(test)]
mod tests;
