//! Learning curves: what runs streamed beside their `step`, from the ledger's `curves` rows
//! (the rows early stopping compares), else from the lines of a run's log (a run recorded
//! before the ledger kept curves).

use std::path::Path;

use autolab_core::config::Config;
use autolab_core::ledger::Ledger;

/// One run's curves: (metric, points) in order of appearance.
type RunCurves = Vec<(String, Vec<(f64, f64)>)>;

/// The learning curves of the runs, as SVG: the primary metric (else the early-stopping
/// metric, else the first metric streamed) over `step`, one line per run; None when no run
/// streamed one.
pub fn learning_curves(
    root: &Path,
    ledger: &Ledger,
    runs: &[autolab_core::experiment::Run],
) -> Option<String> {
    let config = Config::load_lab(root).ok();
    let step = config.as_ref().map_or("step", |c| c.step_key());
    let logs: Vec<(u32, RunCurves)> = runs
        .iter()
        .map(|r| {
            let stored: RunCurves = ledger
                .curves()
                .of_run(r.row)
                .unwrap_or_default()
                .into_iter()
                .map(|c| (c.metric, c.points))
                .collect();
            let curves = if stored.is_empty() {
                let log = log_end(&Path::new(&r.run_dir).join("stdout.log"));
                autolab_engine::early_stop::curves(&log, step, &[])
            } else {
                stored
            };
            (r.index, curves)
        })
        .collect();
    let has = |m: &String| logs.iter().any(|(_, l)| l.iter().any(|(k, _)| k == m));
    let metric = config
        .as_ref()
        .map(|c| c.metrics.primary.clone())
        .filter(has)
        .or_else(|| {
            config
                .as_ref()
                .and_then(|c| c.early_stop.as_ref())
                .map(|e| e.metric.clone())
                .filter(has)
        })
        .or_else(|| {
            logs.iter()
                .flat_map(|(_, l)| l.iter())
                .map(|(k, _)| k.clone())
                .next()
        })?;
    let curves: Vec<(u32, Vec<(f64, f64)>)> = logs
        .into_iter()
        .filter_map(|(run, l)| {
            let (_, points) = l.into_iter().find(|(k, _)| *k == metric)?;
            Some((run, points))
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
