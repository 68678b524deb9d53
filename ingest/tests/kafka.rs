//! The ingest against librdkafka's mock cluster: valid events land in the
//! store exactly once, rejects in the dead-letter topic, redacted; a restart
//! reads nothing twice; a stop flushes; tables that committed different
//! offsets are each caught up without duplicates.
//!
//! Every wait polls a condition against a deadline; none sleeps a fixed time.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use aitrail_ingest::dlq::{OFFSET_HEADER, PARTITION_HEADER, REASON_HEADER, TOPIC_HEADER};
use aitrail_ingest::{IngestConfig, KafkaConfig, Settings, Summary};
use aitrail_kafka::producer::{ProduceConfig, produce_lines};
use aitrail_schemas::{RejectRecord, ValidatorConfig};
use aitrail_store::rows::{Position, TableBatch};
use aitrail_store::sink::{BatchLimits, EventSink};
use aitrail_store::writer::StoreWriter;
use aitrail_store::{Policy, StoreRoot};
use arrow::array::{Array, AsArray};
use chrono::{TimeDelta, Utc};
use deltalake::kernel::Transaction;
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{DefaultProducerContext, FutureProducer, FutureRecord};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

const EVENTS: &str = "ai-audit.events";
const DLQ: &str = "ai-audit.events.dlq";
const DEADLINE: Duration = Duration::from_secs(60);

fn cluster(partitions: i32) -> MockCluster<'static, DefaultProducerContext> {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(EVENTS, partitions, 1).unwrap();
    cluster.create_topic(DLQ, 1, 1).unwrap();
    cluster
}

fn usage(id: &str, user: &str) -> String {
    let occurred_at = (Utc::now() - TimeDelta::hours(1)).to_rfc3339();
    serde_json::json!({
        "schema_version": 1,
        "event_id": id,
        "event_type": "ai_usage",
        "occurred_at": occurred_at,
        "org_id": "acme",
        "user_id": user,
        "tool": "claude-code",
        "model": "claude-sonnet-4-5",
        "input_tokens": 100,
        "output_tokens": 10,
    })
    .to_string()
}

fn change(id: &str) -> String {
    let occurred_at = (Utc::now() - TimeDelta::hours(1)).to_rfc3339();
    serde_json::json!({
        "schema_version": 1,
        "event_id": id,
        "event_type": "code_change",
        "occurred_at": occurred_at,
        "org_id": "acme",
        "change_id": format!("acme/web#{id}"),
        "kind": "pull_request",
        "repository": "github.com/acme/web",
        "user_id": "u-1",
        "ai_assisted": true,
    })
    .to_string()
}

struct Harness {
    bootstrap: String,
    store: tempfile::TempDir,
}

impl Harness {
    fn new(cluster: &MockCluster<'static, DefaultProducerContext>) -> Self {
        Harness {
            bootstrap: cluster.bootstrap_servers(),
            store: tempfile::tempdir().unwrap(),
        }
    }

    fn root(&self) -> StoreRoot {
        StoreRoot::parse(self.store.path().to_str().unwrap()).unwrap()
    }

    fn settings(&self, ingest: IngestConfig) -> Settings {
        Settings {
            kafka: KafkaConfig::new([
                ("bootstrap.servers", self.bootstrap.as_str()),
                ("group.id", "aitrail-test"),
                ("auto.offset.reset", "earliest"),
                ("statistics.interval.ms", "500"),
            ]),
            ingest: IngestConfig {
                topics: vec![EVENTS.to_string()],
                dlq_topic: DLQ.to_string(),
                max_batch_age_ms: 200,
                listen: "127.0.0.1:0".parse().unwrap(),
                ..ingest
            },
            store: self.root(),
            policy: Policy::default(),
        }
    }

    fn start(&self, ingest: IngestConfig) -> Running {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(aitrail_ingest::run(self.settings(ingest), shutdown.clone()));
        Running { shutdown, task }
    }

    async fn produce(&self, partition: i32, lines: &[String]) {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .create()
            .unwrap();
        for line in lines {
            producer
                .send(
                    FutureRecord::<(), _>::to(EVENTS)
                        .partition(partition)
                        .payload(line.as_bytes()),
                    Duration::from_secs(10),
                )
                .await
                .unwrap();
        }
    }

