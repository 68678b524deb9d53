//! The metadata-only validator (DESIGN §3).
//!
//! Valid events, by far the common case, take a fast path: the fast
//! reader (`crate::fast_reader`) reads plain input straight into the typed
//! structs, borrowing its strings where they have no escapes and decoding
//! the others, screening free text for credential assignments, and one SIMD
//! pass over the raw bytes screens for credentials of a fixed form (the
//! reader screens the decoded strings itself). Anything else takes the
//! thorough path, which parses the
//! input as a JSON value to find the most important thing wrong with it in a
//! fixed order (content and secrets first, so that the copy kept of a rejected
//! event is always redacted) and to name the field. Both paths must agree on
//! every input; property tests hold them to it.

pub mod content;
mod path;
mod plain;
pub mod secrets;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::event::{AiUsage, CodeChange, CodeReview, Event, Incident};
use crate::fields::Attributes;
use crate::reject::{RejectReason, Rejection};
use crate::vocab::EventType;
use content::{is_content_field, redact_content};
use plain::read_plain;
use secrets::SecretScanner;

/// The largest event accepted, in bytes (DESIGN §2).
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// Settings of the validator that a deployment may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidatorConfig {
    /// How far ahead of the clock an event may claim to have happened.
    pub max_future_skew: TimeDelta,
}

impl Default for ValidatorConfig {
    fn default() -> Self {
        ValidatorConfig {
            max_future_skew: TimeDelta::seconds(300),
        }
    }
}

/// Checks inputs against schema v1 and the metadata-only rules.
pub struct Validator {
    config: ValidatorConfig,
    secrets: SecretScanner,
}

type Refusal = (RejectReason, String);

impl Validator {
    /// A validator with the given settings.
    pub fn new(config: ValidatorConfig) -> Self {
        Validator {
            config,
            secrets: SecretScanner::new(),
        }
    }

    /// Validates one input (a Kafka message or a JSONL line without its line
    /// break) against the clock reading `now`.
    pub fn validate<'a>(
        &self,
        input: &'a [u8],
        now: DateTime<Utc>,
    ) -> Result<Event<'a>, Rejection> {
        if input.len() > MAX_EVENT_BYTES {
            return Err(too_large(input.len()));
        }
        let screen = self.secrets.fixed_form();
        if let Ok(event) = read_plain(input, screen)
            // Exact: every string of the event is either a slice of the raw
            // input, screened here where it stands, or was decoded and
            // screened as decoded text by the reader.
            && !screen.may_hold(input)
        {
            return match self.check_parsed(&event, now) {
                Ok(()) => Ok(event),
                Err((reason, detail)) => Err(self.reject(input, reason, detail)),
            };
        }
        self.validate_thoroughly(input, now)
    }

    /// The thorough path alone: slower, and the reference the fast path is
    /// tested against.
    pub fn validate_thoroughly<'a>(
        &self,
        input: &'a [u8],
        now: DateTime<Utc>,
    ) -> Result<Event<'a>, Rejection> {
        if input.len() > MAX_EVENT_BYTES {
            return Err(too_large(input.len()));
        }
        let mut value: Value = serde_json::from_slice(input).map_err(|err| Rejection {
            reason: RejectReason::MalformedJson,
            detail: without_position(&err.to_string()),
            event: None,
        })?;
        let Value::Object(_) = value else {
            return Err(Rejection {
                reason: RejectReason::MalformedJson,
                detail: format!("expected a JSON object, found {}", json_kind(&value)),
                event: None,
            });
        };
        let content = redact_content(&mut value);
        let secrets = self.secrets.redact(&mut value);
        let refusal = if !content.is_empty() {
            Some((
                RejectReason::ContentField,
                format!(
                    "{} carries content; events are metadata only",
                    name_fields(&content)
                ),
            ))
        } else if let Some(first) = secrets.first() {
            let paths: Vec<String> = secrets.iter().map(|s| s.path.clone()).collect();
            Some((
                RejectReason::SecretDetected,
                format!("{} looks like {}", name_fields(&paths), first.kind),
            ))
        } else {
            check_envelope(&value).err()
        };
        if let Some((reason, detail)) = refusal {
            return Err(Rejection {
                reason,
                detail,
                event: Some(value),
            });
        }
        let event_type = envelope_event_type(&value);
        let event =
            parse_typed_explained(input, event_type).map_err(|(reason, detail)| Rejection {
                reason,
                detail,
                event: Some(value.clone()),
            })?;
        self.check_parsed(&event, now)
            .map_err(|(reason, detail)| Rejection {
                reason,
                detail,
                event: Some(value),
            })?;
        Ok(event)
    }

    /// The rules a typed parse cannot check: content keys in `attributes`,
    /// relations between fields, and the clock.
    fn check_parsed(&self, event: &Event<'_>, now: DateTime<Utc>) -> Result<(), Refusal> {
        let attributes = match event {
            Event::AiUsage(e) => e.attributes.as_ref(),
            _ => None,
        };
        check_attribute_keys(attributes)?;
        let latest = now + self.config.max_future_skew;
        let check_not_future = |field: &str, at: DateTime<Utc>| {
            if at > latest {
                Err((
                    RejectReason::FutureTimestamp,
                    format!(
                        "field `{field}`: {at} is more than {}s ahead of the ingest clock ({now})",
                        self.config.max_future_skew.num_seconds()
                    ),
                ))
            } else {
                Ok(())
            }
        };
        check_not_future("occurred_at", event.occurred_at().0)?;
        match event {
            Event::AiUsage(e) => {
                if e.reasoning_tokens > e.output_tokens {
                    return Err(invalid(
                        "reasoning_tokens",
                        "is more than output_tokens, of which it is a part",
                    ));
                }
            }
            Event::CodeChange(e) => {
                if let (Some(ai), Some(all)) = (e.ai_lines_added, e.lines_added)
                    && ai > all
                {
                    return Err(invalid(
                        "ai_lines_added",
                        "is more than lines_added, of which it is a part",
                    ));
                }
            }
            Event::Incident(e) => {
                if let Some(resolved) = e.resolved_at {
                    check_not_future("resolved_at", resolved.0)?;
                    if resolved < e.occurred_at {
                        return Err(invalid("resolved_at", "is before occurred_at"));
                    }
                }
            }
            Event::CodeReview(_) => {}
        }
        Ok(())
    }

    /// A rejection of `input` for `reason`, with a redacted copy of the input.
    fn reject(&self, input: &[u8], reason: RejectReason, detail: String) -> Rejection {
        let event = serde_json::from_slice::<Value>(input)
            .ok()
            .map(|mut value| {
                redact_content(&mut value);
                self.secrets.redact(&mut value);
                value
            });
        Rejection {
            reason,
            detail,
            event,
        }
    }
}

