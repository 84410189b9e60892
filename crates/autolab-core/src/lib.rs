//! autolab's domain: configuration, ledger, git model, metrics, scoring and verdicts.
//!
//! This crate depends on no other autolab crate.

pub mod config;
pub mod metrics;
pub mod score;
