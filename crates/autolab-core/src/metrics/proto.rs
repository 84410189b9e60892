//! A minimal reader of the protobuf wire format: enough to walk the fields of a message.
//!
//! It knows wire types, not schemas: callers match field numbers. Groups (wire types 3 and 4,
//! deprecated and unused by the messages read here) and any malformed input end the walk with
//! [`Malformed`].

/// One field's value as the wire carries it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Wire<'a> {
    /// Wire type 0: int32/64, uint32/64, sint32/64 (zigzag), bool, enum.
    Varint(u64),
    /// Wire type 1: double, fixed64, sfixed64.
    Fixed64(u64),
    /// Wire type 2: string, bytes, embedded message, packed repeated scalars.
    Bytes(&'a [u8]),
    /// Wire type 5: float, fixed32, sfixed32.
    Fixed32(u32),
}

/// The message's bytes do not follow the wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// The fields of one message, in order: `(field number, value)`.
pub(crate) fn fields(buf: &[u8]) -> Fields<'_> {
    Fields { buf, done: false }
}

pub(crate) struct Fields<'a> {
    buf: &'a [u8],
    done: bool,
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, Wire<'a>), Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.buf.is_empty() {
            return None;
        }
        let item = self.field();
        if item.is_err() {
            self.done = true;
        }
        Some(item)
    }
}

impl<'a> Fields<'a> {
    fn field(&mut self) -> Result<(u32, Wire<'a>), Malformed> {
        let key = varint(&mut self.buf)?;
        let number = u32::try_from(key >> 3).map_err(|_| Malformed)?;
        if number == 0 {
            return Err(Malformed);
        }
        let value = match key & 7 {
            0 => Wire::Varint(varint(&mut self.buf)?),
            1 => Wire::Fixed64(u64::from_le_bytes(take(&mut self.buf)?)),
            2 => {
                let len = usize::try_from(varint(&mut self.buf)?).map_err(|_| Malformed)?;
                if len > self.buf.len() {
                    return Err(Malformed);
                }
                let (data, rest) = self.buf.split_at(len);
                self.buf = rest;
                Wire::Bytes(data)
            }
            5 => Wire::Fixed32(u32::from_le_bytes(take(&mut self.buf)?)),
            _ => return Err(Malformed),
        };
        Ok((number, value))
    }
}

/// A base-128 varint of at most ten bytes, advancing `buf` past it.
pub(crate) fn varint(buf: &mut &[u8]) -> Result<u64, Malformed> {
    let mut value = 0u64;
    for i in 0..10 {
        let (&b, rest) = buf.split_first().ok_or(Malformed)?;
        *buf = rest;
        value |= u64::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Malformed)
}

fn take<const N: usize>(buf: &mut &[u8]) -> Result<[u8; N], Malformed> {
    let (head, rest) = buf.split_first_chunk::<N>().ok_or(Malformed)?;
    *buf = rest;
    Ok(*head)
}

impl<'a> Wire<'a> {
    /// A `string` field; invalid UTF-8 is replaced rather than rejected.
    pub(crate) fn string(self) -> Result<String, Malformed> {
        match self {
            Wire::Bytes(b) => Ok(String::from_utf8_lossy(b).into_owned()),
            _ => Err(Malformed),
        }
    }

    /// An embedded message's bytes.
    pub(crate) fn message(self) -> Result<&'a [u8], Malformed> {
        match self {
            Wire::Bytes(b) => Ok(b),
            _ => Err(Malformed),
        }
    }

    /// An `int64` (two's complement in a varint).
    pub(crate) fn int64(self) -> Result<i64, Malformed> {
        match self {
            Wire::Varint(v) => Ok(v as i64),
            _ => Err(Malformed),
        }
    }

    /// A `sint64` (zigzag in a varint).
    pub(crate) fn sint64(self) -> Result<i64, Malformed> {
        match self {
            Wire::Varint(v) => Ok(((v >> 1) as i64) ^ -((v & 1) as i64)),
            _ => Err(Malformed),
        }
    }

    pub(crate) fn double(self) -> Result<f64, Malformed> {
        match self {
            Wire::Fixed64(v) => Ok(f64::from_bits(v)),
            _ => Err(Malformed),
        }
    }

    /// A `repeated float`: packed (one length-delimited run) or not (one fixed32 per element).
    pub(crate) fn floats(self, out: &mut Vec<f64>) -> Result<(), Malformed> {
        match self {
            Wire::Fixed32(v) => out.push(f64::from(f32::from_bits(v))),
            Wire::Bytes(b) if b.len() % 4 == 0 => out.extend(
                b.chunks_exact(4)
                    .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))),
            ),
            _ => return Err(Malformed),
        }
        Ok(())
    }

    /// A `repeated double`, packed or not.
    pub(crate) fn doubles(self, out: &mut Vec<f64>) -> Result<(), Malformed> {
        match self {
            Wire::Fixed64(v) => out.push(f64::from_bits(v)),
            Wire::Bytes(b) if b.len() % 8 == 0 => out.extend(
                b.chunks_exact(8)
                    .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])),
            ),
            _ => return Err(Malformed),
        }
        Ok(())
    }
}

