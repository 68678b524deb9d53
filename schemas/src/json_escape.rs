//! The bytes a JSON string cannot hold as they are: quotes, backslashes and
//! control characters. The validator's fast reader (to find where a string
//! ends) and the generator's writer (to know a string needs no escaping)
//! both look for them 8 bytes at a time. The same scan notes the marks of
//! a credential assignment (`:` and `=`) for the validator.

/// A 1 in every byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte of a word.
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The length of the longest prefix of `bytes` without a byte that a JSON
/// string must escape.
pub fn plain_prefix_len(bytes: &[u8]) -> usize {
    scan_plain(bytes).len
}

/// What [`scan_plain`] found at the start of some bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainPrefix {
    /// The length of the longest prefix without a byte to escape.
    pub len: usize,
    /// Whether that prefix holds a `:` or a `=`: free text without either
    /// cannot be a credential assignment, which the validator's fast reader
    /// learns from the one scan that finds where its string ends.
    pub has_assignment_mark: bool,
    /// Whether that prefix holds a byte of 0x80 or above: without one it is
    /// ASCII, and so UTF-8, with no further check.
    pub has_non_ascii: bool,
}

/// The longest prefix of `bytes` without a byte that a JSON string must
/// escape, and whether it holds an assignment mark or a non-ASCII byte.
pub fn scan_plain(bytes: &[u8]) -> PlainPrefix {
    let mut end = 0;
    let mut has_assignment_mark = false;
    let mut has_non_ascii = false;
    while let Some(chunk) = bytes.get(end..end + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("a slice of 8 bytes"));
        let escaped = escaped_bytes(word);
        let marks = has_zero_byte(word ^ (ONES * u64::from(b':')))
            | has_zero_byte(word ^ (ONES * u64::from(b'=')));
        let non_ascii = word & HIGHS;
        if escaped != 0 {
            // The lowest flag of each is exact: only bytes after a flagged
            // one can be flagged wrongly (by the borrow of the subtraction).
            let stop = escaped.trailing_zeros();
            return PlainPrefix {
                len: end + (stop / 8) as usize,
                has_assignment_mark: has_assignment_mark || marks.trailing_zeros() < stop,
                has_non_ascii: has_non_ascii || non_ascii.trailing_zeros() < stop,
            };
        }
        has_assignment_mark |= marks != 0;
        has_non_ascii |= non_ascii != 0;
        end += 8;
    }
    for &byte in &bytes[end..] {
        if byte < 0x20 || byte == b'"' || byte == b'\\' {
            break;
        }
        has_assignment_mark |= byte == b':' || byte == b'=';
        has_non_ascii |= !byte.is_ascii();
        end += 1;
    }
    PlainPrefix {
        len: end,
        has_assignment_mark,
        has_non_ascii,
    }
}

/// The high bit of each byte of `word` that is zero, and maybe of bytes after it.
fn has_zero_byte(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

/// The high bit of each of the 8 bytes of `word` (read little-endian) that
/// is a quote, a backslash or a control character, and maybe of bytes after it.
fn escaped_bytes(word: u64) -> u64 {
    let quote = has_zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = has_zero_byte(word ^ (ONES * u64::from(b'\\')));
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

    #[test]
    fn notes_marks_and_non_ascii_bytes_only_before_the_first_byte_to_escape() {
        fn mark(found: &PlainPrefix) -> bool {
            found.has_assignment_mark
        }
        fn non_ascii(found: &PlainPrefix) -> bool {
            found.has_non_ascii
        }
        for (byte, noted) in [(b':', mark as fn(&_) -> _), (b'=', mark), (0xc3, non_ascii)] {
            for at in 0..20 {
                for quote in (0..22).filter(|&q| q != at) {
                    let mut bytes = b"plain-text-more-plain-text".to_vec();
                    bytes[at] = byte;
                    bytes[quote] = b'"';
                    let found = scan_plain(&bytes);
                    assert_eq!(found.len, quote);
                    assert_eq!(
                        noted(&found),
                        at < quote,
                        "{byte} at {at}, quote at {quote}"
                    );
                }
            }
        }
        let plain = scan_plain(b"no marks in this long plain ASCII text");
        assert!(!plain.has_assignment_mark && !plain.has_non_ascii);
    }
}
