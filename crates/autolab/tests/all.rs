//! Whole-binary tests of `autolab`, against real git, SQLite and processes.

mod suite;
