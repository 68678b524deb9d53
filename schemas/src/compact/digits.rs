//! The digits that start a JSON integer, read eight at a time.
//!
//! Every event holds a handful of counts of two to seven digits. Read a digit
//! at a time, each count ends in a branch on a length that varies from one
//! count to the next, which the processor mostly guesses wrong; read as one
//! word, a count costs the same few operations whatever its length.

/// A 1 in every byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;

/// The value of the ASCII digits that start `bytes`, at most eight of them,
/// and how many there are.
#[inline(always)]
pub fn leading_digits(bytes: &[u8]) -> (u64, usize) {
    let word = match bytes.first_chunk::<8>() {
        Some(chunk) => u64::from_le_bytes(*chunk),
        None => near_the_end(bytes),
    };
    // A digit's high nibble is 3 and its low one at most 9, which adding 6
    // would carry into the byte's bit 4.
    let high_not_3 = (word & (ONES * 0xf0)) ^ (ONES * 0x30);
    let low_above_9 = ((word & (ONES * 0x0f)) + ONES * 6) & (ONES * 0x10);
    let count = ((high_not_3 | low_above_9).trailing_zeros() / 8) as usize;
    if count == 0 {
        return (0, 0);
    }
    // The digits' values, moved up so that the bytes below the first one
    // are leading zeros; then pairs, fours and eights of them are combined,
    // the more significant at the lower address, as JSON writes them.
    let mut value = (word & (ONES * 0x0f)) << (8 * (8 - count));
    value = (value * 10 + (value >> 8)) & 0x00ff_00ff_00ff_00ff;
    value = (value * 100 + (value >> 16)) & 0x0000_ffff_0000_ffff;
    value = (value * 10_000 + (value >> 32)) & 0xffff_ffff;
    (value, count)
}

/// The fewer than eight bytes of `bytes` as a word, padded with zeros, which
/// are not digits.
#[cold]
fn near_the_end(bytes: &[u8]) -> u64 {
    let mut chunk = [0; 8];
    chunk[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(chunk)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// What [`leading_digits`] must find, a byte at a time.
    fn bytewise(bytes: &[u8]) -> (u64, usize) {
        let count = bytes
            .iter()
            .take(8)
            .take_while(|b| b.is_ascii_digit())
            .count();
        let value = bytes[..count]
            .iter()
            .fold(0, |value, digit| value * 10 + u64::from(digit - b'0'));
        (value, count)
    }

    #[test]
    fn reads_counts_of_every_length_wherever_they_end() {
        for (text, expected) in [
            ("0", (0, 1)),
            ("7,", (7, 1)),
            ("1200}", (1200, 4)),
            ("12345678", (12_345_678, 8)),
            ("123456789", (12_345_678, 8)),
            ("09", (9, 2)),
            ("", (0, 0)),
            ("x1", (0, 0)),
            ("1:", (1, 1)),
            ("1/", (1, 1)),
            ("1\u{0}", (1, 1)),
        ] {
            assert_eq!(leading_digits(text.as_bytes()), expected, "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn agrees_with_a_bytewise_read(
            bytes in prop::collection::vec(
                prop_oneof![3 => b'0'..=b'9', 1 => any::<u8>()],
                0..12,
            )
        ) {
            prop_assert_eq!(leading_digits(&bytes), bytewise(&bytes), "{:?}", bytes);
        }
    }
}
