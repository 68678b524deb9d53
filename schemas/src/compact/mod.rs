//! The validator's fast reader: events as collectors write them, read
//! straight into the typed structs without serde.
//!
//! serde_json's typed parse alone costs more per event than the validator's
//! budget (issue 2: a million events per second on one core), mostly in
//! per-token bookkeeping it needs for the general case. Nearly every event is
//! plain: compact or lightly spaced JSON, no escapes, counts as plain integers,
//! each field once. This reader takes exactly that and returns [`Unusual`] for
//! anything else, so that the thorough path (serde_json) decides. It never
//! accepts what serde_json would refuse, and whatever it accepts it reads to
//! the same value: the field checks it applies are the ones the serde
//! deserializers apply (see [`fields`]), and property tests in
//! `validate/tests.rs` hold the two paths to the same verdict.
//!
//! Because it refuses escapes, every string it returns is a slice of the raw
//! input, which lets the secret screen scan the raw bytes once instead of each
//! value (see `validate::secrets`).

mod fields;

use crate::json_escape::scan_plain;
use crate::validate::secrets::may_hold_assignment;

/// The input is not plain: the thorough path must read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unusual;

/// What the fast reader returns: a value, or [`Unusual`].
pub type Plain<T> = Result<T, Unusual>;

/// A value the fast reader can read: every field type of an event.
pub trait ReadCompact<'a>: Sized {
    /// Reads one value at the reader's position.
    fn read(reader: &mut CompactReader<'a>) -> Plain<Self>;

    /// The value of the field when it is absent from the event, as serde
    /// gives it: `None` (the default) means the field is required.
    fn absent() -> Option<Self> {
        None
    }
}

/// A cursor over one input that reads JSON tokens without escapes.
///
/// The input need not be UTF-8 as a whole: outside strings the reader only
/// ever steps over the ASCII bytes of JSON's punctuation, literals, numbers
/// and the keys it knows, so a byte of 0x80 or above there is unusual by
/// construction, and inside strings [`scan_plain`] notes any such byte, in
/// which case the string alone is checked. serde_json refuses input that is
/// not UTF-8 too, inside strings or outside them.
pub struct CompactReader<'a> {
    input: &'a [u8],
    position: usize,
}

impl<'a> CompactReader<'a> {
    /// A reader of `input`.
    pub fn new(input: &'a [u8]) -> Self {
        CompactReader { input, position: 0 }
    }

