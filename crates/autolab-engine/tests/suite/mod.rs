mod common;

mod reconcile;
mod rules;
mod stale;
