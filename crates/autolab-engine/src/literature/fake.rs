//! A fake of all three literature services on one loopback port, for tests of this crate
//! and of others.
//!
//! [`LiteratureServer::start`] serves a small corpus: each API answers, in its real wire
//! format, with the papers whose title or abstract contains a word of the query (compared
//! case-insensitively; words shorter than 4 letters are ignored), at most as many as the
//! request asks for, in corpus order. arXiv only lists papers that have an arXiv id.
//! Failures can be scripted per source ([`fail`](LiteratureServer::fail),
//! [`throttle`](LiteratureServer::throttle), [`down`](LiteratureServer::down),
//! [`garbage`](LiteratureServer::garbage)); they are served before the normal answers.
//!
//! ```
//! use autolab_engine::literature::fake::LiteratureServer;
//! use autolab_engine::literature::{Literature, NoCache, Paper, Source};
//!
//! let paper = Paper {
//!     title: "Attention Is All You Need".into(),
//!     authors: vec!["Ashish Vaswani".into()],
//!     year: Some(2017),
//!     venue: None,
//!     abstract_text: None,
//!     url: None,
//!     doi: None,
//!     arxiv_id: Some("1706.03762".into()),
//!     citations: None,
//!     source: Source::Arxiv,
//! };
//! let server = LiteratureServer::start(vec![paper]);
//! server.down(Source::SemanticScholar);
//! let mut lit = Literature::new(Source::ALL.to_vec());
//! lit.endpoints = server.endpoints();
//! lit.backoff = std::time::Duration::from_millis(1);
//! let found = lit.search("attention", 5, &mut NoCache);
//! assert_eq!(found.source, Some(Source::OpenAlex));
//! assert_eq!(found.papers[0].title, "Attention Is All You Need");
//! assert_eq!(server.requests(Source::SemanticScholar).len(), 3);
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use autolab_llm::fake::{FakeReply, FakeServer, Recorded};
use serde_json::{Value, json};

use super::{Endpoints, Paper, Source, arxiv};

/// A request one of the fake services received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LitRequest {
    /// The request target as sent, query string included.
    pub path: String,
    /// The query string's parameters, percent-decoded, in order.
    pub params: Vec<(String, String)>,
    /// The search text, decoded: S2's `query`, OpenAlex's `search`, arXiv's `search_query`
    /// without its `all:` prefix.
    pub query: String,
    pub headers: Vec<(String, String)>,
}

impl LitRequest {
    /// The first parameter called `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first header called `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A scripted failure, served `times` times (`None`: forever).
struct Scripted {
    reply: FakeReply,
    times: Option<u32>,
}

#[derive(Default)]
struct State {
    corpus: Vec<Paper>,
    scripts: HashMap<Source, VecDeque<Scripted>>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The fake server. See the [module docs](self).
pub struct LiteratureServer {
    server: FakeServer,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for LiteratureServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiteratureServer")
            .field("url", &self.server.url())
            .finish_non_exhaustive()
    }
}

impl LiteratureServer {
    /// Starts serving `corpus` on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub fn start(corpus: Vec<Paper>) -> LiteratureServer {
        let state = Arc::new(Mutex::new(State {
            corpus,
            scripts: HashMap::new(),
        }));
        let shared = Arc::clone(&state);
        let server = FakeServer::from_fn(move |request| answer(&shared, request));
        LiteratureServer { server, state }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Endpoints with every service at this server.
    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            semantic_scholar: self.url(),
            openalex: self.url(),
            arxiv: self.url(),
        }
    }

    /// The next `times` requests to `source` get HTTP `status` (after failures already
    /// scripted).
    pub fn fail(&self, source: Source, status: u16, times: u32) {
        self.script(source, status_reply(status, None), Some(times));
    }

    /// The next `times` requests to `source` get 429 with `Retry-After: retry_after_secs`.
    pub fn throttle(&self, source: Source, retry_after_secs: u64, times: u32) {
        self.script(
            source,
            status_reply(429, Some(retry_after_secs)),
            Some(times),
        );
    }

    /// Every later request to `source` gets 503 (after failures already scripted).
    pub fn down(&self, source: Source) {
        self.script(source, status_reply(503, None), None);
    }

    /// Every later request to `source` gets an HTML page with status 200 instead of its
    /// format (after failures already scripted).
    pub fn garbage(&self, source: Source) {
        let reply = FakeReply::Raw {
            status: 200,
            content_type: "text/html; charset=utf-8".into(),
            body: "<!DOCTYPE html>\n<html><head><title>Just a moment...</title></head>\
                   <body><h1>Checking your browser</h1></body></html>"
                .into(),
        };
        self.script(source, reply, None);
    }

    /// Forgets the failures scripted for `source`: it answers normally again.
    pub fn recover(&self, source: Source) {
        lock(&self.state).scripts.remove(&source);
    }

    /// Replaces the corpus.
    pub fn set_corpus(&self, corpus: Vec<Paper>) {
        lock(&self.state).corpus = corpus;
    }

    /// The requests `source` received, oldest first.
    pub fn requests(&self, source: Source) -> Vec<LitRequest> {
        self.server
            .requests()
            .iter()
            .filter(|r| route(&r.path) == Some(source))
            .map(|r| {
                let params = params(&r.path);
                let query = search_text(source, &params);
                LitRequest {
                    path: r.path.clone(),
                    params,
                    query,
                    headers: r.headers.clone(),
                }
            })
            .collect()
    }

    fn script(&self, source: Source, reply: FakeReply, times: Option<u32>) {
        if times == Some(0) {
            return;
        }
        lock(&self.state)
            .scripts
            .entry(source)
            .or_default()
            .push_back(Scripted { reply, times });
    }
}

