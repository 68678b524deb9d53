//! The bytes a JSON string cannot hold as they are: quotes, backslashes and
//! control characters. The validator's fast reader (to find where a string
//! ends) and the generator's writer (to know a string needs no escaping)
//! both look for them 16 bytes at a time (8 where SSE2 is missing). The
//! same scan notes the marks of a credential assignment (`:` and `=`) for
//! the validator.

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
/// Inlined: the validator calls it for every string of every event.
#[inline(always)]
pub fn scan_plain(bytes: &[u8]) -> PlainPrefix {
    let mut found = PlainPrefix {
        len: 0,
        has_assignment_mark: false,
        has_non_ascii: false,
    };
    #[cfg(target_arch = "x86_64")]
    if scan_blocks(bytes, &mut found, 1, sse2::classify) {
        return found;
    }
    scan_rest(bytes, found)
}

/// [`scan_plain`] past what it found so far, 8 bytes at a time and then
/// byte by byte. On x86-64 only the last 15 bytes of an input come here,
/// which a string rarely reaches.
#[cfg_attr(target_arch = "x86_64", cold)]
#[inline(never)]
fn scan_rest(bytes: &[u8], mut found: PlainPrefix) -> PlainPrefix {
    if scan_blocks(bytes, &mut found, 8, classify_word) {
        return found;
    }
    for &byte in &bytes[found.len..] {
        if byte < 0x20 || byte == b'"' || byte == b'\\' {
            break;
        }
        found.has_assignment_mark |= byte == b':' || byte == b'=';
        found.has_non_ascii |= !byte.is_ascii();
        found.len += 1;
    }
    found
}

/// The bytes of one block of input that matter to [`scan_plain`], as masks
/// with a set bit for each such byte, `bits_per_byte` bits to a byte.
struct Classes {
    escaped: u64,
    marks: u64,
    non_ascii: u64,
}

/// Advances `found` over whole blocks of `N` bytes as long as they hold
/// nothing to escape; `true` when it stopped at a byte to escape, `false`
/// when fewer than `N` bytes remain. Only the lowest flag of `escaped` needs
/// to be exact: the others count only below it.
#[inline(always)]
fn scan_blocks<const N: usize>(
    bytes: &[u8],
    found: &mut PlainPrefix,
    bits_per_byte: u32,
    classify: impl Fn(&[u8; N]) -> Classes,
) -> bool {
    while let Some(block) = bytes[found.len..].first_chunk::<N>() {
        let classes = classify(block);
        if classes.escaped != 0 {
            let stop = classes.escaped.trailing_zeros();
            found.len += (stop / bits_per_byte) as usize;
            found.has_assignment_mark |= classes.marks.trailing_zeros() < stop;
            found.has_non_ascii |= classes.non_ascii.trailing_zeros() < stop;
            return true;
        }
        found.has_assignment_mark |= classes.marks != 0;
        found.has_non_ascii |= classes.non_ascii != 0;
        found.len += N;
    }
    false
}

/// Classifies 8 bytes in a word: the high bit of each byte flags it, and a
/// flag may also be set, wrongly, on bytes after a flagged one (by the
/// borrow of the subtraction), which `scan_blocks` tolerates.
fn classify_word(block: &[u8; 8]) -> Classes {
    let word = u64::from_le_bytes(*block);
    Classes {
        escaped: escaped_bytes(word),
        marks: has_zero_byte(word ^ (ONES * u64::from(b':')))
            | has_zero_byte(word ^ (ONES * u64::from(b'='))),
        non_ascii: word & HIGHS,
    }
}

/// Sixteen bytes at a time with SSE2, which every x86-64 processor has: the
/// generator and the validator's fast reader spend much of their time here.
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    use super::Classes;

    /// Classifies 16 bytes, one exact bit per byte.
    pub(super) fn classify(block: &[u8; 16]) -> Classes {
        // SAFETY: SSE2 is part of x86-64's baseline, so its intrinsics are
        // available on every target this compiles for; the unaligned load
        // reads exactly the 16 bytes of `block`.
        unsafe {
            let bytes = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
            let each = |byte: u8| _mm_set1_epi8(byte as i8);
            let equal = |byte: u8| _mm_cmpeq_epi8(bytes, each(byte));
            // Below 0x20 exactly when the unsigned minimum with 0x1f is the byte.
            let control = _mm_cmpeq_epi8(_mm_min_epu8(bytes, each(0x1f)), bytes);
            let escaped = _mm_or_si128(_mm_or_si128(equal(b'"'), equal(b'\\')), control);
            let marks = _mm_or_si128(equal(b':'), equal(b'='));
            let mask = |flags: __m128i| u64::from(_mm_movemask_epi8(flags) as u16);
            Classes {
                escaped: mask(escaped),
                marks: mask(marks),
                non_ascii: mask(bytes),
            }
        }
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
    use proptest::prelude::*;

    use super::*;

    /// What [`scan_plain`] must find, a byte at a time.
    fn scan_bytewise(bytes: &[u8]) -> PlainPrefix {
        let len = bytes
            .iter()
            .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
            .unwrap_or(bytes.len());
        let prefix = &bytes[..len];
        PlainPrefix {
            len,
            has_assignment_mark: prefix.iter().any(|&b| b == b':' || b == b'='),
            has_non_ascii: !prefix.is_ascii(),
        }
    }

    proptest! {
        #[test]
        fn every_block_width_finds_what_a_bytewise_scan_finds(
            plain in proptest::collection::vec(b' '..=b'~', 0..70),
            rare in proptest::collection::vec((any::<u8>(), any::<prop::sample::Index>()), 0..4),
        ) {
            let mut bytes = plain;
            for (byte, at) in rare {
                if !bytes.is_empty() {
                    let at = at.index(bytes.len());
                    bytes[at] = byte;
                }
            }
            prop_assert_eq!(scan_plain(&bytes), scan_bytewise(&bytes));
        }
    }

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
