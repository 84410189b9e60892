use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::fake::LiteratureServer;
use super::*;

fn paper(title: &str, authors: &[&str], year: i32) -> Paper {
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

fn corpus() -> Vec<Paper> {
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

fn client(server: &LiteratureServer, order: Vec<Source>) -> Literature {
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

// ---- wire formats ----

const S2_REPLY: &str = r#"{"total": 2, "offset": 0, "next": 2, "data": [
  {"paperId": "204e3073870fae3d05bcbc2f6a8e263d9b72e776",
   "externalIds": {"DBLP": "journals/corr/VaswaniSPUJGKP17", "MAG": "2963403868", "ArXiv": "1706.03762v7", "DOI": "https://doi.org/10.48550/arXiv.1706.03762", "CorpusId": 13756489},
   "url": "https://www.semanticscholar.org/paper/204e3073870fae3d05bcbc2f6a8e263d9b72e776",
   "title": "Attention is All\n you Need",
   "abstract": null,
   "venue": "Neural Information Processing Systems",
   "year": 2017,
   "citationCount": 112233,
   "authors": [{"authorId": "40348417", "name": "Ashish Vaswani"}, {"authorId": null, "name": "Noam Shazeer"}]},
  {"paperId": "abc", "externalIds": null, "url": null, "title": "A paper with nulls",
   "abstract": null, "venue": "", "year": null, "citationCount": null, "authors": null},
  {"paperId": "def", "title": null}
]}"#;

#[test]
fn semantic_scholar_reply_with_nulls() {
    let papers = semantic_scholar::parse(S2_REPLY).unwrap();
    assert_eq!(papers.len(), 2, "the untitled paper is skipped");
    let p = &papers[0];
    assert_eq!(p.title, "Attention is All you Need");
    assert_eq!(p.authors, ["Ashish Vaswani", "Noam Shazeer"]);
    assert_eq!(p.year, Some(2017));
    assert_eq!(
        p.venue.as_deref(),
        Some("Neural Information Processing Systems")
    );
    assert_eq!(p.abstract_text, None);
    assert_eq!(p.doi.as_deref(), Some("10.48550/arXiv.1706.03762"));
    assert_eq!(p.arxiv_id.as_deref(), Some("1706.03762"));
    assert_eq!(p.citations, Some(112_233));
    assert_eq!(p.source, Source::SemanticScholar);
    let q = &papers[1];
    assert_eq!(
        (q.year, &q.venue, &q.url, &q.doi, q.citations),
        (None, &None, &None, &None, None)
    );
    assert!(q.authors.is_empty());

    assert_eq!(
        semantic_scholar::parse(r#"{"total": 0, "offset": 0}"#).unwrap(),
        vec![]
    );
    assert!(semantic_scholar::parse(r#"{"message": "Internal"}"#).is_err());
    assert!(semantic_scholar::parse("[1, 2]").is_err());
    assert!(semantic_scholar::parse("<html>").is_err());
}

const OPENALEX_REPLY: &str = r#"{"meta": {"count": 2, "db_response_time_ms": 33, "page": 1, "per_page": 2, "groups_count": null},
 "results": [
  {"id": "https://openalex.org/W2194775991", "doi": "https://doi.org/10.1109/cvpr.2016.90",
   "title": "Deep Residual Learning for Image Recognition", "display_name": "Deep Residual Learning for Image Recognition",
   "publication_year": 2016, "type": "article",
   "authorships": [{"author_position": "first", "author": {"id": "https://openalex.org/A5012345", "display_name": "Kaiming He", "orcid": null}},
                   {"author_position": "last", "author": {"id": "https://openalex.org/A5067890", "display_name": "Jian Sun"}}],
   "primary_location": {"is_oa": false, "source": {"id": "https://openalex.org/S4363607", "display_name": "2016 IEEE Conference on Computer Vision and Pattern Recognition (CVPR)"}},
   "cited_by_count": 180000,
   "abstract_inverted_index": {"Deeper": [0], "neural": [1], "networks": [2], "are": [3], "more": [4], "difficult": [5], "to": [6], "train.": [7], "We": [8], "present": [9], "a": [10], "residual": [11], "learning": [12], "framework": [13], "to_ease": [14]}},
  {"id": "https://openalex.org/W999", "doi": null, "title": null, "display_name": "Untitled&nbsp;work",
   "publication_year": null, "authorships": [], "primary_location": null, "cited_by_count": 0,
   "abstract_inverted_index": null},
  {"id": "https://openalex.org/W998", "doi": "https://doi.org/10.48550/arxiv.2408.06292v2", "title": "The AI Scientist",
   "publication_year": 2024, "authorships": [{"author": {"display_name": "Chris Lu"}}],
   "primary_location": {"source": null}, "cited_by_count": 7,
   "abstract_inverted_index": {"the": [0, 2], "of": [1]}}
 ]}"#;

#[test]
fn openalex_reply_with_null_location_and_inverted_index() {
    let papers = openalex::parse(OPENALEX_REPLY).unwrap();
    assert_eq!(papers.len(), 3);
    let p = &papers[0];
    assert_eq!(p.title, "Deep Residual Learning for Image Recognition");
    assert_eq!(p.authors, ["Kaiming He", "Jian Sun"]);
    assert_eq!(p.year, Some(2016));
    assert_eq!(
        p.venue.as_deref(),
        Some("2016 IEEE Conference on Computer Vision and Pattern Recognition (CVPR)")
    );
    assert_eq!(
        p.abstract_text.as_deref(),
        Some(
            "Deeper neural networks are more difficult to train. We present a residual learning framework to_ease"
        )
    );
    assert_eq!(p.doi.as_deref(), Some("10.1109/cvpr.2016.90"));
    assert_eq!(
        p.url.as_deref(),
        Some("https://doi.org/10.1109/cvpr.2016.90")
    );
    assert_eq!(p.citations, Some(180_000));
    assert_eq!(p.arxiv_id, None);
    assert_eq!(p.source, Source::OpenAlex);

    let untitled = &papers[1];
    assert_eq!(
        untitled.title, "Untitled&nbsp;work",
        "display_name stands in"
    );
    assert_eq!(
        (
            untitled.venue.as_ref(),
            untitled.year,
            untitled.doi.as_ref()
        ),
        (None, None, None)
    );
    assert_eq!(untitled.url.as_deref(), Some("https://openalex.org/W999"));
    assert_eq!(untitled.abstract_text, None);

    let scientist = &papers[2];
    assert_eq!(scientist.venue, None, "source: null");
    assert_eq!(scientist.arxiv_id.as_deref(), Some("2408.06292"));
    assert_eq!(scientist.abstract_text.as_deref(), Some("the of the"));

    assert!(openalex::parse(r#"{"error": "Invalid query parameters error."}"#).is_err());
    assert!(openalex::parse("<!DOCTYPE html>").is_err());
}

const ARXIV_FEED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query?search_query%3Dall%3Aai%20scientist%26id_list%3D%26start%3D0%26max_results%3D2" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query: search_query=all:ai scientist&amp;id_list=&amp;start=0&amp;max_results=2</title>
  <id>http://arxiv.org/api/Hq2lSNbYDmhVoxsVa4ZOyvqBRsc</id>
  <updated>2024-08-20T00:00:00-04:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">1234</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">0</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">2</opensearch:itemsPerPage>
  <entry>
    <id>http://arxiv.org/abs/2408.06292v3</id>
    <updated>2024-09-01T17:14:34Z</updated>
    <published>2024-08-12T16:58:11Z</published>
    <title>The AI Scientist: Towards Fully Automated
  Open-Ended Scientific Discovery</title>
    <summary>  One of the grand challenges of artificial general intelligence is developing
agents capable of conducting scientific research &amp; discovering new
knowledge. We use &lt;b&gt;LLMs&lt;/b&gt; &#8212; cheaply &#x2014; at &quot;$15&quot; per paper.
</summary>
    <author>
      <name>Chris Lu</name>
    </author>
    <author>
      <name>Cong Lu</name>
      <arxiv:affiliation xmlns:arxiv="http://arxiv.org/schemas/atom">University of Oxford</arxiv:affiliation>
    </author>
    <author>
      <name>Robert Tjarko Lange</name>
    </author>
    <arxiv:comment xmlns:arxiv="http://arxiv.org/schemas/atom">185 pages</arxiv:comment>
    <link href="http://arxiv.org/abs/2408.06292v3" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/2408.06292v3" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.AI" scheme="http://arxiv.org/schemas/atom"/>
    <category term="cs.AI" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
  <entry>
    <id>http://arxiv.org/abs/hep-th/9901001v2</id>
    <updated>1999-01-05T00:00:00Z</updated>
    <published>1999-01-01T12:00:00Z</published>
    <title>D-branes &amp; Dualities</title>
    <summary>A short one.</summary>
    <author><name>Jos&#233; Garc&#237;a</name></author>
    <arxiv:doi xmlns:arxiv="http://arxiv.org/schemas/atom">10.1016/S0550-3213(99)00001-1</arxiv:doi>
    <link title="doi" href="http://dx.doi.org/10.1016/S0550-3213(99)00001-1" rel="related"/>
    <arxiv:journal_ref xmlns:arxiv="http://arxiv.org/schemas/atom">Nucl.Phys. B545 (1999)
      1-20</arxiv:journal_ref>
  </entry>
</feed>
"#;

#[test]
fn arxiv_feed_with_namespaces_and_entities() {
    let papers = arxiv::parse(ARXIV_FEED).unwrap();
    assert_eq!(papers.len(), 2);
    let p = &papers[0];
    assert_eq!(
        p.title,
        "The AI Scientist: Towards Fully Automated Open-Ended Scientific Discovery"
    );
    assert_eq!(p.authors, ["Chris Lu", "Cong Lu", "Robert Tjarko Lange"]);
    assert_eq!(p.year, Some(2024));
    assert_eq!(
        p.arxiv_id.as_deref(),
        Some("2408.06292"),
        "version stripped"
    );
    assert_eq!(p.url.as_deref(), Some("https://arxiv.org/abs/2408.06292"));
    assert_eq!(
        p.abstract_text.as_deref(),
        Some(
            "One of the grand challenges of artificial general intelligence is developing agents \
             capable of conducting scientific research & discovering new knowledge. We use \
             <b>LLMs</b> \u{2014} cheaply \u{2014} at \"$15\" per paper."
        )
    );
    assert_eq!(
        (p.venue.as_ref(), p.doi.as_ref(), p.citations),
        (None, None, None)
    );
    assert_eq!(p.source, Source::Arxiv);

    let q = &papers[1];
    assert_eq!(q.title, "D-branes & Dualities");
    assert_eq!(q.authors, ["José García"]);
    assert_eq!(q.year, Some(1999));
    assert_eq!(q.arxiv_id.as_deref(), Some("hep-th/9901001"));
    assert_eq!(q.doi.as_deref(), Some("10.1016/S0550-3213(99)00001-1"));
    assert_eq!(q.venue.as_deref(), Some("Nucl.Phys. B545 (1999) 1-20"));

    let empty =
        r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>q</title></feed>"#;
    assert_eq!(arxiv::parse(empty).unwrap(), vec![]);
    let error = r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_1234</id><title>Error</title><summary>incorrect id format for 1234</summary></entry></feed>"#;
    assert!(
        arxiv::parse(error)
            .unwrap_err()
            .contains("incorrect id format")
    );
    assert!(arxiv::parse("<html><body>rate limited</body></html>").is_err());
    assert!(arxiv::parse("{\"json\": true}").is_err());
}

#[test]
fn xml_entities_decode() {
    assert_eq!(
        arxiv::decode("a &amp;&lt;&gt;&quot;&apos; &#65;&#x42; &bogus; & <![CDATA[x<y]]>"),
        "a &<>\"' AB &bogus; & x<y"
    );
    assert_eq!(arxiv::decode(&arxiv::escape("<&\"'>")), "<&\"'>");
}

#[test]
fn identifiers_are_bare() {
    assert_eq!(
        bare_doi("https://doi.org/10.1000/xyz").as_deref(),
        Some("10.1000/xyz")
    );
    assert_eq!(bare_doi("doi:10.1000/xyz").as_deref(), Some("10.1000/xyz"));
    assert_eq!(bare_doi("10.1000/xyz").as_deref(), Some("10.1000/xyz"));
    assert_eq!(bare_doi(" "), None);
    for id in [
        "2408.06292",
        "2408.06292v3",
        "http://arxiv.org/abs/2408.06292v12",
        "https://arxiv.org/pdf/2408.06292v1",
        "arXiv:2408.06292",
    ] {
        assert_eq!(bare_arxiv_id(id).as_deref(), Some("2408.06292"), "{id}");
    }
    assert_eq!(
        bare_arxiv_id("http://arxiv.org/abs/cs/0112017v1").as_deref(),
        Some("cs/0112017")
    );
    assert_eq!(
        arxiv_id_of_doi("10.48550/arXiv.2408.06292").as_deref(),
        Some("2408.06292")
    );
    assert_eq!(arxiv_id_of_doi("10.1000/xyz"), None);
}

#[test]
fn source_names() {
    for s in Source::ALL {
        assert_eq!(Source::parse(s.as_str()), Some(s));
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            format!("\"{}\"", s.as_str())
        );
    }
    assert_eq!(
        Source::parse("Semantic_Scholar"),
        Some(Source::SemanticScholar)
    );
    assert_eq!(Source::parse("google"), None);
    assert_eq!(
        serde_json::from_str::<Source>("\"open-alex\"").unwrap(),
        Source::OpenAlex
    );
    assert_eq!(Source::Arxiv.name(), "arXiv");
    let e = SearchError::Throttled {
        source: Source::SemanticScholar,
    };
    assert!(
        e.to_string()
            .starts_with("Semantic Scholar kept answering 429")
    );
}

// ---- against the fake server ----

#[test]
fn every_source_round_trips_through_the_fake() {
    let server = LiteratureServer::start(corpus());
    let lit = client(&server, Source::ALL.to_vec());
    for source in Source::ALL {
        let papers = lit.search_one(source, "attention networks", 10).unwrap();
        let titles: Vec<&str> = papers.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["Attention Is All You Need"], "{source:?}");
        let p = &papers[0];
        let want = &corpus()[0];
        assert_eq!(p.source, source);
        assert_eq!(p.authors, want.authors);
        assert_eq!(p.year, want.year);
        assert_eq!(p.abstract_text, want.abstract_text, "{source:?}");
        assert_eq!(p.doi, want.doi, "{source:?}");
        assert_eq!(p.arxiv_id, want.arxiv_id, "{source:?}");
        assert_eq!(p.venue, want.venue, "{source:?}");
        if source != Source::Arxiv {
            assert_eq!(p.citations, want.citations);
        }
        assert_eq!(server.requests(source).len(), 1);
    }
    // Words under 4 letters are ignored; the limit is honoured.
    assert!(
        lit.search_one(Source::SemanticScholar, "the all you", 10)
            .unwrap()
            .is_empty()
    );
    let two = lit
        .search_one(Source::OpenAlex, "deep learning attention", 2)
        .unwrap();
    assert_eq!(two.len(), 2);
    assert_eq!(
        server.requests(Source::OpenAlex)[1].param("per-page"),
        Some("2")
    );
    // arXiv lists only papers with an arXiv id.
    let arxiv = lit
        .search_one(Source::Arxiv, "residual scientific", 10)
        .unwrap();
    assert_eq!(arxiv.len(), 1);
    assert_eq!(arxiv[0].title, "The AI Scientist");
}

#[test]
fn the_query_reaches_the_server_intact() {
    let server = LiteratureServer::start(corpus());
    let lit = client(&server, Source::ALL.to_vec());
    let query = "scientific & agents + C# 100% naïve/é?x=1";
    for source in Source::ALL {
        let papers = lit.search_one(source, query, 5).unwrap();
        assert_eq!(papers.len(), 1, "{source:?}");
        let seen = &server.requests(source)[0];
        assert_eq!(seen.query, query, "{source:?}");
        assert!(!seen.path.contains(' '), "{}", seen.path);
        assert!(!seen.path.contains("& "), "{}", seen.path);
    }
    let s2 = &server.requests(Source::SemanticScholar)[0];
    assert_eq!(s2.param("fields"), Some(semantic_scholar::FIELDS));
    assert_eq!(s2.param("limit"), Some("5"));
    let arxiv = &server.requests(Source::Arxiv)[0];
    assert_eq!(
        arxiv.param("search_query"),
        Some(format!("all:{query}").as_str())
    );
    assert_eq!(arxiv.param("max_results"), Some("5"));
}

#[test]
fn api_key_and_mailto_are_sent() {
    let server = LiteratureServer::start(corpus());
    let mut lit = client(&server, Source::ALL.to_vec());
    lit.s2_api_key = Some("k-123".into());
    lit.mailto = Some("lab@example.org".into());
    lit.search_one(Source::SemanticScholar, "attention", 3)
        .unwrap();
    lit.search_one(Source::OpenAlex, "attention", 3).unwrap();
    assert_eq!(
        server.requests(Source::SemanticScholar)[0].header("x-api-key"),
        Some("k-123")
    );
    assert_eq!(
        server.requests(Source::OpenAlex)[0].param("mailto"),
        Some("lab@example.org")
    );
    lit.s2_api_key = None;
    lit.search_one(Source::SemanticScholar, "attention", 3)
        .unwrap();
    assert_eq!(
        server.requests(Source::SemanticScholar)[1].header("x-api-key"),
        None
    );
}

#[test]
fn a_429_is_retried_until_it_succeeds() {
    let server = LiteratureServer::start(corpus());
    server.fail(Source::SemanticScholar, 429, 2);
    let lit = client(&server, vec![Source::SemanticScholar]);
    let papers = lit
        .search_one(Source::SemanticScholar, "attention", 5)
        .unwrap();
    assert_eq!(papers.len(), 1);
    assert_eq!(server.requests(Source::SemanticScholar).len(), 3);
}

#[test]
fn a_5xx_is_retried_too() {
    let server = LiteratureServer::start(corpus());
    server.fail(Source::OpenAlex, 502, 1);
    server.fail(Source::OpenAlex, 500, 1);
    let lit = client(&server, vec![Source::OpenAlex]);
    assert_eq!(
        lit.search_one(Source::OpenAlex, "attention", 5)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(server.requests(Source::OpenAlex).len(), 3);
}

#[test]
fn throttled_after_every_retry() {
    let server = LiteratureServer::start(corpus());
    server.fail(Source::SemanticScholar, 429, 10);
    let lit = client(&server, vec![Source::SemanticScholar]);
    let err = lit
        .search_one(Source::SemanticScholar, "attention", 5)
        .unwrap_err();
    assert_eq!(
        err,
        SearchError::Throttled {
            source: Source::SemanticScholar
        }
    );
    assert!(err.to_string().contains("Semantic Scholar"), "{err}");
    assert_eq!(server.requests(Source::SemanticScholar).len(), 3);
}

#[test]
fn retry_after_is_honoured() {
    let server = LiteratureServer::start(corpus());
    server.throttle(Source::SemanticScholar, 1, 1);
    let lit = client(&server, vec![Source::SemanticScholar]);
    let start = Instant::now();
    lit.search_one(Source::SemanticScholar, "attention", 5)
        .unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(server.requests(Source::SemanticScholar).len(), 2);
}

#[test]
fn retry_after_is_capped_by_max_wait() {
    let server = LiteratureServer::start(corpus());
    server.throttle(Source::OpenAlex, 3600, 2);
    let mut lit = client(&server, vec![Source::OpenAlex]);
    lit.max_wait = Duration::from_millis(60);
    let start = Instant::now();
    lit.search_one(Source::OpenAlex, "attention", 5).unwrap();
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(120), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(30), "{elapsed:?}");
    assert_eq!(server.requests(Source::OpenAlex).len(), 3);
}

#[test]
fn backoff_doubles_and_is_capped() {
    let mut lit = Literature::new(vec![]);
    lit.backoff = Duration::from_millis(100);
    lit.max_wait = Duration::from_millis(350);
    assert_eq!(lit.wait(1, None), Duration::from_millis(100));
    assert_eq!(lit.wait(2, None), Duration::from_millis(200));
    assert_eq!(lit.wait(3, None), Duration::from_millis(350));
    assert_eq!(lit.wait(40, None), Duration::from_millis(350));
    assert_eq!(
        lit.wait(1, Some(Duration::from_millis(300))),
        Duration::from_millis(300)
    );
    assert_eq!(
        lit.wait(1, Some(Duration::from_secs(9))),
        Duration::from_millis(350)
    );
}

#[test]
fn a_source_down_falls_back_to_the_next() {
    let server = LiteratureServer::start(corpus());
    server.down(Source::SemanticScholar);
    let lit = client(&server, Source::ALL.to_vec());
    let found = lit.search("attention", 5, &mut NoCache);
    assert_eq!(found.source, Some(Source::OpenAlex));
    assert_eq!(found.papers.len(), 1);
    assert_eq!(found.papers[0].source, Source::OpenAlex);
    assert!(!found.cached);
    assert_eq!(found.failures.len(), 1);
    match &found.failures[0] {
        SearchError::Unavailable { source, detail } => {
            assert_eq!(*source, Source::SemanticScholar);
            assert!(detail.contains("503"), "{detail}");
            assert!(detail.contains("3 attempts"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.requests(Source::SemanticScholar).len(), 3);
    assert!(server.requests(Source::Arxiv).is_empty());
}

#[test]
fn an_empty_answer_is_an_answer() {
    let server = LiteratureServer::start(corpus());
    let lit = client(&server, Source::ALL.to_vec());
    let found = lit.search("zzzzzz", 5, &mut NoCache);
    assert_eq!(found.source, Some(Source::SemanticScholar));
    assert!(found.papers.is_empty() && found.failures.is_empty());
    assert!(server.requests(Source::OpenAlex).is_empty());
}

#[test]
fn every_source_down_gives_an_empty_result() {
    let server = LiteratureServer::start(corpus());
    for s in Source::ALL {
        server.down(s);
    }
    let lit = client(&server, Source::ALL.to_vec());
    let found = lit.search("attention", 5, &mut NoCache);
    assert!(found.papers.is_empty());
    assert_eq!(found.source, None);
    let failed: Vec<Source> = found.failures.iter().map(SearchError::source).collect();
    assert_eq!(failed, Source::ALL);
    for s in Source::ALL {
        assert_eq!(server.requests(s).len(), 3);
    }
}

#[test]
fn nothing_listening_is_unavailable() {
    let server = LiteratureServer::start(vec![]);
    let mut lit = client(&server, vec![Source::Arxiv]);
    lit.endpoints.arxiv = "http://127.0.0.1:9".into(); // discard port: nothing listens
    lit.retries = 1;
    let err = lit.search_one(Source::Arxiv, "attention", 5).unwrap_err();
    assert!(
        matches!(
            err,
            SearchError::Unavailable {
                source: Source::Arxiv,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn garbage_is_bad_and_not_retried() {
    let server = LiteratureServer::start(corpus());
    for s in Source::ALL {
        server.garbage(s);
    }
    let lit = client(&server, Source::ALL.to_vec());
    for s in Source::ALL {
        let err = lit.search_one(s, "attention", 5).unwrap_err();
        assert!(
            matches!(&err, SearchError::Bad { source, .. } if *source == s),
            "{err}"
        );
        assert_eq!(server.requests(s).len(), 1, "{s:?}");
    }
    let found = lit.search("attention", 5, &mut NoCache);
    assert_eq!(found.failures.len(), 3);
    server.recover(Source::Arxiv);
    let found = lit.search("attention", 5, &mut NoCache);
    assert_eq!(found.source, Some(Source::Arxiv));
}

#[test]
fn another_4xx_is_bad_and_not_retried() {
    let server = LiteratureServer::start(corpus());
    server.fail(Source::SemanticScholar, 400, 5);
    let lit = client(&server, vec![Source::SemanticScholar]);
    let err = lit
        .search_one(Source::SemanticScholar, "attention", 5)
        .unwrap_err();
    assert!(
        matches!(&err, SearchError::Bad { detail, .. } if detail.contains("400")),
        "{err}"
    );
    assert_eq!(server.requests(Source::SemanticScholar).len(), 1);
}

#[test]
fn a_cache_hit_makes_no_request() {
    let server = LiteratureServer::start(corpus());
    let lit = client(&server, vec![Source::SemanticScholar, Source::OpenAlex]);
    let mut cache = MapCache::default();
    let cached = vec![paper("Cached Paper", &["Ada Lovelace"], 1843)];
    cache
        .map
        .insert((Source::OpenAlex, "attention".into()), cached.clone());
    let found = lit.search("attention", 5, &mut cache);
    assert!(found.cached);
    assert_eq!(found.source, Some(Source::OpenAlex));
    assert_eq!(found.papers, cached);
    assert!(server.requests(Source::SemanticScholar).is_empty());
    assert!(server.requests(Source::OpenAlex).is_empty());
    assert_eq!(cache.puts, 0);

    // A live answer is put in the cache, then served from it.
    let found = lit.search("residual", 5, &mut cache);
    assert!(!found.cached);
    assert_eq!(cache.puts, 1);
    let again = lit.search("residual", 5, &mut cache);
    assert!(again.cached);
    assert_eq!(again.papers, found.papers);
    assert_eq!(server.requests(Source::SemanticScholar).len(), 1);
}

// ---- BibTeX ----

fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    depth == 0
}

fn tricky() -> Vec<Paper> {
    vec![
        Paper {
            venue: Some("NeurIPS".into()),
            doi: Some("10.5555/3295222.3295349".into()),
            url: Some("https://example.org/a_b?x=1&y=50%25#frag {x}".into()),
            ..paper(
                "Attention Is All You Need",
                &["Ashish Vaswani", "Noam Shazeer"],
                2017,
            )
        },
        Paper {
            arxiv_id: Some("1706.03762".into()),
            ..paper(
                "Attention is all you need (again)",
                &["Ashish Vaswani"],
                2017,
            )
        },
        paper(
            "Attention: R&D at 100% with snake_case {braces} $x^2$ ~ # \\ and\u{7} bells",
            &["Ashish Vaswani"],
            2017,
        ),
        paper(
            "Über die Natur",
            &["José Müller-Łukasiewicz", "Smith and Sons, Ltd, Inc"],
            1999,
        ),
        Paper {
            year: None,
            ..paper("The", &[], 2000)
        },
    ]
}

#[test]
fn bibtex_keys_are_unique_and_values_escaped() {
    let (keys, bib) = bibtex(&tricky());
    assert_eq!(
        keys,
        [
            "vaswani2017attention",
            "vaswani2017attentiona",
            "vaswani2017attentionb",
            "mullerlukasiewicz1999uber",
            "anonnd",
        ]
    );
    let entries: Vec<&str> = bib.split("\n\n").filter(|e| !e.trim().is_empty()).collect();
    assert_eq!(entries.len(), 5);
    for (entry, key) in entries.iter().zip(&keys) {
        assert!(balanced(entry), "{entry}");
        assert!(entry.trim_start().starts_with('@'), "{entry}");
        assert!(entry.contains(&format!("{{{key},")), "{entry}");
    }
    assert!(entries[0].starts_with("@article{vaswani2017attention,"));
    assert!(entries[0].contains("  title = {{Attention Is All You Need}},"));
    assert!(entries[0].contains("  author = {Ashish Vaswani and Noam Shazeer},"));
    assert!(entries[0].contains("  journal = {NeurIPS},"));
    assert!(entries[0].contains("  doi = {10.5555/3295222.3295349},"));
    assert!(
        entries[0]
            .contains(r"  url = {https://example.org/a\_b?x=1\&y=50\%25\#frag\%20\%7Bx\%7D},"),
        "{}",
        entries[0]
    );
    assert!(entries[1].starts_with("@misc{"));
    assert!(entries[1].contains("  eprint = {1706.03762},"));
    assert!(entries[1].contains("  archivePrefix = {arXiv},"));
    assert!(entries[1].contains("  howpublished = {arXiv preprint arXiv:1706.03762},"));
    assert!(entries[2].contains(
        r"title = {{Attention: R\&D at 100\% with snake\_case \textbraceleft{}braces\textbraceright{} \$x\textasciicircum{}2\$ \textasciitilde{} \# \textbackslash{} and bells}},"
    ), "{}", entries[2]);
    assert!(
        entries[3].contains("author = {José Müller-Łukasiewicz and {Smith and Sons, Ltd, Inc}},"),
        "{}",
        entries[3]
    );
    assert!(entries[3].contains("title = {{Über die Natur}}"));
    assert!(!entries[4].contains("year"));
    assert!(!bib.contains('\u{7}'));
}

#[test]
fn real_bibtex_accepts_the_file() {
    let Ok(out) = std::process::Command::new("bibtex")
        .arg("--version")
        .output()
    else {
        eprintln!("skipped: the `bibtex` program is not installed");
        return;
    };
    if !out.status.success() {
        eprintln!("skipped: `bibtex --version` failed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut papers = tricky();
    papers.extend(corpus());
    let (keys, bib) = bibtex(&papers);
    std::fs::write(dir.path().join("refs.bib"), bib).unwrap();
    let aux: String = keys
        .iter()
        .map(|k| format!("\\citation{{{k}}}\n"))
        .chain(["\\bibstyle{plain}\n\\bibdata{refs}\n".to_string()])
        .collect();
    std::fs::write(dir.path().join("paper.aux"), aux).unwrap();
    let run = std::process::Command::new("bibtex")
        .arg("paper")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let blg = std::fs::read_to_string(dir.path().join("paper.blg")).unwrap_or_default();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{blg}");
    assert!(!blg.to_lowercase().contains("error"), "{blg}");
    let bbl = std::fs::read_to_string(dir.path().join("paper.bbl")).unwrap();
    for key in &keys {
        assert!(bbl.contains(&format!("\\bibitem{{{key}}}")), "{key}\n{bbl}");
    }

    // And LaTeX typesets the bibliography, when it is installed.
    let tex = format!(
        "\\documentclass{{article}}\n\\usepackage[utf8]{{inputenc}}\n\\usepackage[T1]{{fontenc}}\n\\begin{{document}}\n\\cite{{{}}}\n\\bibliographystyle{{plain}}\n\\bibliography{{refs}}\n\\end{{document}}\n",
        keys.join(",")
    );
    std::fs::write(dir.path().join("paper.tex"), tex).unwrap();
    match std::process::Command::new("pdflatex")
        .args(["-interaction=nonstopmode", "-halt-on-error", "paper.tex"])
        .current_dir(dir.path())
        .output()
    {
        Ok(latex) => assert!(
            latex.status.success(),
            "{}",
            String::from_utf8_lossy(&latex.stdout)
        ),
        Err(e) => eprintln!("pdflatex not run ({e}): only bibtex was checked"),
    }
}
