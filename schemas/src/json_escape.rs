//! The bytes a JSON string cannot hold as they are: quotes, backslashes and
//! control characters. The validator's fast reader (to find where a string
//! ends) and the generator's writer (to know a string needs no escaping)
//! both look for them 8 bytes at a time.

/// The length of the longest prefix of `bytes` without a byte that a JSON
/// string must escape.
pub fn plain_prefix_len(bytes: &[u8]) -> usize {
    let mut end = 0;
    while let Some(chunk) = bytes.get(end..end + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("a slice of 8 bytes"));
        let escaped = escaped_bytes(word);
        if escaped != 0 {
            // The lowest flag is exact: only bytes after a flagged one can
            // be flagged wrongly (by the borrow of the subtraction).
            return end + (escaped.trailing_zeros() / 8) as usize;
        }
        end += 8;
    }
    end + bytes[end..]
        .iter()
        .take_while(|&&b| b >= 0x20 && b != b'"' && b != b'\\')
        .count()
}

/// The high bit of each of the 8 bytes of `word` (read little-endian) that
/// is a quote, a backslash or a control character, and maybe of bytes after it.
fn escaped_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let quote = has_zero(word ^ (ONES * u64::from(b'"')));
    let backslash = has_zero(word ^ (ONES * u64::from(b'\\')));
    // Bytes below 0x20; `!word` keeps those of 0x80 and up (UTF-8) out.
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    quote | backslash | control
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_byte_to_escape_at_any_position() {
        for escaped in [b'"', b'\\', b'\n', 0x00, 0x1f] {
            for at in 0..20 {
                let mut bytes = "é-plain text, more plain text".as_bytes().to_vec();
                bytes[at] = escaped;
                assert_eq!(plain_prefix_len(&bytes), at, "{escaped} at {at}");
            }
        }
        let plain = "plain – 0x7f \u{7f} and up ÿ".as_bytes();
        assert_eq!(plain_prefix_len(plain), plain.len());
    }
}
