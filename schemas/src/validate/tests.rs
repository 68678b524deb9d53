//! Every reason code of the validator, each beside a valid neighbour, and
//! property tests that feed it arbitrary input.

use std::sync::LazyLock;

use chrono::{TimeDelta, TimeZone};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::validate::content::REDACTED;

mod foreign;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap()
}

/// One validator for the property tests, which compiling its patterns for
/// each case would slow down.
fn validator() -> &'static Validator {
    static VALIDATOR: LazyLock<Validator> = LazyLock::new(Validator::default);
    &VALIDATOR
}

fn ai_usage() -> Value {
    json!({
        "schema_version": 1,
        "event_id": "evt-0001",
        "event_type": "ai_usage",
        "occurred_at": "2026-03-02T10:15:30.123456+01:00",
        "org_id": "acme",
        "user_id": "u-7f3a",
        "team": "payments",
        "tool": "claude-code",
        "model": "claude-sonnet-4-5",
        "operation": "agent",
        "repository": "github.example.com/acme/payments-api",
        "input_tokens": 1200,
        "output_tokens": 300,
        "reasoning_tokens": 100,
        "attributes": {"ticket": "PAY-12"}
    })
}

fn code_change() -> Value {
    json!({
        "schema_version": 1,
        "event_id": "chg-0001",
        "event_type": "code_change",
        "occurred_at": "2026-03-02T09:00:00Z",
        "org_id": "acme",
        "change_id": "acme/payments-api#12",
        "kind": "pull_request",
        "repository": "github.example.com/acme/payments-api",
        "user_id": "u-7f3a",
        "ai_assisted": true,
        "ai_tools": ["claude-code"],
        "lines_added": 120,
        "ai_lines_added": 80
    })
}

fn incident() -> Value {
    json!({
        "schema_version": 1,
        "event_id": "inc-0001",
        "event_type": "incident",
        "occurred_at": "2026-03-02T09:00:00Z",
        "org_id": "acme",
        "incident_id": "INC-7",
        "severity": "sev2",
        "repositories": ["github.example.com/acme/payments-api"],
        "resolved_at": "2026-03-02T10:00:00Z",
        "caused_by_change_id": "acme/payments-api#12"
    })
}

fn run(value: &Value) -> Result<EventType, Rejection> {
    let bytes = serde_json::to_vec(value).unwrap();
    Validator::default()
        .validate(&bytes, now())
        .map(|event| event.event_type())
}

/// Asserts that `valid` passes and that `change` applied to it is refused for
/// `reason` with a detail containing `detail`; returns the rejection.
fn refuses(
    valid: Value,
    change: impl FnOnce(&mut Value),
    reason: RejectReason,
    detail: &str,
) -> Rejection {
    assert!(run(&valid).is_ok(), "neighbour refused: {:?}", run(&valid));
    let mut invalid = valid;
    change(&mut invalid);
    let rejection = run(&invalid).expect_err("accepted an invalid event");
    assert_eq!(rejection.reason, reason, "{rejection}");
    assert!(
        rejection.detail.contains(detail),
        "detail `{}` lacks `{detail}`",
        rejection.detail
    );
    rejection
}

fn set(field: &str, value: Value) -> impl FnOnce(&mut Value) {
    let field = field.to_string();
    move |event| {
        event[field] = value;
    }
}

fn remove(field: &str) -> impl FnOnce(&mut Value) {
    let field = field.to_string();
    move |event| {
        event.as_object_mut().unwrap().remove(&field);
    }
}

#[test]
fn accepts_each_event_type_with_defaults_applied() {
    let bytes = serde_json::to_vec(&ai_usage()).unwrap();
    let event = Validator::default().validate(&bytes, now()).unwrap();
    let Event::AiUsage(usage) = event else {
        panic!("not ai_usage")
    };
    assert_eq!(usage.data_class, crate::vocab::DataClass::Internal);
    assert_eq!(usage.cache_read_tokens.0, 0);
    assert_eq!(
        usage.occurred_at.0,
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 15, 30).unwrap() + TimeDelta::microseconds(123_456)
    );
    assert_eq!(run(&code_change()).unwrap(), EventType::CodeChange);
    assert_eq!(run(&incident()).unwrap(), EventType::Incident);
}

