//! Each service's replies as the real APIs send them.

use super::*;

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
