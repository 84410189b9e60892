//! The LLM research agents' pure parts: SEARCH/REPLACE edit blocks, ideas and their
//! near-duplicate test, the experts, and the bandit that picks which expert to ask.

pub mod bandit;
pub mod edit_blocks;
pub mod experts;
pub mod ideas;
pub mod novelty;

#[cfg(test)]
mod tests;