fn status_reply(code: u16, retry_after: Option<u64>) -> FakeReply {
    let message = match code {
        429 => {
            "Too Many Requests. Please wait and try again or apply for a key for higher rate limits."
        }
        503 => "Service Unavailable",
        500 => "Internal Server Error",
        404 => "Not Found",
        400 => "Bad Request",
        _ => "scripted failure",
    };
    FakeReply::Status {
        code,
        retry_after,
        body: json!({"message": message, "code": code.to_string()}).to_string(),
    }
}

fn route(path: &str) -> Option<Source> {
    match path.split('?').next().unwrap_or("") {
        "/graph/v1/paper/search" => Some(Source::SemanticScholar),
        "/works" => Some(Source::OpenAlex),
        "/api/query" => Some(Source::Arxiv),
        _ => None,
    }
}

fn answer(state: &Mutex<State>, request: &Recorded) -> FakeReply {
    let Some(source) = route(&request.path) else {
        return status_reply(404, None);
    };
    let mut state = lock(state);
    if let Some(queue) = state.scripts.get_mut(&source)
        && let Some(next) = queue.front_mut()
    {
        let reply = next.reply.clone();
        if let Some(times) = &mut next.times {
            *times -= 1;
            if *times == 0 {
                queue.pop_front();
            }
        }
        return reply;
    }
    let params = params(&request.path);
    let query = search_text(source, &params);
    let limit_name = match source {
        Source::SemanticScholar => "limit",
        Source::OpenAlex => "per-page",
        Source::Arxiv => "max_results",
    };
    let limit = params
        .iter()
        .find(|(k, _)| k == limit_name)
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(10);
    let hits: Vec<&Paper> = state
        .corpus
        .iter()
        .filter(|p| source != Source::Arxiv || p.arxiv_id.is_some())
        .filter(|p| matches(p, &query))
        .take(limit)
        .collect();
    let (content_type, body) = match source {
        Source::SemanticScholar => ("application/json", semantic_scholar_body(&hits)),
        Source::OpenAlex => ("application/json", openalex_body(&hits)),
        Source::Arxiv => (
            "application/atom+xml; charset=utf-8",
            arxiv_body(&hits, &query),
        ),
    };
    FakeReply::Raw {
        status: 200,
        content_type: content_type.into(),
        body,
    }
}

/// The search text of a request's parameters.
fn search_text(source: Source, params: &[(String, String)]) -> String {
    let name = match source {
        Source::SemanticScholar => "query",
        Source::OpenAlex => "search",
        Source::Arxiv => "search_query",
    };
    let q = params
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str());
    q.strip_prefix("all:").unwrap_or(q).to_string()
}

/// Whether the paper's title or abstract contains a word of 4+ letters of `query`.
fn matches(p: &Paper, query: &str) -> bool {
    let text = format!(
        "{} {}",
        p.title,
        p.abstract_text.as_deref().unwrap_or_default()
    )
    .to_lowercase();
    query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 4)
        .any(|w| text.contains(&w.to_lowercase()))
}

