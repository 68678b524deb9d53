use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::{AnyValue as Any, KeyValue};
use serde_json::{Value, json};

use super::*;

fn kv(key: &str, value: impl Into<Attr>) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(Any {
            value: Some(value.into().0),
        }),
        ..Default::default()
    }
}

struct Attr(AnyValue);

impl From<&str> for Attr {
    fn from(s: &str) -> Self {
        Attr(AnyValue::StringValue(s.to_string()))
    }
}

impl From<i64> for Attr {
    fn from(n: i64) -> Self {
        Attr(AnyValue::IntValue(n))
    }
}

impl From<f64> for Attr {
    fn from(x: f64) -> Self {
        Attr(AnyValue::DoubleValue(x))
    }
}

fn mapper() -> Mapper {
    Mapper::new(Pseudonyms::new(b"test key"), "acme".to_string())
}

fn anyone() -> Client {
    Client {
        name: "fleet".into(),
        org_id: None,
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn log<'a>(resource: &'a [KeyValue], attributes: &'a [KeyValue], body: &'a str) -> Record<'a> {
    Record {
        resource: Attributes(resource),
        attributes: Attributes(attributes),
        scope: "",
        name: body,
        time_unix_nano: 1_764_590_400_000_000_000,
        observed_unix_nano: 1_764_590_401_000_000_000,
        is_span: false,
        event_id: "otlp:1",
    }
}

fn map(record: &Record) -> Value {
    let draft = mapper().map(record, &anyone(), now()).expect("mapped");
    serde_json::to_value(draft).unwrap()
}

#[test]
fn claude_code_api_request_keeps_its_uncached_input_and_cost() {
    let resource = [
        kv("service.name", "claude-code"),
        kv("service.version", "2.1.332"),
        kv("aitrail.team", "risk-management"),
        kv("aitrail.repository", "github.com/acme/payments"),
        kv("aitrail.domain", "yellow"),
    ];
    let attributes = [
        kv("event.name", "api_request"),
        kv("event.timestamp", "2026-11-30T09:15:00.123Z"),
        kv("session.id", "5f1c"),
        kv("user.email", "Alice@Example.com"),
        kv("model", "claude-sonnet-4-5"),
        kv("input_tokens", 12i64),
        kv("output_tokens", 340i64),
        kv("cache_read_tokens", 20_000i64),
        kv("cache_creation_tokens", 1_500i64),
        kv("cost_usd", 0.0123),
        kv("duration_ms", 2_100i64),
        kv("prompt", "please refactor the payment module"),
    ];
    let event = map(&log(&resource, &attributes, "claude_code.api_request"));
    assert_eq!(
        event,
        json!({
            "schema_version": 1,
            "event_id": "otlp:1",
            "event_type": "ai_usage",
            "occurred_at": "2026-11-30T09:15:00.123000Z",
            "org_id": "acme",
            "user_id": Pseudonyms::new(b"test key").user_id("alice@example.com"),
            "team": "risk-management",
            "tool": "claude-code",
            "tool_version": "2.1.332",
            "provider": "anthropic",
            "model": "claude-sonnet-4-5",
            "operation": "agent",
            "session_id": "5f1c",
            "repository": "github.com/acme/payments",
            "input_tokens": 12,
            "output_tokens": 340,
            "cache_read_tokens": 20000,
            "cache_write_tokens": 1500,
            "cost_usd": 0.0123,
            "domain": "yellow",
            "client": "cli",
            "duration_ms": 2100,
        })
    );
    assert!(!event.to_string().contains("refactor"));
}

#[test]
fn codex_counts_may_be_strings_and_its_input_includes_the_cache() {
    let resource = [kv("service.name", "codex_exec")];
    let attributes = [
        kv("event.name", "codex.sse_event"),
        kv("event.kind", "response.completed"),
        kv("conversation.id", "conv-7"),
        kv("user.account_id", "ignored"),
        kv("user.email", "bob@example.com"),
        kv("model", "gpt-5-codex"),
        kv("input_token_count", "1200"),
        kv("cached_token_count", "1000"),
        kv("cache_write_token_count", "50"),
        kv("output_token_count", "80"),
        kv("reasoning_token_count", 64i64),
    ];
    let mut record = log(&resource, &attributes, "");
    record.time_unix_nano = 0;
    let event = map(&record);
    assert_eq!(event["tool"], "codex");
    assert_eq!(event["provider"], "openai");
    assert_eq!(event["session_id"], "conv-7");
    assert_eq!(event["input_tokens"], 150);
    assert_eq!(event["cache_read_tokens"], 1000);
    assert_eq!(event["cache_write_tokens"], 50);
    assert_eq!(event["output_tokens"], 80);
    assert_eq!(event["reasoning_token_count"], Value::Null);
    assert_eq!(event["reasoning_tokens"], 64);
    assert_eq!(
        event["occurred_at"], "2025-12-01T12:00:01.000000Z",
        "a time of 0 falls back to the observed time"
    );
}

