//! The harness of the end-to-end ingest tests (`ingest_e2e.rs`): a real
//! tansu broker on a free loopback port, the `aitrail` binary producing,
//! ingesting and answering SQL, the generated input with its invalid
//! events, and what each test asserts of the store and the dead-letter
//! topic.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{TimeDelta, Utc};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{Value, json};

pub const EVENTS: &str = "ai-audit.events";

pub const DLQ: &str = "ai-audit.events.dlq";

pub const EVENT_PARTITIONS: i32 = 4;

pub const GROUP: &str = "aitrail-e2e";

/// Every reason a producer can trigger (DESIGN §3).
pub const REASONS: [&str; 11] = [
    "malformed_json",
    "too_large",
    "unsupported_schema_version",
    "missing_field",
    "invalid_field",
    "unknown_field",
    "content_field",
    "secret_detected",
    "future_timestamp",
    "expired",
    "duplicate",
];

/// Content and secret values put into invalid events: none may reach the
/// dead-letter topic.
pub const CONTENT: &str = "rewrite the payment retry loop";

pub const SECRET_PREFIX: &str = "ghp_";

pub static SERIAL: Mutex<()> = Mutex::new(());

/// One test at a time, even after another failed.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Events of the exactly-once and kill -9 runs.
pub fn events() -> usize {
    std::env::var("AITRAIL_E2E_EVENTS")
        .ok()
        .map(|n| {
            n.replace('_', "")
                .parse()
                .expect("AITRAIL_E2E_EVENTS is a number")
        })
        .unwrap_or(1_000_000)
}

/// How long the ingest of `events` may take at the slowest: generous, for
/// a CI machine that is also building.
pub fn deadline_for(events: usize) -> Duration {
    Duration::from_secs(120 + (events / 2_000) as u64)
}

/// Polls `check` every `every` until it yields a value, failing after
/// `deadline` with `what` and whatever `context` says then.
pub fn eventually<T>(
    what: &str,
    deadline: Duration,
    every: Duration,
    mut check: impl FnMut() -> Option<T>,
    context: impl Fn() -> String,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            started.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(every);
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A small deterministic generator for the random moments, seeded per run.
pub struct Random(pub u64);

impl Random {
    pub fn from_env_or_clock(test: &str) -> Self {
        let seed = std::env::var("AITRAIL_E2E_SEED")
            .ok()
            .map(|s| s.parse().expect("AITRAIL_E2E_SEED is a number"))
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("{test}: AITRAIL_E2E_SEED={seed}");
        Random(seed | 1)
    }

    /// A number in `range` (xorshift64*).
    pub fn below(&mut self, range: std::ops::Range<u64>) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        range.start + x % (range.end - range.start)
    }
}

pub fn tansu_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TANSU") {
        return path.into();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(found) = std::env::split_paths(&path)
        .map(|dir| dir.join("tansu"))
        .find(|candidate| candidate.is_file())
    {
        return found;
    }
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME is set"));
    let installed = home.join(".cargo/bin/tansu");
    assert!(
        installed.is_file(),
        "tansu is not installed: run scripts/test, or \
         `cargo install --locked tansu --features dynostore`"
    );
    installed
}

/// A tansu broker with memory storage, killed on drop.
pub struct Broker {
    pub child: Child,
    pub address: String,
    pub log: PathBuf,
}

