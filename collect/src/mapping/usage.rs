//! The `ai_usage` event a mapped record becomes, written with its fields
//! in the schema's declared order (the validator's fast path reads that
//! order in one pass).

use serde::Serialize;
use serde_json::Value;

/// An `ai_usage` event before validation: counts stay JSON values, so one
/// that is negative or not a number reaches the validator as sent and is
/// refused naming the field.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UsageDraft {
    /// Always 1.
    pub schema_version: u8,
    /// Derived from the source record.
    pub event_id: String,
    /// Always `ai_usage`.
    pub event_type: &'static str,
    /// RFC 3339, UTC, microseconds.
    pub occurred_at: String,
    /// From the token, the record, or the default.
    pub org_id: String,
    /// The pseudonym; absent when the record names nobody.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// `aitrail.team`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// `claude-code`, `codex`, `gemini-cli` or a GenAI service's name.
    pub tool: String,
    /// The tool's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_version: Option<String>,
    /// The model's provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// What kind of interaction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<&'static str>,
    /// The tool's session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// `aitrail.repository`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Uncached input tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<Value>,
    /// Output tokens, reasoning included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<Value>,
    /// Input tokens read from the cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read_tokens: Option<Value>,
    /// Input tokens written to the cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<Value>,
    /// The reasoning part of the output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<Value>,
    /// The cost the tool reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<Value>,
    /// `aitrail.data_class`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_class: Option<String>,
    /// `aitrail.domain`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// `cli` for the command-line agents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<&'static str>,
    /// How long the request took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<Value>,
}

impl UsageDraft {
    /// The event as one JSON object.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a draft always serializes")
    }
}

/// `total` less `part` when both are integers (an OpenTelemetry input count
/// includes cached tokens, aitrail's does not); `total` as given otherwise,
/// for the validator to judge.
pub fn less(total: Option<Value>, part: Option<&Value>) -> Option<Value> {
    match (total, part) {
        (Some(total), Some(part)) => match (total.as_i64(), part.as_i64()) {
            (Some(t), Some(p)) => Some(t.checked_sub(p).map_or(total, Value::from)),
            _ => Some(total),
        },
        (total, _) => total,
    }
}

/// `a` plus `b` when both are integers; whichever is present otherwise.
pub fn plus(a: Option<Value>, b: Option<Value>) -> Option<Value> {
    match (a, b) {
        (Some(a), Some(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => Some(x.checked_add(y).map_or(a, Value::from)),
            _ => Some(a),
        },
        (a, b) => a.or(b),
    }
}
