//! Literature search: papers from Semantic Scholar, OpenAlex and arXiv, one source after
//! another until one answers, with retries, a cache, and BibTeX built from the records.
//!
//! - [`Literature::search_one`] asks one source, retrying HTTP 429, 5xx and transport
//!   failures (backoff doubling from [`Literature::backoff`], `Retry-After` honoured, every
//!   wait capped at [`Literature::max_wait`]); other 4xx replies and unreadable answers fail
//!   at once.
//! - [`Literature::search`] tries the sources of [`Literature::order`] in turn and never
//!   fails: what went wrong is listed in [`Found::failures`].
//! - [`bibtex`] writes a `.bib` for papers found, from their fields only.
//! - [`fake::LiteratureServer`] serves all three APIs from a small corpus, for tests.

mod arxiv;
mod bibtex;
pub mod fake;
mod openalex;
mod semantic_scholar;
#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use bibtex::bibtex;

/// A service papers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    SemanticScholar,
    /// `openalex` (one word, as [`Source::as_str`] has it), not the kebab-case `open-alex`.
    #[serde(rename = "openalex", alias = "open-alex")]
    OpenAlex,
    Arxiv,
}

impl Source {
    /// Every source, in the default order of a search.
    pub const ALL: [Source; 3] = [Source::SemanticScholar, Source::OpenAlex, Source::Arxiv];

    /// The source's name in configuration and JSON: `semantic-scholar`, `openalex`, `arxiv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::SemanticScholar => "semantic-scholar",
            Source::OpenAlex => "openalex",
            Source::Arxiv => "arxiv",
        }
    }

    /// The source called `s` ([`as_str`](Self::as_str)), case and `_`/`-` insensitive;
    /// `s2` and `semanticscholar` name Semantic Scholar too.
    pub fn parse(s: &str) -> Option<Source> {
        let s: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .flat_map(char::to_lowercase)
            .collect();
        match s.as_str() {
            "semanticscholar" | "s2" => Some(Source::SemanticScholar),
            "openalex" => Some(Source::OpenAlex),
            "arxiv" => Some(Source::Arxiv),
            _ => None,
        }
    }

    /// The service's name for people: `Semantic Scholar`, `OpenAlex`, `arXiv`.
    pub fn name(self) -> &'static str {
        match self {
            Source::SemanticScholar => "Semantic Scholar",
            Source::OpenAlex => "OpenAlex",
            Source::Arxiv => "arXiv",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One paper as a source describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paper {
    pub title: String,
    /// "First Last", as the API gives them.
    pub authors: Vec<String>,
    pub year: Option<i32>,
    pub venue: Option<String>,
    pub abstract_text: Option<String>,
    pub url: Option<String>,
    /// Bare, e.g. `10.1000/xyz`.
    pub doi: Option<String>,
    /// E.g. `2408.06292`: no version suffix, no URL.
    pub arxiv_id: Option<String>,
    pub citations: Option<u64>,
    pub source: Source,
}

impl Paper {
    /// The paper as an LLM is shown it: title (first authors, year) and the abstract's start.
    pub fn line(&self) -> String {
        let abs: String = self
            .abstract_text
            .as_deref()
            .unwrap_or("")
            .chars()
            .take(300)
            .collect();
        let mut who: Vec<String> = self.authors.iter().take(3).cloned().collect();
        who.push(self.year.map_or("n.d.".into(), |y| y.to_string()));
        format!("{} ({}) {abs}", self.title, who.join(", "))
    }
}

/// Base URLs of the services; `Default` gives the real ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub semantic_scholar: String,
    pub openalex: String,
    pub arxiv: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            semantic_scholar: "https://api.semanticscholar.org".into(),
            openalex: "https://api.openalex.org".into(),
            arxiv: "https://export.arxiv.org".into(),
        }
    }
}

impl Endpoints {
    /// The base URL of `source`, without a trailing slash.
    pub fn base(&self, source: Source) -> &str {
        let base = match source {
            Source::SemanticScholar => &self.semantic_scholar,
            Source::OpenAlex => &self.openalex,
            Source::Arxiv => &self.arxiv,
        };
        base.trim_end_matches('/')
    }
}

