//! Load for `aitrail collect`: Claude Code–shaped OTLP log records, built
//! in memory as protobuf requests of `--batch` records, sent over HTTP by
//! `--concurrency` clients; prints records/s and request latency as JSON.
//! With `--rate R` the requests are paced to R records a second and each
//! is built when it is due, so a run may last hours in little memory.
//!
//!     otlp_load --endpoint http://127.0.0.1:4318 --token T --records 1000000
//!     otlp_load --endpoint http://127.0.0.1:4318 --token T --records 3720000 --rate 1000

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

struct Args {
    endpoint: String,
    token: String,
    records: usize,
    batch: usize,
    concurrency: usize,
    /// Records a second, when paced.
    rate: Option<f64>,
}

fn args() -> Args {
    let mut args = Args {
        endpoint: "http://127.0.0.1:4318".into(),
        token: String::new(),
        records: 1_000_000,
        batch: 512,
        concurrency: 8,
        rate: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--endpoint" => args.endpoint = value,
            "--token" => args.token = value,
            "--records" => args.records = value.parse().expect("--records N"),
            "--batch" => args.batch = value.parse().expect("--batch N"),
            "--concurrency" => args.concurrency = value.parse().expect("--concurrency N"),
            "--rate" => args.rate = Some(value.parse().expect("--rate R")),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn text(s: &str) -> Value {
    Value::StringValue(s.to_string())
}

/// The `n`th record: one of 2,000 people, 20 sessions each, Claude Code's
/// attributes with its prompt-length and tool fields beside the counts.
fn record(n: usize, now_nanos: u64) -> LogRecord {
    let user = n % 2_000;
    let time = now_nanos - (n as u64 % 3_600_000) * 1_000_000;
    let stamp = chrono::DateTime::from_timestamp_nanos(time as i64)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    LogRecord {
        time_unix_nano: time,
        observed_time_unix_nano: time,
        body: Some(AnyValue {
            value: Some(text("claude_code.api_request")),
        }),
        attributes: vec![
            kv("event.name", text("api_request")),
            kv("event.timestamp", text(&stamp)),
            kv("event.sequence", Value::IntValue(n as i64)),
            kv("session.id", text(&format!("{user:04}-{:02}", n % 20))),
            kv("user.email", text(&format!("dev{user}@example.com"))),
            kv("user.account_uuid", text(&format!("acct-{user}"))),
            kv("organization.id", text("org-1")),
            kv("terminal.type", text("vscode")),
            kv("model", text("claude-sonnet-4-5")),
            kv("input_tokens", Value::IntValue((n % 97) as i64 + 3)),
            kv("output_tokens", Value::IntValue((n % 1_013) as i64 + 20)),
            kv("cache_read_tokens", Value::IntValue((n % 40_009) as i64)),
            kv("cache_creation_tokens", Value::IntValue((n % 2_003) as i64)),
            kv(
                "cost_usd",
                Value::DoubleValue((n % 1_000) as f64 / 10_000.0),
            ),
            kv("duration_ms", Value::IntValue((n % 9_000) as i64 + 300)),
            kv("speed", text("normal")),
        ],
        ..Default::default()
    }
}

fn request(first: usize, count: usize, now_nanos: u64) -> Vec<u8> {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", text("claude-code")),
                    kv("service.version", text("2.1.332")),
                    kv("os.type", text("linux")),
                    kv("host.arch", text("amd64")),
                    kv("aitrail.team", text("risk-management")),
                ],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "com.anthropic.claude_code.events".into(),
                    version: "2.1.332".into(),
                    ..Default::default()
                }),
                log_records: (first..first + count)
                    .map(|n| record(n, now_nanos))
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// The requests to send: built beforehand when sending as fast as
/// possible, or each when it is due when paced.
struct Bodies {
    built: Vec<Vec<u8>>,
    records: usize,
    batch: usize,
    rate: Option<f64>,
    now_nanos: u64,
}

impl Bodies {
    fn new(args: &Args, now_nanos: u64) -> Bodies {
        let built = match args.rate {
            Some(_) => Vec::new(),
            None => (0..args.records)
                .step_by(args.batch)
                .map(|first| request(first, args.batch.min(args.records - first), now_nanos))
                .collect(),
        };
        Bodies {
            built,
            records: args.records,
            batch: args.batch,
            rate: args.rate,
            now_nanos,
        }
    }

    /// The `index`th request, once its time has come; `None` past the last.
    async fn due(&self, index: usize, started: Instant) -> Option<Vec<u8>> {
        let first = index.checked_mul(self.batch)?;
        if first >= self.records {
            return None;
        }
        let Some(rate) = self.rate else {
            return self.built.get(index).cloned();
        };
        tokio::time::sleep_until((started + Duration::from_secs_f64(first as f64 / rate)).into())
            .await;
        Some(request(
            first,
            self.batch.min(self.records - first),
            self.now_nanos,
        ))
    }
}

#[tokio::main]
async fn main() {
    let args = args();
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap() as u64;
    let bodies = Arc::new(Bodies::new(&args, now));
    let client = reqwest::Client::new();
    let url = format!("{}/v1/logs", args.endpoint);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (client, url, token) = (client.clone(), url.clone(), args.token.clone());
            let (bodies, next) = (Arc::clone(&bodies), Arc::clone(&next));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = 0usize;
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.due(index, started).await else {
                        return (latencies, failures);
                    };
                    let sent = Instant::now();
                    let response = client
                        .post(&url)
                        .header("content-type", "application/x-protobuf")
                        .header("authorization", format!("Bearer {token}"))
                        .body(body)
                        .send()
                        .await;
                    latencies.push(sent.elapsed());
                    match response {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                        }
                        _ => failures += 1,
                    }
                }
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::new();
    let mut failures = 0;
    for worker in workers {
        let (mine, failed) = worker.await.unwrap();
        latencies.extend(mine);
        failures += failed;
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "{}",
        serde_json::json!({
            "records": args.records,
            "requests": latencies.len(),
            "failed_requests": failures,
            "seconds": seconds,
            "records_per_s": args.records as f64 / seconds,
            "p50_ms": at(0.50).as_secs_f64() * 1e3,
            "p99_ms": at(0.99).as_secs_f64() * 1e3,
        })
    );
}
