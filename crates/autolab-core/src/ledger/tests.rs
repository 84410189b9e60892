use super::*;
use crate::experiment::RunOutcome;

fn ledger() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let l = Ledger::open(&dir.path().join("ledger.db")).unwrap();
    (dir, l)
}

#[test]
fn experiment_lifecycle_is_recorded_with_events() {
    let (_d, mut l) = ledger();
    let c = l
        .create_campaign("t", "abc", 7, &IndexMap::new(), "")
        .unwrap();
    assert_eq!(l.next_number(c.id).unwrap(), 0);
    let row = l
        .propose(c.id, 0, "abc", "baseline", "baseline", None)
        .unwrap();
    assert_eq!(l.next_number(c.id).unwrap(), 1);
    let e = l.experiment_by_row(row).unwrap();
    l.transition(&e, State::Queued, serde_json::json!({}))
        .unwrap();
    let (run, idx) = l.start_run(row, 7, "runs/{run}", "abc").unwrap();
    assert_eq!(idx, 0);
    let m = IndexMap::from([("loss".to_string(), 0.5)]);
    l.finish_run(run, RunOutcome::Exited, Some(0), &m, "tail", None)
        .unwrap();
    let ch = Changes {
        score: Some(0.5),
        metrics: Some(m.clone()),
        new_incumbent: Some(0),
        ..Changes::default()
    };
    l.transition_with(
        row,
        State::Kept,
        serde_json::json!({"why": "baseline"}),
        &ch,
    )
    .unwrap();

    let e = l.experiment(c.id, 0).unwrap().unwrap();
    assert_eq!(e.state, State::Kept);
    assert_eq!(e.verdict, Some(Verdict::Kept));
    assert_eq!(e.score, Some(0.5));
    assert_eq!(e.metrics, m);
    assert_eq!(l.campaign("t").unwrap().unwrap().incumbent, Some(0));
    let runs = l.runs(row).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].run_dir, "runs/0");
    assert_eq!(runs[0].metrics["loss"], 0.5);
    let events = l.events(row).unwrap();
    let states: Vec<_> = events.iter().filter_map(|e| e.to.clone()).collect();
    assert_eq!(states, ["proposed", "queued", "kept"]);
}

#[test]
fn reopening_keeps_data_and_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    {
        let mut l = Ledger::open(&path).unwrap();
        l.create_campaign("a", "abc", 1, &IndexMap::new(), "")
            .unwrap();
    }
    let l = Ledger::open(&path).unwrap();
    assert_eq!(l.campaigns().unwrap().len(), 1);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    drop(Ledger::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    assert!(matches!(
        Ledger::open(&path),
        Err(LedgerError::TooNew { found: 99, .. })
    ));
}

#[test]
fn duplicate_experiment_numbers_are_refused() {
    let (_d, mut l) = ledger();
    let c = l
        .create_campaign("t", "abc", 7, &IndexMap::new(), "")
        .unwrap();
    l.propose(c.id, 1, "abc", "x", "x", None).unwrap();
    assert!(l.propose(c.id, 1, "abc", "x", "y", None).is_err());
}

#[test]
fn lessons_digests_and_fix_attempts_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let (c, row) = {
        let mut l = Ledger::open(&path).unwrap();
        let c = l
            .create_campaign("t", "abc", 7, &IndexMap::new(), "")
            .unwrap();
        let row = l.propose(c.id, 1, "abc", "llm", "idea", None).unwrap();
        let e = l.experiment_by_row(row).unwrap();
        l.transition(&e, State::Implementing, serde_json::json!({}))
            .unwrap();
        let e = l.experiment_by_row(row).unwrap();
        l.transition(&e, State::Evaluating, serde_json::json!({"fix_attempt": 1}))
            .unwrap();
        l.set_lesson(row, "templated", false).unwrap();
        l.set_lesson(row, "raising lr helped: loss fell 0.3", true)
            .unwrap();
        l.add_digest(c.id, 3, "old digest").unwrap();
        l.add_digest(c.id, 9, "- lr matters most").unwrap();
        (c, row)
    };
    let l = Ledger::open(&path).unwrap();
    assert_eq!(l.fix_attempts(row).unwrap(), 1);
    let lessons = l.lessons(c.id).unwrap();
    assert_eq!(
        lessons.get(&row),
        Some(&("raising lr helped: loss fell 0.3".to_string(), true))
    );
    assert_eq!(
        l.digest(c.id).unwrap(),
        Some(Digest {
            through: 9,
            text: "- lr matters most".into()
        })
    );
}

#[test]
fn stored_text_no_state_verdict_or_outcome_has_is_an_error_naming_the_row() {
    let (_d, mut l) = ledger();
    let c = l
        .create_campaign("t", "abc", 7, &IndexMap::new(), "")
        .unwrap();
    let row = l
        .propose(c.id, 0, "abc", "baseline", "baseline", None)
        .unwrap();
    let (run, _) = l.start_run(row, 7, "runs/x", "abc").unwrap();
    assert_eq!(l.runs(row).unwrap()[0].outcome, RunOutcome::Running);

    l.conn
        .execute("UPDATE runs SET outcome = 'exploded' WHERE id = ?1", [run])
        .unwrap();
    let e = l.runs(row).unwrap_err().to_string();
    assert!(
        e.contains(&format!("runs row {run}")) && e.contains("exploded"),
        "{e}"
    );

    l.conn
        .execute(
            "UPDATE experiments SET state = 'limbo' WHERE id = ?1",
            [row],
        )
        .unwrap();
    let e = l.experiment_by_row(row).unwrap_err().to_string();
    assert!(
        e.contains(&format!("experiments row {row}")) && e.contains("limbo"),
        "{e}"
    );

    l.conn
        .execute(
            "UPDATE experiments SET state = 'kept', verdict = 'great' WHERE id = ?1",
            [row],
        )
        .unwrap();
    let e = l.experiments(c.id).unwrap_err().to_string();
    assert!(e.contains("unknown verdict `great`"), "{e}");
}

/// Another process (a CLI command, the dashboard) writes between a transaction's read and its
/// write: the transaction must not fail with "database is locked" (a stale snapshot).
#[test]
fn a_write_by_another_process_between_read_and_write_does_not_fail_a_transaction() {
    let (dir, mut l) = ledger();
    let c = l
        .create_campaign("t", "abc", 7, &IndexMap::new(), "")
        .unwrap();
    let row = l
        .propose(c.id, 0, "abc", "baseline", "baseline", None)
        .unwrap();
    let other = Connection::open(dir.path().join("ledger.db")).unwrap();
    other.busy_timeout(std::time::Duration::ZERO).unwrap();
    let mut other_wrote = None;
    l.atomically(|l| {
        l.experiments(c.id)?;
        other_wrote = Some(other.execute(
            "INSERT INTO events (campaign_id, experiment_id, at, kind) VALUES (?1, NULL, 0, 'other')",
            [c.id],
        ));
        l.campaign_event(c.id, "mine", &serde_json::json!({}))?;
        l.transition_with(row, State::Queued, serde_json::json!({}), &Changes::default())
    })
    .unwrap();
    // The other writer waited (here: gave up at once, it has no busy timeout) instead of
    // making this transaction's read stale.
    assert!(other_wrote.unwrap().is_err());
    assert_eq!(l.campaign_events(c.id, "mine").unwrap().len(), 1);
}
