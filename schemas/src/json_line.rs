//! Events written as JSON straight into a buffer, for the generator.
//!
//! `aitrail gen` writes gigabytes; serde_json spends a fifth of that time
//! scanning every key and string for characters to escape, one byte at a
//! time. [`WriteJson`] writes the same bytes as serde's `Serialize` (fields in
//! declaration order, absent options skipped; a test holds the two to it),
//! copying strings that need no escape in one go and leaving the rest, and
//! every number that is not an integer, to serde_json.

use chrono::{Datelike, SecondsFormat, Timelike};

use crate::fields::{
    Attributes, BoundedText, Count, EventId, List, Repository, SchemaVersion, Timestamp,
    TokenCount, Usd,
};
use crate::json_escape::plain_prefix_len;

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
    if plain_prefix_len(text.as_bytes()) == text.len() {
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
    /// chrono's RFC 3339 (`AutoSi`, `Z`), without building a `String` for
    /// each timestamp; years beyond four digits and leap seconds, which
    /// chrono writes in forms of their own, are left to it.
    fn write_json(&self, out: &mut Vec<u8>) {
        let (date, time) = (self.0.date_naive(), self.0.time());
        let nanos = time.nanosecond();
        if !(0..=9999).contains(&date.year()) || nanos >= 1_000_000_000 {
            return write_str(out, &self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true));
        }
        out.push(b'"');
        push_padded(out, date.year() as u32, 4);
        out.push(b'-');
        push_padded(out, date.month(), 2);
        out.push(b'-');
        push_padded(out, date.day(), 2);
        out.push(b'T');
        push_padded(out, time.hour(), 2);
        out.push(b':');
        push_padded(out, time.minute(), 2);
        out.push(b':');
        push_padded(out, time.second(), 2);
        match nanos {
            0 => {}
            n if n % 1_000_000 == 0 => push_fraction(out, n / 1_000_000, 3),
            n if n % 1_000 == 0 => push_fraction(out, n / 1_000, 6),
            n => push_fraction(out, n, 9),
        }
        out.extend_from_slice(b"Z\"");
    }
}

/// Writes `n` in decimal, zero-padded to `width` digits.
fn push_padded(out: &mut Vec<u8>, n: u32, width: usize) {
    let mut buffer = itoa::Buffer::new();
    let text = buffer.format(n);
    out.extend(std::iter::repeat_n(b'0', width.saturating_sub(text.len())));
    out.extend_from_slice(text.as_bytes());
}

/// Writes a fraction of a second, `.` and `width` digits.
fn push_fraction(out: &mut Vec<u8>, n: u32, width: usize) {
    out.push(b'.');
    push_padded(out, n, width);
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
    use chrono::{DateTime, TimeDelta, Utc};

    use super::*;

    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        let mut at = DateTime::<Utc>::from_timestamp(-62_167_219_200, 0).unwrap();
        let mut step = 1u64;
        while at.timestamp() < 260_000_000_000 {
            for nanos in [0, 5_000_000, 123_456_000, 1_001, 999_999_999] {
                let timestamp = Timestamp(at.with_nanosecond(nanos).unwrap());
                let mut out = Vec::new();
                timestamp.write_json(&mut out);
                assert_eq!(out, serde_json::to_vec(&timestamp).unwrap(), "{at}");
            }
            step = step * 3 + 7;
            at += TimeDelta::seconds((step % 400_000_000) as i64);
        }
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for text in [
            "plain",
            "",
            "quote\"",
            "back\\slash",
            "tab\t",
            "é–",
            "\u{7f}",
        ] {
            let mut out = Vec::new();
            write_str(&mut out, text);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }
}
