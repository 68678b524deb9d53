//! The validator's fast reader: events as collectors write them, read
//! straight into the typed structs without serde.
//!
//! serde_json's typed parse alone costs more per event than the validator's
//! budget (issue 2: a million events per second on one core), mostly in
//! per-token bookkeeping it needs for the general case. Nearly every valid
//! event is plain: JSON in any spacing and key order, counts as plain
//! integers, each field once. This reader takes exactly that and returns
//! [`Unusual`] for anything else, so that the thorough path (serde_json)
//! decides. It never accepts what serde_json would refuse, and whatever it
//! accepts it reads to the same value: the field checks it applies are the
//! ones the serde deserializers apply (see [`fields`]), to the same decoded
//! text (see [`escapes`]), and property tests in `validate/tests.rs` hold the
//! two paths to the same verdict.
//!
//! A string without escapes is a slice of the raw input, which the validator
//! screens for credentials of a fixed form once, where each such string
//! stands. A string with escapes is decoded, and its decoded text is
//! screened here, since the raw bytes do not spell it (`\u0073k-` is `sk-`).

mod escapes;
mod fields;
mod keys;

use std::borrow::Cow;

use crate::json_escape::{PlainPrefix, scan_plain};
use crate::validate::secrets::{FixedFormScreen, may_hold_assignment};

pub use keys::FieldKeys;

/// The input is not plain: the thorough path must read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unusual;

/// What the fast reader returns: a value, or [`Unusual`].
pub type Plain<T> = Result<T, Unusual>;

/// A value the fast reader can read: every field type of an event.
pub trait ReadFast<'a>: Sized {
    /// Reads one value at the reader's position.
    fn read(reader: &mut FastReader<'a, '_>) -> Plain<Self>;

    /// The value of the field when it is absent from the event, as serde
    /// gives it: `None` (the default) means the field is required.
    fn absent() -> Option<Self> {
        None
    }
}

/// A cursor over one input that reads JSON tokens.
///
/// The input need not be UTF-8 as a whole: outside strings the reader only
/// ever steps over the ASCII bytes of JSON's punctuation, literals, numbers
/// and the keys it knows, so a byte of 0x80 or above there is unusual by
/// construction, and inside strings [`scan_plain`] notes any such byte, in
/// which case the string alone is checked. serde_json refuses input that is
/// not UTF-8 too, inside strings or outside them.
pub struct FastReader<'a, 's> {
    input: &'a [u8],
    position: usize,
    /// The screen that each decoded string must pass.
    screen: &'s FixedFormScreen,
}

impl<'a, 's> FastReader<'a, 's> {
    /// A reader of `input` that screens the strings it decodes with `screen`.
    pub fn new(input: &'a [u8], screen: &'s FixedFormScreen) -> Self {
        FastReader {
            input,
            position: 0,
            screen,
        }
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

    /// A string: borrowed from the input when it has no escapes, else
    /// decoded into one of its own.
    pub fn string(&mut self) -> Plain<Cow<'a, str>> {
        self.scanned_string().map(|(text, _)| text)
    }

    /// A string as [`Self::string`] reads it, and whether it holds a `:` or
    /// a `=`, which the scan for its end (or the decoding) notes on the way.
    fn scanned_string(&mut self) -> Plain<(Cow<'a, str>, bool)> {
        self.expect(b'"')?;
        let start = self.position;
        let scan = scan_plain(&self.input[start..]);
        let end = start + scan.len;
        match self.input.get(end) {
            Some(b'"') => {
                self.position = end + 1;
                let raw = &self.input[start..end];
                let text = if scan.has_non_ascii {
                    std::str::from_utf8(raw).map_err(|_| Unusual)?
                } else {
                    ascii_str(raw)
                };
                Ok((Cow::Borrowed(text), scan.has_assignment_mark))
            }
            Some(b'\\') => self
                .decoded_string(start, scan)
                .map(|(text, has_assignment_mark)| (Cow::Owned(text), has_assignment_mark)),
            _ => Err(Unusual),
        }
    }

    /// The rest of a string with escapes, from its content's `start` on,
    /// where `first` is the run before its first backslash: decoded, and
    /// screened for credentials of a fixed form as decoded text; and whether
    /// it holds a `:` or a `=`.
    #[cold]
    #[inline(never)]
    fn decoded_string(&mut self, start: usize, first: PlainPrefix) -> Plain<(String, bool)> {
        let decoded = escapes::decode(self.input, start, first)?;
        if self.screen.may_hold(decoded.text.as_bytes()) {
            return Err(Unusual);
        }
        self.position = decoded.end;
        Ok((decoded.text, decoded.has_assignment_mark))
    }

