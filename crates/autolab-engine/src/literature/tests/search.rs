//! Searches through the fake server: round trips, retries, fallback, the cache.

use super::*;

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
    // A port that was free a moment ago: nothing listens on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    lit.endpoints.arxiv = format!("http://127.0.0.1:{port}");
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
