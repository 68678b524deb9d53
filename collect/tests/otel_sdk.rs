//! The official OpenTelemetry SDK (PyPI) exports Claude Code's log records
//! and a GenAI gateway's spans to the collector over OTLP/HTTP protobuf
//! (gzip), OTLP/HTTP JSON and OTLP/gRPC: every usage record lands on Kafka
//! once with its exact figures, the bad one goes to the dead-letter topic,
//! and none of the content the exporters sent reaches Kafka or a log line.

mod common;

use std::process::Command;

use aitrail_collect::Pseudonyms;
use common::{CapturedLogs, DLQ, Harness, IDENTITY_KEY, TOKEN, TOPIC, config};
use serde_json::Value;

const PROTOCOLS: [&str; 3] = ["http/protobuf", "http/json", "grpc"];

/// Runs the SDK exporter script; returns the content it sent.
fn export(protocol: &str, endpoint: &str, run: &str) -> Vec<String> {
    let script = common::manifest_dir().join("tests/exporters/otel_sdk.py");
    let output = Command::new("python3")
        .arg(script)
        .args([protocol, endpoint, TOKEN, run])
        .output()
        .expect("python3 runs (scripts/test installs the OpenTelemetry SDK)");
    assert!(
        output.status.success(),
        "{protocol}: the exporter failed\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_exports_land_once_with_their_figures_and_without_content() {
    let logs = CapturedLogs::install();
    let mut harness = Harness::start(config()).await;
    let mut content = Vec::new();
    for (index, protocol) in PROTOCOLS.iter().enumerate() {
        let endpoint = if *protocol == "grpc" {
            harness.running().grpc.to_string()
        } else {
            harness.http()
        };
        let run = format!("run{index}");
        let sent = tokio::task::spawn_blocking({
            let protocol = protocol.to_string();
            move || export(&protocol, &endpoint, &run)
        })
        .await
        .unwrap();
        content.extend(sent);
    }

    let per_run = 4;
    let events = harness.read_until(TOPIC, |read| read.len() >= per_run * PROTOCOLS.len());
    let rejects = harness.read_until(DLQ, |read| read.len() >= PROTOCOLS.len());
    harness.stop().await;

    let pseudonyms = Pseudonyms::new(IDENTITY_KEY);
    let alice = pseudonyms.user_id("alice@example.com");
    let bob = pseudonyms.user_id("bob@example.com");
    assert_eq!(events.len(), per_run * PROTOCOLS.len(), "{events:#?}");
    for index in 0..PROTOCOLS.len() {
        let run = format!("run{index}");
        for n in 1..=3i64 {
            let session = format!("{run}-session-{n}");
            let matching: Vec<Value> = events
                .iter()
                .map(|e| e.json())
                .filter(|e| e["session_id"] == session.as_str())
                .collect();
            assert_eq!(matching.len(), 1, "{session}: {matching:#?}");
            let event = &matching[0];
            assert_eq!(event["tool"], "claude-code");
            assert_eq!(event["tool_version"], "2.1.332");
            assert_eq!(event["model"], "claude-sonnet-4-5");
            assert_eq!(event["user_id"], alice.as_str());
            assert_eq!(event["org_id"], "acme");
            assert_eq!(event["team"], "risk-management");
            assert_eq!(event["repository"], "github.com/acme/payments");
            assert_eq!(event["input_tokens"], 10 * n);
            assert_eq!(event["output_tokens"], 100 * n);
            assert_eq!(event["cache_read_tokens"], 1000 * n);
            assert_eq!(event["cache_write_tokens"], 7 * n);
            assert_eq!(event["cost_usd"], 0.5 * n as f64);
            assert_eq!(
                event["occurred_at"],
                format!("2026-12-01T10:0{n}:00.000000Z").as_str()
            );
        }
        let gateway: Vec<Value> = events
            .iter()
            .map(|e| e.json())
            .filter(|e| e["session_id"] == format!("{run}-gateway").as_str())
            .collect();
        assert_eq!(gateway.len(), 1, "{run}: {gateway:#?}");
        assert_eq!(gateway[0]["tool"], "llm-gateway");
        assert_eq!(gateway[0]["user_id"], bob.as_str());
        assert_eq!(gateway[0]["model"], "gpt-4o");
        assert_eq!(gateway[0]["input_tokens"], 500);
        assert_eq!(gateway[0]["cache_read_tokens"], 400);
        assert_eq!(gateway[0]["output_tokens"], 60);
    }

    assert_eq!(rejects.len(), PROTOCOLS.len(), "{rejects:#?}");
    for reject in &rejects {
        let reject = reject.json();
        assert_eq!(reject["reason"], "invalid_field", "{reject}");
        assert!(
            reject["detail"].as_str().unwrap().contains("input_tokens"),
            "{reject}"
        );
        assert_eq!(reject["source"]["client"], "test-fleet");
    }

    let logged = logs.text();
    assert!(!logged.is_empty(), "the collector logs");
    assert_eq!(content.len(), 5 * PROTOCOLS.len());
    for text in &content {
        let marker = text.split(':').next().unwrap();
        for message in events.iter().chain(&rejects) {
            let bytes = String::from_utf8_lossy(&message.bytes()).into_owned();
            assert!(!bytes.contains(marker), "{marker} reached Kafka: {bytes}");
        }
        assert!(!logged.contains(marker), "{marker} was logged");
    }
    for message in events.iter().chain(&rejects) {
        let bytes = String::from_utf8_lossy(&message.bytes()).into_owned();
        assert!(!bytes.contains("sk-ant-"), "a key reached Kafka: {bytes}");
        assert!(
            !bytes.to_lowercase().contains("alice@"),
            "an email reached Kafka: {bytes}"
        );
    }
}
