//! Bad input gets a clear answer and loses nothing around it: malformed
//! bodies, a gzip bomb, an oversized body, a missing or wrong token, and
//! records with bad counts or a key in an attribute beside good ones; and
//! Kafka down gives `503` with `Retry-After`, after which a resend lands.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use aitrail_ops::Observed;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use common::{DLQ, Harness, TOKEN, TOPIC, config};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use tower::ServiceExt;

/// An OTLP/JSON attribute.
fn attr(key: &str, value: Value) -> Value {
    let value = match value {
        Value::String(s) => json!({ "stringValue": s }),
        Value::Number(n) if n.is_f64() => json!({ "doubleValue": n }),
        // OTLP/JSON writes 64-bit integers as strings, as Claude Code does.
        Value::Number(n) => json!({ "intValue": n.to_string() }),
        other => other,
    };
    json!({ "key": key, "value": value })
}

/// A Claude Code `api_request` record of `session` with the given counts.
fn api_request(session: &str, input: Value, extra: &[(&str, Value)]) -> Value {
    let mut attributes = vec![
        attr("event.name", json!("api_request")),
        attr("session.id", json!(session)),
        attr("user.email", json!("alice@example.com")),
        attr("model", json!("claude-sonnet-4-5")),
        attr("input_tokens", input),
        attr("output_tokens", json!(7)),
    ];
    attributes.extend(extra.iter().map(|(k, v)| attr(k, v.clone())));
    json!({
        "timeUnixNano": "1764583200000000000",
        "body": { "stringValue": "claude_code.api_request" },
        "attributes": attributes,
    })
}

fn export(service: &str, records: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "resourceLogs": [{
            "resource": { "attributes": [attr("service.name", json!(service))] },
            "scopeLogs": [{ "scope": { "name": "test" }, "logRecords": records }],
        }]
    }))
    .unwrap()
}

async fn post(
    harness: &Harness,
    content_type: &str,
    encoding: Option<&str>,
    token: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let router = aitrail_collect::http::router(harness.running().collector().clone());
    let mut request = Request::post("/v1/logs").header(header::CONTENT_TYPE, content_type);
    if let Some(encoding) = encoding {
        request = request.header(header::CONTENT_ENCODING, encoding);
    }
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let response = router
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, headers, body.to_vec())
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn message(body: &[u8]) -> String {
    let status: Value = serde_json::from_slice(body).unwrap();
    status["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_requests_are_answered_with_the_reason() {
    let mut small = config();
    small.max_body_bytes = 64 * 1024;
    let mut harness = Harness::start(small).await;
    let json = "application/json";
    let good = export("claude-code", vec![api_request("s", json!(1), &[])]);

    let (status, _, body) = post(&harness, json, None, None, good.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", message(&body));
    let (status, _, _) = post(&harness, json, None, Some("wrong"), good.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, _, body) = post(&harness, "text/plain", None, Some(TOKEN), good.clone()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(message(&body).contains("text/plain"), "{}", message(&body));

    let (status, _, body) = post(
        &harness,
        json,
        None,
        Some(TOKEN),
        b"{\"resourceLogs\": [".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("OTLP/JSON"), "{}", message(&body));

    let protobuf = "application/x-protobuf";
    let (status, headers, _) = post(&harness, protobuf, None, Some(TOKEN), vec![0xff; 10]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers[header::CONTENT_TYPE], protobuf);

    let bomb = gzip(&vec![b' '; 16 * 1024 * 1024]);
    let (status, _, body) = post(&harness, json, Some("gzip"), Some(TOKEN), bomb).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(message(&body).contains("65536"), "{}", message(&body));

    let (status, _, _) = post(&harness, json, None, Some(TOKEN), vec![b' '; 70 * 1024]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let (status, _, _) = post(&harness, json, Some("br"), Some(TOKEN), good).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let metrics = harness.running().collector().metrics().encode();
    assert!(
        !metrics.contains("outcome=\"produced\""),
        "a refused request produced events: {metrics}"
    );
    assert!(metrics.contains("status=\"413\""), "{metrics}");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_records_are_rejected_and_the_good_ones_around_them_kept() {
    let mut harness = Harness::start(config()).await;
    let key = "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH";
    let records = vec![
        api_request("good-1", json!(5), &[]),
        api_request("negative", json!(-3), &[]),
        api_request("not-a-number", json!("lots"), &[]),
        api_request(key, json!(5), &[]),
        api_request("good-2", json!(6), &[("prompt", json!("CONTENT keep out"))]),
    ];
    let mut body: Value = serde_json::from_slice(&export("claude-code", records)).unwrap();
    let unknown_tool = json!({
        "resource": { "attributes": [attr("service.name", json!("mystery-tool"))] },
        "scopeLogs": [{ "logRecords": [{
            "attributes": [attr("event.name", json!("request")), attr("tokens", json!(5))]
        }]}],
    });
    body["resourceLogs"]
        .as_array_mut()
        .unwrap()
        .push(unknown_tool);
    let body = serde_json::to_vec(&body).unwrap();

    let (status, _, answer) = post(
        &harness,
        "application/json",
        Some("gzip"),
        Some(TOKEN),
        gzip(&body),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    let partial = &answer["partialSuccess"];
    // OTLP/JSON allows a 64-bit integer as a number or a string.
    let rejected = partial["rejectedLogRecords"].to_string();
    assert_eq!(rejected.trim_matches('"'), "3", "{answer}");
    let explained = partial["errorMessage"].as_str().unwrap();
    assert!(explained.contains("input_tokens"), "{explained}");

    let events = harness.read_until(TOPIC, |read| read.len() >= 2);
    let rejects = harness.read_until(DLQ, |read| read.len() >= 3);
    let sessions: Vec<String> = events
        .iter()
        .map(|e| e.json()["session_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.contains(&"good-1".to_string()) && sessions.contains(&"good-2".to_string()));
    let reasons: Vec<String> = rejects
        .iter()
        .map(|r| r.json()["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        reasons.iter().filter(|r| *r == "invalid_field").count(),
        2,
        "{reasons:?}"
    );
    assert_eq!(
        reasons.iter().filter(|r| *r == "secret_detected").count(),
        1,
        "{reasons:?}"
    );
    for message in events.iter().chain(&rejects) {
        let bytes = String::from_utf8_lossy(&message.bytes()).into_owned();
        assert!(!bytes.contains(key), "the key reached Kafka: {bytes}");
        assert!(!bytes.contains("CONTENT"), "content reached Kafka: {bytes}");
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kafka_down_is_503_with_retry_after_and_a_resend_lands() {
    let mut harness = Harness::start(config()).await;
    let body = export("claude-code", vec![api_request("resent", json!(5), &[])]);
    let json = "application/json";

    harness.cluster.broker_down(1).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while harness.running().collector().readiness().is_ok() {
        assert!(
            Instant::now() < deadline,
            "/readyz never noticed Kafka down"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, headers, _) = post(&harness, json, None, Some(TOKEN), body.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::RETRY_AFTER], "5");

    harness.cluster.broker_up(1).unwrap();
    harness.wait_until_ready().await;
    let (status, _, _) = post(&harness, json, None, Some(TOKEN), body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = post(&harness, json, None, Some(TOKEN), body).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a resend after a timeout is accepted"
    );

    let events = harness.read_until(TOPIC, |read| read.len() >= 2);
    let ids: std::collections::BTreeSet<String> = events
        .iter()
        .map(|e| e.json()["event_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(
        ids.len(),
        1,
        "a resend carries the same event id, so the ingest drops it"
    );
    harness.stop().await;
}