    /// A string that is free text: unusual when it may hold a credential
    /// assignment, which only the thorough path can rule out. (Credentials
    /// of a fixed form are screened on the raw input, or on the decoded
    /// text of a string with escapes.)
    pub fn free_text(&mut self) -> Plain<Cow<'a, str>> {
        let (text, has_assignment_mark) = self.scanned_string()?;
        if has_assignment_mark && may_hold_assignment(&text) {
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

    /// An object: `member` reads each value, given its key and whether the
    /// key holds a `:` or a `=`.
    pub fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, Cow<'a, str>, bool) -> Plain<()>,
    ) -> Plain<()> {
        let mut more = self.open_object()?;
        while more {
            let (key, has_assignment_mark) = self.scanned_string()?;
            self.expect(b':')?;
            member(self, key, has_assignment_mark)?;
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

    /// The rest of an object whose keys are the fields of a struct, from
    /// the key after its `{` or a `,` on: `member` reads each value, given
    /// the index of its key in `keys`. This takes the members that
    /// [`Self::key_is`] did not find in order, each key found by its hash.
    /// A key that is none of `keys`, or holds an escape, is unusual.
    pub fn remaining_fields(
        &mut self,
        keys: &FieldKeys,
        mut member: impl FnMut(&mut Self, usize) -> Plain<()>,
    ) -> Plain<()> {
        loop {
            let window = self.after_quote()?;
            let index = keys.index_of(&window).ok_or(Unusual)?;
            self.position += keys.names()[index].quoted_len();
            self.expect(b':')?;
            member(self, index)?;
            if !self.member_end()? {
                return Ok(());
            }
        }
    }

    /// A string that must be one of `names` (a closed vocabulary's terms, a
    /// handful each): the index of the one it is. The string is matched in
    /// place, without the scan for its end that other strings take; a term
    /// with an escape is unusual.
    #[inline(always)]
    pub fn one_of(&mut self, names: &[QuotedName]) -> Plain<usize> {
        let window = self.after_quote()?;
        let index = names
            .iter()
            .position(|name| window.starts_with(name))
            .ok_or(Unusual)?;
        self.position += names[index].quoted_len();
        Ok(index)
    }

    /// The input after the opening quote that must come next, not consumed.
    #[inline(always)]
    fn after_quote(&mut self) -> Plain<NameWindow> {
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
    pub fn finish(&mut self) -> Plain<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(Unusual),
        }
    }
}

/// A name as the fast reader matches it right after its opening quote: a
/// struct's field key ([`FastReader::key_is`], [`FieldKeys`]) or a
/// vocabulary's term ([`FastReader::one_of`]). The name and its closing
/// quote are kept as three little-endian words too, the bytes after them
/// zero, compared with the input a word at a time rather than byte by byte.
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

/// The 24 bytes of input after a name's opening quote, as three
/// little-endian words loaded once for all the names tried; near the end of
/// the input, the bytes there and then zeros, which no name holds.
pub struct NameWindow([u64; 3]);

impl NameWindow {
    #[inline(always)]
    fn of(input: &[u8]) -> Self {
        let bytes = match input.first_chunk::<24>() {
            Some(window) => *window,
            None => near_the_end(input),
        };
        let (words, _) = bytes.as_chunks::<8>();
        NameWindow(std::array::from_fn(|i| u64::from_le_bytes(words[i])))
    }

