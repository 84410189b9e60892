//! Properties of the parsers that read what experiments and people write (issue 5).
//!
//! Each module checks one parser: it never panics on arbitrary input, and on generated valid
//! input it reads back exactly what was generated.

mod config_props;
mod json_props;
mod loggers;
mod metric_props;
mod results_props;

use proptest::test_runner::Config as ProptestConfig;

/// 256 cases per property (or `PROPTEST_CASES`); the whole suite stays within seconds in debug.
///
/// Failures are not persisted to files: a case a property finds becomes a named regression
/// test next to the parser it broke.
pub(crate) fn cases() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
