//! Why an input was refused, and the record of it that goes to the dead-letter
//! topic or the rejects file (DESIGN §3).

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The reason codes of DESIGN §3; the wire names are part of the contract
/// (metrics labels, DLQ headers, rejects files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Not a JSON object (or not UTF-8).
    MalformedJson,
    /// Larger than 64 KiB.
    TooLarge,
    /// `schema_version` newer than this build reads.
    UnsupportedSchemaVersion,
    /// A required field is absent.
    MissingField,
    /// A field breaks its rule: type, range, enum, length or timestamp.
    InvalidField,
    /// A field the schema does not know.
    UnknownField,
    /// A field that carries content (a prompt, a response, code…).
    ContentField,
    /// A value that looks like a credential.
    SecretDetected,
    /// More than the allowed skew ahead of the ingest clock.
    FutureTimestamp,
    /// Already past its tier's retention.
    Expired,
    /// Its `event_id` is already stored within the dedup window.
    Duplicate,
}

impl RejectReason {
    /// Every reason, in the order of DESIGN §3.
    pub const ALL: [RejectReason; 11] = [
        RejectReason::MalformedJson,
        RejectReason::TooLarge,
        RejectReason::UnsupportedSchemaVersion,
        RejectReason::MissingField,
        RejectReason::InvalidField,
        RejectReason::UnknownField,
        RejectReason::ContentField,
        RejectReason::SecretDetected,
        RejectReason::FutureTimestamp,
        RejectReason::Expired,
        RejectReason::Duplicate,
    ];

    /// The wire name of the reason.
    pub fn as_str(&self) -> &'static str {
        match self {
            RejectReason::MalformedJson => "malformed_json",
            RejectReason::TooLarge => "too_large",
            RejectReason::UnsupportedSchemaVersion => "unsupported_schema_version",
            RejectReason::MissingField => "missing_field",
            RejectReason::InvalidField => "invalid_field",
            RejectReason::UnknownField => "unknown_field",
            RejectReason::ContentField => "content_field",
            RejectReason::SecretDetected => "secret_detected",
            RejectReason::FutureTimestamp => "future_timestamp",
            RejectReason::Expired => "expired",
            RejectReason::Duplicate => "duplicate",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused input: why, a detail naming the field, and the input as JSON with
/// every content field and secret replaced by `"[REDACTED]"` (`None` when the
/// input was not JSON or too large to keep).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The reason code.
    pub reason: RejectReason,
    /// What is wrong, naming the field; never quotes a content or secret value.
    pub detail: String,
    /// The redacted event, safe to keep durably.
    pub event: Option<Value>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

impl std::error::Error for Rejection {}

/// Where a rejected input came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RejectSource {
    /// A Kafka message.
    Kafka {
        /// The topic it was read from.
        topic: String,
        /// Its partition.
        partition: i32,
        /// Its offset.
        offset: i64,
    },
    /// A line of a JSONL file.
    File {
        /// The file's path, or `-` for standard input.
        file: String,
        /// The 1-based line number.
        line: u64,
    },
    /// A record mapped by the collector (DESIGN §9).
    Collector {
        /// The receiving endpoint, e.g. `/v1/logs` or `/v1/webhooks/github`.
        endpoint: String,
        /// The name of the client's token, or the webhook's source.
        client: String,
        /// The record's derived event id.
        record: String,
    },
}

/// One line of the dead-letter topic or a rejects file (DESIGN §3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectRecord {
    /// The reason code.
    pub reason: RejectReason,
    /// What is wrong, naming the field.
    pub detail: String,
    /// Where the input came from.
    pub source: RejectSource,
    /// When the input was refused, RFC 3339 UTC.
    pub received_at: String,
    /// The redacted input.
    pub event: Option<Value>,
}

impl RejectRecord {
    /// The durable record of `rejection`, refused at `received_at`.
    pub fn new(rejection: Rejection, source: RejectSource, received_at: DateTime<Utc>) -> Self {
        RejectRecord {
            reason: rejection.reason,
            detail: rejection.detail,
            source,
            received_at: received_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            event: rejection.event,
        }
    }
}
