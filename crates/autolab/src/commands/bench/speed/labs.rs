//! The two labs of `bench speed`: the bundled spiral lab and a synthetic learning-curve lab
//! with a known optimum; how a copy of either is made, and how their output is read.

use std::path::Path;

use crate::output::CliError;

const SYNTHETIC_TRAIN: &str = include_str!("synthetic.py");

/// The synthetic lab's best val_loss without noise: 0.05 + 0.95 * exp(-0.25 * 30).
pub(super) const SYNTHETIC_OPTIMUM: f64 = 0.050_525;

/// Its autolab.toml mirrors the spiral lab's: the same early stopping (the worst quarter of
/// the completed runs' train_loss), policy, repeats and slots.
const SYNTHETIC_TOML: &str = r#"# A synthetic learning curve with a known optimum (autolab bench speed).
[task]
goal = "Lower the synthetic validation loss."
command = "python3 train.py"
editable = ["train.py", "params.json"]
timeout = "1m"

[metrics]
sources = [{ kind = "lines" }]
score = { val_loss = { goal = "minimize" } }

[params]
apply = { json = "params.json" }
sampler = "auto"
lr = { log_float = [1e-4, 1.0], default = 0.001 }
width = { int = [8, 512], default = 16 }
activation = { choice = ["tanh", "relu"], default = "tanh" }

[early_stop]
metric = "train_loss"
goal = "minimize"
rule = "percentile"
percentile = 75
min_step = 5
patience = 2

[decide]
policy = "noise-aware"
repeats = 3

[runner]
kind = "local"
parallel = 2
"#;

const SYNTHETIC_PARAMS: &str =
    "{\"lr\": 0.001, \"width\": 16, \"activation\": \"tanh\", \"steps\": 30}\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LabKind {
    Synthetic,
    Spiral,
}

pub(super) struct LabSpec {
    pub kind: LabKind,
    /// The lab's files, autolab.toml and params.json included.
    pub files: Vec<(&'static str, &'static str)>,
    /// A val_loss at or below which the target counts as reached.
    pub target: f64,
    /// The known best val_loss (noise-free), when there is one.
    pub optimum: Option<f64>,
    /// Trials (experiments) every method gets.
    pub budget: u32,
}

impl LabKind {
    pub fn name(self) -> &'static str {
        match self {
            LabKind::Synthetic => "synthetic",
            LabKind::Spiral => "spiral",
        }
    }

    pub fn parse(s: &str) -> Option<LabKind> {
        match s {
            "synthetic" => Some(LabKind::Synthetic),
            "spiral" => Some(LabKind::Spiral),
            _ => None,
        }
    }
}

impl LabSpec {
    pub fn new(kind: LabKind, budget: u32, synthetic_eps: f64, spiral_target: f64) -> LabSpec {
        match kind {
            LabKind::Synthetic => LabSpec {
                kind,
                files: vec![
                    ("train.py", SYNTHETIC_TRAIN),
                    ("autolab.toml", SYNTHETIC_TOML),
                    ("params.json", SYNTHETIC_PARAMS),
                ],
                target: SYNTHETIC_OPTIMUM + synthetic_eps,
                optimum: Some(SYNTHETIC_OPTIMUM),
                budget,
            },
            LabKind::Spiral => LabSpec {
                kind,
                files: crate::commands::demo::SPIRAL.to_vec(),
                target: spiral_target,
                optimum: None,
                budget,
            },
        }
    }

    fn file(&self, name: &str) -> &'static str {
        self.files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .unwrap_or_default()
    }

    pub fn toml(&self) -> &'static str {
        self.file("autolab.toml")
    }

    pub fn params(&self) -> &'static str {
        self.file("params.json")
    }

    /// Writes the lab into `dir` as `variant` configures it and commits it.
    pub fn write_repo(&self, dir: &Path, variant: Variant) -> Result<(), CliError> {
        self.write_files(dir)?;
        let toml = match variant {
            Variant::EarlyStop => None,
            Variant::NoEarlyStop => Some(without_early_stop(self.toml())),
            Variant::Halving => Some(with_halving(self.kind, self.toml())?),
        };
        if let Some(toml) = toml {
            std::fs::write(dir.join("autolab.toml"), toml)?;
        }
        super::super::commit_lab(dir)
    }

    /// Writes the lab's files into `dir` (a trial's private copy).
    pub fn write_files(&self, dir: &Path) -> Result<(), CliError> {
        std::fs::create_dir_all(dir)?;
        for (name, text) in &self.files {
            std::fs::write(dir.join(name), text)?;
        }
        Ok(())
    }
}

