//! autolab's domain: configuration, ledger, git model, metrics, scoring and verdicts.
//!
//! This crate depends on no other autolab crate.

pub mod config;
pub mod confine;
pub mod experiment;
pub mod git;
pub mod ledger;
pub mod lock;
pub mod metrics;
pub mod noise_model;
pub mod results;
pub mod score;
pub mod stats;

/// The directory autolab keeps its state in, at the lab root.
pub const STATE_DIR: &str = ".autolab";
