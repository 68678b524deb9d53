//! Events written as JSON straight into a buffer, for the generator.
//!
//! `aitrail gen` writes gigabytes; serde_json spends a fifth of that time
//! scanning every key and string for characters to escape, one byte at a
//! time. [`WriteJson`] writes the same bytes as serde's `Serialize` (fields in
//! declaration order, absent options skipped; a test holds the two to it),
//! copying strings that need no escape in one go and leaving the rest, and
//! every number that is not an integer, to serde_json.

use chrono::SecondsFormat;

use crate::fields::{
    Attributes, BoundedText, Count, EventId, List, Repository, SchemaVersion, Timestamp,
    TokenCount, Usd,
};

/// A value that writes itself as JSON exactly as serde_json would.
pub trait WriteJson {
    /// Appends the value's JSON to `out`.
    fn write_json(&self, out: &mut Vec<u8>);

    /// Whether the field is left out of its object (an absent option).
    fn is_absent(&self) -> bool {
        false
    }
}

/// Writes `text` as a JSON string.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    let plain = text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
    if plain {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(out, text).expect("a string serializes into memory");
    }
}

/// Writes `n` as a JSON integer.
fn write_integer(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

impl<T: WriteJson> WriteJson for Option<T> {
    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Some(value) => value.write_json(out),
            None => out.extend_from_slice(b"null"),
        }
    }

    fn is_absent(&self) -> bool {
        self.is_none()
    }
}

impl WriteJson for bool {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if *self { b"true" } else { b"false" });
    }
}

impl<const MIN: usize, const MAX: usize> WriteJson for BoundedText<'_, MIN, MAX> {
    fn write_json(&self, out: &mut Vec<u8>) {
        write_str(out, &self.0);
    }
}

impl WriteJson for EventId<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        write_str(out, &self.0);
    }
}

impl WriteJson for Repository<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        write_str(out, &self.0);
    }
}

impl WriteJson for Timestamp {
    fn write_json(&self, out: &mut Vec<u8>) {
        write_str(out, &self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true));
    }
}

impl WriteJson for TokenCount {
    fn write_json(&self, out: &mut Vec<u8>) {
        write_integer(out, self.0);
    }
}

impl WriteJson for Count {
    fn write_json(&self, out: &mut Vec<u8>) {
        write_integer(out, self.0);
    }
}

impl WriteJson for SchemaVersion {
    fn write_json(&self, out: &mut Vec<u8>) {
        write_integer(out, self.0);
    }
}

impl WriteJson for Usd {
    fn write_json(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(out, &self.0).expect("a number serializes into memory");
    }
}

impl<T: WriteJson, const MIN: usize> WriteJson for List<T, MIN> {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (index, item) in self.0.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            item.write_json(out);
        }
        out.push(b']');
    }
}

impl WriteJson for Attributes<'_> {
    fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        for (index, (key, value)) in self.0.iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            write_str(out, key.as_str());
            out.push(b':');
            write_str(out, value.as_str());
        }
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for text in ["plain", "", "quote\"", "back\\slash", "tab\t", "é–", "\u{7f}"] {
            let mut out = Vec::new();
            write_str(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }
}
