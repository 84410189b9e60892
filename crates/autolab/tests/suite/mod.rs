mod common;

mod bad_config;
mod bad_experiments;
mod campaign;
mod concurrency;
mod resume;
