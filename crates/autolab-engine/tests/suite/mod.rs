mod common;
mod fake_runner;

mod reconcile;
mod rules;
mod scenarios;
mod stale;