/// The query string of a request target, percent-decoded (`+` as a space).
fn params(path: &str) -> Vec<(String, String)> {
    let Some((_, query)) = path.split_once('?') else {
        return Vec::new();
    };
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(h, l)| (h * 16 + l) as u8),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn paper_id(p: &Paper) -> String {
    // A stable fake id from the title: FNV-1a.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in p.title.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn semantic_scholar_body(hits: &[&Paper]) -> String {
    let data: Vec<Value> = hits
        .iter()
        .map(|p| {
            let id = paper_id(p);
            let mut ids = serde_json::Map::new();
            if let Some(doi) = &p.doi {
                ids.insert("DOI".into(), json!(doi));
            }
            if let Some(a) = &p.arxiv_id {
                ids.insert("ArXiv".into(), json!(a));
            }
            ids.insert("CorpusId".into(), json!(u64::from_str_radix(&id[..8], 16).unwrap_or(0)));
            json!({
                "paperId": id,
                "externalIds": ids,
                "url": format!("https://www.semanticscholar.org/paper/{id}"),
                "title": p.title,
                "abstract": p.abstract_text,
                "venue": p.venue.clone().unwrap_or_default(),
                "year": p.year,
                "citationCount": p.citations.unwrap_or(0),
                "authors": p.authors.iter().enumerate().map(|(i, a)| json!({"authorId": (1000 + i).to_string(), "name": a})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut reply = json!({"total": hits.len(), "offset": 0});
    if !data.is_empty() {
        reply["next"] = json!(data.len());
        reply["data"] = Value::Array(data);
    }
    reply.to_string()
}

fn openalex_body(hits: &[&Paper]) -> String {
    let results: Vec<Value> = hits
        .iter()
        .map(|p| {
            let doi = p.doi.as_ref().map(|d| format!("https://doi.org/{d}"));
            let location = p.venue.as_ref().map(|v| {
                json!({"is_oa": false, "landing_page_url": doi, "source": {"id": "https://openalex.org/S1", "display_name": v, "type": "journal"}})
            });
            json!({
                "id": format!("https://openalex.org/W{}", &paper_id(p)[..10]),
                "doi": doi,
                "title": p.title,
                "display_name": p.title,
                "publication_year": p.year,
                "type": "article",
                "authorships": p.authors.iter().map(|a| json!({"author_position": "middle", "author": {"id": null, "display_name": a}})).collect::<Vec<_>>(),
                "primary_location": location,
                "cited_by_count": p.citations.unwrap_or(0),
                "abstract_inverted_index": p.abstract_text.as_deref().map(inverted_index),
            })
        })
        .collect();
    json!({
        "meta": {"count": results.len(), "db_response_time_ms": 12, "page": 1, "per_page": 25},
        "results": results,
        "group_by": [],
    })
    .to_string()
}

fn inverted_index(text: &str) -> Value {
    let mut index: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, word) in text.split_whitespace().enumerate() {
        index.entry(word).or_default().push(i);
    }
    json!(index)
}

fn arxiv_body(hits: &[&Paper], query: &str) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <feed xmlns=\"http://www.w3.org/2005/Atom\">\n  \
         <link href=\"http://arxiv.org/api/query?search_query%3Dall%3A{q}\" rel=\"self\" type=\"application/atom+xml\"/>\n  \
         <title type=\"html\">ArXiv Query: search_query=all:{q}&amp;start=0</title>\n  \
         <id>http://arxiv.org/api/fake</id>\n  \
         <updated>2024-08-20T00:00:00-04:00</updated>\n  \
         <opensearch:totalResults xmlns:opensearch=\"http://a9.com/-/spec/opensearch/1.1/\">{n}</opensearch:totalResults>\n  \
         <opensearch:startIndex xmlns:opensearch=\"http://a9.com/-/spec/opensearch/1.1/\">0</opensearch:startIndex>\n",
        q = arxiv::escape(query),
        n = hits.len()
    );
    for p in hits {
        let id = p.arxiv_id.as_deref().unwrap_or_default();
        let date = format!("{}-01-15T18:00:00Z", p.year.unwrap_or(2000));
        xml.push_str(&format!(
            "  <entry>\n    <id>http://arxiv.org/abs/{id}v2</id>\n    <updated>{date}</updated>\n    \
             <published>{date}</published>\n    <title>{}</title>\n    <summary>  {}\n</summary>\n",
            arxiv::escape(&p.title),
            arxiv::escape(p.abstract_text.as_deref().unwrap_or_default()),
        ));
        for a in &p.authors {
            xml.push_str(&format!(
                "    <author>\n      <name>{}</name>\n    </author>\n",
                arxiv::escape(a)
            ));
        }
        if let Some(doi) = &p.doi {
            xml.push_str(&format!(
                "    <arxiv:doi xmlns:arxiv=\"http://arxiv.org/schemas/atom\">{}</arxiv:doi>\n",
                arxiv::escape(doi)
            ));
        }
        if let Some(venue) = &p.venue {
            xml.push_str(&format!(
                "    <arxiv:journal_ref xmlns:arxiv=\"http://arxiv.org/schemas/atom\">{}</arxiv:journal_ref>\n",
                arxiv::escape(venue)
            ));
        }
        xml.push_str(&format!(
            "    <link href=\"http://arxiv.org/abs/{id}v2\" rel=\"alternate\" type=\"text/html\"/>\n    \
             <link title=\"pdf\" href=\"http://arxiv.org/pdf/{id}v2\" rel=\"related\" type=\"application/pdf\"/>\n    \
             <arxiv:primary_category xmlns:arxiv=\"http://arxiv.org/schemas/atom\" term=\"cs.LG\" scheme=\"http://arxiv.org/schemas/atom\"/>\n  \
             </entry>\n"
        ));
    }
    xml.push_str("</feed>\n");
    xml
}
