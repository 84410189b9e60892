//! Engine tests with plugged-in proposers and coders, against real git and processes.

mod suite;
