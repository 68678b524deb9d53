//! The mapping table of DESIGN §9: which OTLP record becomes which
//! `ai_usage` event, reading an allow-list of attributes per source and
//! nothing else, so no prompt, response, tool argument or command line is
//! ever copied.
//!
//! Records of a tool-specific kind win; a generic GenAI record or span is
//! read only from a `service.name` that has no tool-specific mapping, so
//! nothing is counted twice. Every other record is counted by name and
//! dropped.

mod claude_code;
mod codex;
mod gemini_cli;
mod genai;
pub mod usage;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::auth::Client;
use crate::identity::Pseudonyms;
use crate::otlp::attributes::Attributes;
use usage::UsageDraft;

/// One OTLP log record or span, with what the mapping reads of it.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// The resource's attributes (`service.name`, `aitrail.*`, …).
    pub resource: Attributes<'a>,
    /// The record's own attributes.
    pub attributes: Attributes<'a>,
    /// The instrumentation scope's name.
    pub scope: &'a str,
    /// A log record's body when it is a string (Claude Code names its
    /// events there), a span's name.
    pub name: &'a str,
    /// When it happened: a log record's time, a span's end.
    pub time_unix_nano: u64,
    /// When the exporter saw it (logs), a span's start.
    pub observed_unix_nano: u64,
    /// A span rather than a log record.
    pub is_span: bool,
    /// The event id derived from the record's content.
    pub event_id: &'a str,
}

impl Record<'_> {
    /// `service.name` of the resource.
    fn service(&self) -> Option<String> {
        self.resource.text("service.name")
    }

    /// The record's `event.name` attribute (its event's name).
    fn event_name(&self) -> Option<String> {
        self.attributes.text("event.name")
    }

    /// An attribute of the record, else of its resource (Claude Code copies
    /// `OTEL_RESOURCE_ATTRIBUTES` onto every record; others do not).
    fn text(&self, key: &str) -> Option<String> {
        self.attributes
            .text(key)
            .or_else(|| self.resource.text(key))
    }

    /// The time of `event.timestamp` when the record carries a valid one,
    /// else the record's time, else when it was observed; `None` when all
    /// are absent (Codex writes a time of 0).
    fn occurred_at(&self) -> Option<DateTime<Utc>> {
        if let Some(stamp) = self.attributes.text("event.timestamp")
            && let Ok(time) = DateTime::parse_from_rfc3339(&stamp)
        {
            return Some(time.with_timezone(&Utc));
        }
        [self.time_unix_nano, self.observed_unix_nano]
            .into_iter()
            .find(|&nanos| nanos > 0)
            .and_then(|nanos| i64::try_from(nanos).ok())
            .map(DateTime::from_timestamp_nanos)
    }
}

/// The attributes naming a person, in order of preference.
const IDENTITY_KEYS: [&str; 5] = [
    "aitrail.user",
    "user.email",
    "enduser.id",
    "user.account_uuid",
    "user.id",
];

/// The sources with a tool-specific mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    ClaudeCode,
    Codex,
    GeminiCli,
    GenAi,
}

impl Source {
    /// Which mapping reads `record`, if any.
    fn of(record: &Record) -> Option<Source> {
        let service = record.service().unwrap_or_default();
        if !record.is_span {
            let event = record.event_name().unwrap_or_default();
            if claude_code::is_usage(&service, &event, record.name) {
                return Some(Source::ClaudeCode);
            }
            if codex::is_usage(&event, record) {
                return Some(Source::Codex);
            }
            if gemini_cli::is_usage(&event) {
                return Some(Source::GeminiCli);
            }
        }
        let tool_specific = claude_code::is_service(&service)
            || codex::is_service(&service)
            || gemini_cli::is_service(&service);
        (!tool_specific && genai::is_usage(record)).then_some(Source::GenAi)
    }
}

/// The tool-specific part of an event, read by a source's mapping.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ToolUsage {
    pub tool: String,
    pub tool_version: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub operation: Option<&'static str>,
    pub session_id: Option<String>,
    pub client: Option<&'static str>,
    pub tokens: Tokens,
    pub cost_usd: Option<serde_json::Value>,
    pub duration_ms: Option<serde_json::Value>,
}

/// Token counts as aitrail counts them (DESIGN §2).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Tokens {
    pub input: Option<serde_json::Value>,
    pub output: Option<serde_json::Value>,
    pub cache_read: Option<serde_json::Value>,
    pub cache_write: Option<serde_json::Value>,
    pub reasoning: Option<serde_json::Value>,
}

/// Maps records to events for one deployment.
#[derive(Debug, Clone)]
pub struct Mapper {
    pseudonyms: Pseudonyms,
    default_org: String,
}

impl Mapper {
    /// A mapper pseudonymizing with `pseudonyms`, giving events without an
    /// organization `default_org`.
    pub fn new(pseudonyms: Pseudonyms, default_org: String) -> Self {
        Mapper {
            pseudonyms,
            default_org,
        }
    }

    /// The organization of events that name none.
    pub fn default_org(&self) -> &str {
        &self.default_org
    }

    /// The pseudonyms of this deployment.
    pub fn pseudonyms(&self) -> &Pseudonyms {
        &self.pseudonyms
    }

    /// The event `record` becomes, sent by `client` and received at `now`;
    /// `None` when no mapping reads it.
    pub fn map(&self, record: &Record, client: &Client, now: DateTime<Utc>) -> Option<UsageDraft> {
        let usage = match Source::of(record)? {
            Source::ClaudeCode => claude_code::read(record),
            Source::Codex => codex::read(record),
            Source::GeminiCli => gemini_cli::read(record),
            Source::GenAi => genai::read(record),
        };
        let occurred_at = record.occurred_at().unwrap_or(now);
        let org_id = client
            .org_id
            .clone()
            .or_else(|| record.text("aitrail.org_id"))
            .unwrap_or_else(|| self.default_org.clone());
        let user_id = IDENTITY_KEYS
            .iter()
            .find_map(|key| record.text(key))
            .map(|identity| self.pseudonyms.user_id(&identity));
        Some(UsageDraft {
            schema_version: 1,
            event_id: record.event_id.to_string(),
            event_type: "ai_usage",
            occurred_at: occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            org_id,
            user_id,
            team: record.text("aitrail.team"),
            tool: usage.tool,
            tool_version: usage.tool_version,
            provider: usage.provider,
            model: usage.model,
            operation: usage.operation,
            session_id: usage.session_id,
            repository: record.text("aitrail.repository"),
            input_tokens: usage.tokens.input,
            output_tokens: usage.tokens.output,
            cache_read_tokens: usage.tokens.cache_read,
            cache_write_tokens: usage.tokens.cache_write,
            reasoning_tokens: usage.tokens.reasoning,
            cost_usd: usage.cost_usd,
            data_class: record.text("aitrail.data_class"),
            domain: record.text("aitrail.domain"),
            client: usage.client,
            duration_ms: usage.duration_ms,
        })
    }
}

#[cfg(test)]
mod tests;
