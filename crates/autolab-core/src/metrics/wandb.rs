//! Weights & Biases run files (`wandb/<offline->run-<time>-<id>/run-<id>.wandb`).
//!
//! W&B writes no `wandb-summary.json` in offline mode: history and summary live only in this
//! binary file. It is laid out like a LevelDB log (checked against files wandb 0.31 wrote):
//!
//! - a 7-byte header: `:W&B`, the magic `0xBEE1` (LE: `E1 BE`), a version byte (`0`);
//! - 32 KiB blocks counted from the start of the file (the header is in block 0); a block's
//!   tail shorter than a record header (7 bytes) is padding;
//! - records: `u32` checksum (LE), `u16` length (LE), `u8` type (FULL = 1, FIRST = 2,
//!   MIDDLE = 3, LAST = 4), data. A FIRST..LAST chain, spanning blocks, is one payload.
//!   The checksum is the IEEE CRC-32 (zlib's) of the type byte and the data, unmasked — not
//!   LevelDB's masked CRC-32C, which is accepted too.
//!
//! Each payload is a `wandb_internal.Record` protobuf (wandb/proto/wandb_internal.proto):
//!
//! ```text
//! Record        { int64 num = 1; HistoryRecord history = 2; SummaryRecord summary = 3;
//!                 RunRecord run = 17; ... }
//! HistoryRecord { repeated HistoryItem item = 1; HistoryStep step = 2; }
//! HistoryItem   { string key = 1; repeated string nested_key = 2; sint64 integer = 5;
//!                 double number = 6; string value_json = 16; ... }
//! HistoryStep   { int64 num = 1; }
//! SummaryRecord { repeated SummaryItem update = 1; repeated SummaryItem remove = 2; }
//! SummaryItem   { string key = 1; repeated string nested_key = 2; string value_json = 16; }
//! RunRecord     { ... SummaryRecord summary = 5; ... }   (a resumed run's summary so far)
//! ```
//!
//! wandb 0.31 writes `nested_key = ["loss"]` for logged values and `key = "best"` for values set
//! with `run.summary[...]`; a nested dict logs `nested_key = ["a", "b"]`, read as `a.b`.

use indexmap::IndexMap;

use super::crc::{crc32_ieee, crc32c, mask};
use super::proto::{self, Malformed, Wire};
use super::pyjson::insert_numbers;

/// The start of every `.wandb` file: `:W&B` and the magic `0xBEE1`, little-endian.
const HEADER_PREFIX: [u8; 6] = *b":W&B\xE1\xBE";
const HEADER_LEN: usize = 7;
const BLOCK: usize = 32 * 1024;
const RECORD_HEADER: usize = 7;

const FULL: u8 = 1;
const FIRST: u8 = 2;
const MIDDLE: u8 = 3;
const LAST: u8 = 4;

/// The numeric values of one W&B run.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct WandbRun {
    /// The run's summary: the last update of each key wins. Without any summary record, the
    /// last history value of each key.
    pub summary: IndexMap<String, f64>,
    /// One row per `wandb.log` call (with `_step`, `_runtime`, `_timestamp`).
    pub history: Vec<IndexMap<String, f64>>,
}

/// Whether `bytes` start like a `.wandb` file.
pub fn has_wandb_header(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER_LEN && bytes.starts_with(&HEADER_PREFIX)
}

/// Reads the numeric history and summary of a `.wandb` file.
///
/// Bytes without the header yield an empty run. A record with a bad checksum drops the rest of
/// its block (as LevelDB does); a truncated tail ends reading. Never panics, whatever the bytes.
pub fn read_wandb(bytes: &[u8]) -> WandbRun {
    let mut run = WandbRun::default();
    if !has_wandb_header(bytes) {
        return run;
    }
    for payload in payloads(bytes) {
        // A malformed Record contributes nothing, not part of itself.
        let _ = read_record(&payload, &mut run);
    }
    if run.summary.is_empty() {
        for row in &run.history {
            for (k, v) in row {
                run.summary.insert(k.clone(), *v);
            }
        }
    }
    run
}

