//! The literature clients: each service's wire format, the fake server, retries and
//! fallback, and BibTeX.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::fake::LiteratureServer;
use super::*;

pub(super) fn paper(title: &str, authors: &[&str], year: i32) -> Paper {
    Paper {
        title: title.into(),
        authors: authors.iter().map(|a| a.to_string()).collect(),
        year: Some(year),
        venue: None,
        abstract_text: None,
        url: None,
        doi: None,
        arxiv_id: None,
        citations: None,
        source: Source::SemanticScholar,
    }
}

pub(super) fn corpus() -> Vec<Paper> {
    vec![
        Paper {
            venue: Some("Advances in Neural Information Processing Systems".into()),
            abstract_text: Some(
                "The dominant sequence transduction models are based on complex recurrent networks."
                    .into(),
            ),
            doi: Some("10.48550/arXiv.1706.03762".into()),
            arxiv_id: Some("1706.03762".into()),
            citations: Some(100_000),
            ..paper(
                "Attention Is All You Need",
                &["Ashish Vaswani", "Noam Shazeer"],
                2017,
            )
        },
        Paper {
            abstract_text: Some("Deep residual learning for image recognition.".into()),
            doi: Some("10.1109/CVPR.2016.90".into()),
            venue: Some("CVPR".into()),
            ..paper("Deep Residual Learning", &["Kaiming He"], 2016)
        },
        Paper {
            abstract_text: Some("We automate scientific discovery with language models & agents.".into()),
            arxiv_id: Some("2408.06292".into()),
            ..paper("The AI Scientist", &["Chris Lu", "Cong Lu"], 2024)
        },
    ]
}

pub(super) fn client(server: &LiteratureServer, order: Vec<Source>) -> Literature {
    let mut lit = Literature::new(order);
    lit.endpoints = server.endpoints();
    lit.backoff = Duration::from_millis(1);
    lit.s2_api_key = None;
    lit
}

#[derive(Default)]
struct MapCache {
    map: HashMap<(Source, String), Vec<Paper>>,
    puts: usize,
}

impl Cache for MapCache {
    fn get(&mut self, source: Source, query: &str) -> Option<Vec<Paper>> {
        self.map.get(&(source, query.to_string())).cloned()
    }
    fn put(&mut self, source: Source, query: &str, papers: &[Paper]) {
        self.puts += 1;
        self.map
            .insert((source, query.to_string()), papers.to_vec());
    }
}

mod bibtex;
mod search;
mod wire;
