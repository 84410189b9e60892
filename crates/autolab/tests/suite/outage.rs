//! An LLM provider that goes away: the loop waits it out, and pauses only past `max_outage`.

use autolab_llm::fake::{FakeReply, FakeServer};

use super::agent::*;
use super::common::*;
use super::learning::distinct_idea;

#[test]
fn an_llm_outage_is_waited_out_without_losing_experiments() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let ideations = AtomicUsize::new(0);
    let codings = AtomicUsize::new(0);
    let server = FakeServer::from_fn(move |r| {
        let unavailable = FakeReply::status(503, "{\"error\": \"overloaded\"}");
        if is_ideation(r) {
            // The first two ideations and the first coding find the provider down.
            if ideations.fetch_add(1, Ordering::SeqCst) < 2 {
                return unavailable;
            }
            openai(&distinct_idea(ideations.load(Ordering::SeqCst)))
        } else if is_lesson(r) {
            openai("A lesson.")
        } else {
            if codings.fetch_add(1, Ordering::SeqCst) < 1 {
                return unavailable;
            }
            openai(EDIT_VAL)
        }
    });
    let lab = shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nmax_retries = 0\nedit_attempts = 1\noutage_retry = \"100ms\"\n[explore]\nauto = false\n",
        server.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("the LLM is unavailable") && err.contains("trying again in"),
        "{err}"
    );
    let results = lab.json(&["results", "--format", "json"]);
    let rows = results.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{results}");
    assert_eq!(rows[1]["verdict"], "kept", "{results}");
    for r in rows {
        assert_ne!(r["verdict"], "invalid", "an outage cost an experiment: {r}");
    }
    let one = lab.json(&["show", "1", "--json"]);
    let deferred = one["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["detail"]["deferred"] == "the LLM is unavailable");
    assert!(deferred, "#1 waited for the LLM: {one}");
}

#[test]
fn an_llm_down_past_max_outage_pauses_the_campaign_resumably() {
    let server =
        FakeServer::from_fn(|_| FakeReply::status(503, "{\"error\": \"down for maintenance\"}"));
    let lab = shell_lab(&format!(
        "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}\"\nmax_retries = 0\noutage_retry = \"100ms\"\nmax_outage = \"1s\"\n",
        server.url()
    ));
    let out = lab.autolab(&["run", "--tag", "t", "--max-experiments", "3"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("(max_outage): pausing") && err.contains("down for maintenance"),
        "{err}"
    );
    let results = lab.json(&["results", "--format", "json"]);
    assert_eq!(
        results.as_array().unwrap().len(),
        1,
        "only the baseline: {results}"
    );
    // Tries back off: 0.1 s, 0.2 s, 0.4 s, … — a handful of calls, not a flood.
    let calls = server.requests().len();
    assert!((2..=6).contains(&calls), "{calls} calls");
}
