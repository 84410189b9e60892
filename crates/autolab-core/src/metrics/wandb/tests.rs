use super::write::*;
use super::*;

fn file(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = header();
    for r in records {
        record(&mut out, r);
    }
    out
}

fn map(pairs: &[(&str, f64)]) -> IndexMap<String, f64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// The start of a file wandb 0.31 wrote in offline mode: the header and a FULL record whose
/// checksum is zlib's CRC-32 of the type byte and the data (`xxd` of a real file).
#[test]
fn header_and_checksum_match_a_real_file() {
    let real: &[u8] = &[
        0x3a, 0x57, 0x26, 0x42, 0xe1, 0xbe, 0x00, 0x71, 0x4e, 0xdd, 0xe1, 0x4d, 0x00, 0x01,
    ];
    assert!(has_wandb_header(real));
    let checksum = u32::from_le_bytes([real[7], real[8], real[9], real[10]]);
    assert_eq!(checksum, 0xe1dd_4e71);
    assert_eq!(&header()[..], &real[..7]);
    assert!(!has_wandb_header(b":W&B\x00\x00\x00"));
    assert!(!has_wandb_header(b":W&B\xE1\xBE"));
}

#[test]
fn reads_history_rows_and_the_last_summary_update() {
    let f = file(&[
        history(1, 0, &[("loss", "1"), ("_step", "0"), ("acc", "0.5")]),
        summary(2, &[("loss", "1"), ("acc", "0.5")]),
        history(3, 1, &[("loss", "0.5"), ("_step", "1"), ("name", "\"s1\"")]),
        summary(4, &[("loss", "0.5"), ("best", "0.9")]),
        summary(
            5,
            &[("best", "0.95"), ("flag", "true"), ("_wandb.runtime", "3")],
        ),
    ]);
    let run = read_wandb(&f);
    assert_eq!(
        run.history,
        vec![
            map(&[("loss", 1.0), ("_step", 0.0), ("acc", 0.5)]),
            map(&[("loss", 0.5), ("_step", 1.0)]),
        ]
    );
    assert_eq!(
        run.summary,
        map(&[("loss", 0.5), ("acc", 0.5), ("best", 0.95)])
    );
}

#[test]
fn without_summary_records_the_summary_is_the_last_history_value() {
    let f = file(&[
        history(1, 0, &[("loss", "1"), ("acc", "0.5")]),
        history(2, 1, &[("loss", "0.25")]),
    ]);
    let run = read_wandb(&f);
    // `_step` comes from HistoryStep when no `_step` item is logged
    assert_eq!(
        run.summary,
        map(&[("loss", 0.25), ("_step", 1.0), ("acc", 0.5)])
    );
}