    /// Skips JSON whitespace, the same four bytes serde_json skips.
    #[inline(always)]
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.input.get(self.position) {
            self.position += 1;
        }
    }

    /// The next byte after whitespace, not consumed.
    #[inline(always)]
    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.input.get(self.position).copied()
    }

    /// Consumes `byte` after whitespace, or reports the input unusual.
    #[inline(always)]
    fn expect(&mut self, byte: u8) -> Plain<()> {
        if self.peek() == Some(byte) {
            self.position += 1;
            Ok(())
        } else {
            Err(Unusual)
        }
    }

    /// Consumes `literal` after whitespace if it comes next.
    fn eat(&mut self, literal: &[u8]) -> bool {
        self.skip_whitespace();
        let found = self.input[self.position..].starts_with(literal);
        if found {
            self.position += literal.len();
        }
        found
    }

    /// A string without escapes or control characters, borrowed from the input.
    pub fn string(&mut self) -> Plain<&'a str> {
        self.scanned_string().map(|(text, _)| text)
    }

    /// A string as [`Self::string`] reads it, and whether it holds a `:` or
    /// a `=`, which the scan for its end notes on the way.
    fn scanned_string(&mut self) -> Plain<(&'a str, bool)> {
        self.expect(b'"')?;
        let start = self.position;
        let scan = scan_plain(&self.input[start..]);
        let end = start + scan.len;
        if self.input.get(end) != Some(&b'"') {
            return Err(Unusual);
        }
        self.position = end + 1;
        let raw = &self.input[start..end];
        let text = if scan.has_non_ascii {
            std::str::from_utf8(raw).map_err(|_| Unusual)?
        } else {
            ascii_str(raw)
        };
        Ok((text, scan.has_assignment_mark))
    }

    /// A string that is free text: unusual when it may hold a credential
    /// assignment, which only the thorough path can rule out. (Credentials
    /// with a fixed prefix are screened on the raw input instead.)
    pub fn free_text(&mut self) -> Plain<&'a str> {
        let (text, has_assignment_mark) = self.scanned_string()?;
        if has_assignment_mark && may_hold_assignment(text) {
            Err(Unusual)
        } else {
            Ok(text)
        }
    }

    /// A non-negative integer of at most `max`, written as JSON writes it (no
    /// sign, no leading zero, no fraction, no exponent).
    pub fn unsigned(&mut self, max: u64) -> Plain<u64> {
        self.skip_whitespace();
        let bytes = self.input;
        let start = self.position;
        let mut end = start;
        let mut value = 0u64;
        while let Some(digit) = bytes.get(end).filter(|b| b.is_ascii_digit()) {
            // Wraps only past 19 digits, which are refused below.
            value = value.wrapping_mul(10).wrapping_add(u64::from(digit - b'0'));
            end += 1;
        }
        let digits = end - start;
        let leading_zero = digits > 1 && bytes[start] == b'0';
        let continues = matches!(bytes.get(end), Some(b'.' | b'e' | b'E'));
        if digits == 0 || digits > MAX_PLAIN_DIGITS || leading_zero || continues || value > max {
            return Err(Unusual);
        }
        self.position = end;
        Ok(value)
    }

    /// The text of a JSON number, for a type that hands it to serde_json.
    pub fn number_text(&mut self) -> Plain<&'a str> {
        self.skip_whitespace();
        let start = self.position;
        let length = self.input[start..]
            .iter()
            .take_while(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .count();
        if length == 0 {
            return Err(Unusual);
        }
        self.position += length;
        Ok(ascii_str(&self.input[start..start + length]))
    }

    /// `true` or `false`.
    pub fn boolean(&mut self) -> Plain<bool> {
        if self.eat(b"true") {
            Ok(true)
        } else if self.eat(b"false") {
            Ok(false)
        } else {
            Err(Unusual)
        }
    }

    /// Consumes a `null` if one comes next.
    pub fn null(&mut self) -> bool {
        self.eat(b"null")
    }

    /// An object: `member` reads each value, given its key.
    pub fn object(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Plain<()>) -> Plain<()> {
        let mut more = self.open_object()?;
        while more {
            let key = self.string()?;
            self.expect(b':')?;
            member(self, key)?;
            more = self.member_end()?;
        }
        Ok(())
    }

    /// Consumes the `{` that opens an object: `true` when a member follows,
    /// `false` when the object is empty (and its `}` consumed too).
    pub fn open_object(&mut self) -> Plain<bool> {
        self.expect(b'{')?;
        if self.peek() == Some(b'}') {
            self.position += 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// Consumes what follows a member's value: `true` after a `,` (another
    /// member follows), `false` after the `}` that closes the object.
    #[inline(always)]
    pub fn member_end(&mut self) -> Plain<bool> {
        let more = match self.peek() {
            Some(b',') => true,
            Some(b'}') => false,
            _ => return Err(Unusual),
        };
        self.position += 1;
        Ok(more)
    }

    /// Consumes `key` and the colon after it if they come next: `false`,
    /// and nothing consumed, when another key comes. A struct's reader
    /// tries its fields' keys one after another in the order the struct
    /// declares them, as collectors write them.
    #[inline(always)]
    pub fn key_is(&mut self, key: &QuotedName) -> Plain<bool> {
        if !self.after_quote()?.starts_with(key) {
            return Ok(false);
        }
        self.position += key.quoted_len();
        self.expect(b':')?;
        Ok(true)
    }

    /// The rest of an object whose keys are the fields of a struct, `keys`
    /// in the order the struct declares them, from the key after its `{`
    /// or a `,` on: `member` reads each value, given the index of its key.
    /// This takes the members that [`Self::key_is`] did not find in order.
    /// A key that is none of `keys`, or holds an escape, is unusual.
    pub fn remaining_fields(
        &mut self,
        keys: &[QuotedName],
        mut member: impl FnMut(&mut Self, usize) -> Plain<()>,
    ) -> Plain<()> {
        let mut next = 0;
        loop {
            let index = self.name_among(keys, next)?;
            self.expect(b':')?;
            member(self, index)?;
            if !self.member_end()? {
                return Ok(());
            }
            next = index + 1;
        }
    }

    /// A string that must be one of `names` (a closed vocabulary's terms):
    /// the index of the one it is. The string is matched in place, without
    /// the scan for its end that other strings take; a term with an escape
    /// is unusual.
    #[inline(always)]
    pub fn one_of(&mut self, names: &[QuotedName]) -> Plain<usize> {
        self.name_among(names, 0)
    }

    /// Consumes the quoted string at the reader's position, which must be
    /// one of `names`, trying them from `next` on (keys mostly come in
    /// order) and then those before it: the index of the one it is.
    #[inline(always)]
    fn name_among(&mut self, names: &[QuotedName], next: usize) -> Plain<usize> {
        let window = self.after_quote()?;
        let (after, before) = (&names[next..], &names[..next]);
        let index = match after.iter().position(|name| window.starts_with(name)) {
            Some(offset) => next + offset,
            None => before
                .iter()
                .position(|name| window.starts_with(name))
                .ok_or(Unusual)?,
        };
        self.position += names[index].quoted_len();
        Ok(index)
    }

    /// The input after the opening quote that must come next, not consumed.
    #[inline(always)]
    fn after_quote(&mut self) -> Plain<NameWindow<'a>> {
        self.skip_whitespace();
        let input = self.input;
        match input.get(self.position) {
            Some(b'"') => Ok(NameWindow::of(&input[self.position + 1..])),
            _ => Err(Unusual),
        }
    }

    /// An array: `item` reads each item.
    pub fn array(&mut self, mut item: impl FnMut(&mut Self) -> Plain<()>) -> Plain<()> {
        self.expect(b'[')?;
        if self.peek() == Some(b']') {
            self.position += 1;
            return Ok(());
        }
        loop {
            item(self)?;
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b']') => {
                    self.position += 1;
                    return Ok(());
                }
                _ => return Err(Unusual),
            }
        }
    }

    /// Checks that nothing but whitespace follows the value read.
    pub fn finish(mut self) -> Plain<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(Unusual),
        }
    }
}

