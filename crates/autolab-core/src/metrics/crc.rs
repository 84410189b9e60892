//! The two CRC-32 variants the loggers' files use, table-driven, tables built at compile time.
//!
//! TFRecord (TensorBoard's event files) and LevelDB use CRC-32C (Castagnoli) "masked" so that a
//! CRC of data that itself holds CRCs does not degenerate. W&B's `.wandb` files, although laid
//! out like a LevelDB log, use the IEEE CRC-32 (zlib's) without masking.

/// Reflected polynomial of CRC-32C (Castagnoli).
const CASTAGNOLI: u32 = 0x82F6_3B78;
/// Reflected polynomial of CRC-32 (IEEE 802.3, zlib).
const IEEE: u32 = 0xEDB8_8320;

const fn table(poly: u32) -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ poly } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CASTAGNOLI_TABLE: [u32; 256] = table(CASTAGNOLI);
static IEEE_TABLE: [u32; 256] = table(IEEE);

/// Continues a CRC over `parts`, as if they were one buffer.
fn run(table: &[u32; 256], parts: &[&[u8]]) -> u32 {
    let mut c = !0u32;
    for part in parts {
        for &b in *part {
            c = table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
    }
    !c
}

/// CRC-32C of the concatenation of `parts`.
pub(crate) fn crc32c(parts: &[&[u8]]) -> u32 {
    run(&CASTAGNOLI_TABLE, parts)
}

/// CRC-32 (IEEE) of the concatenation of `parts`.
pub(crate) fn crc32_ieee(parts: &[&[u8]]) -> u32 {
    run(&IEEE_TABLE, parts)
}

/// The TFRecord/LevelDB mask: rotate right by 15 bits and add a constant.
pub(crate) fn mask(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(0xA282_EAD8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check values of the CRC catalogue: the CRC of the nine bytes "123456789".
    #[test]
    fn check_values_match_the_catalogue() {
        assert_eq!(crc32c(&[b"123456789"]), 0xE306_9283);
        assert_eq!(crc32_ieee(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(crc32c(&[b""]), 0);
    }

    /// RFC 3720 (iSCSI) B.4 test vectors for CRC-32C.
    #[test]
    fn iscsi_vectors() {
        assert_eq!(crc32c(&[&[0u8; 32]]), 0x8A91_36AA);
        assert_eq!(crc32c(&[&[0xFFu8; 32]]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0..32).collect();
        assert_eq!(crc32c(&[&ascending]), 0x46DD_794E);
    }

    #[test]
    fn parts_are_one_buffer() {
        assert_eq!(
            crc32_ieee(&[b"1234", b"56789"]),
            crc32_ieee(&[b"123456789"])
        );
        assert_eq!(crc32c(&[b"", b"123456789", b""]), 0xE306_9283);
    }

    /// The mask as TensorFlow's `crc32c::Mask` computes it.
    #[test]
    fn mask_rotates_and_adds() {
        assert_eq!(mask(0), 0xA282_EAD8);
        assert_eq!(mask(0x0000_8000), 0xA282_EAD9);
        assert_eq!(mask(1), 0xA284_EAD8);
    }
}
