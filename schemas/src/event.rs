//! The three event types of schema version 1 (DESIGN §2).
//!
//! Each struct is written once, in [`event_record!`]: the macro derives from
//! that one list of fields the serde types (strict: unknown fields refused),
//! the JSON Schema, the Arrow schema and the Arrow column builders.

use std::marker::PhantomData;
use std::sync::Arc;

use arrow::array::{ArrayBuilder, ArrayRef};
use arrow::datatypes::{Field, Schema, SchemaRef};
use serde::Serialize;

use crate::columns::ColumnValue;
use crate::fast_reader::{FastReader, FieldKeys, Plain, QuotedName, ReadFast, Unusual};
use crate::fields::{
    Attributes, Count, EventId, OrgId, Repository, RepositoryList, SchemaVersion, Text, TextList,
    Timestamp, TokenCount, Usd,
};
use crate::json_line::WriteJson;
use crate::vocab::{
    AiUsageTag, ChangeKind, Client, CodeChangeTag, CodeReviewTag, DataClass, Domain, EventType,
    IncidentTag, Operation, ReviewState, Severity,
};

/// The value of an absent field: its default where the field is marked
/// `= default` (serde's `#[serde(default)]`), else what its type says.
macro_rules! absent_field {
    ($ty:ty, default) => {
        Some(<$ty as Default>::default())
    };
    ($ty:ty) => {
        <$ty as ReadFast>::absent()
    };
}

/// An event type that the validator's fast path reads from a whole input.
pub(crate) trait ReadEvent<'a> {
    /// Reads the one object of `reader`'s input, and nothing after it but
    /// whitespace, as an event of this type: its keys in the order the type
    /// declares them first if `DECLARED_ORDER_FIRST`, then in any order. A
    /// field twice, an unknown field or a missing required one is unusual,
    /// as serde refuses it.
    fn read_event<const DECLARED_ORDER_FIRST: bool>(
        reader: &mut FastReader<'a, '_>,
    ) -> Plain<Event<'a>>;
}

/// Defines an event struct together with its Arrow schema, column builders,
/// the validator's fast reader and the generator's JSON writer. A field
/// marked `= default` takes its type's default when absent.
macro_rules! event_record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident<'a>, columns $columns:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty $(= $default:ident)?, )+
        }
    ) => {
        $(#[$meta])*
        #[serde_with::skip_serializing_none]
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name<'a> {
            $( $(#[$fmeta])* $(#[serde($default)])? pub $field: $ty, )+
        }

        impl WriteJson for $name<'_> {
            /// The fields in order, absent options left out, as serde writes them.
            fn write_json(&self, out: &mut Vec<u8>) {
                out.push(b'{');
                let mut first = true;
                $(
                    if !self.$field.is_absent() {
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        out.extend_from_slice(concat!("\"", stringify!($field), "\":").as_bytes());
                        self.$field.write_json(out);
                    }
                )+
                out.push(b'}');
            }
        }

        impl<'a> ReadEvent<'a> for $name<'a> {
            fn read_event<const DECLARED_ORDER_FIRST: bool>(
                reader: &mut FastReader<'a, '_>,
            ) -> Plain<Event<'a>> {
                /// Each field, its discriminant the index of its key in `NAMES`.
                #[allow(non_camel_case_types)]
                #[derive(Clone, Copy)]
                enum Key { $( $field, )+ }
                const ORDER: &[Key] = &[ $( Key::$field, )+ ];
                const NAMES: &[QuotedName] = &[ $( QuotedName::new(stringify!($field)), )+ ];
                static KEYS: FieldKeys = FieldKeys::new(NAMES);
                $( let mut $field: Option<$ty> = None; )+
                let mut more = reader.open_object()?;
                // `aitrail gen` and collectors built on these types write
                // the fields in the order declared here, leaving out absent
                // ones: one pass in that order reads them, each key compared
                // with the one field it should be.
                if DECLARED_ORDER_FIRST {
                    $(
                        if more && reader.key_is(&NAMES[Key::$field as usize])? {
                            $field = Some(<$ty as ReadFast>::read(reader)?);
                            more = reader.member_end()?;
                        }
                    )+
                }
                if more {
                    reader.remaining_fields(&KEYS, |reader, index| {
                        match ORDER[index] {
                            $(
                                Key::$field => {
                                    if $field.is_some() {
                                        return Err(Unusual);
                                    }
                                    $field = Some(<$ty as ReadFast>::read(reader)?);
                                }
                            )+
                        }
                        Ok(())
                    })?;
                }
                reader.finish()?;
                // Built in place, where the caller takes it: an event is a
                // few hundred bytes, and each move of it a copy.
                Ok(Event::$name($name {
                    $( $field: $field.or_else(|| absent_field!($ty $(, $default)?)).ok_or(Unusual)?, )+
                }))
            }
        }

        impl<'a> $name<'a> {
            /// The Arrow fields of this event type, one per field, in order.
            pub fn arrow_fields() -> Vec<Field> {
                vec![ $( <$ty as ColumnValue>::field(stringify!($field)), )+ ]
            }

            /// The Arrow schema of this event type.
            pub fn arrow_schema() -> SchemaRef {
                Arc::new(Schema::new(Self::arrow_fields()))
            }
        }

        /// Column builders that collect events of this type into Arrow arrays.
        pub struct $columns<'a> {
            $( $field: <$ty as ColumnValue>::Builder, )+
            rows: usize,
            _borrows: PhantomData<fn(&'a ())>,
        }

        impl<'a> $columns<'a> {
            /// Empty builders with room for `capacity` events.
            pub fn with_capacity(capacity: usize) -> Self {
                Self {
                    $( $field: <$ty as ColumnValue>::new_builder(capacity), )+
                    rows: 0,
                    _borrows: PhantomData,
                }
            }

            /// Appends one event as the next row.
            pub fn append(&mut self, event: &$name<'_>) {
                $( ColumnValue::append_to(&event.$field, &mut self.$field); )+
                self.rows += 1;
            }

            /// Rows appended since the last `finish`.
            pub fn len(&self) -> usize {
                self.rows
            }

            /// Whether no row was appended since the last `finish`.
            pub fn is_empty(&self) -> bool {
                self.rows == 0
            }

            /// The appended rows as arrays in field order; the builders are
            /// left empty for the next batch.
            pub fn finish(&mut self) -> Vec<ArrayRef> {
                self.rows = 0;
                vec![ $( ArrayBuilder::finish(&mut self.$field), )+ ]
            }
        }
    };
}