    /// The event ids stored in `table`, sorted, duplicates kept; none
    /// before the ingest has created the table.
    async fn stored_ids(&self, table: &str) -> Vec<String> {
        let Ok(table) = deltalake::open_table(self.root().table_url(table)).await else {
            return Vec::new();
        };
        let ctx = datafusion::prelude::SessionContext::new();
        table.update_datafusion_session(&ctx.state()).unwrap();
        ctx.register_table("t", table.table_provider().await.unwrap())
            .unwrap();
        let batches = ctx
            .sql("SELECT event_id FROM t ORDER BY event_id")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let mut ids = Vec::new();
        for batch in batches {
            let column =
                arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
            let column = column.as_string::<i32>();
            for row in 0..column.len() {
                ids.push(column.value(row).to_string());
            }
        }
        ids
    }

    async fn wait_for_rows(&self, table: &str, rows: usize) -> Vec<String> {
        eventually(&format!("{rows} rows in {table}"), || async {
            let ids = self.stored_ids(table).await;
            (ids.len() >= rows).then_some(ids)
        })
        .await
    }
}

struct Running {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<Summary, aitrail_ingest::IngestError>>,
}

impl Running {
    async fn stop(self) -> Summary {
        self.shutdown.cancel();
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("the ingest stops in time")
            .unwrap()
            .unwrap()
    }
}

/// Polls `check` until it yields a value, failing after the deadline.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A dead letter as read back: the record and its headers.
struct DeadLetter {
    record: RejectRecord,
    headers: BTreeMap<String, String>,
}

