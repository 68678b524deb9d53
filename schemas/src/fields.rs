//! Value types of event fields.
//!
//! Each type carries its DESIGN §2 rule in its deserializer, so an event that
//! deserializes is one whose every field obeys its rule, and the error of one
//! that does not names the rule it broke. Each also states the same rule as
//! JSON Schema and says how it is stored in Arrow, from the same constants.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use arrow::array::{
    Float64Builder, Int16Builder, Int64Builder, ListBuilder, MapBuilder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use chrono::{DateTime, SecondsFormat, Utc};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

use crate::columns::{
    ColumnValue, primitive_column, string_builder, string_list_builder, string_map_builder,
    timestamp_builder,
};
use crate::fast_reader::{FastReader, Plain, ReadFast};
use crate::utc_timestamp::plain_rfc3339;

/// Largest count of tokens one event may carry (DESIGN §2).
pub const MAX_TOKENS: u64 = 1_000_000_000;
/// Largest other count (lines, milliseconds): the largest integer JSON
/// readers hold exactly.
pub const MAX_COUNT: u64 = (1 << 53) - 1;
/// Most entries in an array field; the design sets no bound, and an
/// unbounded one would let a single event bloat a row.
pub const MAX_LIST_ITEMS: usize = 100;
/// Most entries in `attributes` (DESIGN §2).
pub const MAX_ATTRIBUTES: usize = 16;
/// The characters an `event_id` may hold, as a JSON Schema pattern.
pub const EVENT_ID_PATTERN: &str = "^[A-Za-z0-9._:-]{1,64}$";

/// Counts characters only when the byte length could exceed the limit, since
/// a string of at most `max` bytes has at most `max` characters.
fn char_len_within(s: &str, min: usize, max: usize) -> bool {
    let within_max = s.len() <= max || s.chars().count() <= max;
    within_max && (min == 0 || !s.is_empty())
}

/// Deserializes a string, borrowing it from the input where it has no escapes.
fn deserialize_cow_str<'de, D, E>(
    deserializer: D,
    expecting: &'static str,
    check: impl Fn(&str) -> Result<(), E>,
) -> Result<Cow<'de, str>, D::Error>
where
    D: Deserializer<'de>,
    E: fmt::Display,
{
    struct CowVisitor(&'static str);
    impl<'de> Visitor<'de> for CowVisitor {
        type Value = Cow<'de, str>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.0)
        }
        fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(v))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(v))
        }
    }
    let value = deserializer.deserialize_str(CowVisitor(expecting))?;
    check(&value).map_err(de::Error::custom)?;
    Ok(value)
}

/// Implements `ColumnValue` for a string-like type whose text is `self.0`.
macro_rules! string_column {
    ($ty:ty) => {
        impl ColumnValue for $ty {
            type Builder = StringBuilder;
            fn new_builder(capacity: usize) -> StringBuilder {
                string_builder(capacity)
            }
            fn append_to(&self, builder: &mut StringBuilder) {
                builder.append_value(&*self.0);
            }
            fn append_null(builder: &mut StringBuilder) {
                builder.append_null();
            }
        }
    };
}

/// Text of `MIN..=MAX` characters: names, ids other than `event_id`, labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BoundedText<'a, const MIN: usize, const MAX: usize>(pub Cow<'a, str>);

/// A required or optional string of DESIGN §2: 1–256 characters.
pub type Text<'a> = BoundedText<'a, 1, 256>;
/// An `org_id`: 1–128 characters.
pub type OrgId<'a> = BoundedText<'a, 1, 128>;
/// An `attributes` key: 1–64 characters.
pub type AttributeKey<'a> = BoundedText<'a, 1, 64>;
/// An `attributes` value: up to 256 characters.
pub type AttributeValue<'a> = BoundedText<'a, 0, 256>;

impl<'a, const MIN: usize, const MAX: usize> BoundedText<'a, MIN, MAX> {
    /// The text itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MIN: usize, const MAX: usize> From<&'static str> for BoundedText<'static, MIN, MAX> {
    fn from(s: &'static str) -> Self {
        BoundedText(Cow::Borrowed(s))
    }
}