/// The reassembled payloads of the file's log records.
fn payloads(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut pending: Option<Vec<u8>> = None;
    let mut pos = HEADER_LEN;
    while pos < bytes.len() {
        let block_end = (pos / BLOCK + 1) * BLOCK;
        if block_end - pos < RECORD_HEADER {
            pos = block_end; // trailer padding
            continue;
        }
        let Some(header) = bytes.get(pos..pos + RECORD_HEADER) else {
            break; // truncated tail
        };
        let checksum = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let len = usize::from(u16::from_le_bytes([header[4], header[5]]));
        let kind = header[6];
        let start = pos + RECORD_HEADER;
        let end = start + len;
        if kind == 0 && len == 0 {
            // zeroes: a preallocated or zero-padded region; nothing more in this block
            pos = block_end;
            continue;
        }
        if end > block_end {
            // a record never crosses a block: the length is corrupt
            pending = None;
            pos = block_end;
            continue;
        }
        let Some(data) = bytes.get(start..end) else {
            break; // truncated tail: a file still being written
        };
        let type_byte = [kind];
        let parts: [&[u8]; 2] = [&type_byte, data];
        if checksum != crc32_ieee(&parts) && checksum != mask(crc32c(&parts)) {
            pending = None;
            pos = block_end;
            continue;
        }
        pos = end;
        match kind {
            FULL => {
                pending = None;
                out.push(data.to_vec());
            }
            FIRST => pending = Some(data.to_vec()),
            MIDDLE => {
                if let Some(p) = pending.as_mut() {
                    p.extend_from_slice(data);
                }
            }
            LAST => {
                if let Some(mut p) = pending.take() {
                    p.extend_from_slice(data);
                    out.push(p);
                }
            }
            _ => {}
        }
    }
    out
}