/// Where earlier answers are kept (the caller backs it with its database).
pub trait Cache {
    fn get(&mut self, source: Source, query: &str) -> Option<Vec<Paper>>;
    fn put(&mut self, source: Source, query: &str, papers: &[Paper]);
}

/// A cache that keeps nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCache;

impl Cache for NoCache {
    fn get(&mut self, _source: Source, _query: &str) -> Option<Vec<Paper>> {
        None
    }
    fn put(&mut self, _source: Source, _query: &str, _papers: &[Paper]) {}
}

/// Why a source gave no papers.
///
/// (`Display` and `Error` are written out: thiserror would take the field called `source`
/// for the error's cause.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchError {
    /// HTTP 429 after every retry.
    Throttled { source: Source },
    /// HTTP 5xx or a transport failure after every retry.
    Unavailable { source: Source, detail: String },
    /// An answer that cannot be read (not JSON/Atom, wrong shape), or another 4xx: not
    /// retried.
    Bad { source: Source, detail: String },
}

impl SearchError {
    /// The source that failed.
    pub fn source(&self) -> Source {
        match self {
            SearchError::Throttled { source }
            | SearchError::Unavailable { source, .. }
            | SearchError::Bad { source, .. } => *source,
        }
    }
}

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SearchError::Throttled { source } => write!(
                f,
                "{} kept answering 429 Too Many Requests (every attempt)",
                source.name()
            ),
            SearchError::Unavailable { source, detail } => {
                write!(f, "{} is unavailable: {detail}", source.name())
            }
            SearchError::Bad { source, detail } => {
                write!(f, "{} gave an unusable answer: {detail}", source.name())
            }
        }
    }
}

impl std::error::Error for SearchError {}

/// What a search found: the papers and the source that gave them (`None` if every source
/// failed), and why each source tried before it failed.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub papers: Vec<Paper>,
    pub source: Option<Source>,
    pub failures: Vec<SearchError>,
    /// The papers come from the cache: no request was made.
    pub cached: bool,
}

/// A client of the literature services.
#[derive(Debug, Clone)]
pub struct Literature {
    pub endpoints: Endpoints,
    /// The sources [`search`](Self::search) tries, in order.
    pub order: Vec<Source>,
    /// Attempts after the first one (default 2: 3 attempts).
    pub retries: u32,
    /// The first wait between attempts; it doubles (default 1 s).
    pub backoff: Duration,
    /// The longest wait between attempts, `Retry-After` included (default 20 s).
    pub max_wait: Duration,
    /// Per request (default 20 s).
    pub timeout: Duration,
    /// Sent as `x-api-key` to Semantic Scholar when set.
    pub s2_api_key: Option<String>,
    /// OpenAlex's polite-pool `mailto` parameter.
    pub mailto: Option<String>,
}