impl<const MIN: usize, const MAX: usize> From<String> for BoundedText<'static, MIN, MAX> {
    fn from(s: String) -> Self {
        BoundedText(Cow::Owned(s))
    }
}

impl<const MIN: usize, const MAX: usize> BoundedText<'_, MIN, MAX> {
    /// The rule of the type, for both of the validator's readers.
    pub(crate) fn check(s: &str) -> Result<(), String> {
        if char_len_within(s, MIN, MAX) {
            Ok(())
        } else if MIN > 0 && s.is_empty() {
            Err("must not be empty".to_string())
        } else {
            Err(format!("is longer than {MAX} characters"))
        }
    }
}

impl<'de: 'a, 'a, const MIN: usize, const MAX: usize> Deserialize<'de>
    for BoundedText<'a, MIN, MAX>
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_cow_str(deserializer, "a string", Self::check).map(BoundedText)
    }
}

impl<const MIN: usize, const MAX: usize> Serialize for BoundedText<'_, MIN, MAX> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<const MIN: usize, const MAX: usize> JsonSchema for BoundedText<'_, MIN, MAX> {
    fn schema_name() -> Cow<'static, str> {
        format!("Text{MIN}To{MAX}").into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "minLength": MIN, "maxLength": MAX })
    }
}

impl<const MIN: usize, const MAX: usize> ColumnValue for BoundedText<'_, MIN, MAX> {
    type Builder = StringBuilder;
    fn new_builder(capacity: usize) -> StringBuilder {
        string_builder(capacity)
    }
    fn append_to(&self, builder: &mut StringBuilder) {
        builder.append_value(&*self.0);
    }
    fn append_null(builder: &mut StringBuilder) {
        builder.append_null();
    }
}

/// The globally unique id of an event and its dedup key: 1–64 characters of
/// `[A-Za-z0-9._:-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId<'a>(pub Cow<'a, str>);

impl EventId<'_> {
    /// The id itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The rule of the type, for both of the validator's readers.
    pub(crate) fn check(s: &str) -> Result<(), &'static str> {
        let allowed = |b: u8| EVENT_ID_BYTES[usize::from(b)];
        if !s.is_empty() && s.len() <= 64 && s.bytes().all(allowed) {
            Ok(())
        } else {
            Err("must be 1–64 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'")
        }
    }
}

/// The bytes an event id may hold, looked up rather than compared with
/// each class in turn: every event has an id.
static EVENT_ID_BYTES: [bool; 256] = {
    let mut allowed = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        allowed[b] = byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b':' | b'-');
        b += 1;
    }
    allowed
};

impl<'de: 'a, 'a> Deserialize<'de> for EventId<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_cow_str(deserializer, "an event id", EventId::check).map(EventId)
    }
}

impl Serialize for EventId<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl JsonSchema for EventId<'_> {
    fn schema_name() -> Cow<'static, str> {
        "EventId".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": EVENT_ID_PATTERN })
    }
}

string_column!(EventId<'_>);

/// A repository in canonical `host/owner/name` form (GitLab subgroups may add
/// segments): what joins usage, changes and incidents, so one spelling only.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Repository<'a>(pub Cow<'a, str>);

/// The canonical repository form, as a JSON Schema pattern.
pub const REPOSITORY_PATTERN: &str = "^[a-z0-9.-]+(/[^/\\s]+){2,}$";

impl Repository<'_> {
    /// The repository itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The rule of the type, for both of the validator's readers.
    pub(crate) fn check(s: &str) -> Result<(), &'static str> {
        if is_canonical_repository(s) && char_len_within(s, 1, 256) {
            Ok(())
        } else {
            Err(
                "must be a canonical repository `host/owner/name` (lower-case host, no scheme, no spaces, at most 256 characters)",
            )
        }
    }
}

