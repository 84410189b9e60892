//! TensorBoard event files (`events.out.tfevents.*`), as TensorFlow, PyTorch's and
//! tensorboardX's `SummaryWriter` write them.
//!
//! A file is a sequence of TFRecords: `u64` data length (LE), `u32` masked CRC-32C of those
//! eight bytes, the data, `u32` masked CRC-32C of the data. Each record's data is an `Event`
//! protobuf (tensorflow/core/util/event.proto):
//!
//! ```text
//! Event        { double wall_time = 1; int64 step = 2; Summary summary = 5; ... }
//! Summary      { repeated Value value = 1; }
//! Value        { string tag = 1; float simple_value = 2; TensorProto tensor = 8; ... }
//! TensorProto  { DataType dtype = 1; TensorShapeProto tensor_shape = 2; bytes tensor_content = 4;
//!                repeated float float_val = 5; repeated double double_val = 6; ... }
//! TensorShapeProto { repeated Dim dim = 2 (Dim { int64 size = 1; }); bool unknown_rank = 3; }
//! ```
//!
//! TF1, PyTorch and tensorboardX write scalars as `simple_value`; TF2's `tf.summary.scalar`
//! writes a scalar `tensor` (DT_FLOAT = 1 or DT_DOUBLE = 2, in `float_val`/`double_val` or in
//! `tensor_content`). Both are read; other summaries (histograms, images, text) are skipped.

use super::crc::{crc32c, mask};
use super::proto::{self, Malformed, Wire};

/// File names TensorBoard writers give event files start with this.
pub const EVENTS_FILE_PREFIX: &str = "events.out.tfevents.";

const DT_FLOAT: u64 = 1;
const DT_DOUBLE: u64 = 2;

/// Every scalar in an event file, in file order: `(tag, step, value)`.
///
/// A record whose data CRC does not match is skipped; a bad length CRC or a truncated tail (a
/// file still being written) ends reading. Never panics, whatever the bytes.
pub fn read_scalars(bytes: &[u8]) -> Vec<(String, i64, f64)> {
    let mut out = Vec::new();
    for data in records(bytes) {
        // A record that is not a well-formed Event contributes nothing, not part of itself.
        let _ = read_event(data, &mut out);
    }
    out
}

/// The data of each TFRecord whose CRCs match.
fn records(mut rest: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        loop {
            let (len_bytes, after) = rest.split_first_chunk::<8>()?;
            let (len_crc, after) = after.split_first_chunk::<4>()?;
            if mask(crc32c(&[len_bytes])) != u32::from_le_bytes(*len_crc) {
                // The framing itself is lost: nothing after this can be trusted.
                rest = &[];
                return None;
            }
            let len = usize::try_from(u64::from_le_bytes(*len_bytes)).ok()?;
            if after.len() < len.checked_add(4)? {
                rest = &[];
                return None;
            }
            let (data, after) = after.split_at(len);
            let (data_crc, after) = after.split_first_chunk::<4>()?;
            rest = after;
            if mask(crc32c(&[data])) == u32::from_le_bytes(*data_crc) {
                return Some(data);
            }
        }
    })
}

/// Appends an Event's scalars to `out`, only if the whole Event parses.
fn read_event(data: &[u8], out: &mut Vec<(String, i64, f64)>) -> Result<(), Malformed> {
    let mut step = 0i64;
    let mut found = Vec::new();
    for field in proto::fields(data) {
        match field? {
            (2, v) => step = v.int64()?,
            (5, v) => read_summary(v.message()?, &mut found)?,
            _ => {}
        }
    }
    out.extend(found.into_iter().map(|(tag, value)| (tag, step, value)));
    Ok(())
}

fn read_summary(data: &[u8], found: &mut Vec<(String, f64)>) -> Result<(), Malformed> {
    for field in proto::fields(data) {
        if let (1, v) = field? {
            let mut tag = String::new();
            let mut value = None;
            for f in proto::fields(v.message()?) {
                match f? {
                    (1, v) => tag = v.string()?,
                    (2, Wire::Fixed32(bits)) => value = Some(f64::from(f32::from_bits(bits))),
                    (2, _) => return Err(Malformed),
                    (8, v) => value = scalar_tensor(v.message()?)?,
                    _ => {}
                }
            }
            if let Some(value) = value {
                found.push((tag, value));
            }
        }
    }
    Ok(())
}