#[test]
fn malformed_json() {
    let valid = serde_json::to_vec(&ai_usage()).unwrap();
    let validator = Validator::default();
    assert!(validator.validate(&valid, now()).is_ok());
    for input in [
        &valid[..valid.len() - 1],
        b"[1, 2]",
        b"\"text\"",
        b"",
        b"{\"a\":\xff}",
    ] {
        let rejection = validator.validate(input, now()).unwrap_err();
        assert_eq!(rejection.reason, RejectReason::MalformedJson, "{input:?}");
        assert_eq!(rejection.event, None);
    }
}

#[test]
fn too_large() {
    let validator = Validator::default();
    let compact = serde_json::to_vec(&ai_usage()).unwrap();
    let padded = |total: usize| {
        let mut bytes = compact.clone();
        bytes.resize(total, b' ');
        bytes
    };
    assert!(validator.validate(&padded(MAX_EVENT_BYTES), now()).is_ok());
    let rejection = validator
        .validate(&padded(MAX_EVENT_BYTES + 1), now())
        .unwrap_err();
    assert_eq!(rejection.reason, RejectReason::TooLarge);
    assert!(rejection.detail.contains("65537 bytes"), "{rejection}");
    assert_eq!(rejection.event, None);
}

#[test]
fn unsupported_schema_version() {
    refuses(
        ai_usage(),
        set("schema_version", json!(2)),
        RejectReason::UnsupportedSchemaVersion,
        "schema_version 2",
    );
    // A newer version may carry fields this build does not know: the version
    // is still the reason.
    refuses(
        ai_usage(),
        |e| {
            e["schema_version"] = json!(3);
            e["new_field"] = json!(1);
        },
        RejectReason::UnsupportedSchemaVersion,
        "schema_version 3",
    );
}

#[test]
fn missing_field() {
    refuses(
        ai_usage(),
        remove("user_id"),
        RejectReason::MissingField,
        "`user_id`",
    );
    refuses(
        ai_usage(),
        remove("input_tokens"),
        RejectReason::MissingField,
        "`input_tokens`",
    );
    refuses(
        ai_usage(),
        remove("schema_version"),
        RejectReason::MissingField,
        "`schema_version`",
    );
    refuses(
        ai_usage(),
        remove("event_type"),
        RejectReason::MissingField,
        "`event_type`",
    );
    refuses(
        code_change(),
        remove("ai_assisted"),
        RejectReason::MissingField,
        "`ai_assisted`",
    );
    refuses(
        incident(),
        remove("repositories"),
        RejectReason::MissingField,
        "`repositories`",
    );
}

#[test]
fn invalid_field_types_and_ranges() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("input_tokens", json!(1.5), "field `input_tokens`"),
        ("input_tokens", json!(1.0), "field `input_tokens`"),
        ("input_tokens", json!("12"), "field `input_tokens`"),
        ("input_tokens", json!(-1), "field `input_tokens`"),
        (
            "output_tokens",
            json!(1_000_000_001u64),
            "field `output_tokens`",
        ),
        ("cost_usd", json!(-0.5), "field `cost_usd`"),
        ("cost_usd", json!("0.5"), "field `cost_usd`"),
        ("accepted", json!("yes"), "field `accepted`"),
        ("schema_version", json!(0), "field `schema_version`"),
        ("schema_version", json!("1"), "field `schema_version`"),
        ("lines_added", json!(-3), "field `lines_added`"),
        ("duration_ms", json!(2.5), "field `duration_ms`"),
    ];
    for (field, value, detail) in cases {
        refuses(
            ai_usage(),
            set(field, value),
            RejectReason::InvalidField,
            detail,
        );
    }
    refuses(
        ai_usage(),
        set("output_tokens", json!(50)),
        RejectReason::InvalidField,
        "field `reasoning_tokens`",
    );
}