/// A lower-case host, then at least two segments after it, none empty and
/// none with white space. Nearly every event names a repository, so this
/// is one pass over the bytes, each looked up in [`REPOSITORY_BYTES`];
/// only a path with a byte of 0x20 or below, or above 0x7f, is decoded to
/// look for white space.
fn is_canonical_repository(s: &str) -> bool {
    let bytes = s.as_bytes();
    let class = |b: u8| REPOSITORY_BYTES[usize::from(b)];
    let host_len = bytes
        .iter()
        .position(|&b| class(b) & HOST_BYTE == 0)
        .unwrap_or(bytes.len());
    if host_len == 0 || bytes.get(host_len) != Some(&b'/') {
        return false;
    }
    let path = &s[host_len + 1..];
    let mut slashes = 0;
    let mut after_slash = true;
    let mut maybe_space = false;
    for b in path.bytes() {
        let slash = class(b) & SLASH != 0;
        if slash && after_slash {
            return false;
        }
        slashes += usize::from(slash);
        after_slash = slash;
        maybe_space |= class(b) & MAYBE_SPACE != 0;
    }
    slashes > 0 && !after_slash && !(maybe_space && path.chars().any(char::is_whitespace))
}

/// A byte a repository's host may hold.
const HOST_BYTE: u8 = 1;
/// The byte that separates a repository's segments.
const SLASH: u8 = 2;
/// A byte that is, or may start, white space: 0x20 and below, or not ASCII.
const MAYBE_SPACE: u8 = 4;

/// What each byte may be in a repository, as [`is_canonical_repository`]
/// looks it up.
static REPOSITORY_BYTES: [u8; 256] = {
    let mut classes = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        if byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'.' || byte == b'-' {
            classes[b] |= HOST_BYTE;
        }
        if byte == b'/' {
            classes[b] |= SLASH;
        }
        if byte <= b' ' || byte > 0x7f {
            classes[b] |= MAYBE_SPACE;
        }
        b += 1;
    }
    classes
};

impl<'de: 'a, 'a> Deserialize<'de> for Repository<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_cow_str(deserializer, "a repository", Repository::check).map(Repository)
    }
}

impl Serialize for Repository<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl JsonSchema for Repository<'_> {
    fn schema_name() -> Cow<'static, str> {
        "Repository".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": REPOSITORY_PATTERN, "maxLength": 256 })
    }
}

string_column!(Repository<'_>);

/// A point in time: RFC 3339 with an offset on the wire, UTC microseconds at rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// Microseconds since the Unix epoch, as stored.
    pub fn micros(&self) -> i64 {
        self.0.timestamp_micros()
    }

    /// Parses RFC 3339 with an offset, truncating below microseconds.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if let Some(time) = plain_rfc3339(s) {
            return Ok(Timestamp(time));
        }
        let parsed = DateTime::parse_from_rfc3339(s).map_err(
            |_| "must be an RFC 3339 timestamp with an offset, e.g. 2026-03-02T09:15:00Z",
        )?;
        DateTime::from_timestamp_micros(parsed.timestamp_micros())
            .map(Timestamp)
            .ok_or("is out of the range of microsecond timestamps")
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text =
            deserialize_cow_str(
                deserializer,
                "an RFC 3339 timestamp",
                |_| Ok::<(), &str>(()),
            )?;
        Timestamp::parse(&text).map_err(de::Error::custom)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> Cow<'static, str> {
        "Timestamp".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "format": "date-time" })
    }
}

impl ColumnValue for Timestamp {
    type Builder = TimestampMicrosecondBuilder;
    fn new_builder(capacity: usize) -> Self::Builder {
        timestamp_builder(capacity)
    }
    fn append_to(&self, builder: &mut Self::Builder) {
        builder.append_value(self.micros());
    }
    fn append_null(builder: &mut Self::Builder) {
        builder.append_null();
    }
}

/// Deserializes a JSON integer in `0..=max`; a float, a string or a negative
/// number is refused, since a count that is not an integer is a broken collector.
fn deserialize_count<'de, D: Deserializer<'de>>(
    deserializer: D,
    max: u64,
) -> Result<u64, D::Error> {
    struct CountVisitor(u64);
    impl Visitor<'_> for CountVisitor {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "an integer from 0 to {}", self.0)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            if v <= self.0 {
                Ok(v)
            } else {
                Err(E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            match u64::try_from(v) {
                Ok(v) => self.visit_u64(v),
                Err(_) => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
            }
        }
    }
    deserializer.deserialize_u64(CountVisitor(max))
}

