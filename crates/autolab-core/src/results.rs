//! `results.tsv` in autoresearch's exact format, rewritten from the ledger.

use std::io::Write;
use std::path::Path;

use crate::experiment::Experiment;

/// The TSV text for a campaign's experiments (final ones only, in number order).
pub fn results_tsv(primary: &str, experiments: &[Experiment]) -> String {
    let mut out = format!(
        "commit\t{}\tmemory_gb\tstatus\tdescription\n",
        cell(primary)
    );
    for e in experiments {
        let Some(verdict) = e.verdict else { continue };
        let commit = e.commit.as_deref().unwrap_or(&e.parent);
        let short: String = commit.chars().take(7).collect();
        let crashed = matches!(verdict.tsv_status(), "crash");
        let metric = if crashed {
            0.0
        } else {
            e.metrics
                .get(primary)
                .copied()
                .filter(|v| v.is_finite())
                .unwrap_or(0.0)
        };
        let memory = if crashed {
            0.0
        } else if let Some(gb) = e.metrics.get("memory_gb") {
            *gb
        } else if let Some(mb) = e.metrics.get("peak_vram_mb") {
            mb / 1024.0
        } else {
            0.0
        };
        let memory = if memory.is_finite() { memory } else { 0.0 };
        out.push_str(&format!(
            "{short}\t{}\t{memory:.1}\t{}\t{}\n",
            crate::stats::fmt_value(metric),
            verdict.tsv_status(),
            cell(&e.title)
        ));
    }
    out
}

/// Free text as one TSV cell: tabs and line breaks become spaces.
fn cell(text: &str) -> String {
    text.chars()
        .map(|c| {
            if matches!(c, '\t' | '\n' | '\r') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Replaces the file at `path` with `text` by a rename: a reader sees the old table or the
/// new one, never half of one. Not synced to disk: the table is rewritten from the ledger
/// after every verdict and whenever a campaign starts, so a power loss costs nothing the
/// ledger does not give back (and a sync per verdict kept slots idle).
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tsv.tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the property tests: a metric name holding a tab (a quoted TOML key, or a JSON
    /// source's member name) gave the header a sixth column.
    #[test]
    fn primary_with_a_tab_keeps_the_header_at_five_columns() {
        let tsv = results_tsv("val\tloss\n", &[]);
        assert_eq!(tsv, "commit\tval loss \tmemory_gb\tstatus\tdescription\n");
    }

    fn kept(metrics: &[(&str, f64)]) -> Experiment {
        Experiment {
            row: crate::ids::ExperimentId(1),
            number: 1,
            state: crate::experiment::State::Kept,
            verdict: Some(crate::experiment::Verdict::Kept),
            reason: None,
            score: Some(0.9),
            metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            commit: Some("0123456789abcdef".into()),
            parent: "0123456789abcdef".into(),
            proposer: "optimizer".into(),
            title: "wider".into(),
            params: None,
            lines_added: 0,
            lines_removed: 0,
            finalized: true,
            created_at: 0.0,
            updated_at: 0.0,
            stats: None,
        }
    }

    #[test]
    fn the_memory_column_is_peak_vram_in_gigabytes_or_memory_gb() {
        let row = |m: &[(&str, f64)]| {
            results_tsv("val_bpb", &[kept(m)])
                .lines()
                .nth(1)
                .unwrap()
                .to_string()
        };
        assert_eq!(
            row(&[
                ("val_bpb", 0.99),
                ("other_mb", 999.0),
                ("peak_vram_mb", 45056.0)
            ]),
            "0123456\t0.990000\t44.0\tkeep\twider"
        );
        assert_eq!(
            row(&[
                ("val_bpb", 0.99),
                ("peak_vram_mb", 45056.0),
                ("memory_gb", 12.5)
            ]),
            "0123456\t0.990000\t12.5\tkeep\twider"
        );
        assert_eq!(
            row(&[("val_bpb", 0.99)]),
            "0123456\t0.990000\t0.0\tkeep\twider"
        );
    }
}
