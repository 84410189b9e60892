mod rules;
mod stale;