impl Literature {
    /// A client of the real services with the defaults above; the Semantic Scholar key is
    /// read from `SEMANTIC_SCHOLAR_API_KEY` or `S2_API_KEY`.
    pub fn new(order: Vec<Source>) -> Literature {
        let key = ["SEMANTIC_SCHOLAR_API_KEY", "S2_API_KEY"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .map(|k| k.trim().to_string())
            .find(|k| !k.is_empty());
        Literature {
            endpoints: Endpoints::default(),
            order,
            retries: 2,
            backoff: Duration::from_secs(1),
            max_wait: Duration::from_secs(20),
            timeout: Duration::from_secs(20),
            s2_api_key: key,
            mailto: None,
        }
    }

    /// Papers about `query` from `source` (at most `limit`), retrying 429, 5xx and
    /// transport failures; other 4xx and unreadable answers fail at once.
    pub fn search_one(
        &self,
        source: Source,
        query: &str,
        limit: usize,
    ) -> Result<Vec<Paper>, SearchError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let failure = match self.attempt(source, query, limit) {
                Ok(mut papers) => {
                    papers.truncate(limit);
                    return Ok(papers);
                }
                Err(failure) => failure,
            };
            let retryable = !matches!(failure.kind, Kind::Bad);
            if !retryable || attempts > self.retries {
                return Err(failure.into_error(source, attempts));
            }
            let wait = self.wait(attempts, failure.retry_after);
            tracing::warn!(
                "{}: attempt {attempts} failed ({}); retrying in {:.1} s",
                source.name(),
                failure.detail,
                wait.as_secs_f64()
            );
            std::thread::sleep(wait);
        }
    }

    /// Papers about `query` from the first source of [`order`](Self::order) that answers
    /// (an empty answer is an answer). A cached answer of any of them (the first in order)
    /// is used without a request. Never fails: failures are listed in the result.
    pub fn search(&self, query: &str, limit: usize, cache: &mut dyn Cache) -> Found {
        for &source in &self.order {
            if let Some(mut papers) = cache.get(source, query) {
                papers.truncate(limit);
                return Found {
                    papers,
                    source: Some(source),
                    failures: Vec::new(),
                    cached: true,
                };
            }
        }
        let mut found = Found::default();
        for &source in &self.order {
            match self.search_one(source, query, limit) {
                Ok(papers) => {
                    cache.put(source, query, &papers);
                    found.papers = papers;
                    found.source = Some(source);
                    return found;
                }
                Err(e) => {
                    tracing::warn!("literature search: {e}");
                    found.failures.push(e);
                }
            }
        }
        found
    }

    /// The wait after the `failures`-th failed attempt.
    fn wait(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        let wait = retry_after.unwrap_or_else(|| {
            self.backoff
                .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        });
        wait.min(self.max_wait)
    }

    /// One request, its answer read and parsed.
    fn attempt(&self, source: Source, query: &str, limit: usize) -> Result<Vec<Paper>, Failure> {
        let base = self.endpoints.base(source);
        let agent = autolab_llm::http_agent(base, self.timeout);
        let n = limit.clamp(1, 100).to_string();
        let request = match source {
            Source::SemanticScholar => {
                let request = agent
                    .get(format!("{base}/graph/v1/paper/search"))
                    .query("query", query)
                    .query("limit", &n)
                    .query("fields", semantic_scholar::FIELDS);
                match &self.s2_api_key {
                    Some(key) => request.header("x-api-key", key.as_str()),
                    None => request,
                }
            }
            Source::OpenAlex => {
                let request = agent
                    .get(format!("{base}/works"))
                    .query("search", query)
                    .query("per-page", &n);
                match &self.mailto {
                    Some(mailto) => request.query("mailto", mailto),
                    None => request,
                }
            }
            Source::Arxiv => agent
                .get(format!("{base}/api/query"))
                .query("search_query", format!("all:{query}"))
                .query("start", "0")
                .query("max_results", &n),
        };
        let mut response = request.call().map_err(|e| Failure {
            kind: Kind::Unavailable,
            detail: format!("{e}"),
            retry_after: None,
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(86_400.0)));
        let body = response.body_mut().read_to_string().map_err(|e| Failure {
            kind: Kind::Unavailable,
            detail: format!("reading the answer: {e}"),
            retry_after: None,
        })?;
        if !(200..300).contains(&status) {
            let kind = match status {
                429 => Kind::Throttled,
                500.. => Kind::Unavailable,
                _ => Kind::Bad,
            };
            return Err(Failure {
                kind,
                detail: format!("HTTP {status}: {}", excerpt(&body)),
                retry_after,
            });
        }
        let parsed = match source {
            Source::SemanticScholar => semantic_scholar::parse(&body),
            Source::OpenAlex => openalex::parse(&body),
            Source::Arxiv => arxiv::parse(&body),
        };
        parsed.map_err(|detail| Failure {
            kind: Kind::Bad,
            detail,
            retry_after: None,
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Throttled,
    Unavailable,
    Bad,
}

/// A failed attempt.
#[derive(Debug)]
struct Failure {
    kind: Kind,
    detail: String,
    retry_after: Option<Duration>,
}

impl Failure {
    fn into_error(self, source: Source, attempts: u32) -> SearchError {
        let tries = if attempts == 1 {
            "1 attempt".to_string()
        } else {
            format!("{attempts} attempts")
        };
        match self.kind {
            Kind::Throttled => SearchError::Throttled { source },
            Kind::Unavailable => SearchError::Unavailable {
                source,
                detail: format!("{} ({tries})", self.detail),
            },
            Kind::Bad => SearchError::Bad {
                source,
                detail: self.detail,
            },
        }
    }
}

/// The start of `text` on one line, for an error message.
pub(crate) fn excerpt(text: &str) -> String {
    let line = collapse_whitespace(text);
    match line.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line,
    }
}

/// `s` with every run of whitespace made one space, trimmed.
pub(crate) fn collapse_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A bare DOI: no `https://doi.org/` or `doi:` in front; `None` when empty.
pub(crate) fn bare_doi(doi: &str) -> Option<String> {
    let mut d = doi.trim();
    for prefix in [
        "https://doi.org/",
        "http://doi.org/",
        "https://dx.doi.org/",
        "http://dx.doi.org/",
        "doi:",
    ] {
        if d.len() >= prefix.len() && d[..prefix.len()].eq_ignore_ascii_case(prefix) {
            d = &d[prefix.len()..];
            break;
        }
    }
    let d = d.trim();
    (!d.is_empty()).then(|| d.to_string())
}

/// An arXiv id from an id, an abs/pdf URL or an arXiv DOI, without its version suffix.
pub(crate) fn bare_arxiv_id(id: &str) -> Option<String> {
    let mut s = id.trim();
    for marker in ["/abs/", "/pdf/", "arxiv.", "arXiv.", "arxiv:", "arXiv:"] {
        if let Some(i) = s.rfind(marker) {
            s = &s[i + marker.len()..];
            break;
        }
    }
    let s = s.trim_end_matches(".pdf").trim_matches('/');
    let s = match s.rfind('v') {
        Some(i) if i > 0 && i + 1 < s.len() && s[i + 1..].bytes().all(|b| b.is_ascii_digit()) => {
            &s[..i]
        }
        _ => s,
    };
    (!s.is_empty()).then(|| s.to_string())
}

/// The arXiv id of an arXiv DOI (`10.48550/arXiv.2408.06292`).
pub(crate) fn arxiv_id_of_doi(doi: &str) -> Option<String> {
    let lower = doi.to_ascii_lowercase();
    lower
        .strip_prefix("10.48550/arxiv.")
        .and_then(|_| bare_arxiv_id(&doi["10.48550/arxiv.".len()..]))
}

/// The client `[writeup]` describes: its services in order (with `first` moved to the
/// front, as `[agent] novelty` asks), at its URLs, with its retries.
pub fn from_config(cfg: &autolab_core::config::Writeup, first: Option<&str>) -> Literature {
    let mut order: Vec<Source> = cfg
        .literature
        .iter()
        .filter_map(|s| Source::parse(s))
        .collect();
    if let Some(f) = first.and_then(Source::parse) {
        order.retain(|s| *s != f);
        order.insert(0, f);
    }
    let mut lit = Literature::new(order);
    lit.retries = cfg.literature_retries;
    let d = Endpoints::default();
    lit.endpoints = Endpoints {
        semantic_scholar: cfg
            .semantic_scholar_url
            .clone()
            .unwrap_or(d.semantic_scholar),
        openalex: cfg.openalex_url.clone().unwrap_or(d.openalex),
        arxiv: cfg.arxiv_url.clone().unwrap_or(d.arxiv),
    };
    lit
}

type Answers = std::collections::HashMap<(Source, String), Vec<Paper>>;

/// A cache in memory, shared between threads (the novelty checks of one campaign).
#[derive(Debug, Clone, Default)]
pub struct SharedCache(std::sync::Arc<std::sync::Mutex<Answers>>);

impl Cache for SharedCache {
    fn get(&mut self, source: Source, query: &str) -> Option<Vec<Paper>> {
        self.0
            .lock()
            .ok()?
            .get(&(source, query.to_string()))
            .cloned()
    }
    fn put(&mut self, source: Source, query: &str, papers: &[Paper]) {
        if let Ok(mut m) = self.0.lock() {
            m.insert((source, query.to_string()), papers.to_vec());
        }
    }
}
