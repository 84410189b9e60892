mod common;

mod rules;
mod stale;
