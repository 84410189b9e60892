//! Semantic Scholar's graph API: `GET /graph/v1/paper/search`.

use serde_json::Value;

use super::{
    Paper, Source, arxiv_id_of_doi, bare_arxiv_id, bare_doi, collapse_whitespace, excerpt,
};

/// The fields asked for.
pub(crate) const FIELDS: &str = "title,authors,year,venue,abstract,citationCount,externalIds,url";

/// The papers of a search reply: `{"total": N, "data": [...]}` (`data` is absent when
/// nothing matched; any field of a paper may be null). Papers without a title are skipped.
pub(crate) fn parse(body: &str) -> Result<Vec<Paper>, String> {
    let v: Value =
        serde_json::from_str(body).map_err(|e| format!("not JSON ({e}): {}", excerpt(body)))?;
    let Some(reply) = v.as_object() else {
        return Err(format!("not a JSON object: {}", excerpt(body)));
    };
    let data = match reply.get("data") {
        Some(Value::Array(data)) => data.as_slice(),
        None | Some(Value::Null) if reply.contains_key("total") => &[],
        _ => return Err(format!("no `data` list: {}", excerpt(body))),
    };
    Ok(data.iter().filter_map(paper).collect())
}

fn paper(p: &Value) -> Option<Paper> {
    let text = |k: &str| {
        p.get(k)
            .and_then(Value::as_str)
            .map(collapse_whitespace)
            .filter(|s| !s.is_empty())
    };
    let title = text("title")?;
    let ids = p.get("externalIds");
    let id = |k: &str| ids.and_then(|i| i.get(k)).and_then(Value::as_str);
    let doi = id("DOI").and_then(bare_doi);
    let arxiv_id = id("ArXiv")
        .and_then(bare_arxiv_id)
        .or_else(|| doi.as_deref().and_then(arxiv_id_of_doi));
    let authors = p
        .get("authors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("name").and_then(Value::as_str))
        .map(collapse_whitespace)
        .filter(|n| !n.is_empty())
        .collect();
    Some(Paper {
        title,
        authors,
        year: p
            .get("year")
            .and_then(Value::as_i64)
            .and_then(|y| i32::try_from(y).ok()),
        venue: text("venue"),
        abstract_text: text("abstract"),
        url: text("url"),
        doi,
        arxiv_id,
        citations: p.get("citationCount").and_then(Value::as_u64),
        source: Source::SemanticScholar,
    })
}
