mod common;

mod agent;
mod bad_config;
mod bad_experiments;
mod campaign;
mod cluster;
mod compat;
mod concurrency;
mod containment;
mod faults;
mod first_contact;
mod hostile;
mod learning;
mod mlflow;
mod outage;
mod policies;
mod resume;
