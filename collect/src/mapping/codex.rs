//! Codex: its `codex.sse_event` log record of kind `response.completed`,
//! whose counts may be strings and whose input includes cached tokens.

use super::usage::less;
use super::{Record, Tokens, ToolUsage};

/// Codex's `service.name`s (`codex_exec`, `codex_cli_rs`, …).
pub(super) fn is_service(service: &str) -> bool {
    service == "codex" || service.starts_with("codex_") || service.starts_with("codex-")
}

/// Whether a log record is Codex's usage record.
pub(super) fn is_usage(event: &str, record: &Record) -> bool {
    event == "codex.sse_event"
        && record.attributes.text("event.kind").as_deref() == Some("response.completed")
}

/// The usage of a `response.completed` record.
pub(super) fn read(record: &Record) -> ToolUsage {
    let attributes = record.attributes;
    let cached = attributes.number("cached_token_count");
    ToolUsage {
        tool: "codex".to_string(),
        tool_version: record
            .text("app.version")
            .or_else(|| record.text("service.version")),
        provider: Some("openai".to_string()),
        model: attributes.text("model"),
        operation: Some("agent"),
        session_id: record.text("conversation.id"),
        client: Some("cli"),
        tokens: Tokens {
            input: less(attributes.number("input_token_count"), cached.as_ref()),
            output: attributes.number("output_token_count"),
            cache_read: cached,
            cache_write: None,
            reasoning: attributes.number("reasoning_token_count"),
        },
        cost_usd: None,
        duration_ms: attributes.number("duration_ms"),
    }
}
