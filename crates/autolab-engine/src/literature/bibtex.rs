//! BibTeX entries built from paper records only.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::Paper;

/// Title words a citation key skips.
const STOPWORDS: &[&str] = &[
    "a", "an", "the", "on", "of", "in", "for", "to", "and", "or", "with", "is", "are", "at", "by",
    "from", "via", "into", "as", "its", "do", "does", "be", "we", "how", "what", "why", "when",
    "towards", "toward",
];

/// BibTeX entries for `papers`, built only from their fields: each paper's citation key (in
/// input order) and the `.bib` text.
///
/// Keys are the first author's surname in lowercase ASCII, the year and the first
/// significant title word (`vaswani2017attention`), made unique with `a`, `b`, ...
/// suffixes. A paper with a venue is an `@article` with a `journal`, else a `@misc`
/// (with `howpublished` naming its arXiv id when it has one). Values have LaTeX's special
/// characters escaped and control characters dropped, so the file always goes through
/// `bibtex`; non-ASCII letters are kept as they are (for `inputenc` utf8). In `doi` and
/// `url`, characters that cannot appear in a URL are percent-encoded instead.
pub fn bibtex(papers: &[Paper]) -> (Vec<String>, String) {
    let mut keys = Vec::with_capacity(papers.len());
    let mut taken = HashSet::new();
    let mut bib = String::new();
    for paper in papers {
        let key = unique(base_key(paper), &mut taken);
        entry(&mut bib, &key, paper);
        keys.push(key);
    }
    (keys, bib)
}

/// `base`, or `base` + `a`, `b`, ..., `z`, `aa`, ... when taken.
fn unique(base: String, taken: &mut HashSet<String>) -> String {
    let mut key = base.clone();
    let mut n = 0usize;
    while taken.contains(&key) {
        key = format!("{base}{}", letters(n));
        n += 1;
    }
    taken.insert(key.clone());
    key
}

/// `a`, `b`, ..., `z`, `aa`, `ab`, ... for 0, 1, ...
fn letters(mut n: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

fn base_key(paper: &Paper) -> String {
    let surname = paper
        .authors
        .first()
        .map(|a| {
            // "Last, First" names the surname first; "First Last" last.
            let last = match a.split_once(',') {
                Some((last, _)) => last.trim(),
                None => a.split_whitespace().last().unwrap_or(""),
            };
            ascii_word(last)
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "anon".into());
    let year = paper.year.map_or_else(|| "nd".into(), |y| y.to_string());
    let word = paper
        .title
        .split(|c: char| !c.is_alphanumeric())
        .map(ascii_word)
        .find(|w| !w.is_empty() && !STOPWORDS.contains(&w.as_str()))
        .unwrap_or_default();
    format!("{surname}{year}{word}")
}

/// `s` in lowercase ASCII letters and digits: accented Latin letters lose their accents,
/// anything else is dropped.
fn ascii_word(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if let Some(f) = fold(c) {
            out.push_str(f);
        }
    }
    out
}

/// The ASCII letters of an accented Latin letter (lowercase).
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' | 'ĉ' | 'ċ' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ğ' | 'ģ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ł' | 'ľ' | 'ļ' => "l",
        'ñ' | 'ń' | 'ň' | 'ņ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'œ' => "oe",
        'ř' | 'ŕ' => "r",
        'ś' | 'š' | 'ş' | 'ș' => "s",
        'ß' => "ss",
        'ť' | 'ţ' | 'ț' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'þ' => "th",
        _ => return None,
    })
}

fn entry(bib: &mut String, key: &str, p: &Paper) {
    let venue = p.venue.as_deref().map(latex).filter(|v| !v.is_empty());
    let kind = if venue.is_some() { "article" } else { "misc" };
    let mut fields: Vec<(&str, String)> = vec![("title", format!("{{{}}}", latex(&p.title)))];
    let authors: Vec<String> = p
        .authors
        .iter()
        .map(|a| author(a))
        .filter(|a| !a.is_empty())
        .collect();
    if !authors.is_empty() {
        fields.push(("author", authors.join(" and ")));
    }
    if let Some(year) = p.year {
        fields.push(("year", year.to_string()));
    }
    let arxiv = p.arxiv_id.as_deref().map(latex).filter(|a| !a.is_empty());
    match (venue, &arxiv) {
        (Some(v), _) => fields.push(("journal", v)),
        (None, Some(a)) => fields.push(("howpublished", format!("arXiv preprint arXiv:{a}"))),
        (None, None) => {}
    }
    if let Some(doi) = p.doi.as_deref().map(url_value).filter(|d| !d.is_empty()) {
        fields.push(("doi", doi));
    }
    if let Some(a) = arxiv {
        fields.push(("eprint", a));
        fields.push(("archivePrefix", "arXiv".into()));
    }
    if let Some(url) = p.url.as_deref().map(url_value).filter(|u| !u.is_empty()) {
        fields.push(("url", url));
    }
    let _ = writeln!(bib, "@{kind}{{{key},");
    for (name, value) in fields {
        let _ = writeln!(bib, "  {name} = {{{value}}},");
    }
    bib.push_str("}\n\n");
}

/// One author for the `author` field. A name BibTeX would misread (one containing the word
/// `and`, or more than one comma) is braced whole.
fn author(name: &str) -> String {
    let value = latex(name);
    let has_and = value
        .split_whitespace()
        .any(|w| w.eq_ignore_ascii_case("and"));
    if has_and || value.matches(',').count() > 1 {
        format!("{{{value}}}")
    } else {
        value
    }
}

/// `s` for a BibTeX field read as LaTeX text: specials escaped (braces as
/// `\textbraceleft{}`/`\textbraceright{}` so braces stay balanced for BibTeX), control
/// characters dropped, whitespace collapsed.
pub(crate) fn latex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' | '%' | '$' | '#' | '_' => {
                out.push('\\');
                out.push(c);
            }
            '{' => out.push_str("\\textbraceleft{}"),
            '}' => out.push_str("\\textbraceright{}"),
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '\\' => out.push_str("\\textbackslash{}"),
            c if c.is_whitespace() => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    super::collapse_whitespace(&out)
}

/// A DOI or URL for its field: characters a URL cannot hold (braces, backslash, spaces,
/// `^`, `~`, quotes, angle brackets, non-ASCII) percent-encoded; `% # & _ $` (the `%` of
/// percent-encoding too) escaped with a backslash, as `\url` of `hyperref` expects; control
/// characters dropped.
fn url_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.trim().chars() {
        match c {
            '%' | '#' | '&' | '_' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '{' | '}' | '\\' | '^' | '~' | '"' | '<' | '>' | '|' | '`' | ' ' => {
                let _ = write!(out, "\\%{:02X}", c as u32);
            }
            c if c.is_control() => {}
            c if !c.is_ascii() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\%{b:02X}");
                }
            }
            c => out.push(c),
        }
    }
    out
}
