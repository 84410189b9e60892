//! Engine tests with plugged-in proposers and coders, against real git and processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