#[test]
fn nested_keys_json_objects_and_non_json_numbers() {
    let f = file(&[summary(
        1,
        &[
            (
                "obj",
                r#"{"y": 3.5, "z": {"w": 1}, "s": "x", "img": {"_type": "image-file", "width": 8}}"#,
            ),
            ("nan", "NaN"),
            ("inf", "Infinity"),
            ("ninf", "-Infinity"),
            ("nanobj", r#"{"a": NaN, "b": 2}"#),
            ("big", "1000000000004"),
        ],
    )]);
    let s = read_wandb(&f).summary;
    assert_eq!(s["obj.y"], 3.5);
    assert_eq!(s["obj.z.w"], 1.0);
    assert!(!s.contains_key("obj.s") && !s.keys().any(|k| k.starts_with("obj.img")));
    assert!(s["nan"].is_nan());
    assert_eq!(s["inf"], f64::INFINITY);
    assert_eq!(s["ninf"], f64::NEG_INFINITY);
    assert_eq!(s["nanobj.b"], 2.0);
    assert!(s["nanobj.a"].is_nan());
    assert_eq!(s["big"], 1e12 + 4.0);

    // nested_key ["val", "acc"] reads as `val.acc`; `/` in a key is kept
    let f = file(&[history(1, 0, &[("val.acc", "0.5"), ("train/loss", "2")])]);
    assert_eq!(read_wandb(&f).history[0]["val.acc"], 0.5);
    assert_eq!(read_wandb(&f).history[0]["train/loss"], 2.0);
}

#[test]
fn typed_history_items_and_summary_removal() {
    use super::super::proto::write::{bytes, double, uint};
    let mut item_int = Vec::new();
    bytes(&mut item_int, 1, b"epochs");
    uint(&mut item_int, 5, 5); // zigzag 5 = -3
    let mut item_num = Vec::new();
    bytes(&mut item_num, 1, b"lr");
    double(&mut item_num, 6, 0.01);
    let mut h = Vec::new();
    bytes(&mut h, 1, &item_int);
    bytes(&mut h, 1, &item_num);
    let mut r = Vec::new();
    bytes(&mut r, 2, &h);

    let mut removal = Vec::new();
    bytes(&mut removal, 2, &item("a", "", false));
    let mut rm = Vec::new();
    bytes(&mut rm, 3, &removal);

    let f = file(&[r, summary(2, &[("a", r#"{"b": 1}"#), ("c", "2")]), rm]);
    let run = read_wandb(&f);
    assert_eq!(run.history, vec![map(&[("epochs", -3.0), ("lr", 0.01)])]);
    assert_eq!(run.summary, map(&[("c", 2.0)]));
}

#[test]
fn a_record_spanning_two_blocks_is_reassembled() {
    // Fill block 0 so the next record starts 100 bytes before its end.
    let filler = summary(1, &[("pad", &format!("9{}", " ".repeat(BLOCK - 200)))]);
    let mut f = header();
    record(&mut f, &filler);
    let start = f.len();
    assert!(BLOCK - start > 50 && BLOCK - start < 300, "{start}");
    let long = format!("{}1", " ".repeat(500)); // JSON allows leading blanks
    record(&mut f, &summary(2, &[("x", &long), ("y", "2")]));
    assert_eq!(f[start + 6], FIRST);
    assert_eq!(f[BLOCK + 6], LAST);
    let run = read_wandb(&f);
    assert_eq!(run.summary["x"], 1.0);
    assert_eq!(run.summary["y"], 2.0);
}

#[test]
fn a_record_over_three_blocks_and_trailer_padding() {
    let big = format!("{}7", " ".repeat(2 * BLOCK + 100));
    let mut f = header();
    record(&mut f, &summary(1, &[("big", &big)]));
    assert_eq!(f[BLOCK + 6], MIDDLE);
    // Leave fewer than 7 bytes in the block: the writer pads, the reader skips the padding.
    let pad_at = BLOCK - 3;
    let data_len = pad_at - f.len() % BLOCK - RECORD_HEADER;
    // `1` and trailing spaces: valid JSON of any length
    let filler = (0..)
        .map(|n| summary(2, &[("f", &format!("1{}", " ".repeat(n)))]))
        .find(|r| r.len() >= data_len)
        .unwrap();
    assert_eq!(filler.len(), data_len);
    record(&mut f, &filler);
    assert_eq!(f.len() % BLOCK, pad_at);
    record(&mut f, &summary(3, &[("after", "3")]));
    assert_eq!(f.len() / BLOCK, 3, "the last record starts a new block");
    let s = read_wandb(&f).summary;
    assert_eq!(s["big"], 7.0);
    assert_eq!(s["f"], 1.0);
    assert_eq!(s["after"], 3.0);
}

#[test]
fn a_bad_checksum_drops_the_rest_of_its_block_only() {
    let mut f = header();
    record(&mut f, &summary(1, &[("a", "1")]));
    let bad_at = f.len();
    record(&mut f, &summary(2, &[("b", "2")]));
    record(&mut f, &summary(3, &[("c", "3")]));
    f[bad_at + 10] ^= 0x40; // inside the data of `b`
    // next block
    f.resize(BLOCK, 0);
    record(&mut f, &summary(4, &[("d", "4")]));
    let s = read_wandb(&f).summary;
    assert_eq!(s, map(&[("a", 1.0), ("d", 4.0)]));
}

#[test]
fn orphan_fragments_and_truncated_tails_are_dropped() {
    let mut f = header();
    record(&mut f, &summary(1, &[("a", "1")]));
    let ok = f.clone();
    record(
        &mut f,
        &summary(2, &[("b", &format!("5{}", " ".repeat(BLOCK)))]),
    ); // FIRST, LAST
    for cut in ok.len()..f.len() {
        assert_eq!(
            read_wandb(&f[..cut]).summary,
            map(&[("a", 1.0)]),
            "cut at {cut}"
        );
    }
    // a LAST (and MIDDLE) without its FIRST: the block 0 part lost
    let mut orphan = ok.clone();
    orphan.resize(BLOCK, 0);
    orphan.extend_from_slice(&f[BLOCK..]);
    assert_eq!(read_wandb(&orphan).summary, map(&[("a", 1.0)]));
}

#[test]
fn leveldb_masked_crc32c_is_accepted() {
    let payload = summary(1, &[("m", "1")]);
    let mut f = header();
    let parts: [&[u8]; 2] = [&[FULL], &payload];
    f.extend_from_slice(&mask(crc32c(&parts)).to_le_bytes());
    f.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    f.push(FULL);
    f.extend_from_slice(&payload);
    assert_eq!(read_wandb(&f).summary["m"], 1.0);
}

#[test]
fn not_a_wandb_file_is_empty() {
    assert_eq!(read_wandb(b""), WandbRun::default());
    assert_eq!(read_wandb(b"{\"loss\": 1}"), WandbRun::default());
}
