//! Property tests of autolab-core's parsers and writers: one test binary, as the style asks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