/// How autolab's campaign is configured in `bench speed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Variant {
    /// The lab's autolab.toml as it is (its `[early_stop]` on).
    EarlyStop,
    /// Without the `[early_stop]` table.
    NoEarlyStop,
    /// With its `[early_stop]`, and successive halving on the run's budget: the spiral lab's
    /// `epochs` (rungs 22, 67, 200) or the synthetic lab's `steps` (3, 10, 30), eta 3.
    Halving,
}

/// The spiral lab's searched epochs, and the same range as the halving fidelity.
const SPIRAL_EPOCHS: &str = "epochs = { int = [20, 200], default = 200 }";
const SPIRAL_FIDELITY: &str = "epochs = { int = [20, 200], fidelity = true }";
/// The synthetic lab's last searched parameter, after which its fidelity goes.
const SYNTHETIC_LAST: &str = "activation = { choice = [\"tanh\", \"relu\"], default = \"tanh\" }";
const SYNTHETIC_FIDELITY: &str = "steps = { int = [3, 30], fidelity = true }";

/// `toml` with the lab's budget parameter marked as the fidelity.
pub(super) fn with_halving(kind: LabKind, toml: &str) -> Result<String, CliError> {
    let (anchor, line) = match kind {
        LabKind::Spiral => (SPIRAL_EPOCHS, SPIRAL_FIDELITY.to_string()),
        LabKind::Synthetic => (
            SYNTHETIC_LAST,
            format!("{SYNTHETIC_LAST}\n{SYNTHETIC_FIDELITY}"),
        ),
    };
    if !toml.contains(anchor) {
        return Err(CliError::failure(
            format!(
                "the {} lab's autolab.toml has no `{anchor}` line to mark its budget",
                kind.name()
            ),
            None,
        ));
    }
    Ok(toml.replacen(anchor, &line, 1))
}

/// `toml` without its `[early_stop]` table (every line from its header to the next header).
pub(super) fn without_early_stop(toml: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in toml.lines() {
        let header = line.trim_start().starts_with('[');
        if header {
            skipping = line.trim_start().starts_with("[early_stop]");
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `step: 12 train_loss: 0.5 …` → (12, 0.5) for `metric`.
pub(super) fn parse_step(line: &str, metric: &str) -> Option<(u64, f64)> {
    let mut words = line.split_whitespace();
    let mut step = None;
    let mut value = None;
    while let Some(w) = words.next() {
        match w.strip_suffix(':') {
            Some("step") => step = words.next().and_then(|v| v.parse::<u64>().ok()),
            Some(m) if m == metric => value = words.next().and_then(|v| v.parse::<f64>().ok()),
            _ => {}
        }
    }
    Some((step?, value.filter(|v| v.is_finite())?))
}

/// `val_loss: 0.31` → 0.31.
pub(super) fn parse_final(line: &str) -> Option<f64> {
    line.trim()
        .strip_prefix("val_loss:")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lines_and_strips_early_stop() {
        assert_eq!(
            parse_step("step: 40 train_loss: 0.652321  lr: 0.0003", "train_loss"),
            Some((40, 0.652321))
        );
        assert_eq!(parse_step("step: 4 train_loss: nan", "train_loss"), None);
        assert_eq!(parse_final("val_loss:          0.25"), Some(0.25));
        let toml = without_early_stop(SYNTHETIC_TOML);
        assert!(!toml.contains("early_stop") && !toml.contains("patience"));
        assert!(toml.contains("[decide]") && toml.contains("repeats = 3"));
        for kind in [LabKind::Synthetic, LabKind::Spiral] {
            let lab = LabSpec::new(kind, 30, 0.01, 0.2);
            let toml = with_halving(kind, lab.toml()).unwrap();
            let config =
                autolab_core::config::Config::parse(Path::new("autolab.toml"), &toml).unwrap();
            let halving = config
                .params
                .as_ref()
                .and_then(|p| p.halving.clone())
                .unwrap();
            assert_eq!(
                halving.full(),
                if kind == LabKind::Spiral { 200.0 } else { 30.0 }
            );
            assert_eq!(halving.bracket(), 9, "{kind:?}: {:?}", halving.rungs);
            assert!(toml.contains("[early_stop]"));
        }
    }
}
