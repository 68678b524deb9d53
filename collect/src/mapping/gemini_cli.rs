//! Gemini CLI: its `gemini_cli.api_response` log record, whose input
//! includes cached tokens and whose thoughts are output aitrail counts.
//!
//! Every model call has one, the model router's (`role` `utility_router`)
//! as well as the agent's (`main`): each is a call that was paid for. The
//! same call's `gen_ai.client.inference.operation.details` record and
//! `llm_call` span carry `gen_ai.usage.*` too; they are not read, since
//! `gemini-cli` has this mapping (DESIGN §9), so nothing counts twice.

use super::usage::{less, plus};
use super::{Record, Tokens, ToolUsage};

/// Gemini CLI's `service.name`.
pub(super) fn is_service(service: &str) -> bool {
    service == "gemini-cli"
}

/// Whether a log record is Gemini CLI's usage record.
pub(super) fn is_usage(event: &str) -> bool {
    event == "gemini_cli.api_response"
}

/// The usage of an `api_response` record.
pub(super) fn read(record: &Record) -> ToolUsage {
    let attributes = record.attributes;
    let cached = attributes.number("cached_content_token_count");
    let thoughts = attributes.number("thoughts_token_count");
    ToolUsage {
        tool: "gemini-cli".to_string(),
        tool_version: version(record),
        provider: Some("google".to_string()),
        model: attributes.text("model"),
        operation: Some("agent"),
        session_id: record.text("session.id"),
        client: Some("cli"),
        tokens: Tokens {
            input: less(attributes.number("input_token_count"), cached.as_ref()),
            output: plus(attributes.number("output_token_count"), thoughts.clone()),
            cache_read: cached,
            cache_write: None,
            reasoning: thoughts,
        },
        cost_usd: None,
        duration_ms: attributes.number("duration_ms"),
    }
}

/// The CLI's version. Gemini CLI (0.61) writes the Node.js runtime's
/// version (`v20.20.2`, `v` and `process.runtime.version`) as its
/// `service.version` and its own nowhere; a runtime's version is not the
/// tool's, so it is left out.
fn version(record: &Record) -> Option<String> {
    let version = record.text("service.version")?;
    let runtime = record.resource.text("process.runtime.version");
    (runtime.map(|runtime| format!("v{runtime}")).as_ref() != Some(&version)).then_some(version)
}