event_record!(
    /// One AI interaction: a request, a completion, an agent turn.
    pub struct AiUsage<'a>, columns AiUsageColumns {
        pub schema_version: SchemaVersion,
        #[serde(borrow)]
        pub event_id: EventId<'a>,
        pub event_type: AiUsageTag,
        pub occurred_at: Timestamp,
        #[serde(borrow)]
        pub org_id: OrgId<'a>,
        #[serde(borrow)]
        pub user_id: Text<'a>,
        #[serde(borrow)]
        pub team: Option<Text<'a>>,
        #[serde(borrow)]
        pub tool: Text<'a>,
        #[serde(borrow)]
        pub tool_version: Option<Text<'a>>,
        #[serde(borrow)]
        pub provider: Option<Text<'a>>,
        #[serde(borrow)]
        pub model: Text<'a>,
        pub operation: Operation = default,
        #[serde(borrow)]
        pub session_id: Option<Text<'a>>,
        #[serde(borrow)]
        pub repository: Option<Repository<'a>>,
        pub input_tokens: TokenCount,
        pub output_tokens: TokenCount,
        pub cache_read_tokens: TokenCount = default,
        pub cache_write_tokens: TokenCount = default,
        pub reasoning_tokens: TokenCount = default,
        pub cost_usd: Option<Usd>,
        pub data_class: DataClass = default,
        pub domain: Option<Domain>,
        pub client: Option<Client>,
        pub lines_added: Option<Count>,
        pub lines_removed: Option<Count>,
        pub accepted: Option<bool>,
        pub duration_ms: Option<Count>,
        #[serde(borrow)]
        pub attributes: Option<Attributes<'a>>,
    }
);

