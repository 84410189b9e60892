mod common;
mod fake_runner;

mod attach;
mod reconcile;
mod rules;
mod scenarios;
mod scripted;
mod stale;
