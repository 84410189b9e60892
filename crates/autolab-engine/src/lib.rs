//! autolab's research loop: the campaign scheduler and pipeline, reconciliation after a
//! restart, verdicts, proposers and coders.

pub mod ablation;
pub mod agent;
pub mod campaign;
pub mod coder;
pub mod early_stop;
mod error;
pub mod explore;
pub mod judge;
pub mod lab;
pub mod lab_checks;
pub mod literature;
pub mod llm;
mod mlflow;
pub mod notify;
pub mod playbook;
pub mod project;
pub mod proposer;
pub mod redteam;
pub mod supervisor;
pub mod writeup;

pub use campaign::{
    Ending, Observer, Parts, Report, RunOptions, Summary, cluster_config, run_campaign,
    run_campaign_with,
};
pub use error::EngineError;
pub use lab::Lab;