#[test]
fn invalid_field_enums() {
    refuses(
        ai_usage(),
        set("operation", json!("browse")),
        RejectReason::InvalidField,
        "field `operation`",
    );
    refuses(
        ai_usage(),
        set("data_class", json!("secret-ish")),
        RejectReason::InvalidField,
        "field `data_class`",
    );
    refuses(
        ai_usage(),
        set("domain", json!("blue")),
        RejectReason::InvalidField,
        "field `domain`",
    );
    refuses(
        ai_usage(),
        set("client", json!("phone")),
        RejectReason::InvalidField,
        "field `client`",
    );
    refuses(
        ai_usage(),
        set("event_type", json!("ai_use")),
        RejectReason::InvalidField,
        "field `event_type`",
    );
    refuses(
        code_change(),
        set("kind", json!("merge")),
        RejectReason::InvalidField,
        "field `kind`",
    );
    refuses(
        incident(),
        set("severity", json!("sev5")),
        RejectReason::InvalidField,
        "field `severity`",
    );
}

#[test]
fn invalid_field_lengths_and_forms() {
    let long = "x".repeat(257);
    refuses(
        ai_usage(),
        set("team", json!(long)),
        RejectReason::InvalidField,
        "field `team`",
    );
    refuses(
        ai_usage(),
        set("model", json!("")),
        RejectReason::InvalidField,
        "field `model`",
    );
    refuses(
        ai_usage(),
        set("org_id", json!("o".repeat(129))),
        RejectReason::InvalidField,
        "field `org_id`",
    );
    refuses(
        ai_usage(),
        set("event_id", json!("has space")),
        RejectReason::InvalidField,
        "field `event_id`",
    );
    refuses(
        ai_usage(),
        set("event_id", json!("e".repeat(65))),
        RejectReason::InvalidField,
        "field `event_id`",
    );
    refuses(
        ai_usage(),
        set("repository", json!("https://github.com/acme/x")),
        RejectReason::InvalidField,
        "field `repository`",
    );
    refuses(
        ai_usage(),
        set("repository", json!("acme/x")),
        RejectReason::InvalidField,
        "field `repository`",
    );
    // 256 characters of a multi-byte script are within the limit.
    let mut wide = ai_usage();
    wide["team"] = json!("é".repeat(256));
    assert!(run(&wide).is_ok());
}

#[test]
fn invalid_field_timestamps() {
    for bad in [
        "2026-03-02T10:15:30",
        "2026-03-02",
        "yesterday",
        "2026-13-02T10:15:30Z",
    ] {
        refuses(
            ai_usage(),
            set("occurred_at", json!(bad)),
            RejectReason::InvalidField,
            "field `occurred_at`",
        );
    }
    refuses(
        incident(),
        set("resolved_at", json!("2026-03-02T08:59:59Z")),
        RejectReason::InvalidField,
        "field `resolved_at`: is before occurred_at",
    );
}

#[test]
fn invalid_field_attributes_and_arrays() {
    let many: serde_json::Map<String, Value> =
        (0..17).map(|i| (format!("k{i}"), json!("v"))).collect();
    refuses(
        ai_usage(),
        set("attributes", Value::Object(many)),
        RejectReason::InvalidField,
        "field `attributes`",
    );
    refuses(
        ai_usage(),
        set("attributes", json!({"k".repeat(65): "v"})),
        RejectReason::InvalidField,
        "field `attributes",
    );
    refuses(
        ai_usage(),
        set("attributes", json!({"n": 5})),
        RejectReason::InvalidField,
        "field `attributes",
    );
    refuses(
        incident(),
        set("repositories", json!([])),
        RejectReason::InvalidField,
        "field `repositories`",
    );
    refuses(
        code_change(),
        set("ai_tools", json!([1])),
        RejectReason::InvalidField,
        "field `ai_tools",
    );
    refuses(
        code_change(),
        set("ai_lines_added", json!(121)),
        RejectReason::InvalidField,
        "field `ai_lines_added`",
    );
}