#[test]
fn codex_response_completed_without_counts_is_not_usage() {
    // Codex 0.171 writes this record beside the one with the counts, for
    // every response (collect/tests/real_clis.rs runs it).
    let resource = [kv("service.name", "codex_exec")];
    let attributes = [
        kv("event.name", "codex.sse_event"),
        kv("event.kind", "response.completed"),
        kv("duration_ms", "0"),
        kv("event.timestamp", "2026-12-07T07:22:13.708Z"),
        kv("conversation.id", "conv-7"),
        kv("app.version", "0.171.0"),
        kv("model", "gpt-5-codex"),
    ];
    let mut record = log(&resource, &attributes, "");
    record.time_unix_nano = 0;
    assert_eq!(mapper().map(&record, &anyone(), now()), None);
}

#[test]
fn gemini_cli_service_version_is_the_runtime_not_the_tool() {
    let attributes = [
        kv("event.name", "gemini_cli.api_response"),
        kv("model", "gemini-3.8-flash"),
        kv("input_token_count", 1300i64),
        kv("output_token_count", 60i64),
    ];
    let node = [
        kv("service.name", "gemini-cli"),
        kv("service.version", "v20.20.2"),
        kv("process.runtime.version", "20.20.2"),
    ];
    assert_eq!(
        map(&log(&node, &attributes, ""))["tool_version"],
        Value::Null
    );
    let own = [
        kv("service.name", "gemini-cli"),
        kv("service.version", "0.61.0"),
        kv("process.runtime.version", "20.20.2"),
    ];
    assert_eq!(map(&log(&own, &attributes, ""))["tool_version"], "0.61.0");
}

#[test]
fn gemini_cli_thoughts_are_output_and_reasoning() {
    let resource = [kv("service.name", "gemini-cli")];
    let attributes = [
        kv("event.name", "gemini_cli.api_response"),
        kv("session.id", "g-1"),
        kv("user.email", "carol@example.com"),
        kv("model", "gemini-2.5-pro"),
        kv("input_token_count", 900i64),
        kv("cached_content_token_count", 100i64),
        kv("output_token_count", 50i64),
        kv("thoughts_token_count", 30i64),
    ];
    let event = map(&log(&resource, &attributes, ""));
    assert_eq!(
        (
            &event["tool"],
            &event["input_tokens"],
            &event["cache_read_tokens"],
            &event["output_tokens"],
            &event["reasoning_tokens"]
        ),
        (
            &json!("gemini-cli"),
            &json!(800),
            &json!(100),
            &json!(80),
            &json!(30)
        )
    );
}

#[test]
fn a_genai_span_counts_only_from_a_service_without_its_own_mapping() {
    let attributes = [
        kv("gen_ai.provider.name", "openai"),
        kv("gen_ai.request.model", "gpt-4o"),
        kv("gen_ai.response.model", "gpt-4o-2024-08-06"),
        kv("gen_ai.operation.name", "chat"),
        kv("gen_ai.usage.input_tokens", 500i64),
        kv("gen_ai.usage.cache_read.input_tokens", 100i64),
        kv("gen_ai.usage.output_tokens", 20i64),
        kv("enduser.id", "dave"),
    ];
    let gateway = [kv("service.name", "llm-gateway")];
    let mut span = log(&gateway, &attributes, "chat gpt-4o");
    span.is_span = true;
    let event = map(&span);
    assert_eq!(event["tool"], "llm-gateway");
    assert_eq!(event["model"], "gpt-4o-2024-08-06");
    assert_eq!(event["provider"], "openai");
    assert_eq!(event["input_tokens"], 400);
    assert_eq!(event["operation"], "chat");

    let claude = [kv("service.name", "claude-code")];
    let mut counted_twice = log(&claude, &attributes, "chat");
    counted_twice.is_span = true;
    assert_eq!(mapper().map(&counted_twice, &anyone(), now()), None);
}

#[test]
fn other_records_are_not_mapped() {
    let resource = [kv("service.name", "claude-code")];
    let attributes = [
        kv("event.name", "user_prompt"),
        kv("prompt", "the secret plan"),
    ];
    assert_eq!(
        mapper().map(
            &log(&resource, &attributes, "claude_code.user_prompt"),
            &anyone(),
            now()
        ),
        None
    );
}

#[test]
fn a_bound_token_decides_the_organization() {
    let resource = [
        kv("service.name", "claude-code"),
        kv("aitrail.org_id", "globex"),
    ];
    let attributes = [kv("event.name", "api_request"), kv("model", "m")];
    let record = log(&resource, &attributes, "");
    let unbound = mapper().map(&record, &anyone(), now()).unwrap();
    assert_eq!(unbound.org_id, "globex");
    let bound = Client {
        name: "acme-fleet".into(),
        org_id: Some("acme".into()),
    };
    assert_eq!(mapper().map(&record, &bound, now()).unwrap().org_id, "acme");
    let no_org = [kv("service.name", "claude-code")];
    let record = log(&no_org, &attributes, "");
    assert_eq!(
        mapper().map(&record, &anyone(), now()).unwrap().org_id,
        "acme"
    );
}
