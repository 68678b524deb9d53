//! Claude Code: its `claude_code.api_request` log record, one per model
//! request, whose `input_tokens` are already uncached.

use super::{Record, Tokens, ToolUsage};

/// Claude Code's `service.name`.
pub(super) fn is_service(service: &str) -> bool {
    service == "claude-code"
}

/// Whether a log record is Claude Code's usage record.
pub(super) fn is_usage(service: &str, event: &str, body: &str) -> bool {
    event == "claude_code.api_request"
        || body == "claude_code.api_request"
        || (event == "api_request" && is_service(service))
}

/// The usage of an `api_request` record.
pub(super) fn read(record: &Record) -> ToolUsage {
    let attributes = record.attributes;
    ToolUsage {
        tool: "claude-code".to_string(),
        tool_version: record.text("service.version"),
        provider: Some("anthropic".to_string()),
        model: attributes.text("model"),
        operation: Some("agent"),
        session_id: record.text("session.id"),
        client: Some("cli"),
        tokens: Tokens {
            input: attributes.number("input_tokens"),
            output: attributes.number("output_tokens"),
            cache_read: attributes.number("cache_read_tokens"),
            cache_write: attributes.number("cache_creation_tokens"),
            reasoning: None,
        },
        cost_usd: attributes.number("cost_usd"),
        duration_ms: attributes.number("duration_ms"),
    }
}