/// A name as the fast reader matches it right after its opening quote: a
/// struct's field key ([`CompactReader::key_is`],
/// [`CompactReader::remaining_fields`]) or a vocabulary's term
/// ([`CompactReader::one_of`]). The name and its closing quote are kept as
/// three little-endian words too, compared with the input a word at a time
/// rather than byte by byte.
pub struct QuotedName {
    name: &'static str,
    words: [u64; 3],
    masks: [u64; 3],
}

impl QuotedName {
    /// The quoted name `name`, which is at most 23 bytes long.
    pub const fn new(name: &'static str) -> QuotedName {
        let bytes = name.as_bytes();
        assert!(bytes.len() < 24, "a name of at most 23 bytes");
        let mut words = [0u64; 3];
        let mut masks = [0u64; 3];
        let mut at = 0;
        while at <= bytes.len() {
            let byte = if at == bytes.len() { b'"' } else { bytes[at] };
            words[at / 8] |= (byte as u64) << (8 * (at % 8));
            masks[at / 8] |= 0xff << (8 * (at % 8));
            at += 1;
        }
        QuotedName { name, words, masks }
    }

    /// The bytes the name takes in the input, both quotes included.
    fn quoted_len(&self) -> usize {
        self.name.len() + 2
    }
}

/// The input after a name's opening quote, as [`NameWindow::starts_with`]
/// compares it: loaded once as three words for all the names tried, or,
/// near the end of the input, the bytes as they are.
enum NameWindow<'a> {
    Words([u64; 3]),
    Short(&'a [u8]),
}