    /// Whether the window starts with `name` and its closing quote.
    #[inline(always)]
    fn starts_with(&self, name: &QuotedName) -> bool {
        let differs = |i: usize| (self.0[i] & name.masks[i]) ^ name.words[i];
        differs(0) | differs(1) | differs(2) == 0
    }
}

/// The fewer than 24 bytes of `input`, padded with zeros.
#[cold]
fn near_the_end(input: &[u8]) -> [u8; 24] {
    let mut bytes = [0; 24];
    bytes[..input.len()].copy_from_slice(input);
    bytes
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

impl<'a, T: ReadFast<'a>> ReadFast<'a> for Option<T> {
    fn read(reader: &mut FastReader<'a, '_>) -> Plain<Self> {
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

impl ReadFast<'_> for bool {
    fn read(reader: &mut FastReader<'_, '_>) -> Plain<Self> {
        reader.boolean()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use super::*;

    static SCREEN: LazyLock<FixedFormScreen> = LazyLock::new(FixedFormScreen::new);

    fn reader_of(input: &[u8]) -> FastReader<'_, 'static> {
        FastReader::new(input, &SCREEN)
    }

    /// Reads a whole input holding one value of type `T`.
    fn read_fast<'a, T: ReadFast<'a>>(input: &'a [u8]) -> Plain<T> {
        let mut reader = reader_of(input);
        let value = T::read(&mut reader)?;
        reader.finish().map(|()| value)
    }

    #[test]
    fn strings_without_escapes_are_borrowed_and_with_them_owned() {
        assert_eq!(read_fast::<bool>(b" true "), Ok(true));
        for input in [&b"\"a\tb\""[..], b"\"a", b"\"a\\"] {
            assert_eq!(reader_of(input).string(), Err(Unusual), "{input:?}");
        }
        let plain = reader_of("\"é–x\"".as_bytes()).string();
        assert!(matches!(plain, Ok(Cow::Borrowed("é–x"))), "{plain:?}");
        let escaped = reader_of(br#""a\"b\u00e9\/""#).string();
        assert!(
            matches!(&escaped, Ok(Cow::Owned(text)) if text == "a\"bé/"),
            "{escaped:?}"
        );
    }

    #[test]
    fn decoded_strings_are_screened_as_decoded_text() {
        // The raw bytes hold no `sk-`, and the key's tail is long enough.
        let hidden = br#""\u0073k-ant-0123456789abcdefghijklmnop""#;
        assert!(!SCREEN.may_hold(hidden));
        assert_eq!(reader_of(hidden).string(), Err(Unusual));
        // An escape before `sk-` decodes to a word boundary, or to none.
        assert_eq!(
            reader_of(br#""\nsk-ant-0123456789abcdefghijklmnop""#).string(),
            Err(Unusual)
        );
        let inside_a_word = reader_of(br#""\u00e9risk-ant-0123456789abcdefghijklmnop""#).string();
        assert!(
            matches!(inside_a_word, Ok(Cow::Owned(_))),
            "{inside_a_word:?}"
        );
        // Free text decoded may spell an assignment its raw bytes do not.
        assert_eq!(
            reader_of(br#""password\u003dhunter22""#).free_text(),
            Err(Unusual)
        );
        assert!(
            reader_of(br#""R\u0026D \u003ccore\u003e""#)
                .free_text()
                .is_ok()
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_are_unusual_inside_strings_and_out() {
        assert_eq!(reader_of(b"\"a\xff\xfeb\"").string(), Err(Unusual));
        assert_eq!(reader_of(b"\"\\n\xff\"").string(), Err(Unusual));
        assert_eq!(read_fast::<bool>(b"true\xc3"), Err(Unusual));
        assert_eq!(read_fast::<Option<bool>>(b"\xc3\xa9null"), Err(Unusual));
    }

    #[test]
    fn integers_take_only_the_plain_json_form() {
        let read = |input: &str| reader_of(input.as_bytes()).unsigned(1000);
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
        assert_eq!(read_fast::<bool>(b"true x"), Err(Unusual));
        let mut object = reader_of(br#"{"a":true,}"#);
        assert_eq!(object.object(|r, _, _| r.boolean().map(drop)), Err(Unusual));
        let mut array = reader_of(b"[true,]");
        assert_eq!(array.array(|r| r.boolean().map(drop)), Err(Unusual));
    }

    #[test]
    fn fields_are_found_in_any_order_and_near_the_end_of_the_input() {
        const NAMES: &[QuotedName] = &[
            QuotedName::new("a"),
            QuotedName::new("reasoning_tokens"),
            QuotedName::new("twenty_three_bytes_name"),
        ];
        static KEYS: FieldKeys = FieldKeys::new(NAMES);
        let read = |input: &str| {
            let mut seen = Vec::new();
            let mut reader = reader_of(input.as_bytes());
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
        let mut reader = reader_of(br#"{"tool_version" : "1", "tool":"t"}"#);
        assert_eq!(reader.open_object(), Ok(true));
        assert_eq!(reader.key_is(&TOOL), Ok(false));
        assert_eq!(reader.key_is(&TOOL_VERSION), Ok(true));
        assert_eq!(reader.string(), Ok(Cow::Borrowed("1")));
        assert_eq!(reader.member_end(), Ok(true));
        assert_eq!(reader.key_is(&TOOL), Ok(true));
        assert_eq!(reader.string(), Ok(Cow::Borrowed("t")));
        assert_eq!(reader.member_end(), Ok(false));
        assert_eq!(reader.finish(), Ok(()));
        assert_eq!(reader_of(br#""tool" "t""#).key_is(&TOOL), Err(Unusual));
        assert_eq!(reader_of(b"tool:").key_is(&TOOL), Err(Unusual));
    }

    #[test]
    fn a_term_is_matched_whole_in_place_and_an_escaped_one_is_unusual() {
        const TERMS: [QuotedName; 3] = [
            QuotedName::new("ci"),
            QuotedName::new("cli"),
            QuotedName::new("ide"),
        ];
        let read = |input: &str| {
            let mut reader = reader_of(input.as_bytes());
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
