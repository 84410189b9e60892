//! The write-up: a paper whose every number is a ledger fact (`paper`), and AI-Scientist's
//! review of it (`review`). The facts ([`facts`]) come from `autolab report`; the checker
//! ([`numbers`]) refuses any other number; LaTeX is filled and built by [`latex`].

pub mod facts;
pub mod latex;
pub mod numbers;
pub mod paper;
pub mod prose;
pub mod review;
pub mod sections;

#[cfg(test)]
mod tests;

/// A short, stable hash of a prompt (FNV-1a, 64 bits, hex): the same prompt gives the same
/// hash in every version of autolab.
pub fn prompt_hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}
