mod common;

mod agent;
mod bad_config;
mod bad_experiments;
mod campaign;
mod cluster;
mod compat;
mod concurrency;
mod faults;
mod hostile;
mod hostile_git;
mod learning;
mod mlflow;
mod outage;
mod policies;
mod resume;