impl<'a> NameWindow<'a> {
    #[inline(always)]
    fn of(input: &'a [u8]) -> Self {
        match input.first_chunk::<24>() {
            Some(window) => {
                let (words, _) = window.as_chunks::<8>();
                NameWindow::Words(std::array::from_fn(|i| u64::from_le_bytes(words[i])))
            }
            None => NameWindow::Short(input),
        }
    }

    /// Whether the window starts with `name` and its closing quote.
    #[inline(always)]
    fn starts_with(&self, name: &QuotedName) -> bool {
        match self {
            NameWindow::Words(words) => {
                words[0] & name.masks[0] == name.words[0]
                    && words[1] & name.masks[1] == name.words[1]
                    && words[2] & name.masks[2] == name.words[2]
            }
            NameWindow::Short(input) => {
                let bytes = name.name.as_bytes();
                input.get(bytes.len()) == Some(&b'"') && input.starts_with(bytes)
            }
        }
    }
}

/// Digits that no `u64` overflows; longer integers are left to serde_json.
const MAX_PLAIN_DIGITS: usize = 19;

/// Bytes known to be ASCII, as text.
fn ascii_str(bytes: &[u8]) -> &str {
    debug_assert!(bytes.is_ascii());
    // SAFETY: callers pass bytes that a scan found to be all below 0x80
    // (`scan_plain`, or the number characters of `number_text`), and ASCII
    // is valid UTF-8.
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

/// Reads a whole input holding one value of type `T`.
pub fn read_compact<'a, T: ReadCompact<'a>>(input: &'a [u8]) -> Plain<T> {
    let mut reader = CompactReader::new(input);
    let value = T::read(&mut reader)?;
    reader.finish()?;
    Ok(value)
}

impl<'a, T: ReadCompact<'a>> ReadCompact<'a> for Option<T> {
    fn read(reader: &mut CompactReader<'a>) -> Plain<Self> {
        if reader.null() {
            Ok(None)
        } else {
            T::read(reader).map(Some)
        }
    }

    fn absent() -> Option<Self> {
        Some(None)
    }
}

