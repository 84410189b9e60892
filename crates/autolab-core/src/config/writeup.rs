//! `[writeup]`: how `autolab paper` and `autolab review` work, and where literature is searched
//! (also by the novelty check of `[agent] novelty`).

use serde::Deserialize;

type Problem = (String, String, Option<String>);

/// The literature services, in the order they are asked.
pub const LITERATURE_SOURCES: [&str; 3] = ["semantic-scholar", "openalex", "arxiv"];

#[derive(Debug, Clone, PartialEq)]
pub struct Writeup {
    /// Literature services asked in this order (a failing one falls back to the next).
    pub literature: Vec<String>,
    /// Base URLs of the services (`None`: the real ones).
    pub semantic_scholar_url: Option<String>,
    pub openalex_url: Option<String>,
    pub arxiv_url: Option<String>,
    /// Retries of a literature service that answers 429 or 5xx before the next one is asked.
    pub literature_retries: u32,
    /// At most this many papers cited in related work.
    pub max_citations: u32,
    /// Literature queries the LLM may make for the related work.
    pub queries: u32,
    /// Rounds of LaTeX fixes after a failed compile.
    pub fix_attempts: u32,
    /// Times a section is re-asked after the number checker rejected it.
    pub reasks: u32,
    /// Reviews in the ensemble (a meta-review joins them when more than one).
    pub reviews: u32,
    /// Reflection rounds per review.
    pub reflections: u32,
    /// The LaTeX template (default: the lab's `latex/template.tex` if there is one, else the built-in article).
    pub template: Option<String>,
}

impl Default for Writeup {
    fn default() -> Self {
        Writeup {
            literature: LITERATURE_SOURCES.iter().map(|s| s.to_string()).collect(),
            semantic_scholar_url: None,
            openalex_url: None,
            arxiv_url: None,
            literature_retries: 2,
            max_citations: 12,
            queries: 3,
            fix_attempts: 3,
            reasks: 2,
            reviews: 3,
            reflections: 1,
            template: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWriteup {
    #[serde(default)]
    literature: Option<Vec<String>>,
    #[serde(default)]
    semantic_scholar_url: Option<String>,
    #[serde(default)]
    openalex_url: Option<String>,
    #[serde(default)]
    arxiv_url: Option<String>,
    #[serde(default)]
    literature_retries: Option<i64>,
    #[serde(default)]
    max_citations: Option<i64>,
    #[serde(default)]
    queries: Option<i64>,
    #[serde(default)]
    fix_attempts: Option<i64>,
    #[serde(default)]
    reasks: Option<i64>,
    #[serde(default)]
    reviews: Option<i64>,
    #[serde(default)]
    reflections: Option<i64>,
    #[serde(default)]
    template: Option<String>,
}

fn ranged(key: &str, v: Option<i64>, default: u32, hi: i64) -> Result<u32, Problem> {
    match v {
        None => Ok(default),
        Some(x) if (0..=hi).contains(&x) => Ok(x as u32),
        Some(x) => Err((
            key.into(),
            format!("`{key} = {x}` must be between 0 and {hi}"),
            None,
        )),
    }
}

/// A literature source's name, or why it is not one.
pub fn literature_source(name: &str) -> Result<&'static str, String> {
    LITERATURE_SOURCES
        .iter()
        .find(|s| **s == name)
        .copied()
        .ok_or_else(|| {
            format!(
                "unknown literature source `{name}`; use {}",
                LITERATURE_SOURCES
                    .iter()
                    .map(|s| format!("\"{s}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

pub(super) fn validate(r: Option<RawWriteup>) -> Result<Writeup, Problem> {
    let Some(r) = r else {
        return Ok(Writeup::default());
    };
    let d = Writeup::default();
    let literature = match r.literature {
        None => d.literature,
        Some(list) => {
            let mut out = Vec::new();
            for name in list {
                let s =
                    literature_source(&name).map_err(|m| ("literature".to_string(), m, None))?;
                if !out.iter().any(|o| o == s) {
                    out.push(s.to_string());
                }
            }
            out
        }
    };
    for (key, url) in [
        ("semantic_scholar_url", &r.semantic_scholar_url),
        ("openalex_url", &r.openalex_url),
        ("arxiv_url", &r.arxiv_url),
    ] {
        if let Some(u) = url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err((
                key.into(),
                format!("`{key} = \"{u}\"` is not an http(s) URL"),
                None,
            ));
        }
    }
    let reviews = ranged("reviews", r.reviews, d.reviews, 10)?;
    if reviews == 0 {
        return Err((
            "reviews".into(),
            "`reviews = 0`: a review needs at least one reviewer".into(),
            None,
        ));
    }
    Ok(Writeup {
        literature,
        semantic_scholar_url: r.semantic_scholar_url,
        openalex_url: r.openalex_url,
        arxiv_url: r.arxiv_url,
        literature_retries: ranged(
            "literature_retries",
            r.literature_retries,
            d.literature_retries,
            10,
        )?,
        max_citations: ranged("max_citations", r.max_citations, d.max_citations, 100)?,
        queries: ranged("queries", r.queries, d.queries, 20)?,
        fix_attempts: ranged("fix_attempts", r.fix_attempts, d.fix_attempts, 10)?,
        reasks: ranged("reasks", r.reasks, d.reasks, 10)?,
        reviews,
        reflections: ranged("reflections", r.reflections, d.reflections, 5)?,
        template: r.template,
    })
}