#[test]
fn unknown_field() {
    refuses(
        ai_usage(),
        set("favourite_colour", json!("blue")),
        RejectReason::UnknownField,
        "`favourite_colour`",
    );
    // A field of another event type is unknown here.
    refuses(
        ai_usage(),
        set("severity", json!("sev1")),
        RejectReason::UnknownField,
        "`severity`",
    );
}

#[test]
fn content_field_is_refused_and_redacted() {
    let rejection = refuses(
        ai_usage(),
        set("prompt", json!("refactor the payment retry loop")),
        RejectReason::ContentField,
        "field `prompt`",
    );
    let kept = serde_json::to_string(&rejection.event).unwrap();
    assert!(!kept.contains("refactor"), "{kept}");
    assert_eq!(rejection.event.unwrap()["prompt"], REDACTED);

    let rejection = refuses(
        ai_usage(),
        |e| e["attributes"]["output"] = json!("fn main() {}"),
        RejectReason::ContentField,
        "field `attributes.output`",
    );
    assert_eq!(rejection.event.unwrap()["attributes"]["output"], REDACTED);

    let rejection = refuses(
        ai_usage(),
        set("meta", json!({"messages": [{"role": "user"}]})),
        RejectReason::ContentField,
        "field `meta.messages`",
    );
    assert_eq!(rejection.event.unwrap()["meta"]["messages"], REDACTED);
}

#[test]
fn secret_detected_is_refused_and_redacted() {
    let token = "ghp_0123456789abcdefghijklmnopqrstuvwxyz";
    let rejection = refuses(
        ai_usage(),
        |e| e["attributes"]["note"] = json!(format!("used {token}")),
        RejectReason::SecretDetected,
        "field `attributes.note` looks like a GitHub token",
    );
    assert!(!rejection.detail.contains(token));
    let kept = serde_json::to_string(&rejection.event).unwrap();
    assert!(!kept.contains(token), "{kept}");

    let rejection = refuses(
        ai_usage(),
        set("team", json!("password=hunter22")),
        RejectReason::SecretDetected,
        "field `team`",
    );
    assert_eq!(rejection.event.unwrap()["team"], REDACTED);
}

#[test]
fn secrets_are_redacted_whatever_else_is_wrong() {
    let mut event = ai_usage();
    event["input_tokens"] = json!(-5);
    event["tool_version"] = json!("AKIAIOSFODNN7EXAMPLE");
    let rejection = run(&event).unwrap_err();
    assert_eq!(rejection.reason, RejectReason::SecretDetected);
    assert_eq!(rejection.event.unwrap()["tool_version"], REDACTED);
}

#[test]
fn future_timestamp_against_an_injected_clock() {
    let at = |offset: i64| json!((now() + TimeDelta::seconds(offset)).to_rfc3339());
    let mut near = ai_usage();
    near["occurred_at"] = at(299);
    refuses(
        near,
        set("occurred_at", at(301)),
        RejectReason::FutureTimestamp,
        "field `occurred_at`",
    );
    refuses(
        incident(),
        set("resolved_at", at(3600)),
        RejectReason::FutureTimestamp,
        "field `resolved_at`",
    );

    let strict = Validator::new(ValidatorConfig {
        max_future_skew: TimeDelta::zero(),
    });
    let mut event = ai_usage();
    event["occurred_at"] = at(1);
    let bytes = serde_json::to_vec(&event).unwrap();
    assert_eq!(
        strict.validate(&bytes, now()).unwrap_err().reason,
        RejectReason::FutureTimestamp
    );
}

#[test]
fn a_secret_hidden_by_json_escapes_is_still_found() {
    let line = br#"{"schema_version":1,"event_id":"e1","event_type":"ai_usage","occurred_at":"2026-03-02T09:00:00Z","org_id":"acme","user_id":"u","tool":"\u0041KIAIOSFODNN7EXAMPLE","model":"m","input_tokens":1,"output_tokens":1}"#;
    let rejection = Validator::default().validate(line, now()).unwrap_err();
    assert_eq!(rejection.reason, RejectReason::SecretDetected);
    assert_eq!(rejection.event.unwrap()["tool"], REDACTED);
}