/// Writes protobuf wire format: the tests' fixtures.
#[cfg(test)]
pub(crate) mod write {
    pub(crate) fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    pub(crate) fn key(out: &mut Vec<u8>, number: u32, wire: u8) {
        varint(out, (u64::from(number) << 3) | u64::from(wire));
    }

    pub(crate) fn bytes(out: &mut Vec<u8>, number: u32, data: &[u8]) {
        key(out, number, 2);
        varint(out, data.len() as u64);
        out.extend_from_slice(data);
    }

    pub(crate) fn uint(out: &mut Vec<u8>, number: u32, v: u64) {
        key(out, number, 0);
        varint(out, v);
    }

    pub(crate) fn double(out: &mut Vec<u8>, number: u32, v: f64) {
        key(out, number, 1);
        out.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn float(out: &mut Vec<u8>, number: u32, v: f32) {
        key(out, number, 5);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(buf: &[u8]) -> Result<Vec<(u32, Wire<'_>)>, Malformed> {
        fields(buf).collect()
    }

    #[test]
    fn reads_each_wire_type() {
        let mut b = Vec::new();
        write::uint(&mut b, 1, 300);
        write::double(&mut b, 2, 1.5);
        write::bytes(&mut b, 3, b"hi");
        write::float(&mut b, 4, 0.25);
        write::uint(&mut b, 536_870_911, u64::MAX); // the largest field number, a 10-byte varint
        let got = all(&b).unwrap();
        assert_eq!(got[0], (1, Wire::Varint(300)));
        assert_eq!(got[1].1.double(), Ok(1.5));
        assert_eq!(got[2].1.string().as_deref(), Ok("hi"));
        let mut fs = Vec::new();
        got[3].1.floats(&mut fs).unwrap();
        assert_eq!(fs, vec![0.25]);
        assert_eq!(got[4], (536_870_911, Wire::Varint(u64::MAX)));
        assert_eq!(got[4].1.int64(), Ok(-1));
    }

    /// The encoding examples of the protobuf documentation.
    #[test]
    fn varints_and_zigzag_match_the_spec() {
        assert_eq!(varint(&mut &[0x96, 0x01][..]), Ok(150));
        assert_eq!(Wire::Varint(0).sint64(), Ok(0));
        assert_eq!(Wire::Varint(1).sint64(), Ok(-1));
        assert_eq!(Wire::Varint(2).sint64(), Ok(1));
        assert_eq!(Wire::Varint(4_294_967_295).sint64(), Ok(-2_147_483_648));
        // eleven continuation bytes: longer than any varint
        assert_eq!(varint(&mut &[0xFF; 11][..]), Err(Malformed));
    }

    #[test]
    fn packed_and_unpacked_repeated_floats() {
        let mut packed = Vec::new();
        for x in [1.0f32, -2.5, 3.0] {
            packed.extend_from_slice(&x.to_le_bytes());
        }
        let mut out = Vec::new();
        Wire::Bytes(&packed).floats(&mut out).unwrap();
        Wire::Fixed32(4.0f32.to_bits()).floats(&mut out).unwrap();
        assert_eq!(out, vec![1.0, -2.5, 3.0, 4.0]);
        assert_eq!(Wire::Bytes(&packed[..5]).floats(&mut out), Err(Malformed));
        let mut d = Vec::new();
        Wire::Bytes(&0.1f64.to_le_bytes()).doubles(&mut d).unwrap();
        Wire::Fixed64(0.2f64.to_bits()).doubles(&mut d).unwrap();
        assert_eq!(d, vec![0.1, 0.2]);
    }

    #[test]
    fn malformed_input_ends_the_walk() {
        // length beyond the buffer
        assert!(all(&[0x0A, 0x05, b'a']).is_err());
        // field number 0
        assert!(all(&[0x00, 0x01]).is_err());
        // group wire types
        assert!(all(&[0x0B]).is_err());
        // truncated fixed64
        assert!(all(&[0x09, 1, 2, 3]).is_err());
        // after an error, nothing more
        let mut it = fields(&[0x0C, 0x08, 0x01]);
        assert!(matches!(it.next(), Some(Err(Malformed))));
        assert!(it.next().is_none());
    }
}