/// Defines a non-negative integer count with an upper bound, stored as `Int64`.
macro_rules! count_type {
    ($(#[$meta:meta])* $name:ident, $max:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserialize_count(deserializer, $max).map($name)
            }
        }

        impl ReadFast<'_> for $name {
            fn read(reader: &mut FastReader<'_, '_>) -> Plain<Self> {
                reader.unsigned($max).map($name)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "integer", "minimum": 0, "maximum": $max })
            }
        }

        primitive_column!($name, Int64Builder, |v: &$name| v.0 as i64);
    };
}

count_type!(
    /// A number of tokens: `0..=10^9`.
    TokenCount,
    MAX_TOKENS
);
count_type!(
    /// Any other count (lines, milliseconds): `0..=2^53-1`.
    Count,
    MAX_COUNT
);

/// A cost in US dollars: a finite number ≥ 0.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct Usd(pub f64);

impl<'de> Deserialize<'de> for Usd {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(deserializer)?;
        if value.is_finite() && value >= 0.0 {
            Ok(Usd(value))
        } else {
            Err(de::Error::custom("must be a number ≥ 0"))
        }
    }
}

impl JsonSchema for Usd {
    fn schema_name() -> Cow<'static, str> {
        "Usd".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "number", "minimum": 0 })
    }
}

primitive_column!(Usd, Float64Builder, |v: &Usd| v.0);

/// The schema version of an event; this build reads version 1 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SchemaVersion(pub i16);

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: i16 = 1;

impl Default for SchemaVersion {
    fn default() -> Self {
        SchemaVersion(SCHEMA_VERSION)
    }
}

impl<'de> Deserialize<'de> for SchemaVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserialize_count(deserializer, MAX_COUNT)? {
            1 => Ok(SchemaVersion(SCHEMA_VERSION)),
            _ => Err(de::Error::custom("must be 1")),
        }
    }
}

impl JsonSchema for SchemaVersion {
    fn schema_name() -> Cow<'static, str> {
        "SchemaVersion".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer", "const": SCHEMA_VERSION })
    }
}

primitive_column!(SchemaVersion, Int16Builder, |v: &SchemaVersion| v.0);

/// An array of `MIN..=MAX_LIST_ITEMS` values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List<T, const MIN: usize>(pub Vec<T>);

/// An array of texts that may be empty.
pub type TextList<'a> = List<Text<'a>, 0>;
/// An array of at least one repository.
pub type RepositoryList<'a> = List<Repository<'a>, 1>;

impl<'de, T: Deserialize<'de>, const MIN: usize> Deserialize<'de> for List<T, MIN> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<T, const MIN: usize>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const MIN: usize> Visitor<'de> for ListVisitor<T, MIN> {
            type Value = List<T, MIN>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "an array of {MIN} to {MAX_LIST_ITEMS} items")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(8));
                while let Some(item) = seq.next_element()? {
                    if items.len() == MAX_LIST_ITEMS {
                        return Err(de::Error::custom(format!(
                            "has more than {MAX_LIST_ITEMS} items"
                        )));
                    }
                    items.push(item);
                }
                if items.len() < MIN {
                    return Err(de::Error::custom(format!(
                        "must have at least {MIN} item(s)"
                    )));
                }
                Ok(List(items))
            }
        }
        deserializer.deserialize_seq(ListVisitor::<T, MIN>(PhantomData))
    }
}

impl<T: Serialize, const MIN: usize> Serialize for List<T, MIN> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for item in &self.0 {
            seq.serialize_element(item)?;
        }
        seq.end()
    }
}

impl<T: JsonSchema, const MIN: usize> JsonSchema for List<T, MIN> {
    fn schema_name() -> Cow<'static, str> {
        format!("ListOf{}", T::schema_name()).into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let items = generator.subschema_for::<T>();
        json_schema!({ "type": "array", "items": items, "minItems": MIN, "maxItems": MAX_LIST_ITEMS })
    }
}

/// What a list item contributes to a `List<Utf8>` column.
pub trait ListItem {
    /// The item's text.
    fn text(&self) -> &str;
}

impl<const MIN: usize, const MAX: usize> ListItem for BoundedText<'_, MIN, MAX> {
    fn text(&self) -> &str {
        &self.0
    }
}

