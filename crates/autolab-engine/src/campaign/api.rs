//! What a campaign is asked (`RunOptions`) and what it tells (`Report` to an `Observer`, the
//! `Summary` and `Ending` it returns).

use autolab_core::experiment::Experiment;

/// What the user asked of this invocation of `autolab run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub tag: String,
    /// Experiments in the campaign in all (the baseline included), across restarts.
    pub max_experiments: Option<u32>,
    /// Wall-clock hours for this invocation; no new experiment starts after it.
    pub max_hours: Option<f64>,
    pub parallel: Option<usize>,
    pub seed: Option<u64>,
    /// The sandbox helper program (the autolab binary); without it runs are not sandboxed.
    pub sandbox_helper: Option<std::path::PathBuf>,
    /// No overlap of LLM work with runs (a propose-then-run loop), for benchmarks.
    pub serial_agent: bool,
    /// The commit a new campaign starts from (its baseline); HEAD when None. An ablation's
    /// variants are campaigns based on commits autolab built.
    pub base: Option<String>,
    /// Parameter values the baseline runs with (written by the params writer like a
    /// candidate's); the lab's own values when None. An ablation's parameter variants.
    pub base_params: Option<serde_json::Value>,
    /// What the lab lock says holds it (default: `autolab run --tag <tag>`): commands like
    /// `autolab stop` find the live campaign by it. An ablation's variants name the ablation.
    pub holder: Option<String>,
}

/// What the loop tells whoever watches it (the CLI's progress bar or log lines).
#[derive(Debug, Clone)]
pub enum Report {
    /// The campaign is ready: how many experiments it has and may reach.
    Ready {
        tag: String,
        existing: u32,
        /// Of those, the ones with a verdict.
        judged: u32,
        target: Option<u32>,
        resumed: Vec<String>,
    },
    RunStarted {
        number: u32,
        title: String,
    },
    Verdict {
        experiment: Box<Experiment>,
        best: Option<f64>,
        primary: Option<f64>,
        /// Seconds its runs took, all together.
        run_secs: f64,
    },
    Note(String),
}

pub trait Observer {
    fn report(&mut self, report: Report);
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `max_experiments` reached, or the proposer had nothing more to try.
    Budget,
    /// `max_hours` reached.
    Time,
    /// Stopped by the user (Ctrl-C); running runs were cancelled and recorded.
    Stopped,
    /// Paused by the watchdog: too many crashes (or failed ideations) in a row.
    Paused,
    /// The LLM budget (`[agent].max_usd`) is spent.
    Spent,
}

#[derive(Debug, Clone)]
pub struct Summary {
    pub ending: Ending,
    pub tag: String,
    pub incumbent: Option<Experiment>,
    pub baseline_score: Option<f64>,
}