/// The value of a float or double tensor holding exactly one element, else `None`.
fn scalar_tensor(data: &[u8]) -> Result<Option<f64>, Malformed> {
    let mut dtype = 0;
    let mut elements: Option<u64> = Some(1);
    let mut content: &[u8] = &[];
    let mut floats = Vec::new();
    let mut doubles = Vec::new();
    for field in proto::fields(data) {
        match field? {
            (1, Wire::Varint(d)) => dtype = d,
            (2, v) => elements = shape_elements(v.message()?)?,
            (4, v) => content = v.message()?,
            (5, v) => v.floats(&mut floats)?,
            (6, v) => v.doubles(&mut doubles)?,
            _ => {}
        }
    }
    if elements != Some(1) {
        return Ok(None);
    }
    Ok(match dtype {
        DT_FLOAT => match (floats.as_slice(), content) {
            ([x], _) => Some(*x),
            ([], c) => c
                .try_into()
                .ok()
                .map(|b: [u8; 4]| f64::from(f32::from_le_bytes(b))),
            _ => None,
        },
        DT_DOUBLE => match (doubles.as_slice(), content) {
            ([x], _) => Some(*x),
            ([], c) => c.try_into().ok().map(f64::from_le_bytes),
            _ => None,
        },
        _ => None,
    })
}

/// How many elements a shape holds; `None` for an unknown rank or a negative dimension.
fn shape_elements(data: &[u8]) -> Result<Option<u64>, Malformed> {
    let mut n: Option<u64> = Some(1);
    for field in proto::fields(data) {
        match field? {
            (2, v) => {
                let mut size = 0i64;
                for f in proto::fields(v.message()?) {
                    if let (1, v) = f? {
                        size = v.int64()?;
                    }
                }
                n = n.and_then(|n| n.checked_mul(u64::try_from(size).ok()?));
            }
            (3, Wire::Varint(unknown)) if unknown != 0 => n = None,
            _ => {}
        }
    }
    Ok(n)
}

/// Builds TFRecord event files: the tests' fixtures.
#[cfg(test)]
pub(crate) mod write {
    use super::super::crc::{crc32c, mask};
    use super::super::proto::write::*;