impl ReadCompact<'_> for bool {
    fn read(reader: &mut CompactReader<'_>) -> Plain<Self> {
        reader.boolean()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_with_escapes_or_control_characters_are_unusual() {
        assert_eq!(read_compact::<bool>(b" true "), Ok(true));
        for input in [&br#""a\"b""#[..], b"\"a\tb\"", b"\"a"] {
            let mut reader = CompactReader::new(input);
            assert_eq!(reader.string(), Err(Unusual), "{input:?}");
        }
        let mut reader = CompactReader::new("\"é–x\"".as_bytes());
        assert_eq!(reader.string(), Ok("é–x"));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_unusual_inside_strings_and_out() {
        let mut reader = CompactReader::new(b"\"a\xff\xfeb\"");
        assert_eq!(reader.string(), Err(Unusual));
        assert_eq!(read_compact::<bool>(b"true\xc3"), Err(Unusual));
        assert_eq!(read_compact::<Option<bool>>(b"\xc3\xa9null"), Err(Unusual));
    }

    #[test]
    fn integers_take_only_the_plain_json_form() {
        let read = |input: &str| CompactReader::new(input.as_bytes()).unsigned(1000);
        assert_eq!(read("0"), Ok(0));
        assert_eq!(read(" 1000,"), Ok(1000));
        for unusual in [
            "1001",
            "-0",
            "01",
            "1.0",
            "1e2",
            "",
            "\"1\"",
            "99999999999999999999",
        ] {
            assert_eq!(read(unusual), Err(Unusual), "{unusual}");
        }
    }

    #[test]
    fn trailing_input_and_trailing_commas_are_unusual() {
        assert_eq!(read_compact::<bool>(b"true x"), Err(Unusual));
        let mut reader = CompactReader::new(br#"{"a":true,}"#);
        assert_eq!(reader.object(|r, _| r.boolean().map(drop)), Err(Unusual));
        let mut reader = CompactReader::new(b"[true,]");
        assert_eq!(reader.array(|r| r.boolean().map(drop)), Err(Unusual));
    }

    #[test]
    fn fields_are_found_in_any_order_and_near_the_end_of_the_input() {
        const KEYS: [QuotedName; 3] = [
            QuotedName::new("a"),
            QuotedName::new("reasoning_tokens"),
            QuotedName::new("twenty_three_bytes_name"),
        ];
        let read = |input: &str| {
            let mut seen = Vec::new();
            let mut reader = CompactReader::new(input.as_bytes());
            if reader.open_object()? {
                reader.remaining_fields(&KEYS, |r, index| {
                    seen.push(index);
                    r.boolean().map(drop)
                })?;
            }
            Ok(seen)
        };
        assert_eq!(
            read(r#"{"twenty_three_bytes_name":true,"a":false,"reasoning_tokens":true}"#),
            Ok(vec![2, 0, 1])
        );
        assert_eq!(
            read(r#"{ "a" : true , "reasoning_tokens":true }"#),
            Ok(vec![0, 1])
        );
        assert_eq!(read(r#"{"reasoning_tokens":true}"#), Ok(vec![1]));
        for unusual in [
            r#"{"reasoning_token":true}"#,
            r#"{"reasoning_tokens_":true}"#,
            r#"{"reasoning_tokens_and_more_than_24":true}"#,
            r#"{"\u0061":true}"#,
            r#"{"A":true}"#,
        ] {
            assert_eq!(read(unusual), Err(Unusual), "{unusual}");
        }
    }

    #[test]
    fn a_key_is_consumed_with_its_colon_only_when_it_comes_next() {
        const TOOL: QuotedName = QuotedName::new("tool");
        const TOOL_VERSION: QuotedName = QuotedName::new("tool_version");
        let mut reader = CompactReader::new(br#"{"tool_version" : "1", "tool":"t"}"#);
        assert_eq!(reader.open_object(), Ok(true));
        assert_eq!(reader.key_is(&TOOL), Ok(false));
        assert_eq!(reader.key_is(&TOOL_VERSION), Ok(true));
        assert_eq!(reader.string(), Ok("1"));
        assert_eq!(reader.member_end(), Ok(true));
        assert_eq!(reader.key_is(&TOOL), Ok(true));
        assert_eq!(reader.string(), Ok("t"));
        assert_eq!(reader.member_end(), Ok(false));
        assert_eq!(reader.finish(), Ok(()));
        let mut reader = CompactReader::new(br#""tool" "t""#);
        assert_eq!(reader.key_is(&TOOL), Err(Unusual));
        let mut reader = CompactReader::new(b"tool:");
        assert_eq!(reader.key_is(&TOOL), Err(Unusual));
    }

    #[test]
    fn a_term_is_matched_whole_in_place_and_an_escaped_one_is_unusual() {
        const TERMS: [QuotedName; 3] = [
            QuotedName::new("ci"),
            QuotedName::new("cli"),
            QuotedName::new("ide"),
        ];
        let read = |input: &str| {
            let mut reader = CompactReader::new(input.as_bytes());
            let index = reader.one_of(&TERMS)?;
            reader.finish().map(|()| index)
        };
        assert_eq!(read(r#" "cli""#), Ok(1));
        assert_eq!(read(r#""ci""#), Ok(0));
        assert_eq!(read(r#""ide"                        "#), Ok(2));
        for unusual in [
            r#""c""#,
            r#""clie""#,
            r#""c\u006ci""#,
            r#""CLI""#,
            "cli",
            r#""ide"#,
        ] {
            assert_eq!(read(unusual), Err(Unusual), "{unusual}");
        }
    }
}
