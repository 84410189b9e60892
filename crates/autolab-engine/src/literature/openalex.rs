//! OpenAlex: `GET /works?search=...`.

use serde_json::Value;

use super::{Paper, Source, arxiv_id_of_doi, bare_doi, collapse_whitespace, excerpt};

/// The papers of a works reply: `{"meta": {...}, "results": [...]}`. The abstract is
/// rebuilt from `abstract_inverted_index`; works without a title are skipped.
pub(crate) fn parse(body: &str) -> Result<Vec<Paper>, String> {
    let v: Value =
        serde_json::from_str(body).map_err(|e| format!("not JSON ({e}): {}", excerpt(body)))?;
    let Some(results) = v.get("results").and_then(Value::as_array) else {
        return Err(format!("no `results` list: {}", excerpt(body)));
    };
    Ok(results.iter().filter_map(work).collect())
}

fn work(w: &Value) -> Option<Paper> {
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(collapse_whitespace)
            .filter(|s| !s.is_empty())
    };
    let title = text(w.get("title")).or_else(|| text(w.get("display_name")))?;
    let doi = text(w.get("doi")).and_then(|d| bare_doi(&d));
    let authors = w
        .get("authorships")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| text(a.get("author").and_then(|a| a.get("display_name"))))
        .collect();
    let venue = text(
        w.get("primary_location")
            .and_then(|l| l.get("source"))
            .and_then(|s| s.get("display_name")),
    );
    let url = doi
        .as_ref()
        .map(|d| format!("https://doi.org/{d}"))
        .or_else(|| text(w.get("id")));
    Some(Paper {
        title,
        authors,
        year: w
            .get("publication_year")
            .and_then(Value::as_i64)
            .and_then(|y| i32::try_from(y).ok()),
        venue,
        abstract_text: w.get("abstract_inverted_index").and_then(abstract_text),
        url,
        arxiv_id: doi.as_deref().and_then(arxiv_id_of_doi),
        doi,
        citations: w.get("cited_by_count").and_then(Value::as_u64),
        source: Source::OpenAlex,
    })
}

/// The text of an inverted index (`{"word": [0, 5], ...}`): each word at its positions.
pub(crate) fn abstract_text(index: &Value) -> Option<String> {
    let index = index.as_object()?;
    let mut placed: Vec<(u64, &str)> = index
        .iter()
        .flat_map(|(word, at)| {
            at.as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_u64)
                .map(move |i| (i, word.as_str()))
        })
        .collect();
    placed.sort_by_key(|&(i, _)| i);
    let text = collapse_whitespace(&placed.iter().map(|&(_, w)| w).collect::<Vec<_>>().join(" "));
    (!text.is_empty()).then_some(text)
}