#[test]
fn spaced_and_reordered_events_are_accepted_alike() {
    let compact = serde_json::to_vec(&ai_usage()).unwrap();
    let pretty = serde_json::to_vec_pretty(&ai_usage()).unwrap();
    let validator = Validator::default();
    assert_eq!(
        validator.validate(&compact, now()).unwrap(),
        validator.validate(&pretty, now()).unwrap()
    );
    let members: Vec<String> = ai_usage()
        .as_object()
        .unwrap()
        .iter()
        .rev()
        .map(|(key, value)| format!("{}:{value}", Value::from(key.as_str())))
        .collect();
    let reordered = format!("{{{}}}", members.join(",")).into_bytes();
    assert_ne!(reordered, compact);
    assert_eq!(
        validator.validate(&compact, now()).unwrap(),
        validator.validate(&reordered, now()).unwrap()
    );
}

#[test]
fn strings_with_escapes_are_read_and_owned() {
    let line = br#"{"schema_version":1,"event_id":"e1","event_type":"ai_usage","occurred_at":"2026-03-02T09:00:00Z","org_id":"acme","user_id":"u\u00e9","tool":"t","model":"m","input_tokens":1,"output_tokens":1}"#;
    let event = Validator::default().validate(line, now()).unwrap();
    let Event::AiUsage(usage) = event else {
        panic!("not ai_usage")
    };
    assert_eq!(usage.user_id.as_str(), "ué");
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[ -~]{0,40}".prop_map(Value::from),
        prop::sample::select(vec![
            "ai_usage",
            "code_change",
            "incident",
            "2026-03-02T09:00:00Z",
            "github.example.com/a/b",
            "chat",
            "sev1",
            "sk-ant-0123456789abcdefghijklmnop",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn field_name() -> impl Strategy<Value = String> {
    let known: Vec<String> = ai_usage()
        .as_object()
        .unwrap()
        .keys()
        .chain(code_change().as_object().unwrap().keys())
        .chain(incident().as_object().unwrap().keys())
        .cloned()
        .chain(["prompt", "cost_usd", "accepted", "domain"].map(String::from))
        .collect();
    prop_oneof![prop::sample::select(known), "[a-z_]{1,12}"]
}

/// `event` as collectors write it: its fields in the order the event type
/// declares them (a `Value` writes its keys sorted), which the fast reader
/// reads in one pass.
fn in_declared_order(event: &Value) -> Vec<u8> {
    let bytes = serde_json::to_vec(event).unwrap();
    let typed = Validator::default().validate_thoroughly(&bytes, now());
    serde_json::to_vec(&typed.unwrap()).unwrap()
}

#[test]
fn events_in_declared_order_with_a_field_repeated_or_moved_agree() {
    for event in [ai_usage(), code_change(), incident()] {
        let ordered = in_declared_order(&event);
        assert_ne!(ordered, serde_json::to_vec(&event).unwrap());
        assert!(Validator::default().validate(&ordered, now()).is_ok());
        let text = String::from_utf8(ordered).unwrap();
        let body = &text[1..text.len() - 1];
        let first = body.split(",\"").nth(1).unwrap();
        let repeated = format!("{{{body},\"{first}}}");
        let (head, tail) = body.split_once(",\"").unwrap();
        let moved = format!("{{\"{tail},{head}}}");
        let accepted = |input: &str| {
            assert_paths_agree(input.as_bytes());
            Validator::default()
                .validate(input.as_bytes(), now())
                .is_ok()
        };
        assert!(!accepted(&repeated), "{repeated}");
        assert!(accepted(&moved), "{moved}");
    }
}

/// The fast path and the thorough path reach the same verdict: the same
/// event, or the same reason, detail and redacted copy.
fn assert_paths_agree(input: &[u8]) {
    let fast = validator().validate(input, now());
    let thorough = validator().validate_thoroughly(input, now());
    match (&fast, &thorough) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => {
            assert_eq!(a.reason, b.reason, "{a} vs {b}");
            assert_eq!(a.detail, b.detail);
            assert_eq!(a.event, b.event);
        }
        _ => panic!("fast {fast:?} vs thorough {thorough:?}"),
    }
}

/// Text built from pieces of credentials, assignments, escapes and
/// non-ASCII look-alikes, to probe the fast path's screens.
fn tricky_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "password",
        "PassWd",
        "db_",
        "token",
        "api-key",
        "Key",
        "secret",
        "=",
        ":",
        " ",
        "\u{a0}",
        "ſ",
        "K",
        "é",
        "AKIA",
        "ASIA",
        "IOSFODNN7EXAMPLE",
        "ghp_",
        "github_pat_",
        "glpat-",
        "xoxb-",
        "sk-ant-",
        "AIza",
        "eyJhbGciOi",
        ".",
        "-----BEGIN RSA PRIVATE KEY-----",
        "0123456789abcdefghij",
        "abcdefghijklmnopqrstuvwxyz0123456789",
        "\"",
        "\\",
        "\n",
        "/",
        "x",
    ]);
    prop::collection::vec(pieces, 0..8).prop_map(|pieces| pieces.concat())
}

