//! A struct's field keys, found in constant time wherever they come.
//!
//! Collectors other than `aitrail gen` write keys in an order of their own
//! (a Python dict's, a Go map's). Comparing such a key with each field name
//! in turn cost up to 28 comparisons per key; a perfect hash of the key's
//! first eight bytes, computed at compile time for each struct's names,
//! finds the one name it can be, and a single comparison of three words
//! confirms it. The first eight bytes tell every struct's fields apart
//! (`repository` and `repositories` are never fields of one struct); the
//! table would not compile otherwise.

use super::{NameWindow, QuotedName};

/// Slots of a table: a power of two, more than four times the fields of the
/// largest struct, so that a multiplier without collisions is found within
/// a few tries.
const SLOTS: usize = 128;
/// A slot that holds no name.
const EMPTY: u8 = u8::MAX;
/// A 1 in every byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte of a word.
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The field names of one struct, with the table that finds each by a hash
/// of its first eight bytes.
pub struct FieldKeys {
    names: &'static [QuotedName],
    multiplier: u64,
    slots: [u8; SLOTS],
}

impl FieldKeys {
    /// The table of `names`, built at compile time: the first multiplier
    /// that gives every name a slot of its own.
    pub const fn new(names: &'static [QuotedName]) -> FieldKeys {
        assert!(
            names.len() * 4 < SLOTS,
            "more fields than the table is sized for"
        );
        let mut multiplier: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut tries = 0;
        while tries < 10_000 {
            if let Some(slots) = place(names, multiplier) {
                return FieldKeys {
                    names,
                    multiplier,
                    slots,
                };
            }
            // The next odd multiplier of a Weyl sequence.
            multiplier = multiplier.wrapping_add(0x6a09_e667_f3bc_c909 << 1);
            tries += 1;
        }
        panic!("no multiplier places these names apart: do two share their first eight bytes?");
    }

    /// The names, in the order the struct declares them.
    pub fn names(&self) -> &'static [QuotedName] {
        self.names
    }

    /// The index of the name that `window` starts with, closing quote
    /// included, if it is one of the names.
    #[inline(always)]
    pub fn index_of(&self, window: &NameWindow) -> Option<usize> {
        let slot = slot_of(first_word(window.0[0]), self.multiplier);
        let index = usize::from(self.slots[slot]);
        let name = self.names.get(index)?;
        window.starts_with(name).then_some(index)
    }
}

/// The slot of each name under `multiplier`, or `None` when two collide.
const fn place(names: &[QuotedName], multiplier: u64) -> Option<[u8; SLOTS]> {
    let mut slots = [EMPTY; SLOTS];
    let mut index = 0;
    while index < names.len() {
        let slot = slot_of(first_word(names[index].words[0]), multiplier);
        if slots[slot] != EMPTY {
            return None;
        }
        slots[slot] = index as u8;
        index += 1;
    }
    Some(slots)
}

/// The slot of a key's first word: a multiplicative hash.
#[inline(always)]
const fn slot_of(first: u64, multiplier: u64) -> usize {
    (first.wrapping_mul(multiplier) >> (64 - SLOTS.trailing_zeros())) as usize
}

/// The first eight bytes after a key's opening quote as its hash sees them:
/// up to and including its closing quote if that is among them, the bytes
/// after it (the colon, the value) zeroed, as a [`QuotedName`] holds them.
#[inline(always)]
const fn first_word(word: u64) -> u64 {
    let quotes = zero_bytes(word ^ (ONES * b'"' as u64));
    // The bits up to and including the lowest flag, the high bit of the
    // first quote's byte; all of them when there is none.
    word & (quotes ^ quotes.wrapping_sub(1))
}

/// The high bit of each byte of `word` that is zero, and maybe of bytes
/// after it (never before the first).
#[inline(always)]
const fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[QuotedName] = &[
        QuotedName::new("a"),
        QuotedName::new("tool"),
        QuotedName::new("tool_version"),
        QuotedName::new("repository"),
        QuotedName::new("reasoning_tokens"),
        QuotedName::new("twenty_three_bytes_name"),
    ];
    static KEYS: FieldKeys = FieldKeys::new(NAMES);

    fn index_of(input: &str) -> Option<usize> {
        KEYS.index_of(&NameWindow::of(input.as_bytes()))
    }

    #[test]
    fn finds_each_name_with_its_closing_quote_and_nothing_else() {
        for (index, name) in NAMES.iter().enumerate() {
            let quoted = format!("{}\":1,\"x\":2}}", name.name);
            assert_eq!(index_of(&quoted), Some(index), "{quoted}");
            assert_eq!(index_of(&quoted[..name.name.len() + 1]), Some(index));
        }
        for other in [
            "too\"",
            "tool_\"",
            "tool\\\"",
            "Tool\"",
            "repositor\"",
            "repositories\"",
            "repository",
            "twenty_three_bytes_names\"",
            "\"",
            "",
            "b\"",
        ] {
            assert_eq!(index_of(other), None, "{other}");
        }
    }
}
