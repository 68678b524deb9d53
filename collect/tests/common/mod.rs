//! A collector running in the test's process against rdkafka's mock
//! cluster, the messages it produced, and every log line it wrote.

#![allow(dead_code)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aitrail_collect::config::{CollectConfig, CollectorToken};
use aitrail_collect::{Pseudonyms, Running};
use aitrail_kafka::KafkaConfig;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// This crate's directory, as cargo gives it to the running test: a test
/// binary reused from a build in another checkout (a shared target
/// directory) still reads this checkout's files.
pub fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The bearer token of the tests' client.
pub const TOKEN: &str = "test-collector-token";
/// The pseudonym key of the tests.
pub const IDENTITY_KEY: &[u8] = b"test identity key";
pub const TOPIC: &str = "ai-audit.events";
pub const DLQ: &str = "ai-audit.events.dlq";

/// A collector and its broker.
pub struct Harness {
    pub cluster: MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    pub running: Option<Running>,
    pub shutdown: CancellationToken,
    pub config: CollectConfig,
}

/// One message read back from a topic.
#[derive(Debug, Clone)]
pub struct Produced {
    pub topic: String,
    pub key: Vec<u8>,
    pub payload: Vec<u8>,
    pub headers: Vec<u8>,
}

impl Produced {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap()
    }

    /// Every byte of the message.
    pub fn bytes(&self) -> Vec<u8> {
        [&self.key[..], &self.payload, &self.headers].concat()
    }
}

/// The collector's configuration for the mock cluster.
pub fn config() -> CollectConfig {
    CollectConfig {
        listen: "127.0.0.1:0".into(),
        grpc_listen: "127.0.0.1:0".into(),
        default_org: "acme".into(),
        ack_timeout_ms: 3_000,
        tokens: vec![CollectorToken {
            name: "test-fleet".into(),
            sha256: hex::encode(Sha256::digest(TOKEN.as_bytes())),
            org_id: None,
        }],
        ..CollectConfig::default()
    }
}

impl Harness {
    /// A mock cluster with both topics and a collector of `config` ready
    /// to produce to it.
    pub async fn start(config: CollectConfig) -> Harness {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic(TOPIC, 3, 1).unwrap();
        cluster.create_topic(DLQ, 1, 1).unwrap();
        let kafka = KafkaConfig::new([("bootstrap.servers", cluster.bootstrap_servers())]);
        let shutdown = CancellationToken::new();
        let running = aitrail_collect::start(
            &config,
            &kafka,
            Pseudonyms::new(IDENTITY_KEY),
            shutdown.clone(),
        )
        .await
        .unwrap();
        let harness = Harness {
            cluster,
            running: Some(running),
            shutdown,
            config,
        };
        harness.wait_until_ready().await;
        harness
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().unwrap()
    }

    /// Waits until the collector has seen Kafka answer.
    pub async fn wait_until_ready(&self) {
        use aitrail_ops::Observed;
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.running().collector().readiness().is_err() {
            assert!(Instant::now() < deadline, "the collector never saw Kafka");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The OTLP/HTTP base address.
    pub fn http(&self) -> String {
        format!("http://{}", self.running().http)
    }

    /// Reads `topic` from the beginning until `enough` holds of what was
    /// read, or 30 s passed.
    pub fn read_until(&self, topic: &str, enough: impl Fn(&[Produced]) -> bool) -> Vec<Produced> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.cluster.bootstrap_servers())
            .set("group.id", format!("reader-{}", uuid_like()))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        consumer.subscribe(&[topic]).unwrap();
        let mut read = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !enough(&read) && Instant::now() < deadline {
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                let message = message.unwrap();
                let mut headers = Vec::new();
                if let Some(list) = message.headers() {
                    for header in list.iter() {
                        headers.extend_from_slice(header.key.as_bytes());
                        headers.extend_from_slice(header.value.unwrap_or_default());
                    }
                }
                read.push(Produced {
                    topic: topic.to_string(),
                    key: message.key().unwrap_or_default().to_vec(),
                    payload: message.payload().unwrap_or_default().to_vec(),
                    headers,
                });
            }
        }
        read
    }

    /// How many records the collector counted with `outcome` (`produced`,
    /// `rejected`, `ignored`), over every signal.
    pub fn records(&self, outcome: &str) -> u64 {
        let metrics = self.running().collector().metrics().encode();
        let label = format!("outcome=\"{outcome}\"");
        metrics
            .lines()
            .filter(|l| l.contains(&label) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    /// Stops the collector and waits for it.
    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(running) = self.running.take() {
            running.finished().await.unwrap();
        }
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A writer of log lines kept for the test to read.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// The captured log lines of this process, installed by the first
    /// caller: the tests of one file share the process, and a process has
    /// one subscriber.
    pub fn shared() -> CapturedLogs {
        static SHARED: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
        SHARED.get_or_init(CapturedLogs::install).clone()
    }

    /// Sends every log line of this process, at every level, here.
    pub fn install() -> CapturedLogs {
        let logs = CapturedLogs::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter("trace")
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        logs
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
