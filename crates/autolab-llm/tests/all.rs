//! autolab-llm's integration tests, one binary (see STYLE.md), all against the fake server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