    pub(crate) fn record(out: &mut Vec<u8>, data: &[u8]) {
        let len = (data.len() as u64).to_le_bytes();
        out.extend_from_slice(&len);
        out.extend_from_slice(&mask(crc32c(&[&len])).to_le_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(&mask(crc32c(&[data])).to_le_bytes());
    }

    /// An Event at `step` whose summary holds the given `Summary.Value` messages.
    pub(crate) fn event(step: i64, values: &[Vec<u8>]) -> Vec<u8> {
        let mut summary = Vec::new();
        for v in values {
            bytes(&mut summary, 1, v);
        }
        let mut e = Vec::new();
        double(&mut e, 1, 1.7e9);
        uint(&mut e, 2, step as u64);
        bytes(&mut e, 5, &summary);
        e
    }

    pub(crate) fn simple_value(tag: &str, v: f32) -> Vec<u8> {
        let mut out = Vec::new();
        bytes(&mut out, 1, tag.as_bytes());
        float(&mut out, 2, v);
        out
    }

    pub(crate) fn tensor_value(tag: &str, tensor: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        bytes(&mut out, 1, tag.as_bytes());
        bytes(&mut out, 8, tensor);
        // SummaryMetadata { plugin_data { plugin_name: "scalars" } }: ignored by the reader
        let mut plugin = Vec::new();
        bytes(&mut plugin, 1, b"scalars");
        let mut meta = Vec::new();
        bytes(&mut meta, 1, &plugin);
        bytes(&mut out, 9, &meta);
        out
    }

    /// A TensorProto of `dtype` with the given dimension sizes and value fields.
    pub(crate) fn tensor(dtype: u64, dims: &[i64], fields: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut shape = Vec::new();
        for &d in dims {
            let mut dim = Vec::new();
            uint(&mut dim, 1, d as u64);
            bytes(&mut shape, 2, &dim);
        }
        let mut t = Vec::new();
        uint(&mut t, 1, dtype);
        bytes(&mut t, 2, &shape);
        fields(&mut t);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::super::proto::write::{bytes, double, float, uint};
    use super::write::*;
    use super::*;

    fn file(events: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        // the first record of every file: Event { wall_time, file_version: "brain.Event:2" }
        let mut version = Vec::new();
        double(&mut version, 1, 1.7e9);
        bytes(&mut version, 3, b"brain.Event:2");
        record(&mut out, &version);
        for e in events {
            record(&mut out, e);
        }
        out
    }

    /// The bytes tensorboardX 2.6.5 wrote for `add_scalar("val/loss", 1.0, 0)` and
    /// `add_scalar("val/loss", 0.5, 1)` (`xxd` of a real file, wall times as written).
    const TENSORBOARDX_FILE: &[u8] = &[
        0x18, 0, 0, 0, 0, 0, 0, 0, 0xa3, 0x7f, 0x4b, 0x22, 0x09, 0xf9, 0x72, 0x18, 0xd3, 0xfc,
        0xc1, 0xda, 0x41, 0x1a, 0x0d, b'b', b'r', b'a', b'i', b'n', b'.', b'E', b'v', b'e', b'n',
        b't', b':', b'2', 0xb0, 0xb8, 0xac, 0x83, 0x1c, 0, 0, 0, 0, 0, 0, 0, 0xc8, 0xc1, 0x95,
        0x1d, 0x09, 0xdd, 0x79, 0x18, 0xd3, 0xfc, 0xc1, 0xda, 0x41, 0x2a, 0x11, 0x0a, 0x0f, 0x0a,
        0x08, b'v', b'a', b'l', b'/', b'l', b'o', b's', b's', 0x15, 0x00, 0x00, 0x80, 0x3f, 0x11,
        0x22, 0xe6, 0x13, 0x1e, 0, 0, 0, 0, 0, 0, 0, 0xd9, 0xdc, 0x12, 0x32, 0x09, 0x2c, 0x7c,
        0x18, 0xd3, 0xfc, 0xc1, 0xda, 0x41, 0x10, 0x01, 0x2a, 0x11, 0x0a, 0x0f, 0x0a, 0x08, b'v',
        b'a', b'l', b'/', b'l', b'o', b's', b's', 0x15, 0x00, 0x00, 0x00, 0x3f, 0x5d, 0xd8, 0xcf,
        0x2b,
    ];

    #[test]
    fn reads_bytes_a_real_writer_wrote() {
        assert_eq!(
            read_scalars(TENSORBOARDX_FILE),
            vec![("val/loss".into(), 0, 1.0), ("val/loss".into(), 1, 0.5)]
        );
    }

    #[test]
    fn reads_simple_values_and_every_scalar_tensor_encoding() {
        let float_val = tensor(DT_FLOAT, &[], |t| float(t, 5, 0.25)); // unpacked
        let packed = tensor(DT_FLOAT, &[1], |t| bytes(t, 5, &0.5f32.to_le_bytes()));
        let double_val = tensor(DT_DOUBLE, &[], |t| double(t, 6, 0.1));
        let packed_double = tensor(DT_DOUBLE, &[], |t| bytes(t, 6, &0.2f64.to_le_bytes()));
        let content_f = tensor(DT_FLOAT, &[], |t| bytes(t, 4, &1.5f32.to_le_bytes()));
        let content_d = tensor(DT_DOUBLE, &[1, 1], |t| bytes(t, 4, &2.5f64.to_le_bytes()));
        let f = file(&[
            event(3, &[simple_value("a", 0.75), tensor_value("b", &float_val)]),
            event(
                4,
                &[tensor_value("c", &packed), tensor_value("d", &double_val)],
            ),
            event(5, &[tensor_value("e", &packed_double)]),
            event(
                -6,
                &[tensor_value("f", &content_f), tensor_value("g", &content_d)],
            ),
        ]);
        assert_eq!(
            read_scalars(&f),
            vec![
                ("a".into(), 3, 0.75),
                ("b".into(), 3, 0.25),
                ("c".into(), 4, 0.5),
                ("d".into(), 4, 0.1),
                ("e".into(), 5, 0.2),
                ("f".into(), -6, 1.5),
                ("g".into(), -6, 2.5),
            ]
        );
    }

    #[test]
    fn skips_non_scalar_tensors_and_other_summaries() {
        // a histogram-like [2, 3] double tensor, a string tensor, an int tensor, a vector of 2,
        // an unknown rank, and a summary value with only an image
        let matrix = tensor(DT_DOUBLE, &[2, 3], |t| {
            for i in 0..6 {
                double(t, 6, f64::from(i));
            }
        });
        let text = tensor(7, &[], |t| bytes(t, 8, b"hello"));
        let int = tensor(3, &[], |t| uint(t, 7, 4));
        let two = tensor(DT_FLOAT, &[], |t| bytes(t, 5, &[0u8; 8]));
        let unknown = {
            let mut t = Vec::new();
            uint(&mut t, 1, DT_FLOAT);
            let mut shape = Vec::new();
            uint(&mut shape, 3, 1);
            bytes(&mut t, 2, &shape);
            float(&mut t, 5, 1.0);
            t
        };
        let mut image = Vec::new();
        bytes(&mut image, 1, b"img");
        bytes(&mut image, 4, b"\x08\x01");
        let f = file(&[event(
            1,
            &[
                tensor_value("m", &matrix),
                tensor_value("t", &text),
                tensor_value("i", &int),
                tensor_value("two", &two),
                tensor_value("u", &unknown),
                image,
                simple_value("kept", 1.0),
            ],
        )]);
        assert_eq!(read_scalars(&f), vec![("kept".into(), 1, 1.0)]);
    }

    #[test]
    fn a_bad_data_crc_skips_one_record() {
        let mut f = file(&[event(1, &[simple_value("x", 1.0)])]);
        let end = f.len();
        f[end - 6] ^= 0xFF; // inside the data of the record at step 1
        record(&mut f, &event(2, &[simple_value("x", 2.0)]));
        assert_eq!(read_scalars(&f), vec![("x".into(), 2, 2.0)]);
    }

    #[test]
    fn a_bad_length_crc_or_truncated_tail_ends_reading() {
        let full = file(&[
            event(1, &[simple_value("x", 1.0)]),
            event(2, &[simple_value("x", 2.0)]),
        ]);
        let one = vec![("x".to_string(), 1, 1.0)];
        // every truncation inside the last record keeps the first ones
        let second_start = file(&[event(1, &[simple_value("x", 1.0)])]).len();
        for cut in second_start..full.len() {
            assert_eq!(read_scalars(&full[..cut]), one, "cut at {cut}");
        }
        let mut bad_len = full.clone();
        bad_len[second_start + 8] ^= 1; // the second record's length CRC
        assert_eq!(read_scalars(&bad_len), one);
        let mut huge = full[..second_start].to_vec();
        let len = u64::MAX.to_le_bytes();
        huge.extend_from_slice(&len);
        huge.extend_from_slice(&mask(crc32c(&[&len])).to_le_bytes());
        assert_eq!(read_scalars(&huge), one);
    }

    /// A record with a valid CRC but a malformed Event yields nothing, even values parsed
    /// before the damage.
    #[test]
    fn a_malformed_event_yields_nothing() {
        let mut e = event(1, &[simple_value("x", 1.0)]);
        e.extend_from_slice(&[0x0A, 0x7F]); // a length-delimited field running past the end
        let mut f = file(&[]);
        record(&mut f, &e);
        record(&mut f, &event(2, &[simple_value("y", 2.0)]));
        assert_eq!(read_scalars(&f), vec![("y".into(), 2, 2.0)]);
    }

    #[test]
    fn a_zero_simple_value_is_present() {
        let f = file(&[event(0, &[simple_value("z", 0.0)])]);
        assert_eq!(read_scalars(&f), vec![("z".into(), 0, 0.0)]);
    }
}