impl Broker {
    /// Starts tansu on a free port and creates the events topic
    /// (`EVENT_PARTITIONS` partitions) and the dead-letter topic (one).
    pub fn start(dir: &Path) -> Self {
        let port = free_port();
        let address = format!("127.0.0.1:{port}");
        let url = format!("tcp://{address}");
        let log = dir.join("tansu.log");
        let log_file = std::fs::File::create(&log).unwrap();
        let child = Command::new(tansu_binary())
            .args([
                "broker",
                "--storage-engine",
                "memory://tansu/",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .spawn()
            .expect("tansu starts");
        let mut broker = Broker {
            child,
            address,
            log,
        };
        broker.create_topics();
        broker
    }

    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }

    pub fn create_topics(&mut self) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.address)
            .create()
            .unwrap();
        let topics = [
            NewTopic::new(EVENTS, EVENT_PARTITIONS, TopicReplication::Fixed(1)),
            NewTopic::new(DLQ, 1, TopicReplication::Fixed(1)),
        ];
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
        let mut pending: BTreeSet<&str> = [EVENTS, DLQ].into();
        let (child, log) = (&mut self.child, &self.log);
        eventually(
            "tansu to create the topics",
            Duration::from_secs(60),
            Duration::from_millis(200),
            || {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("tansu exited with {status}\n{}", tail(log));
                }
                let wanted: Vec<&NewTopic<'_>> =
                    topics.iter().filter(|t| pending.contains(t.name)).collect();
                if let Ok(results) = runtime.block_on(admin.create_topics(wanted, &options)) {
                    for result in results {
                        match result {
                            Ok(name) | Err((name, RDKafkaErrorCode::TopicAlreadyExists)) => {
                                pending.remove(name.as_str());
                            }
                            Err(_) => {}
                        }
                    }
                }
                pending.is_empty().then_some(())
            },
            || tail(log),
        );
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last lines of a log file.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(30);
    format!("--- {}:\n{}", path.display(), lines[start..].join("\n"))
}

pub fn aitrail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aitrail"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the aitrail binary runs")
}

/// The events of one run, written to a file.
pub struct Input {
    pub path: PathBuf,
    /// Valid events, each with an `event_id` of its own.
    pub valid: usize,
    /// Invalid messages per reason.
    pub rejects: BTreeMap<&'static str, usize>,
}

impl Input {
    pub fn invalid(&self) -> usize {
        self.rejects.values().sum()
    }
}

