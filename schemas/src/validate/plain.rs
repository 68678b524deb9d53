//! The fast path's read of an input: the event type it names, then the
//! fast reader of that type, once.
//!
//! Reading the input as each type in turn cost little while `event_type` was
//! the third key, as the types declare it; producers that order keys their
//! own way put it anywhere, and each wrong guess then cost most of a read.
//! The type is found instead by a search for its key. That is only a hint
//! (the key may also stand inside `attributes`, for one): each type's reader
//! checks the tag where it belongs, so a wrong hint makes the input unusual
//! and leaves the verdict to the thorough path.

use crate::event::{AiUsage, CodeChange, CodeReview, Event, Incident, ReadEvent};
use crate::fast_reader::{FastReader, Plain, Unusual};
use crate::validate::secrets::FixedFormScreen;
use crate::vocab::EventType;

/// The key whose value names the event type, quotes included.
const EVENT_TYPE_KEY: &[u8; 12] = b"\"event_type\"";
/// Where the `y` stands in [`EVENT_TYPE_KEY`]: a letter few other keys and
/// values hold, and none before `event_type` as the types declare their
/// fields, so a SIMD search for it finds the key at the first try there.
const Y_IN_KEY: usize = 8;

/// How every event type's fields start in declared order: the key of its
/// first field, compact or spaced.
const FIRST_KEY: &[u8] = b"{\"schema_version\"";

/// Reads `input` as the event type it names, screening the strings it
/// decodes with `screen`.
pub fn read_plain<'a>(input: &'a [u8], screen: &FixedFormScreen) -> Plain<Event<'a>> {
    match event_type_hint(input).ok_or(Unusual)? {
        EventType::AiUsage => read_as::<AiUsage>(input, screen),
        EventType::CodeChange => read_as::<CodeChange>(input, screen),
        EventType::Incident => read_as::<Incident>(input, screen),
        EventType::CodeReview => read_as::<CodeReview>(input, screen),
    }
}

/// Reads `input` as an event of type `T`: in declared order first when its
/// first key is the first field every type declares, as `aitrail gen` and
/// collectors built on the event types write it, else straight in any
/// order, since a pass in declared order would cost a producer that orders
/// keys its own way a comparison per field for nothing.
#[inline(always)]
fn read_as<'a, T: ReadEvent<'a>>(input: &'a [u8], screen: &FixedFormScreen) -> Plain<Event<'a>> {
    let mut reader = FastReader::new(input, screen);
    if input.starts_with(FIRST_KEY) {
        T::read_event::<true>(&mut reader)
    } else {
        T::read_event::<false>(&mut reader)
    }
}

/// The event type named after the first `"event_type"` in `input`: the first
/// letter of its value (the sixth for `code_…`) tells the four apart.
fn event_type_hint(input: &[u8]) -> Option<EventType> {
    let key = memchr::memchr_iter(b'y', input).find_map(|y| {
        let start = y.checked_sub(Y_IN_KEY)?;
        (input[start..].first_chunk() == Some(EVENT_TYPE_KEY)).then_some(start)
    })?;
    let rest = &input[key + EVENT_TYPE_KEY.len()..];
    let value = rest
        .iter()
        .position(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t' | b':'))?;
    match rest.get(value..value + 2)? {
        b"\"a" => Some(EventType::AiUsage),
        // `code_change` and `code_review` part at their sixth letter.
        b"\"c" => match rest.get(value + 6) {
            Some(b'r') => Some(EventType::CodeReview),
            _ => Some(EventType::CodeChange),
        },
        b"\"i" => Some(EventType::Incident),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_is_the_value_after_the_first_event_type_key() {
        for (input, hint) in [
            (
                &br#"{"event_type":"ai_usage"}"#[..],
                Some(EventType::AiUsage),
            ),
            (
                br#"{"repository":"yy","event_type" : "code_change"}"#,
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
                Some(EventType::CodeReview),
            ),
            (br#"{"event_type":1}"#, None),
            (br#"{"event_type""#, None),
            (br#"{"event_type_":"ai_usage"}"#, None),
            (br#"{"type":"ai_usage"}"#, None),
            (br#"y"event_type":"ai_usage""#, Some(EventType::AiUsage)),
        ] {
            assert_eq!(
                event_type_hint(input),
                hint,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
