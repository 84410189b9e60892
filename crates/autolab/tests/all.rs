//! Whole-binary tests of `autolab`, against real git, SQLite and processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