impl ListItem for Repository<'_> {
    fn text(&self) -> &str {
        &self.0
    }
}

impl<T: ListItem, const MIN: usize> ColumnValue for List<T, MIN> {
    type Builder = ListBuilder<StringBuilder>;
    fn new_builder(capacity: usize) -> Self::Builder {
        string_list_builder(capacity)
    }
    fn append_to(&self, builder: &mut Self::Builder) {
        for item in &self.0 {
            builder.values().append_value(item.text());
        }
        builder.append(true);
    }
    fn append_null(builder: &mut Self::Builder) {
        builder.append(false);
    }
}

/// Free-form metadata: at most 16 string → string entries, keys 1–64 and
/// values up to 256 characters, each key at most once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attributes<'a>(pub Vec<(AttributeKey<'a>, AttributeValue<'a>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Attributes<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AttributesVisitor;
        impl<'de> Visitor<'de> for AttributesVisitor {
            type Value = Attributes<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "an object of at most {MAX_ATTRIBUTES} string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(AttributeKey<'de>, AttributeValue<'de>)> = Vec::new();
                while let Some(key) = map.next_key::<AttributeKey<'de>>()? {
                    if entries.len() == MAX_ATTRIBUTES {
                        return Err(de::Error::custom(format!(
                            "has more than {MAX_ATTRIBUTES} entries"
                        )));
                    }
                    if entries.iter().any(|(k, _)| k == &key) {
                        return Err(de::Error::custom(format!(
                            "has the key `{}` twice",
                            key.as_str()
                        )));
                    }
                    let value = map.next_value::<AttributeValue<'de>>()?;
                    entries.push((key, value));
                }
                Ok(Attributes(entries))
            }
        }
        deserializer.deserialize_map(AttributesVisitor)
    }
}

impl Serialize for Attributes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl JsonSchema for Attributes<'_> {
    fn schema_name() -> Cow<'static, str> {
        "Attributes".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "object",
            "maxProperties": MAX_ATTRIBUTES,
            "propertyNames": { "minLength": 1, "maxLength": 64 },
            "additionalProperties": { "type": "string", "maxLength": 256 }
        })
    }
}

impl ColumnValue for Attributes<'_> {
    type Builder = MapBuilder<StringBuilder, StringBuilder>;
    fn new_builder(capacity: usize) -> Self::Builder {
        string_map_builder(capacity)
    }
    fn append_to(&self, builder: &mut Self::Builder) {
        for (key, value) in &self.0 {
            builder.keys().append_value(key.as_str());
            builder.values().append_value(value.as_str());
        }
        builder
            .append(true)
            .expect("keys and values are appended in pairs, so the map entry is complete");
    }
    fn append_null(builder: &mut Self::Builder) {
        builder
            .append(false)
            .expect("no keys were appended for a null map entry");
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use regex::Regex;

    use super::*;

    proptest! {
        #[test]
        fn an_event_id_is_valid_exactly_when_its_json_schema_says_so(
            s in "[a-zA-Z0-9._:/ @é-]{0,66}"
        ) {
            let pattern = Regex::new(EVENT_ID_PATTERN).unwrap();
            prop_assert_eq!(EventId::check(&s).is_ok(), pattern.is_match(&s), "{:?}", s);
        }

        #[test]
        fn a_repository_is_valid_exactly_when_its_json_schema_says_so(
            s in "[a-zA-Z0-9./ \t\u{0b}\u{85}\u{a0}é-]{0,24}"
        ) {
            let pattern = Regex::new(REPOSITORY_PATTERN).unwrap();
            prop_assert_eq!(Repository::check(&s).is_ok(), pattern.is_match(&s), "{:?}", s);
        }
    }

    #[test]
    fn repositories_named_in_the_design_are_valid() {
        for valid in ["github.example.com/acme/payments-api", "gitlab.local/a/b/c"] {
            assert!(Repository::check(valid).is_ok(), "{valid}");
        }
        for invalid in [
            "acme/x",
            "https://github.com/acme/x",
            "h//a/b",
            "h/a/b/",
            "h/a b/c",
            "H/a/b",
        ] {
            assert!(Repository::check(invalid).is_err(), "{invalid}");
        }
    }
}
