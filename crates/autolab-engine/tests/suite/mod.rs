mod common;
mod fake_runner;

mod attach;
mod paused_llm;
mod reconcile;
mod rules;
mod scenarios;
mod scripted;
mod stale;
