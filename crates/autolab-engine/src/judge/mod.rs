//! Judging, as pure functions of what was recorded: how a run's end reads ([`run`]), the
//! `strict` policy ([`strict`]) and the `noise-aware` rule ([`noise`]). The campaign applies
//! what they call to the ledger, git and `results.tsv`.

pub mod halving;
pub mod noise;
pub mod run;
pub mod strict;