impl Default for Validator {
    fn default() -> Self {
        Self::new(ValidatorConfig::default())
    }
}

fn too_large(len: usize) -> Rejection {
    Rejection {
        reason: RejectReason::TooLarge,
        detail: format!("event is {len} bytes; the limit is {MAX_EVENT_BYTES}"),
        event: None,
    }
}

fn invalid(field: &str, what: &str) -> Refusal {
    (
        RejectReason::InvalidField,
        format!("field `{field}`: {what}"),
    )
}

fn name_fields(paths: &[String]) -> String {
    let quoted: Vec<String> = paths.iter().map(|p| format!("`{p}`")).collect();
    match quoted.len() {
        1 => format!("field {}", quoted[0]),
        _ => format!("fields {}", quoted.join(", ")),
    }
}

fn check_attribute_keys(attributes: Option<&Attributes<'_>>) -> Result<(), Refusal> {
    let keys = || {
        attributes
            .into_iter()
            .flat_map(|a| a.0.iter())
            .map(|(key, _)| key.as_str())
    };
    if !keys().any(is_content_field) {
        Ok(())
    } else {
        let content_keys: Vec<String> = keys()
            .filter(|key| is_content_field(key))
            .map(|key| format!("attributes.{key}"))
            .collect();
        Err((
            RejectReason::ContentField,
            format!(
                "{} carries content; events are metadata only",
                name_fields(&content_keys)
            ),
        ))
    }
}

/// Checks `schema_version` and `event_type`, which decide how the rest is read.
fn check_envelope(value: &Value) -> Result<(), Refusal> {
    match value.get("schema_version") {
        None => {
            return Err((
                RejectReason::MissingField,
                "missing field `schema_version`".to_string(),
            ));
        }
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        Some(Value::Number(n)) if n.as_u64().is_some_and(|v| v > 1) => {
            return Err((
                RejectReason::UnsupportedSchemaVersion,
                format!("schema_version {n} is not supported; this build reads version 1"),
            ));
        }
        Some(_) => return Err(invalid("schema_version", "must be 1")),
    }
    match value.get("event_type") {
        None => Err((
            RejectReason::MissingField,
            "missing field `event_type`".to_string(),
        )),
        Some(Value::String(s)) if event_type_named(s).is_some() => Ok(()),
        Some(_) => Err(invalid(
            "event_type",
            "must be one of `ai_usage`, `code_change`, `incident`",
        )),
    }
}

fn envelope_event_type(value: &Value) -> EventType {
    value
        .get("event_type")
        .and_then(Value::as_str)
        .and_then(event_type_named)
        .expect("check_envelope accepted the event_type")
}

fn event_type_named(name: &str) -> Option<EventType> {
    EventType::ALL.iter().copied().find(|t| t.as_str() == name)
}

/// The typed parse again, this time tracking the path of the field that fails.
fn parse_typed_explained(input: &[u8], event_type: EventType) -> Result<Event<'_>, Refusal> {
    fn parse<'a, T: Deserialize<'a>>(input: &'a [u8]) -> Result<T, Refusal> {
        let mut deserializer = serde_json::Deserializer::from_slice(input);
        serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
            let message = without_position(&err.inner().to_string());
            let path = err.path().to_string();
            if message.starts_with("missing field") {
                (RejectReason::MissingField, message)
            } else if message.starts_with("unknown field") {
                let name = message.split(", expected").next().unwrap_or(&message);
                (RejectReason::UnknownField, name.to_string())
            } else {
                (
                    RejectReason::InvalidField,
                    format!("field `{path}`: {message}"),
                )
            }
        })
    }
    Ok(match event_type {
        EventType::AiUsage => Event::AiUsage(parse::<AiUsage>(input)?),
        EventType::CodeChange => Event::CodeChange(parse::<CodeChange>(input)?),
        EventType::Incident => Event::Incident(parse::<Incident>(input)?),
        EventType::CodeReview => Event::CodeReview(parse::<CodeReview>(input)?),
    })
}

/// serde_json appends " at line L column C"; a rejection names the field instead.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