/// `events` lines of `aitrail gen`; with `invalid`, every 100th one (from
/// the 51st) replaced by an invalid one, the reasons taken in turn.
/// Invalid events that carry an `event_id` carry `bad-<line>`.
pub fn make_input(dir: &Path, events: usize, invalid: bool) -> Input {
    let users = (events / 3_000 + 5).to_string();
    let out = aitrail(&["gen", "--users", &users, "--days", "365", "--seed", "7"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().take(events).collect();
    assert_eq!(lines.len(), events, "gen made fewer events than asked");
    let mut rejects = BTreeMap::new();
    let mut valid = 0;
    let mut output = String::with_capacity(text.len().min(events * 700));
    for (i, line) in lines.iter().enumerate() {
        if invalid && i % 100 == 50 {
            let reason = REASONS[(i / 100) % REASONS.len()];
            output.push_str(&invalid_event(reason, i, line, lines[i - 1]));
            *rejects.entry(reason).or_default() += 1;
        } else {
            output.push_str(line);
            valid += 1;
        }
        output.push('\n');
    }
    let path = dir.join("events.jsonl");
    std::fs::write(&path, output).unwrap();
    Input {
        path,
        valid,
        rejects,
    }
}

/// Line `i`, made invalid for `reason`; `previous` is the valid line before.
pub fn invalid_event(reason: &str, i: usize, line: &str, previous: &str) -> String {
    let mut event: Value = serde_json::from_str(line).unwrap();
    event["event_id"] = json!(format!("bad-{i}"));
    let now = Utc::now();
    match reason {
        "malformed_json" => {
            return format!(r#"{{"schema_version":1,"event_id":"bad-{i}","event_type":"#);
        }
        "too_large" => event["tool_version"] = json!("x".repeat(70_000)),
        "unsupported_schema_version" => event["schema_version"] = json!(2),
        "missing_field" => {
            event.as_object_mut().unwrap().remove("org_id");
        }
        "invalid_field" => event["occurred_at"] = json!("yesterday afternoon"),
        "unknown_field" => event["favourite_colour"] = json!("teal"),
        "content_field" => event["prompt"] = json!(format!("{CONTENT} ({i})")),
        "secret_detected" => {
            event["attributes"] = json!({"note": format!("used {SECRET_PREFIX}{i:0>36}")});
        }
        "future_timestamp" => {
            event["occurred_at"] = json!((now + TimeDelta::days(1)).to_rfc3339());
        }
        "expired" => event["occurred_at"] = json!((now - TimeDelta::days(800)).to_rfc3339()),
        "duplicate" => return previous.to_string(),
        other => unreachable!("no invalid event made for {other}"),
    }
    event.to_string()
}

/// What the store holds over its three tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    pub rows: u64,
    pub distinct_ids: u64,
    /// Rows of invalid events (`event_id` `bad-…`): must stay 0.
    pub invalid: u64,
}

/// An `aitrail ingest` process, killed on drop.
pub struct Ingest {
    pub child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl Ingest {
    pub fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// A counter of `/metrics`, `None` while the endpoint does not answer.
    pub fn metric(&self, name: &str) -> Option<u64> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        response
            .lines()
            .find_map(|line| {
                let (key, value) = line.split_once(' ')?;
                (key == name).then(|| value.trim().parse::<f64>().ok())?
            })
            .map(|value| value as u64)
    }

    pub fn consumed(&self) -> u64 {
        self.metric("aitrail_ingest_consumed_total").unwrap_or(0)
    }

    /// Fails if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("the ingest exited with {status}\n{}", tail(&self.log));
        }
    }

    /// SIGKILL: no chance to flush or commit anything.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL reaches the ingest");
        self.child.wait().unwrap();
    }

    /// SIGTERM, then waits for the exit.
    pub fn terminate(mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid()])
            .status()
            .unwrap();
        assert!(sent.success());
        let log = self.log.clone();
        eventually(
            "the ingest to exit after SIGTERM",
            Duration::from_secs(60),
            Duration::from_millis(100),
            || self.child.try_wait().unwrap(),
            || tail(&log),
        )
    }

    /// Lines its log has so far.
    pub fn log_lines(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .count()
    }

    /// The partitions of the events topic assigned to it after the first
    /// `skip` lines of its log.
    pub fn assigned(&self, skip: usize) -> BTreeSet<i64> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .skip(skip)
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|entry| {
                entry["fields"]["message"] == "partition assigned"
                    && entry["fields"]["topic"] == EVENTS
            })
            .filter_map(|entry| entry["fields"]["partition"].as_i64())
            .collect()
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How an ingest instance batches, and how its group assigns partitions.
#[derive(Clone, Copy)]
pub struct Options {
    pub max_rows: usize,
    pub max_age_ms: u64,
    /// librdkafka's `partition.assignment.strategy`.
    pub assignor: &'static str,
    /// `[ingest] compact_fan_in` (small, to merge under the kill -9 test).
    pub compact_fan_in: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_rows: 100_000,
            max_age_ms: 1_000,
            assignor: "range,roundrobin",
            compact_fan_in: 10,
        }
    }
}

/// A broker, a store and the files of one test.
pub struct Site {
    pub broker: Broker,
    pub dir: tempfile::TempDir,
}

impl Site {
    pub fn new() -> Self {
        let mut dir = tempfile::tempdir().unwrap();
        if std::env::var_os("AITRAIL_E2E_KEEP").is_some() {
            dir.disable_cleanup(true);
            eprintln!("keeping {}", dir.path().display());
        }
        let broker = Broker::start(dir.path());
        Site { broker, dir }
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// `aitrail produce` of the whole file; returns how long it took. With
    /// `resumable`, one message per record batch (see the module's notes).
    pub fn produce(&self, input: &Input, resumable: bool) -> Duration {
        let started = Instant::now();
        let mut args = vec![
            "produce",
            "--brokers",
            &self.broker.address,
            "--topic",
            EVENTS,
        ];
        if resumable {
            args.extend(["-X", "batch.num.messages=1", "-X", "linger.ms=0"]);
        }
        args.push(input.path.to_str().unwrap());
        let out = aitrail(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stderr}\n{}",
            self.broker.log_tail()
        );
        let messages = input.valid + input.invalid();
        assert!(
            stderr.contains(&format!("produced {messages} events")),
            "{stderr}"
        );
        started.elapsed()
    }

