//! Any GenAI-instrumented service (OpenTelemetry's GenAI semantic
//! conventions): a span or log record with `gen_ai.usage.*` counts, whose
//! input includes cached tokens.

use super::usage::less;
use super::{Record, Tokens, ToolUsage};

/// Whether a span or log record carries GenAI usage.
pub(super) fn is_usage(record: &Record) -> bool {
    record.attributes.get("gen_ai.usage.input_tokens").is_some()
        || record
            .attributes
            .get("gen_ai.usage.output_tokens")
            .is_some()
}

/// The usage of a GenAI span or log record.
pub(super) fn read(record: &Record) -> ToolUsage {
    let attributes = record.attributes;
    let cache_read = attributes.number("gen_ai.usage.cache_read.input_tokens");
    let cache_write = attributes.number("gen_ai.usage.cache_creation.input_tokens");
    let input = less(
        less(
            attributes.number("gen_ai.usage.input_tokens"),
            cache_read.as_ref(),
        ),
        cache_write.as_ref(),
    );
    ToolUsage {
        tool: record
            .service()
            .unwrap_or_else(|| "unknown_service".to_string()),
        tool_version: record.resource.text("service.version"),
        provider: attributes
            .text("gen_ai.provider.name")
            .or_else(|| attributes.text("gen_ai.system")),
        model: attributes
            .text("gen_ai.response.model")
            .or_else(|| attributes.text("gen_ai.request.model")),
        operation: attributes
            .text("gen_ai.operation.name")
            .and_then(|name| operation(&name)),
        session_id: record
            .text("session.id")
            .or_else(|| attributes.text("gen_ai.conversation.id")),
        client: None,
        tokens: Tokens {
            input,
            output: attributes.number("gen_ai.usage.output_tokens"),
            cache_read,
            cache_write,
            reasoning: None,
        },
        cost_usd: None,
        duration_ms: None,
    }
}

/// aitrail's operation of a `gen_ai.operation.name`.
fn operation(name: &str) -> Option<&'static str> {
    Some(match name {
        "chat" | "generate_content" => "chat",
        "text_completion" => "completion",
        "embeddings" => "embedding",
        "invoke_agent" | "create_agent" | "execute_tool" => "agent",
        _ => return None,
    })
}
