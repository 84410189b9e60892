use indexmap::IndexMap;

use super::*;

#[test]
fn values_and_hosts() {
    assert_eq!(number(&json!(0.5)), Some(0.5));
    assert!(number(&json!("NaN")).is_some_and(f64::is_nan));
    assert_eq!(number(&json!("-Infinity")), Some(f64::NEG_INFINITY));
    assert_eq!(int(&json!("12")), 12);
    let pts = [(0, 1, 0.9), (1, 2, 0.3), (2, 3, 0.5)];
    assert_eq!(pick(&pts, SeriesValue::Min), Some(0.3));
    assert_eq!(pick(&pts, SeriesValue::Max), Some(0.9));
    assert_eq!(pick(&[], SeriesValue::Max), None);
    assert!(autolab_llm::is_loopback_url("http://127.0.0.1:5000"));
    assert!(autolab_llm::is_loopback_url("http://localhost:5000/"));
    assert!(autolab_llm::is_loopback_url("http://[::1]:5000"));
    assert!(!autolab_llm::is_loopback_url("https://mlflow.example.org"));
}

#[test]
fn an_unreachable_server_is_a_clear_problem() {
    let dir = tempfile::tempdir().unwrap();
    let sources = vec![Source::Mlflow {
        tracking_uri: "http://127.0.0.1:1".into(),
        experiment: None,
        keys: None,
        from: SeriesValue::Last,
        rename: IndexMap::new(),
    }];
    let env = prepare_run(&sources, dir.path(), "t", 3, "0");
    assert_eq!(
        env,
        vec![(
            "MLFLOW_TRACKING_URI".to_string(),
            "http://127.0.0.1:1".to_string()
        )]
    );
    let mut c = Collected::default();
    collect(&sources, dir.path(), true, &mut c);
    assert_eq!(c.problems.len(), 1, "{c:?}");
    assert!(
        c.problems[0].starts_with("MLflow at http://127.0.0.1:1: cannot get experiment `autolab`"),
        "{c:?}"
    );
    std::fs::remove_file(dir.path().join(RECORD_FILE)).unwrap();
    let mut c = Collected::default();
    collect(&sources, dir.path(), true, &mut c);
    assert!(c.problems[0].contains("no MLflow run is known"), "{c:?}");
}