    /// The private key every ingest of the site signs its commits with
    /// (DESIGN §11), made by `aitrail keygen` on first use.
    /// `aitrail verify` of the store with the site's public key: every
    /// commit of every ingest, killed or not, signed and unbroken.
    pub fn assert_verifies(&self) {
        let public = self.signing_key().with_file_name("signing.pub");
        let out = aitrail(&[
            "verify",
            "--store",
            self.store().to_str().unwrap(),
            "--public-key",
            public.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "aitrail verify found:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn signing_key(&self) -> PathBuf {
        let keys = self.dir.path().join("keys");
        if !keys.join("signing.key").exists() {
            let out = aitrail(&["keygen", "--out", keys.to_str().unwrap()]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        keys.join("signing.key")
    }

    /// Starts `aitrail ingest` as instance `name` of the consumer group.
    pub fn ingest(&self, name: &str, options: Options) -> Ingest {
        let port = free_port();
        let key = self.signing_key();
        let config = self.dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                r#"[store]
root = "{store}"

[kafka]
"bootstrap.servers" = "{broker}"
"group.id" = "{GROUP}"
"auto.offset.reset" = "earliest"
"session.timeout.ms" = 6000
"heartbeat.interval.ms" = 500
"partition.assignment.strategy" = "{assignor}"

[ingest]
topics = ["{EVENTS}"]
dlq_topic = "{DLQ}"
max_batch_rows = {rows}
max_batch_age_ms = {age}
compact_fan_in = {fan_in}
listen = "127.0.0.1:{port}"

[integrity]
signing_key_file = "{key}"
required = true
"#,
                store = self.store().display(),
                broker = self.broker.address,
                rows = options.max_rows,
                age = options.max_age_ms,
                assignor = options.assignor,
                fan_in = options.compact_fan_in,
                key = key.display(),
            ),
        )
        .unwrap();
        let log = self.dir.path().join(format!("{name}.log"));
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_aitrail"))
            .args(["ingest", "--config", config.to_str().unwrap()])
            .env("RUST_LOG", "warn,aitrail=info,aitrail_ingest=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("aitrail ingest starts");
        Ingest { child, port, log }
    }

    /// What the store holds; `None` while it cannot be read (before the
    /// ingest created the tables).
    pub fn try_stored(&self) -> Option<Stored> {
        let out = aitrail(&[
            "sql",
            "--store",
            self.store().to_str().unwrap(),
            "--format",
            "json",
            "SELECT count(*) AS rows, count(DISTINCT event_id) AS ids, \
             coalesce(sum(CASE WHEN event_id LIKE 'bad-%' THEN 1 ELSE 0 END), 0) AS invalid \
             FROM (SELECT event_id FROM ai_usage UNION ALL SELECT event_id FROM code_changes \
             UNION ALL SELECT event_id FROM incidents \
             UNION ALL SELECT event_id FROM code_reviews) AS events",
        ]);
        if !out.status.success() {
            return None;
        }
        let rows: Vec<Value> = serde_json::from_slice(&out.stdout).ok()?;
        let row = rows.first()?;
        Some(Stored {
            rows: row["rows"].as_u64()?,
            distinct_ids: row["ids"].as_u64()?,
            invalid: row["invalid"].as_u64()?,
        })
    }

    pub fn stored(&self) -> Stored {
        self.try_stored().expect("aitrail sql reads the store")
    }

    /// Waits until the store holds at least `rows` rows while `running`
    /// instances keep running.
    pub fn wait_stored(&self, rows: usize, running: &mut [&mut Ingest]) -> Stored {
        let logs: Vec<PathBuf> = running.iter().map(|i| i.log.clone()).collect();
        let last = std::cell::Cell::new(None);
        eventually(
            &format!("{rows} rows in the store"),
            deadline_for(rows),
            Duration::from_millis(1_000),
            || {
                for ingest in running.iter_mut() {
                    ingest.assert_running();
                }
                last.set(self.try_stored());
                last.get().filter(|s| s.rows >= rows as u64)
            },
            || {
                let mut context = format!("the store holds {:?}\n", last.get());
                for log in &logs {
                    context.push_str(&tail(log));
                }
                context
            },
        )
    }

    /// Every message of the dead-letter topic: waits for `at_least`, then
    /// until none has come for three seconds.
    pub fn dead_letters(&self, at_least: usize) -> Vec<Vec<u8>> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.broker.address)
            .set("group.id", "aitrail-e2e-dlq-reader")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut partitions = TopicPartitionList::new();
        partitions
            .add_partition_offset(DLQ, 0, Offset::Beginning)
            .unwrap();
        consumer.assign(&partitions).unwrap();
        let mut letters = Vec::new();
        let started = Instant::now();
        let mut last_seen = Instant::now();
        loop {
            match consumer.poll(Duration::from_millis(200)) {
                Some(Ok(message)) => {
                    letters.push(message.payload().unwrap_or_default().to_vec());
                    last_seen = Instant::now();
                }
                Some(Err(KafkaError::PartitionEOF(_))) | None => {}
                Some(Err(error)) => eprintln!("reading the dead-letter topic: {error}"),
            }
            if letters.len() >= at_least && last_seen.elapsed() > Duration::from_secs(3) {
                return letters;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "timed out waiting for {at_least} dead letters, got {}",
                letters.len()
            );
        }
    }
}

/// The dead letters, parsed; fails if any carries content or a secret.
pub fn parse_dead_letters(letters: &[Vec<u8>]) -> Vec<Value> {
    letters
        .iter()
        .map(|payload| {
            let text = std::str::from_utf8(payload).expect("a dead letter is UTF-8 JSON");
            assert!(
                !text.contains(CONTENT) && !text.contains(SECRET_PREFIX),
                "a dead letter carries content or a secret: {text}"
            );
            serde_json::from_str(text).expect("a dead letter is JSON")
        })
        .collect()
}

/// Dead letters per reason, each source (partition, offset) counted once.
pub fn rejects_by_reason(letters: &[Value]) -> BTreeMap<String, usize> {
    let mut sources: BTreeMap<String, BTreeSet<(i64, i64)>> = BTreeMap::new();
    for letter in letters {
        let source = &letter["source"];
        assert_eq!(source["topic"], EVENTS, "{letter}");
        sources
            .entry(letter["reason"].as_str().unwrap().to_string())
            .or_default()
            .insert((
                source["partition"].as_i64().unwrap(),
                source["offset"].as_i64().unwrap(),
            ));
    }
    sources
        .into_iter()
        .map(|(reason, sources)| (reason, sources.len()))
        .collect()
}

pub fn expected_rejects(input: &Input) -> BTreeMap<String, usize> {
    input
        .rejects
        .iter()
        .map(|(reason, count)| (reason.to_string(), *count))
        .collect()
}

/// The store holds each valid event exactly once and nothing else.
pub fn assert_exactly_once(site: &Site, input: &Input) {
    let expected = input.valid as u64;
    assert_eq!(
        site.stored(),
        Stored {
            rows: expected,
            distinct_ids: expected,
            invalid: 0,
        },
        "every valid event once, nothing invalid"
    );
}

/// A producer written by nobody here: confluent-kafka, keyed like a
/// collector, idempotent, lz4.
pub const PYTHON_PRODUCER: &str = r#"
import json, sys
from confluent_kafka import Producer

brokers, topic, path = sys.argv[1:4]
producer = Producer({"bootstrap.servers": brokers, "enable.idempotence": True,
                     "compression.type": "lz4", "linger.ms": 10})
failures = []
def delivered(err, msg):
    if err is not None:
        failures.append(str(err))
sent = 0
with open(path, "rb") as lines:
    for line in lines:
        line = line.strip()
        if not line:
            continue
        event = json.loads(line)
        key = "%s/%s" % (event["org_id"], event.get("user_id", ""))
        while True:
            try:
                producer.produce(topic, value=line, key=key, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
        sent += 1
left = producer.flush(60)
if failures or left:
    sys.exit("not delivered: %d left, failures %s" % (left, failures[:5]))
print(sent)
"#;
