//! Codex: its `codex.sse_event` log record of kind `response.completed`
//! that carries token counts, whose counts may be strings and whose input
//! includes the tokens read from and written to the cache.

use super::usage::less;
use super::{Record, Tokens, ToolUsage};

/// Codex's `service.name`s (`codex_exec`, `codex_cli_rs`, …).
pub(super) fn is_service(service: &str) -> bool {
    service == "codex" || service.starts_with("codex_") || service.starts_with("codex-")
}

/// Whether a log record is Codex's usage record. Codex (0.171) writes two
/// `response.completed` records per response: one only marks the stream
/// event, the other carries the usage. Only the one with counts is read;
/// the other would add a reject without counts to every response.
pub(super) fn is_usage(event: &str, record: &Record) -> bool {
    let attributes = record.attributes;
    event == "codex.sse_event"
        && attributes.text("event.kind").as_deref() == Some("response.completed")
        && (attributes.get("input_token_count").is_some()
            || attributes.get("output_token_count").is_some())
}

/// The usage of a `response.completed` record.
pub(super) fn read(record: &Record) -> ToolUsage {
    let attributes = record.attributes;
    let cached = attributes.number("cached_token_count");
    let written = attributes.number("cache_write_token_count");
    let input = less(attributes.number("input_token_count"), cached.as_ref());
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
            input: less(input, written.as_ref()),
            output: attributes.number("output_token_count"),
            cache_read: cached,
            cache_write: written,
            reasoning: attributes.number("reasoning_token_count"),
        },
        cost_usd: None,
        duration_ms: attributes.number("duration_ms"),
    }
}