event_record!(
    /// A merged pull request, a commit or a deployment, with AI attribution.
    pub struct CodeChange<'a>, columns CodeChangeColumns {
        pub schema_version: SchemaVersion,
        #[serde(borrow)]
        pub event_id: EventId<'a>,
        pub event_type: CodeChangeTag,
        pub occurred_at: Timestamp,
        #[serde(borrow)]
        pub org_id: OrgId<'a>,
        #[serde(borrow)]
        pub change_id: Text<'a>,
        pub kind: ChangeKind,
        #[serde(borrow)]
        pub repository: Repository<'a>,
        #[serde(borrow)]
        pub user_id: Text<'a>,
        #[serde(borrow)]
        pub team: Option<Text<'a>>,
        pub ai_assisted: bool,
        #[serde(borrow)]
        pub ai_tools: Option<TextList<'a>>,
        pub lines_added: Option<Count>,
        pub lines_removed: Option<Count>,
        pub ai_lines_added: Option<Count>,
        #[serde(borrow)]
        pub reviewer_ids: Option<TextList<'a>>,
        pub domain: Option<Domain>,
        #[serde(borrow)]
        pub service: Option<Text<'a>>,
    }
);

event_record!(
    /// A production incident; `occurred_at` is when it started.
    pub struct Incident<'a>, columns IncidentColumns {
        pub schema_version: SchemaVersion,
        #[serde(borrow)]
        pub event_id: EventId<'a>,
        pub event_type: IncidentTag,
        pub occurred_at: Timestamp,
        #[serde(borrow)]
        pub org_id: OrgId<'a>,
        #[serde(borrow)]
        pub incident_id: Text<'a>,
        pub severity: Severity,
        #[serde(borrow)]
        pub repositories: RepositoryList<'a>,
        #[serde(borrow)]
        pub service: Option<Text<'a>>,
        pub resolved_at: Option<Timestamp>,
        #[serde(borrow)]
        pub caused_by_change_id: Option<Text<'a>>,
    }
);

event_record!(
    /// A pull request's review (DESIGN §9); `occurred_at` is when it was
    /// submitted, `user_id` the reviewer.
    pub struct CodeReview<'a>, columns CodeReviewColumns {
        pub schema_version: SchemaVersion,
        #[serde(borrow)]
        pub event_id: EventId<'a>,
        pub event_type: CodeReviewTag,
        pub occurred_at: Timestamp,
        #[serde(borrow)]
        pub org_id: OrgId<'a>,
        #[serde(borrow)]
        pub change_id: Text<'a>,
        #[serde(borrow)]
        pub repository: Repository<'a>,
        #[serde(borrow)]
        pub user_id: Text<'a>,
        pub state: ReviewState,
    }
);

/// A valid event of any type, borrowing its strings from the input it was
/// parsed from wherever they had no escapes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Event<'a> {
    /// An `ai_usage` event.
    AiUsage(AiUsage<'a>),
    /// A `code_change` event.
    CodeChange(CodeChange<'a>),
    /// An `incident` event.
    Incident(Incident<'a>),
    /// A `code_review` event.
    CodeReview(CodeReview<'a>),
}

impl Event<'_> {
    /// The type of this event.
    pub fn event_type(&self) -> EventType {
        match self {
            Event::AiUsage(_) => EventType::AiUsage,
            Event::CodeChange(_) => EventType::CodeChange,
            Event::Incident(_) => EventType::Incident,
            Event::CodeReview(_) => EventType::CodeReview,
        }
    }

    /// The event's dedup key.
    pub fn event_id(&self) -> &str {
        match self {
            Event::AiUsage(e) => e.event_id.as_str(),
            Event::CodeChange(e) => e.event_id.as_str(),
            Event::Incident(e) => e.event_id.as_str(),
            Event::CodeReview(e) => e.event_id.as_str(),
        }
    }

    /// When the event happened, which decides its `date` partition.
    pub fn occurred_at(&self) -> Timestamp {
        match self {
            Event::AiUsage(e) => e.occurred_at,
            Event::CodeChange(e) => e.occurred_at,
            Event::Incident(e) => e.occurred_at,
            Event::CodeReview(e) => e.occurred_at,
        }
    }
}

impl EventType {
    /// The Arrow schema of the table that holds events of this type.
    pub fn arrow_schema(&self) -> SchemaRef {
        match self {
            EventType::AiUsage => AiUsage::arrow_schema(),
            EventType::CodeChange => CodeChange::arrow_schema(),
            EventType::Incident => Incident::arrow_schema(),
            EventType::CodeReview => CodeReview::arrow_schema(),
        }
    }

    /// The name of the table that holds events of this type (DESIGN §4).
    pub fn table_name(&self) -> &'static str {
        match self {
            EventType::AiUsage => "ai_usage",
            EventType::CodeChange => "code_changes",
            EventType::Incident => "incidents",
            EventType::CodeReview => "code_reviews",
        }
    }
}