async fn read_dead_letters(bootstrap: &str, count: usize) -> Vec<DeadLetter> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "dlq-reader")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[DLQ]).unwrap();
    let mut letters = Vec::new();
    let started = Instant::now();
    while letters.len() < count {
        assert!(
            started.elapsed() < DEADLINE,
            "timed out waiting for {count} dead letters, got {}",
            letters.len()
        );
        let Ok(Ok(message)) =
            tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await
        else {
            continue;
        };
        let mut headers = BTreeMap::new();
        if let Some(list) = message.headers() {
            for header in list.iter() {
                let value = String::from_utf8_lossy(header.value.unwrap_or_default());
                headers.insert(header.key.to_string(), value.into_owned());
            }
        }
        letters.push(DeadLetter {
            record: serde_json::from_slice(message.payload().unwrap()).unwrap(),
            headers,
        });
    }
    letters
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_events_reach_the_store_and_rejects_the_dead_letter_topic() {
    let cluster = cluster(2);
    let harness = Harness::new(&cluster);
    let mut lines: Vec<String> = (0..20)
        .map(|i| usage(&format!("ok-{i:02}"), &format!("u-{}", i % 5)))
        .collect();
    lines.push("{not json".to_string());
    let mut with_prompt: serde_json::Value = serde_json::from_str(&usage("bad-1", "u-1")).unwrap();
    with_prompt["prompt"] = "please refactor the payment service".into();
    lines.push(with_prompt.to_string());
    let mut without_model: serde_json::Value =
        serde_json::from_str(&usage("bad-2", "u-2")).unwrap();
    without_model.as_object_mut().unwrap().remove("model");
    lines.push(without_model.to_string());

    let config = ProduceConfig {
        brokers: harness.bootstrap.clone(),
        topic: EVENTS.to_string(),
        compression: "zstd".to_string(),
        properties: Vec::new(),
    };
    let input = lines.join("\n");
    let sent = produce_lines(&config, &mut input.as_bytes()).await.unwrap();
    assert_eq!(sent, 23);

    let running = harness.start(IngestConfig::default());
    let ids = harness.wait_for_rows("ai_usage", 20).await;
    let mut letters = read_dead_letters(&harness.bootstrap, 3).await;
    let summary = running.stop().await;

    let expected: Vec<String> = (0..20).map(|i| format!("ok-{i:02}")).collect();
    assert_eq!(ids, expected);
    assert_eq!(
        harness.stored_ids("ai_usage").await,
        expected,
        "nothing more after the stop"
    );
    assert_eq!(summary.committed, 20);
    assert_eq!(summary.rejected, 3);

    letters.sort_by_key(|l| l.record.reason);
    let reasons: Vec<&str> = letters.iter().map(|l| l.record.reason.as_str()).collect();
    assert_eq!(
        reasons,
        ["malformed_json", "missing_field", "content_field"]
    );
    for letter in &letters {
        assert_eq!(letter.headers[REASON_HEADER], letter.record.reason.as_str());
        assert_eq!(letter.headers[TOPIC_HEADER], EVENTS);
        let aitrail_schemas::RejectSource::Kafka {
            topic,
            partition,
            offset,
        } = &letter.record.source
        else {
            panic!("a dead letter's source is a Kafka message");
        };
        assert_eq!(topic, EVENTS);
        assert_eq!(letter.headers[PARTITION_HEADER], partition.to_string());
        assert_eq!(letter.headers[OFFSET_HEADER], offset.to_string());
    }
    let redacted = letters[2].record.event.as_ref().unwrap();
    assert_eq!(redacted["prompt"], "[REDACTED]");
    assert!(
        !serde_json::to_string(&letters[2].record)
            .unwrap()
            .contains("payment service")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_reads_nothing_twice() {
    let cluster = cluster(2);
    let harness = Harness::new(&cluster);
    let first: Vec<String> = (0..10)
        .map(|i| usage(&format!("a-{i:02}"), "u-1"))
        .collect();
    harness.produce(0, &first[..6]).await;
    harness.produce(1, &first[6..]).await;
    let running = harness.start(IngestConfig::default());
    harness.wait_for_rows("ai_usage", 10).await;
    let summary = running.stop().await;
    assert_eq!(summary.consumed, 10);

    let second: Vec<String> = (0..5).map(|i| usage(&format!("b-{i:02}"), "u-1")).collect();
    harness.produce(0, &second[..2]).await;
    harness.produce(1, &second[2..]).await;
    let running = harness.start(IngestConfig::default());
    harness.wait_for_rows("ai_usage", 15).await;
    let summary = running.stop().await;
    assert_eq!(
        summary.consumed, 5,
        "the second run reads only the new messages"
    );
    assert_eq!(summary.rejected, 0, "nothing was taken for a duplicate");

    let ids = harness.stored_ids("ai_usage").await;
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids.len(), 15);
    assert_eq!(unique, ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_flushes_the_pending_batch() {
    let cluster = cluster(1);
    let harness = Harness::new(&cluster);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let lines: Vec<String> = (0..7).map(|i| usage(&format!("s-{i}"), "u-1")).collect();
    harness.produce(0, &lines).await;
    let running = {
        let shutdown = CancellationToken::new();
        let mut settings = harness.settings(IngestConfig::default());
        settings.ingest.max_batch_age_ms = 600_000;
        settings.ingest.listen = format!("127.0.0.1:{port}").parse().unwrap();
        let task = tokio::spawn(aitrail_ingest::run(settings, shutdown.clone()));
        Running { shutdown, task }
    };
    eventually("7 messages consumed", || async {
        let metrics = http_get(port, "/metrics").await?;
        metrics
            .contains("aitrail_ingest_consumed_total 7")
            .then_some(())
    })
    .await;
    assert!(
        harness.stored_ids("ai_usage").await.is_empty(),
        "nothing committed before the stop"
    );
    let health = http_get(port, "/healthz").await.unwrap();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let summary = running.stop().await;
    assert_eq!(summary.committed, 7);
    assert_eq!(harness.stored_ids("ai_usage").await.len(), 7);
}

/// A bare HTTP/1.1 GET, enough for the operations endpoints.
async fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    Some(response)
}

/// Validates `lines` into one batch, the line at index `i` at offset `i`.
fn batch_of(lines: &[String]) -> Vec<TableBatch> {
    let mut sink = EventSink::new(
        ValidatorConfig::default(),
        Policy::default(),
        BatchLimits::default(),
    );
    for (offset, line) in lines.iter().enumerate() {
        let position = Position {
            partition: 0,
            offset: offset as i64,
        };
        sink.accept(line.as_bytes(), position, Utc::now()).unwrap();
    }
    sink.take_batch()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_that_committed_different_offsets_are_each_caught_up() {
    let cluster = cluster(1);
    let harness = Harness::new(&cluster);
    // Offsets 0..10 of partition 0: even ones ai_usage, odd ones code_change.
    let lines: Vec<String> = (0..10)
        .map(|i| {
            if i % 2 == 0 {
                usage(&format!("u-{i}"), "u-1")
            } else {
                change(&format!("c-{i}"))
            }
        })
        .collect();
    harness.produce(0, &lines).await;

    // A crash between the tables' commits: every table holds offsets 0..=2,
    // and ai_usage also 3..=5.
    let app_id = format!("aitrail:aitrail-test:{EVENTS}:0");
    let mut writer = StoreWriter::open(&harness.root(), TimeDelta::hours(24))
        .await
        .unwrap();
    writer
        .commit(batch_of(&lines[..3]), &[Transaction::new(&app_id, 2)])
        .await
        .unwrap();
    let mut ahead = batch_of(&lines[..6]);
    ahead.retain(|b| b.event_type == aitrail_schemas::EventType::AiUsage);
    let keep: Vec<bool> = ahead[0]
        .origins
        .iter()
        .map(|o| o.position.offset > 2)
        .collect();
    ahead[0].retain(&keep);
    let staged = writer.stage(&ahead.remove(0)).await.unwrap();
    writer
        .commit_staged(staged, &[Transaction::new(&app_id, 5)])
        .await
        .unwrap();
    assert_eq!(harness.stored_ids("ai_usage").await, ["u-0", "u-2", "u-4"]);
    assert_eq!(harness.stored_ids("code_changes").await, ["c-1"]);

    let running = harness.start(IngestConfig::default());
    harness.wait_for_rows("ai_usage", 5).await;
    harness.wait_for_rows("code_changes", 5).await;
    let summary = running.stop().await;

    assert_eq!(
        summary.consumed, 7,
        "resumed after the table furthest behind"
    );
    assert_eq!(
        summary.rejected, 0,
        "replayed rows are skipped, not duplicates"
    );
    assert_eq!(
        harness.stored_ids("ai_usage").await,
        ["u-0", "u-2", "u-4", "u-6", "u-8"]
    );
    assert_eq!(
        harness.stored_ids("code_changes").await,
        ["c-1", "c-3", "c-5", "c-7", "c-9"]
    );
    let recorded = writer_version(&harness, &app_id).await;
    assert_eq!(recorded, [Some(9); 4]);
}

/// A table that gets no rows in a flush does not commit, so its recorded
/// offsets lag the others'. After a crash (no final flush) the next run
/// reads those messages again and each table skips what it holds: nothing
/// is lost, stored twice or taken for a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_skipped_empty_commits_loses_and_duplicates_nothing() {
    let cluster = cluster(1);
    let harness = Harness::new(&cluster);
    let no_idle_commits = IngestConfig {
        idle_commit_interval_s: 3600,
        ..IngestConfig::default()
    };
    harness
        .produce(0, &[change("c-0"), usage("u-00", "u-1")])
        .await;
    let running = harness.start(no_idle_commits.clone());
    harness.wait_for_rows("code_changes", 1).await;
    harness.wait_for_rows("ai_usage", 1).await;
    let later: Vec<String> = (1..=10)
        .map(|i| usage(&format!("u-{i:02}"), "u-1"))
        .collect();
    harness.produce(0, &later).await;
    harness.wait_for_rows("ai_usage", 11).await;
    let app_id = format!("aitrail:aitrail-test:{EVENTS}:0");
    let recorded = eventually("ai_usage's offsets recorded", || async {
        let recorded = writer_version(&harness, &app_id).await;
        (recorded[0] == Some(11)).then_some(recorded)
    })
    .await;
    let lagging = recorded[1].expect("code_changes committed c-0");
    assert!(
        lagging <= 1 && recorded[2] == recorded[1],
        "only ai_usage committed the later flushes: {recorded:?}"
    );
    running.task.abort();
    let _ = running.task.await;

    let running = harness.start(no_idle_commits);
    harness.produce(0, &[change("c-1"), change("c-2")]).await;
    harness.wait_for_rows("code_changes", 3).await;
    let summary = running.stop().await;
    assert_eq!(
        summary.consumed,
        (11 - lagging) as u64 + 2,
        "the messages code_changes had not recorded, read again, and two new ones"
    );
    assert_eq!(
        summary.rejected, 0,
        "nothing replayed was taken for a duplicate"
    );
    let expected: Vec<String> = (0..=10).map(|i| format!("u-{i:02}")).collect();
    assert_eq!(harness.stored_ids("ai_usage").await, expected);
    assert_eq!(
        harness.stored_ids("code_changes").await,
        ["c-0", "c-1", "c-2"]
    );
    assert_eq!(
        writer_version(&harness, &app_id).await,
        [Some(13); 4],
        "a stop records every table's offsets"
    );
}

/// Every flush of a slow stream adds a small file; with `compact_fan_in =
/// 3` the ingest merges them as it goes, in its own commits, and every row
/// stays stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continuous_compaction_keeps_few_files_and_every_row_once() {
    let cluster = cluster(1);
    let harness = Harness::new(&cluster);
    let running = harness.start(IngestConfig {
        compact_fan_in: 3,
        ..IngestConfig::default()
    });
    let mut expected = Vec::new();
    for round in 0..12 {
        let lines: Vec<String> = (0..5)
            .map(|i| {
                let id = format!("m-{round:02}-{i}");
                expected.push(id.clone());
                usage(&id, "u-1")
            })
            .collect();
        harness.produce(0, &lines).await;
        harness.wait_for_rows("ai_usage", expected.len()).await;
    }
    running.stop().await;
    assert_eq!(harness.stored_ids("ai_usage").await, expected);

    let table = deltalake::open_table(harness.root().table_url("ai_usage"))
        .await
        .unwrap();
    let files = table.snapshot().unwrap().log_data().num_files();
    let operations: Vec<String> = futures::StreamExt::collect::<Vec<_>>(table.history(None))
        .await
        .into_iter()
        .map(|info| info.unwrap().operation.unwrap_or_default())
        .collect();
    let merges = operations.iter().filter(|op| *op == "OPTIMIZE").count();
    assert!(merges >= 3, "{operations:?}");
    // At most two partitions (the events' dates may straddle midnight),
    // each with fewer than three files of a class.
    assert!(
        files <= 4,
        "{files} files after {} commits",
        operations.len()
    );
}

async fn writer_version(harness: &Harness, app_id: &str) -> Vec<Option<i64>> {
    let writer = StoreWriter::open(&harness.root(), TimeDelta::hours(24))
        .await
        .unwrap();
    let mut versions = Vec::new();
    for event_type in aitrail_schemas::EventType::ALL {
        versions.push(
            writer
                .transaction_version(*event_type, app_id)
                .await
                .unwrap(),
        );
    }
    versions
}

/// An event of ≈ 4 KiB: sixteen long attributes.
fn bulky(id: &str) -> String {
    let mut event: serde_json::Value = serde_json::from_str(&usage(id, "u-1")).unwrap();
    let attributes: serde_json::Map<String, serde_json::Value> = (0..16)
        .map(|i| (format!("k{i:02}"), "x".repeat(250).into()))
        .collect();
    event["attributes"] = attributes.into();
    event.to_string()
}

/// The broker's retention deleted messages the ingest had not read while
/// it was down (librdkafka's mock cluster keeps the last 5 MiB of a
/// partition): the ingest goes on from what is left, and says how many
/// offsets it could not read, in its log and in `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_deleted_by_retention_are_counted_not_silently_skipped() {
    let cluster = cluster(1);
    let harness = Harness::new(&cluster);
    let first: Vec<String> = (0..5).map(|i| usage(&format!("r-{i}"), "u-1")).collect();
    harness.produce(0, &first).await;
    let running = harness.start(IngestConfig::default());
    harness.wait_for_rows("ai_usage", 5).await;
    running.stop().await;

    // ≈ 8 MiB while the ingest is down: the oldest of these are gone
    // before it comes back.
    let backlog: Vec<String> = (0..2000).map(|i| bulky(&format!("big-{i:04}"))).collect();
    harness.produce(0, &backlog).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = harness.settings(IngestConfig::default());
    settings.ingest.listen = format!("127.0.0.1:{port}").parse().unwrap();
    let shutdown = CancellationToken::new();
    let running = Running {
        shutdown: shutdown.clone(),
        task: tokio::spawn(aitrail_ingest::run(settings, shutdown)),
    };
    let metric = "aitrail_ingest_skipped_offsets_total{topic=\"ai-audit.events\",partition=\"0\"} ";
    let (stored, skipped) = eventually("the rest of the backlog stored", || async {
        let metrics = http_get(port, "/metrics").await?;
        let skipped: usize = metrics
            .lines()
            .find_map(|line| line.strip_prefix(metric))?
            .trim()
            .parse()
            .ok()?;
        let stored = harness.stored_ids("ai_usage").await.len();
        (stored + skipped >= 5 + backlog.len()).then_some((stored, skipped))
    })
    .await;
    running.stop().await;
    assert!(skipped > 0 && skipped < backlog.len(), "skipped {skipped}");
    assert_eq!(
        stored + skipped,
        5 + backlog.len(),
        "every offset is either stored or counted as skipped"
    );
    let ids = harness.stored_ids("ai_usage").await;
    assert!(
        ids.contains(&"big-1999".to_string()),
        "the newest are stored"
    );
}
