//! The literature client of `[writeup]`, and the ledger as its cache.

use autolab_core::config::Writeup;
use autolab_core::ledger::Ledger;
use autolab_engine::literature::{Cache, Literature, Paper, Source};

/// The services of `[writeup]`.
pub fn client(cfg: &Writeup) -> Literature {
    autolab_engine::literature::from_config(cfg, None)
}

/// Answers kept in the ledger's `literature` table (a query is asked once per lab).
pub struct LedgerCache<'a>(pub &'a Ledger);

impl Cache for LedgerCache<'_> {
    fn get(&mut self, source: Source, query: &str) -> Option<Vec<Paper>> {
        let text = self
            .0
            .writeups()
            .literature(source.as_str(), query)
            .ok()??;
        serde_json::from_str(&text).ok()
    }
    fn put(&mut self, source: Source, query: &str, papers: &[Paper]) {
        if let Ok(text) = serde_json::to_string(papers)
            && let Err(e) = self
                .0
                .writeups()
                .keep_literature(source.as_str(), query, &text)
        {
            tracing::warn!("the literature cache could not be written: {e}");
        }
    }
}
