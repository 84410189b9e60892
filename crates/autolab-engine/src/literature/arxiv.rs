//! arXiv's API: `GET /api/query?search_query=all:...`, an Atom feed read by a small tolerant
//! extractor (no XML crate: the feed's shape is fixed and simple).

use super::{Paper, Source, bare_arxiv_id, bare_doi, collapse_whitespace, excerpt};

/// The papers of an Atom feed: one per `<entry>`. arXiv reports a bad query as a feed
/// whose one entry is an error (its id under `/api/errors`): that is an unusable answer.
pub(crate) fn parse(body: &str) -> Result<Vec<Paper>, String> {
    if find_tag(body, "feed", 0).is_none() {
        return Err(format!("not an Atom feed: {}", excerpt(body)));
    }
    let mut papers = Vec::new();
    for entry in blocks(body, "entry") {
        let id = text(entry, "id").unwrap_or_default();
        if id.contains("/api/errors") {
            let summary = text(entry, "summary").unwrap_or_default();
            return Err(format!("arXiv reported an error: {summary}"));
        }
        let Some(title) = text(entry, "title") else {
            continue;
        };
        let authors = blocks(entry, "author")
            .filter_map(|a| text(a, "name"))
            .collect();
        let year =
            text(entry, "published").and_then(|p| p.get(..4).and_then(|y| y.parse::<i32>().ok()));
        let arxiv_id = (!id.is_empty()).then(|| bare_arxiv_id(&id)).flatten();
        let url = arxiv_id
            .as_ref()
            .map(|a| format!("https://arxiv.org/abs/{a}"))
            .or_else(|| (!id.is_empty()).then(|| id.clone()));
        papers.push(Paper {
            title,
            authors,
            year,
            venue: text(entry, "arxiv:journal_ref"),
            abstract_text: text(entry, "summary"),
            url,
            doi: text(entry, "arxiv:doi").and_then(|d| bare_doi(&d)),
            arxiv_id,
            citations: None,
            source: Source::Arxiv,
        });
    }
    Ok(papers)
}

/// Where the next `<name ...>` (or `<name>`, `<name/>`) starts at or after `from`: the
/// index of `<` and of the byte after `>`, and whether it closes itself.
fn find_tag(s: &str, name: &str, from: usize) -> Option<(usize, usize, bool)> {
    let open = format!("<{name}");
    let mut at = from;
    loop {
        let start = at + s.get(at..)?.find(&open)?;
        let after = start + open.len();
        match s.as_bytes().get(after) {
            Some(b'>' | b'/' | b' ' | b'\t' | b'\n' | b'\r') => {
                let end = after + s[after..].find('>')? + 1;
                let self_closing = s[..end].ends_with("/>");
                return Some((start, end, self_closing));
            }
            _ => at = after,
        }
    }
}

/// The contents of every `<name>...</name>` element of `s`, in order (not nested ones
/// of the same name).
fn blocks<'a>(s: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let close = format!("</{name}>");
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            let (_, content_start, self_closing) = find_tag(s, name, at)?;
            if self_closing {
                at = content_start;
                continue;
            }
            let content_end = match s[content_start..].find(&close) {
                Some(i) => content_start + i,
                None => s.len(),
            };
            at = (content_end + close.len()).min(s.len());
            return Some(&s[content_start..content_end]);
        }
    })
}

/// The text of the first `<name>` element of `s`: entities decoded, CDATA kept, whitespace
/// collapsed; `None` when absent or empty.
fn text(s: &str, name: &str) -> Option<String> {
    let raw = blocks(s, name).next()?;
    let t = collapse_whitespace(&decode(raw));
    (!t.is_empty()).then_some(t)
}

/// `s` with XML's five named entities and numeric character references decoded, CDATA
/// sections unwrapped and any markup inside dropped. Unknown entities are kept as written.
pub(crate) fn decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(['&', '<']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after.find("]]>").unwrap_or(after.len());
            out.push_str(&after[..end]);
            rest = after.get(end + 3..).unwrap_or("");
        } else if rest.starts_with('<') {
            // Markup inside a text element (rare): dropped.
            match rest.find('>') {
                Some(j) => rest = &rest[j + 1..],
                None => {
                    out.push_str(rest);
                    rest = "";
                }
            }
        } else {
            let entity = rest
                .get(1..)
                .and_then(|r| r.find(';'))
                .filter(|&j| j <= 10)
                .and_then(|j| entity(&rest[1..=j]).map(|c| (c, j + 2)));
            match entity {
                Some((c, len)) => {
                    out.push(c);
                    rest = &rest[len..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character of an entity's name (between `&` and `;`).
fn entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// `s` with `& < > " '` escaped, for writing XML.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