/// Applies one Record, only if it parses whole.
fn read_record(data: &[u8], run: &mut WandbRun) -> Result<(), Malformed> {
    let mut history = None;
    let mut summary = Vec::new();
    for field in proto::fields(data) {
        match field? {
            (2, v) => history = Some(read_history(v.message()?)?),
            (3, v) => summary.push(read_summary(v.message()?)?),
            (17, v) => {
                for f in proto::fields(v.message()?) {
                    if let (5, v) = f? {
                        summary.push(read_summary(v.message()?)?);
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(row) = history {
        run.history.push(row);
    }
    for (updates, removals) in summary {
        for key in removals {
            run.summary
                .retain(|k, _| k != &key && !k.starts_with(&format!("{key}.")));
        }
        for (k, v) in updates {
            run.summary.insert(k, v);
        }
    }
    Ok(())
}

fn read_history(data: &[u8]) -> Result<IndexMap<String, f64>, Malformed> {
    let mut row = IndexMap::new();
    let mut step = None;
    for field in proto::fields(data) {
        match field? {
            (1, v) => {
                let mut item = Item::default();
                for f in proto::fields(v.message()?) {
                    match f? {
                        (5, v) => item.number = Some(v.sint64()? as f64),
                        (6, v) => item.number = Some(v.double()?),
                        (n, v) => item.common(n, v)?,
                    }
                }
                item.values(&mut row);
            }
            (2, v) => {
                for f in proto::fields(v.message()?) {
                    if let (1, v) = f? {
                        step = Some(v.int64()?);
                    }
                }
                step.get_or_insert(0);
            }
            _ => {}
        }
    }
    if let Some(step) = step
        && !row.contains_key("_step")
    {
        row.insert("_step".into(), step as f64);
    }
    Ok(row)
}

type SummaryChange = (IndexMap<String, f64>, Vec<String>);

fn read_summary(data: &[u8]) -> Result<SummaryChange, Malformed> {
    let mut updates = IndexMap::new();
    let mut removals = Vec::new();
    for field in proto::fields(data) {
        match field? {
            (1, v) => {
                let mut item = Item::default();
                for f in proto::fields(v.message()?) {
                    let (n, v) = f?;
                    item.common(n, v)?;
                }
                item.values(&mut updates);
            }
            (2, v) => {
                let mut item = Item::default();
                for f in proto::fields(v.message()?) {
                    let (n, v) = f?;
                    item.common(n, v)?;
                }
                removals.push(item.key());
            }
            _ => {}
        }
    }
    Ok((updates, removals))
}

/// A HistoryItem or SummaryItem.
#[derive(Default)]
struct Item {
    key: String,
    nested_key: Vec<String>,
    value_json: Option<String>,
    number: Option<f64>,
}

impl Item {
    /// The fields HistoryItem and SummaryItem share.
    fn common(&mut self, number: u32, v: Wire<'_>) -> Result<(), Malformed> {
        match number {
            1 => self.key = v.string()?,
            2 => self.nested_key.push(v.string()?),
            16 => self.value_json = Some(v.string()?),
            _ => {}
        }
        Ok(())
    }

    fn key(&self) -> String {
        if self.key.is_empty() {
            self.nested_key.join(".")
        } else {
            self.key.clone()
        }
    }

    /// The item's numeric values: one, or the numeric members of a JSON object as `key.member`.
    /// Python's `json` writes `NaN`, `Infinity` and `-Infinity`; booleans, strings and media
    /// objects are not metrics. W&B's own bookkeeping (`_wandb.*`) is left out.
    fn values(self, out: &mut IndexMap<String, f64>) {
        let key = self.key();
        if key.is_empty() || key == "_wandb" || key.starts_with("_wandb.") {
            return;
        }
        if let Some(x) = self.number {
            out.insert(key, x);
        } else if let Some(json) = &self.value_json {
            insert_numbers(&key, json, out);
        }
    }
}

/// Builds `.wandb` files: the tests' fixtures.
#[cfg(test)]
pub(crate) mod write {
    use super::super::crc::crc32_ieee;
    use super::super::proto::write::*;
    use super::{BLOCK, FIRST, FULL, HEADER_LEN, LAST, MIDDLE, RECORD_HEADER};

    pub(crate) fn header() -> Vec<u8> {
        b":W&B\xE1\xBE\x00".to_vec()
    }

    /// Appends `payload` as one logical record, split across blocks as LevelDB's writer does.
    pub(crate) fn record(out: &mut Vec<u8>, payload: &[u8]) {
        assert!(out.len() >= HEADER_LEN);
        let mut rest = payload;
        let mut first = true;
        loop {
            let left = BLOCK - out.len() % BLOCK;
            if left < RECORD_HEADER {
                out.resize(out.len() + left, 0);
                continue;
            }
            let room = left - RECORD_HEADER;
            let n = rest.len().min(room);
            let last = n == rest.len();
            let kind = match (first, last) {
                (true, true) => FULL,
                (true, false) => FIRST,
                (false, true) => LAST,
                (false, false) => MIDDLE,
            };
            let (chunk, tail) = rest.split_at(n);
            out.extend_from_slice(&crc32_ieee(&[&[kind], chunk]).to_le_bytes());
            out.extend_from_slice(&(n as u16).to_le_bytes());
            out.push(kind);
            out.extend_from_slice(chunk);
            rest = tail;
            first = false;
            if last {
                return;
            }
        }
    }

    /// A SummaryItem or HistoryItem: `key` (or `nested_key` for a path with dots) and JSON.
    pub(crate) fn item(key: &str, value_json: &str, nested: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if nested {
            for part in key.split('.') {
                bytes(&mut out, 2, part.as_bytes());
            }
        } else {
            bytes(&mut out, 1, key.as_bytes());
        }
        bytes(&mut out, 16, value_json.as_bytes());
        out
    }

    pub(crate) fn history(num: i64, step: i64, items: &[(&str, &str)]) -> Vec<u8> {
        let mut h = Vec::new();
        for (k, v) in items {
            bytes(&mut h, 1, &item(k, v, true));
        }
        let mut s = Vec::new();
        if step != 0 {
            uint(&mut s, 1, step as u64);
        }
        bytes(&mut h, 2, &s);
        let mut r = Vec::new();
        uint(&mut r, 1, num as u64);
        bytes(&mut r, 2, &h);
        r
    }

    pub(crate) fn summary(num: i64, items: &[(&str, &str)]) -> Vec<u8> {
        let mut s = Vec::new();
        for (k, v) in items {
            bytes(&mut s, 1, &item(k, v, false));
        }
        let mut r = Vec::new();
        uint(&mut r, 1, num as u64);
        bytes(&mut r, 3, &s);
        r
    }
}

#[cfg(test)]
mod tests;
