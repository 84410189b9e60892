use super::samples::{HEAD_BYTES, MAX_FILES, looks_secret};
use super::*;

#[test]
fn a_csv_shows_its_first_rows_and_its_row_count() {
    let text = "x,y,label\n1,2,a\n3,4,b\n";
    let s = sample("csv", text.as_bytes(), text.len() as u64);
    assert_eq!(s, "x,y,label\n1,2,a\n3,4,b\n[3 lines]");
}

#[test]
fn a_large_csv_is_sampled_from_its_head_with_an_estimate_and_no_partial_line() {
    let mut text = String::from("a,b\n");
    for i in 0..100_000 {
        text.push_str(&format!("{i:06},{:07}\n", i * 2));
    }
    let head = &text.as_bytes()[..HEAD_BYTES];
    let s = sample("csv", head, text.len() as u64);
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(
        &lines[..6],
        [
            "a,b",
            "000000,0000000",
            "000001,0000002",
            "000002,0000004",
            "000003,0000006",
            "000004,0000008"
        ]
    );
    let last = lines.last().unwrap();
    assert!(last.starts_with("[about "), "{last}");
    let est: f64 = last["[about ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!((est - 100_001.0).abs() / 100_001.0 < 0.01, "{est}");
}

#[test]
fn long_lines_are_cut() {
    let line = "z".repeat(1000);
    let s = sample("tsv", line.as_bytes(), 1000);
    assert_eq!(s.lines().next().unwrap().chars().count(), 301);
}

#[test]
fn a_npy_header_gives_dtype_and_shape() {
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (100, 3), }";
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let mut header = dict.to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend([0u8; 2400]);
    assert_eq!(sample("npy", &bytes, bytes.len() as u64), dict);
    assert_eq!(
        sample("npy", b"garbage", 7),
        "not a NumPy .npy file (no magic)"
    );
    // A header length past the bytes read is not trusted.
    let mut cut = b"\x93NUMPY\x01\x00".to_vec();
    cut.extend(60000u16.to_le_bytes());
    cut.extend(b"{'descr'");
    assert_eq!(sample("npy", &cut, 100), "not a NumPy .npy file (no magic)");
}

#[test]
fn parquet_and_json_are_recognised_by_their_content() {
    assert!(sample("parquet", b"PAR1....", 8).starts_with("a Parquet file"));
    assert!(sample("parquet", b"nope", 4).starts_with("not a Parquet"));
    let s = sample("json", b"{\"a\": 1", 5000);
    assert_eq!(s, "{\"a\": 1\n[first 7 bytes of 5000]");
}

#[test]
fn the_walk_finds_data_skips_hidden_and_tool_dirs_and_caps_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("data/raw")).unwrap();
    std::fs::create_dir_all(root.join(".autolab/runs")).unwrap();
    std::fs::create_dir_all(root.join("node_modules/x")).unwrap();
    std::fs::write(root.join("data/train.csv"), "a,b\n1,2\n").unwrap();
    std::fs::write(root.join("data/raw/extra.tsv"), "a\tb\n").unwrap();
    std::fs::write(root.join(".autolab/runs/m.json"), "{}").unwrap();
    std::fs::write(root.join("node_modules/x/p.json"), "{}").unwrap();
    std::fs::write(root.join("train.py"), "print(1)").unwrap();
    std::os::unix::fs::symlink("/etc", root.join("data/link")).unwrap();
    let found = find_data(root);
    let paths: Vec<&str> = found.samples.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["data/train.csv", "data/raw/extra.tsv"]);
    assert_eq!(found.samples[0].bytes, 8);
    assert_eq!(found.more, 0);
    for i in 0..25 {
        std::fs::write(root.join(format!("data/f{i:02}.csv")), "a\n").unwrap();
    }
    let found = find_data(root);
    assert_eq!(found.samples.len(), MAX_FILES);
    assert_eq!(found.more, 27 - MAX_FILES);
}

#[test]
fn a_brief_reply_is_unfenced_and_garbage_is_refused() {
    let reply = "```markdown\n## Domain\nSpirals.\n## Data\nTwo classes, 200 points each.\n```";
    assert_eq!(
        clean_brief(reply).unwrap(),
        "## Domain\nSpirals.\n## Data\nTwo classes, 200 points each.\n"
    );
    assert!(clean_brief("Sure!").is_err());
    assert!(clean_brief(&"no sections here at all, just a long sentence".repeat(2)).is_err());
    let long = format!("## Domain\n{}", "x".repeat(MAX_BRIEF * 2));
    let cut = clean_brief(&long).unwrap();
    assert!(cut.ends_with("[cut]\n") && cut.len() < MAX_BRIEF + 20);
    // Control characters (a terminal escape) are dropped.
    assert_eq!(
        clean_brief("## Domain\n\u{1b}[31mred\u{1b}[0m and more words here to pass").unwrap(),
        "## Domain\n[31mred[0m and more words here to pass\n"
    );
}

#[test]
fn secret_looking_hidden_and_own_files_are_never_read_and_directories_share_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("shards")).unwrap();
    for (name, text) in [
        ("service-account.json", "{\"private_key\": \"CANARY\"}"),
        (".credentials.json", "{\"k\": \"CANARY\"}"),
        ("api_token.csv", "CANARY\n"),
        ("results.tsv", "commit\tval\n"),
        ("train.csv", "a\n1\n"),
    ] {
        std::fs::write(root.join(name), text).unwrap();
    }
    for i in 0..40 {
        std::fs::write(root.join(format!("shards/s{i:02}.csv")), "a\n").unwrap();
    }
    std::fs::create_dir_all(root.join("eval")).unwrap();
    std::fs::write(root.join("eval/labels.csv"), "y\n1\n").unwrap();
    let found = find_data(root);
    let paths: Vec<&str> = found.samples.iter().map(|s| s.path.as_str()).collect();
    assert!(
        found.samples.iter().all(|s| !s.sample.contains("CANARY")),
        "{paths:?}"
    );
    assert!(!paths.contains(&"results.tsv"));
    assert_eq!(found.secret_looking, 2, "{paths:?}");
    // Forty shards do not crowd out the one file of eval/.
    assert!(paths.contains(&"eval/labels.csv"), "{paths:?}");
    assert!(paths.contains(&"train.csv"), "{paths:?}");
    assert_eq!(found.samples.len(), MAX_FILES);
}

