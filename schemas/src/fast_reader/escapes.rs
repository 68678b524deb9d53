//! Strings with JSON escapes, decoded as serde_json decodes them.
//!
//! Producers escape what `aitrail gen` never does: Python's `json.dumps`
//! writes every non-ASCII character as `\uXXXX`, PHP's `json_encode` every
//! `/` as `\/`, Go's `encoding/json` `<`, `>` and `&` as `\u003c`… Such a
//! string is decoded into an owned one here rather than sending its event to
//! the thorough path. Whatever serde_json refuses (an unknown escape, a lone
//! surrogate, a control character, bytes that are not UTF-8) is [`Unusual`],
//! so that the thorough path decides and names it.

use super::{Plain, Unusual, ascii_str};
use crate::json_escape::{PlainPrefix, scan_plain};

/// A string decoded from its escapes.
#[derive(Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The text.
    pub text: String,
    /// The position after the string's closing quote.
    pub end: usize,
    /// Whether the text holds a `:` or a `=`, the marks of a credential
    /// assignment, written as they are or escaped.
    pub has_assignment_mark: bool,
}

/// The string whose content starts at `start` in `input`, where `first` is
/// its run up to the first byte to escape, which must be a backslash.
pub fn decode(input: &[u8], start: usize, first: PlainPrefix) -> Plain<Decoded> {
    let mut text = String::with_capacity(first.len + 16);
    let mut has_assignment_mark = false;
    let (mut at, mut run) = (start, first);
    loop {
        let end = at + run.len;
        let raw = &input[at..end];
        // A run ends at an ASCII byte, so a valid string's runs are each
        // valid UTF-8 on their own.
        text.push_str(if run.has_non_ascii {
            std::str::from_utf8(raw).map_err(|_| Unusual)?
        } else {
            ascii_str(raw)
        });
        has_assignment_mark |= run.has_assignment_mark;
        match input.get(end) {
            Some(b'"') => {
                return Ok(Decoded {
                    text,
                    end: end + 1,
                    has_assignment_mark,
                });
            }
            Some(b'\\') => {
                let (decoded, after) = escape(input, end + 1)?;
                text.push(decoded);
                has_assignment_mark |= matches!(decoded, ':' | '=');
                at = after;
            }
            _ => return Err(Unusual),
        }
        run = scan_plain(&input[at..]);
    }
}

/// The character of the escape whose letter is at `at`, and the position
/// after it.
fn escape(input: &[u8], at: usize) -> Plain<(char, usize)> {
    let decoded = match input.get(at) {
        Some(b'"') => '"',
        Some(b'\\') => '\\',
        Some(b'/') => '/',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'u') => return unicode_escape(input, at + 1),
        _ => return Err(Unusual),
    };
    Ok((decoded, at + 1))
}

/// The character of a `\u` escape whose hex digits start at `at`, with the
/// trailing surrogate's escape that must follow a leading one at once, and
/// the position after it.
fn unicode_escape(input: &[u8], at: usize) -> Plain<(char, usize)> {
    let unit = utf16_unit(input, at)?;
    let (code_point, after) = match unit {
        0xd800..=0xdbff => {
            if input.get(at + 4..at + 6) != Some(b"\\u") {
                return Err(Unusual);
            }
            let trailing = utf16_unit(input, at + 6)?;
            if !(0xdc00..=0xdfff).contains(&trailing) {
                return Err(Unusual);
            }
            (
                0x1_0000 + ((unit - 0xd800) << 10) + (trailing - 0xdc00),
                at + 10,
            )
        }
        0xdc00..=0xdfff => return Err(Unusual),
        _ => (unit, at + 4),
    };
    Ok((char::from_u32(code_point).ok_or(Unusual)?, after))
}

/// The UTF-16 code unit of the four hex digits, of either case, at `at`.
fn utf16_unit(input: &[u8], at: usize) -> Plain<u32> {
    let digits = input.get(at..at + 4).ok_or(Unusual)?;
    digits.iter().try_fold(0, |unit, &digit| {
        let value = char::from(digit).to_digit(16).ok_or(Unusual)?;
        Ok(unit << 4 | value)
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The string that starts `input`, quote included, as [`decode`] reads
    /// it: its text and where it ends.
    fn decoded(input: &[u8]) -> Plain<(String, usize)> {
        decode(input, 1, scan_plain(&input[1..])).map(|d| (d.text, d.end))
    }

    #[test]
    fn decodes_every_escape_serde_json_decodes() {
        let input = r#""a\"b\\c\/d\be\ff\ng\rh\ti\u00e9j\u00C9k\u003c\ud83d\ude00l\u0000m" rest"#;
        let (text, end) = decoded(input.as_bytes()).unwrap();
        assert_eq!(text, serde_json::from_str::<String>(&input[..end]).unwrap());
        assert_eq!(&input[end..], " rest");
    }

    #[test]
    fn notes_assignment_marks_written_as_they_are_or_escaped() {
        for (input, mark) in [
            (r#""a\/b""#, false),
            (r#""a=b\/""#, true),
            (r#""a\/b:c""#, true),
            (r#""a\u003db""#, true),
            (r#""a\u003Ab""#, true),
            (r#""a\u003cb""#, false),
        ] {
            let bytes = input.as_bytes();
            let found = decode(bytes, 1, scan_plain(&bytes[1..])).unwrap();
            assert_eq!(found.has_assignment_mark, mark, "{input}");
        }
    }

    #[test]
    fn what_serde_json_refuses_is_unusual() {
        for input in [
            r#""\x""#,
            r#""\u00g0""#,
            r#""\u00e""#,
            r#""\ud83d""#,
            r#""\ud83dx""#,
            r#""\ud83d\u0041""#,
            r#""\ud83d\ud83d""#,
            r#""\ude00""#,
            "\"\\n\u{1}\"",
            "\"\\n",
            "\"\\",
        ] {
            assert_eq!(decoded(input.as_bytes()), Err(Unusual), "{input}");
            assert!(serde_json::from_str::<String>(input).is_err(), "{input}");
        }
        assert_eq!(decoded(b"\"\\n\xff\""), Err(Unusual));
    }

    proptest! {
        #[test]
        fn decodes_what_serde_json_writes_and_reads(
            text in "[ -~é日\u{1F600}\u{0}-\u{1f}\u{7f}\u{2028}]{0,20}",
            escape_all in any::<bool>(),
        ) {
            let written = serde_json::to_string(&text).unwrap();
            let body: String = if escape_all {
                // `\uXXXX` for every character, as Python's `ensure_ascii`
                // does for every non-ASCII one.
                text.encode_utf16().map(|unit| format!("\\u{unit:04X}")).collect()
            } else {
                written[1..written.len() - 1].to_string()
            };
            // A PHP-style slash, so that every input holds an escape.
            let input = format!("\"{body}\\/\"");
            let (decoded, end) = decoded(input.as_bytes()).unwrap();
            prop_assert_eq!(end, input.len());
            prop_assert_eq!(decoded, serde_json::from_str::<String>(&input).unwrap());
        }
    }
}
