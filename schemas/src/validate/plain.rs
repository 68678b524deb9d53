//! The fast path's read of an input: the event type it names, then the
//! compact reader of that type, once.
//!
//! Reading the input as each type in turn cost little while `event_type` was
//! the third key, as the types declare it; producers that order keys their
//! own way put it anywhere, and each wrong guess then cost most of a read.
//! The type is found instead by one SIMD search for its key. That is only a
//! hint (the key may also stand inside `attributes`, for one): each type's
//! reader checks the tag where it belongs, so a wrong hint makes the input
//! unusual and leaves the verdict to the thorough path.

use memchr::memmem::Finder;

use crate::compact::{Plain, Unusual, read_compact};
use crate::event::Event;
use crate::validate::secrets::FixedFormScreen;
use crate::vocab::EventType;

/// The key whose value names the event type, quotes included.
const EVENT_TYPE_KEY: &[u8] = b"\"event_type\"";

/// Reads plain input into the event type it names.
pub struct PlainReader {
    event_type_key: Finder<'static>,
}

impl Default for PlainReader {
    fn default() -> Self {
        Self::new()
    }
}

impl PlainReader {
    /// Builds the search for the event type's key; done once per validator.
    pub fn new() -> Self {
        PlainReader {
            event_type_key: Finder::new(EVENT_TYPE_KEY),
        }
    }

    /// Reads `input` as the event type it names, screening the strings it
    /// decodes with `screen`.
    pub fn read<'a>(&self, input: &'a [u8], screen: &FixedFormScreen) -> Plain<Event<'a>> {
        match self.event_type_hint(input).ok_or(Unusual)? {
            EventType::AiUsage => read_compact(input, screen).map(Event::AiUsage),
            EventType::CodeChange => read_compact(input, screen).map(Event::CodeChange),
            EventType::Incident => read_compact(input, screen).map(Event::Incident),
        }
    }

    /// The event type named after the first `"event_type"` in `input`: the
    /// first letter of its value is enough to tell the three apart.
    fn event_type_hint(&self, input: &[u8]) -> Option<EventType> {
        let after_key = self.event_type_key.find(input)? + EVENT_TYPE_KEY.len();
        let rest = &input[after_key..];
        let value = rest
            .iter()
            .position(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b':'))?;
        match rest.get(value..value + 2)? {
            b"\"a" => Some(EventType::AiUsage),
            b"\"c" => Some(EventType::CodeChange),
            b"\"i" => Some(EventType::Incident),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_is_the_value_after_the_first_event_type_key() {
        let reader = PlainReader::new();
        for (input, hint) in [
            (
                &br#"{"event_type":"ai_usage"}"#[..],
                Some(EventType::AiUsage),
            ),
            (
                br#"{"a": 1, "event_type" : "code_change"}"#,
                Some(EventType::CodeChange),
            ),
            (
                b"{\"event_type\":\n\t\"incident\"}",
                Some(EventType::Incident),
            ),
            (
                br#"{"attributes":{"event_type":"incident"},"event_type":"ai_usage"}"#,
                Some(EventType::Incident),
            ),
            (
                br#"{"event_type":"code_review"}"#,
                Some(EventType::CodeChange),
            ),
            (br#"{"event_type":1}"#, None),
            (br#"{"event_type""#, None),
            (br#"{"event_type_":"ai_usage"}"#, None),
            (br#"{"type":"ai_usage"}"#, None),
        ] {
            assert_eq!(
                reader.event_type_hint(input),
                hint,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