#[test]
fn a_head_without_a_line_end_shows_its_start() {
    let line = "x".repeat(HEAD_BYTES);
    let s = sample("csv", line.as_bytes(), 1 << 20);
    assert!(s.starts_with("xxx"), "{s}");
    assert!(
        s.ends_with(&format!(
            "[no line end in the first {HEAD_BYTES} bytes of 1048576]"
        )),
        "{s}"
    );
}

#[test]
fn secret_names_are_told_from_data_names() {
    for name in [
        "server.pem",
        "tls.key",
        "gcp-key.json",
        "my_password.csv",
        "API_KEY.json",
        "Credentials.csv",
    ] {
        assert!(looks_secret(name), "{name}");
    }
    for name in ["keyboard.csv", "train.csv", "labels.json", "monkeys.tsv"] {
        assert!(!looks_secret(name), "{name}");
    }
}

#[test]
fn every_data_kind_is_recognised_by_its_extension() {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "a.jsonl",
        "b.ndjson",
        "c.npy",
        "d.npz",
        "e.parquet",
        "f.pq",
        "g.TSV",
        "h.txt",
    ] {
        std::fs::write(dir.path().join(f), "x\n").unwrap();
    }
    let found = find_data(dir.path());
    let kinds: Vec<(&str, &str)> = found
        .samples
        .iter()
        .map(|s| (s.path.as_str(), s.kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("a.jsonl", "jsonl"),
            ("b.ndjson", "jsonl"),
            ("c.npy", "npy"),
            ("d.npz", "npz"),
            ("e.parquet", "parquet"),
            ("f.pq", "parquet"),
            ("g.TSV", "tsv"),
        ]
    );
}

#[test]
fn the_walk_stops_at_its_depth_and_its_entry_budget() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("a/b/c/d/e")).unwrap();
    std::fs::write(root.join("a/b/c/d/four.csv"), "x\n").unwrap();
    std::fs::write(root.join("a/b/c/d/e/five.csv"), "x\n").unwrap();
    let found = find_data(root);
    let paths: Vec<&str> = found.samples.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["a/b/c/d/four.csv"]);
    // A directory with more entries than the walk looks at is not read to its end.
    let many = root.join("many");
    std::fs::create_dir_all(&many).unwrap();
    for i in 0..20_100 {
        std::fs::write(many.join(format!("f{i:05}.csv")), "").unwrap();
    }
    let found = find_data(root);
    let seen = found.samples.len() + found.more;
    assert!(seen < 20_000, "{seen} files looked at");
    assert!(seen > 19_000, "{seen} files looked at");
}

#[test]
fn the_sample_is_shared_round_robin_between_directories() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (d, n) in [("a", 30), ("b", 30), ("c", 1)] {
        std::fs::create_dir_all(root.join(d)).unwrap();
        for i in 0..n {
            std::fs::write(root.join(format!("{d}/f{i:02}.csv")), "x\n").unwrap();
        }
    }
    let found = find_data(root);
    let per = |d: &str| {
        found
            .samples
            .iter()
            .filter(|s| s.path.starts_with(&format!("{d}/")))
            .count()
    };
    assert_eq!((per("a"), per("b"), per("c")), (10, 9, 1));
    assert_eq!(found.more, 61 - MAX_FILES);
}

#[test]
fn a_sampled_file_shows_its_own_content_and_npz_is_recognised() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("train.csv"), "a,b\n1,2\n").unwrap();
    let found = find_data(dir.path());
    assert_eq!(found.samples[0].sample, "a,b\n1,2\n[2 lines]");
    assert!(sample("npz", b"PK\x03\x04", 4).starts_with("a NumPy .npz archive"));
    assert_eq!(sample("npz", b"nope", 4), "not a zip archive");
}

#[test]
fn a_whole_file_is_neither_called_cut_nor_loses_its_last_line() {
    assert_eq!(sample("json", b"{}", 2), "{}");
    assert_eq!(sample("csv", b"a\n1", 3), "a\n1\n[2 lines]");
}

#[test]
fn npy_headers_of_both_versions_and_short_heads() {
    let dict = "{'descr': '<i4', 'fortran_order': False, 'shape': (7,), }";
    let mut v2 = b"\x93NUMPY\x02\x00".to_vec();
    v2.extend((dict.len() as u32).to_le_bytes());
    v2.extend(dict.as_bytes());
    assert_eq!(sample("npy", &v2, 4096), dict);
    let none = "not a NumPy .npy file (no magic)";
    // A head too short for its header length is not read past its end.
    assert_eq!(sample("npy", b"\x93NUMPY\x01\x00", 8), none);
    assert_eq!(sample("npy", b"\x93NUMPY\x01\x00\x05", 9), none);
    assert_eq!(sample("npy", b"\x93NUMPY\x02\x00\x05\x00\x00", 11), none);
    let mut exact = b"\x93NUMPY\x01\x00".to_vec();
    exact.extend(2u16.to_le_bytes());
    exact.extend(b"{}");
    assert_eq!(sample("npy", &exact, 12), "{}");
}