/// A valid event of each type, and the names of its free-text fields.
fn valid_event_and_texts() -> impl Strategy<Value = (Value, &'static [&'static str])> {
    prop::sample::select(vec![
        (
            ai_usage(),
            &[
                "event_id",
                "org_id",
                "user_id",
                "team",
                "tool",
                "model",
                "repository",
            ][..],
        ),
        (
            code_change(),
            &["event_id", "change_id", "repository", "user_id"][..],
        ),
        (
            incident(),
            &["incident_id", "caused_by_change_id", "org_id"][..],
        ),
    ])
}

/// One edit of a byte string: replace, insert or remove a byte.
fn byte_edit() -> impl Strategy<Value = (usize, u8, u8)> {
    let byte = prop_oneof![
        prop::sample::select(b"\"\\:,{}[] \t\n0123456789.-+eEtfnul=AKIak_sx\x00\x7f".to_vec()),
        any::<u8>(),
    ];
    (any::<usize>(), byte, 0u8..3)
}

proptest! {
    #[test]
    fn valid_events_with_tricky_text_agree(
        (event, texts) in valid_event_and_texts(),
        field in any::<prop::sample::Index>(),
        text in tricky_text(),
        in_attributes in any::<bool>(),
        as_key in any::<bool>(),
    ) {
        let mut event = event;
        if in_attributes && event["event_type"] == "ai_usage" {
            let (key, value) = if as_key { (text, "v".to_string()) } else { ("note".to_string(), text) };
            event["attributes"][key] = Value::from(value);
        } else {
            event[*field.get(texts)] = Value::from(text);
        }
        assert_paths_agree(&serde_json::to_vec(&event).unwrap());
        assert_paths_agree(&serde_json::to_vec_pretty(&event).unwrap());
        if let Ok(event) = Validator::default().validate_thoroughly(&serde_json::to_vec(&event).unwrap(), now()) {
            assert_paths_agree(&serde_json::to_vec(&event).unwrap());
        }
    }

    #[test]
    fn valid_events_with_a_byte_edited_agree(
        (event, _) in valid_event_and_texts(),
        declared_order in any::<bool>(),
        edits in prop::collection::vec(byte_edit(), 1..3),
    ) {
        let mut bytes = if declared_order {
            in_declared_order(&event)
        } else {
            serde_json::to_vec(&event).unwrap()
        };
        for (at, byte, kind) in edits {
            let at = at % (bytes.len() + 1);
            match kind {
                0 if at < bytes.len() => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => {}
            }
        }
        assert_paths_agree(&bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        assert_paths_agree(&bytes);
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value()) {
        assert_paths_agree(&serde_json::to_vec(&value).unwrap());
    }

    #[test]
    fn valid_events_with_one_field_changed_agree(
        base in prop::sample::select(vec![0usize, 1, 2]),
        field in field_name(),
        value in json_value(),
    ) {
        let mut event = [ai_usage(), code_change(), incident()][base].clone();
        event[field] = value;
        assert_paths_agree(&serde_json::to_vec(&event).unwrap());
    }
}
