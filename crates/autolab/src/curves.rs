//! Learning curves from what runs printed: the lines of a run's log that carry a `step`.

use std::path::Path;

use autolab_core::config::Config;
use indexmap::IndexMap;

/// The learning curves of the runs' logs, as SVG: the primary metric (else the first metric
/// printed with a `step`) over `step`, one line per run; None when no line has both.
pub fn learning_curves(root: &Path, runs: &[autolab_core::experiment::Run]) -> Option<String> {
    use autolab_core::metrics::parse_lines;
    let primary = Config::load_lab(root).ok().map(|c| c.metrics.primary);
    let logs: Vec<(u32, Vec<IndexMap<String, f64>>)> = runs
        .iter()
        .map(|r| {
            let log = log_end(&Path::new(&r.run_dir).join("stdout.log"));
            let points = log
                .lines()
                .map(parse_lines)
                .filter(|m| m.get("step").is_some_and(|s| s.is_finite()))
                .collect();
            (r.index, points)
        })
        .collect();
    let metric = primary
        .filter(|p| {
            logs.iter()
                .any(|(_, l)| l.iter().any(|m| m.contains_key(p)))
        })
        .or_else(|| {
            logs.iter()
                .flat_map(|(_, l)| l.iter())
                .flat_map(|m| m.keys())
                .find(|k| *k != "step")
                .cloned()
        })?;
    let curves: Vec<(u32, Vec<(f64, f64)>)> = logs
        .into_iter()
        .map(|(run, lines)| {
            let points = lines
                .iter()
                .filter_map(|m| Some((*m.get("step")?, *m.get(&metric)?)))
                .filter(|(s, v)| s.is_finite() && v.is_finite())
                .collect::<Vec<_>>();
            (run, points)
        })
        .filter(|(_, p)| !p.is_empty())
        .collect();
    (!curves.is_empty()).then(|| crate::plot::curves(&curves, &metric))
}

/// The last 4 MiB of a log (a plain file only), as text.
pub fn log_end(path: &Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = autolab_core::open_plain(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(4 << 20)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
