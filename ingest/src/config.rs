//! The `[ingest]` and `[kafka]` sections of `aitrail.toml` (DESIGN §8).
//!
//! `[kafka]` is passed to librdkafka untouched, so SASL, TLS and tuning work
//! the way Kafka users expect; only the few properties that would break
//! exactly-once are refused, naming the key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use aitrail_store::compact::{DEFAULT_FAN_IN, MergePolicy};
use chrono::TimeDelta;
use rdkafka::ClientConfig;
use serde::Deserialize;

/// A configuration value that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    /// The offending key, e.g. `ingest.topics` or `kafka."group.id"`.
    pub key: String,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// The `[ingest]` section: what to read, where rejects go, when to flush.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Topics to consume.
    pub topics: Vec<String>,
    /// The dead-letter topic.
    pub dlq_topic: String,
    /// Flush at this many rows.
    pub max_batch_rows: usize,
    /// Flush at this many input bytes.
    pub max_batch_bytes: usize,
    /// Flush when the oldest message of the batch is this old.
    pub max_batch_age_ms: u64,
    /// How far ahead of the ingest clock `occurred_at` may be.
    pub max_future_skew_s: u64,
    /// An `event_id` already stored this close in time is a duplicate.
    pub dedup_window_hours: u64,
    /// A table that got no rows in a flush records the batch's offsets only
    /// once its last commit is this old (and at shutdown): the commits
    /// follow the data, and a crash costs at most this much replay.
    pub idle_commit_interval_s: u64,
    /// Continuous compaction: this many files of one size class in a
    /// partition being written are merged into one (0: never; see
    /// `aitrail_store::compact`).
    pub compact_fan_in: usize,
    /// Address of `/metrics`, `/healthz` and `/readyz`.
    pub listen: SocketAddr,
}

impl Default for IngestConfig {
    /// The defaults of DESIGN §8.
    fn default() -> Self {
        IngestConfig {
            topics: vec!["ai-audit.events".to_string()],
            dlq_topic: "ai-audit.events.dlq".to_string(),
            max_batch_rows: 100_000,
            max_batch_bytes: 64 << 20,
            max_batch_age_ms: 10_000,
            max_future_skew_s: 300,
            dedup_window_hours: 24,
            idle_commit_interval_s: 300,
            compact_fan_in: DEFAULT_FAN_IN,
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
        }
    }
}

impl IngestConfig {
    /// Refuses values the service cannot run with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.topics.is_empty() {
            return Err(ConfigError::new("ingest.topics", "name at least one topic"));
        }
        if let Some(topic) = self.topics.iter().find(|t| t.trim().is_empty()) {
            return Err(ConfigError::new(
                "ingest.topics",
                format!("`{topic}` is not a topic name"),
            ));
        }
        if self.dlq_topic.trim().is_empty() {
            return Err(ConfigError::new("ingest.dlq_topic", "must not be empty"));
        }
        if self.topics.contains(&self.dlq_topic) {
            return Err(ConfigError::new(
                "ingest.dlq_topic",
                format!(
                    "`{}` is also in ingest.topics: rejects would be read again",
                    self.dlq_topic
                ),
            ));
        }
        for (key, value) in [
            ("ingest.max_batch_rows", self.max_batch_rows as u64),
            ("ingest.max_batch_bytes", self.max_batch_bytes as u64),
            ("ingest.max_batch_age_ms", self.max_batch_age_ms),
            ("ingest.dedup_window_hours", self.dedup_window_hours),
        ] {
            if value == 0 {
                return Err(ConfigError::new(key, "must be at least 1"));
            }
        }
        Ok(())
    }

    /// The longest a consumed message waits before its batch is flushed.
    pub fn max_batch_age(&self) -> Duration {
        Duration::from_millis(self.max_batch_age_ms)
    }

    /// How long a table without new rows may go without recording offsets.
    pub fn idle_commit_interval(&self) -> Duration {
        Duration::from_secs(self.idle_commit_interval_s)
    }

    /// When the partitions the ingest writes have their small files merged.
    pub fn merge_policy(&self) -> MergePolicy {
        MergePolicy {
            fan_in: self.compact_fan_in,
            ..MergePolicy::default()
        }
    }

    /// The dedup window as a time span.
    pub fn dedup_window(&self) -> TimeDelta {
        TimeDelta::hours(i64::try_from(self.dedup_window_hours).unwrap_or(i64::MAX / 3_600_000))
    }

    /// The allowed future skew as a time span.
    pub fn max_future_skew(&self) -> TimeDelta {
        TimeDelta::seconds(i64::try_from(self.max_future_skew_s).unwrap_or(i64::MAX / 1000))
    }
}

/// A `[kafka]` value: TOML lets users write numbers and booleans unquoted.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum KafkaValue {
    Text(String),
    Integer(i64),
    Float(f64),
    Flag(bool),
}

impl KafkaValue {
    fn into_property(self) -> String {
        match self {
            KafkaValue::Text(text) => text,
            KafkaValue::Integer(n) => n.to_string(),
            KafkaValue::Float(x) => x.to_string(),
            KafkaValue::Flag(b) => b.to_string(),
        }
    }
}

/// The `[kafka]` section: librdkafka properties, passed through untouched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaConfig {
    properties: BTreeMap<String, String>,
}

impl<'de> Deserialize<'de> for KafkaConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let values = BTreeMap::<String, KafkaValue>::deserialize(deserializer)?;
        Ok(KafkaConfig {
            properties: values
                .into_iter()
                .map(|(key, value)| (key, value.into_property()))
                .collect(),
        })
    }
}

/// Properties the ingest sets itself: it stores offsets in the tables and
/// commits the group's offsets only after each Delta commit.
const OWNED_PROPERTIES: [(&str, &str); 2] = [
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
];

impl KafkaConfig {
    /// A configuration of the given properties.
    pub fn new<K: Into<String>, V: Into<String>>(
        properties: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        KafkaConfig {
            properties: properties
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }

    /// The consumer group, required: offsets are recorded per group.
    pub fn group_id(&self) -> Result<&str, ConfigError> {
        self.get("group.id")
            .filter(|g| !g.trim().is_empty())
            .ok_or_else(|| ConfigError::new("kafka.\"group.id\"", "required: the consumer group"))
    }

    /// Refuses a configuration that lacks the brokers or the group, or that
    /// sets a property the ingest must own to keep its guarantees.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self
            .get("bootstrap.servers")
            .is_none_or(|b| b.trim().is_empty())
        {
            return Err(ConfigError::new(
                "kafka.\"bootstrap.servers\"",
                "required: the brokers to connect to",
            ));
        }
        self.group_id()?;
        for (key, owned) in OWNED_PROPERTIES {
            if let Some(value) = self.get(key).filter(|v| *v != owned) {
                return Err(ConfigError::new(
                    format!("kafka.\"{key}\""),
                    format!(
                        "`{value}` is not allowed: the ingest records offsets in the store and \
                         commits them to the group only after each store commit"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// librdkafka settings of the consumer: every property as given, plus
    /// the offsets settings the ingest owns and statistics for the lag gauge.
    pub fn consumer(&self) -> ClientConfig {
        let mut config = self.client();
        for (key, value) in OWNED_PROPERTIES {
            config.set(key, value);
        }
        for (key, value) in CONSUMER_DEFAULTS {
            if self.get(key).is_none() {
                config.set(key, value);
            }
        }
        config
    }

    /// librdkafka settings of the dead-letter producer: the connection
    /// properties as given, without the consumer's own (librdkafka would
    /// ignore them with a warning at every start), idempotent and
    /// acknowledged by all in-sync replicas.
    pub fn producer(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in &self.properties {
            if !CONSUMER_ONLY.contains(&key.as_str()) {
                config.set(key, value);
            }
        }
        config.set("enable.idempotence", "true");
        config.set("acks", "all");
        config
    }

    fn client(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }
}

/// Properties of a consumer that an aitrail configuration commonly sets
/// and a producer does not know.
const CONSUMER_ONLY: [&str; 5] = [
    "group.id",
    "group.instance.id",
    "auto.offset.reset",
    "session.timeout.ms",
    "max.poll.interval.ms",
];

/// Consumer settings aitrail chooses unless `[kafka]` sets them.
/// - `fetch.queue.backoff.ms`: once its prefetch queue is full, librdkafka
///   waits this long before fetching the partition again. Its default,
///   1 s, starves a consumer that drains the queue in a fraction of that;
///   at 10 ms the queue refills in time.
/// - `queued.max.messages.kbytes`: the prefetch queue, 32 MiB instead of
///   64 MiB, which with the shorter backoff keeps the pace and leaves the
///   memory to the batch being built.
/// - `fetch.wait.max.ms`: how long a broker may hold a fetch. Kafka answers
///   as soon as it has data, so this only paces idle polling; tansu holds
///   every fetch this long, which at librdkafka's 500 ms capped any
///   consumer (Python's confluent-kafka included) near 200k events/s.
///
/// Measured in benches/README.md (host C, "the consumer's prefetch").
const CONSUMER_DEFAULTS: [(&str, &str); 4] = [
    ("statistics.interval.ms", "5000"),
    ("fetch.queue.backoff.ms", "10"),
    ("queued.max.messages.kbytes", "32768"),
    ("fetch.wait.max.ms", "100"),
];

/// Turns librdkafka's refusal of a property into an error naming the key.
pub fn kafka_config_error(err: &rdkafka::error::KafkaError) -> Option<ConfigError> {
    match err {
        rdkafka::error::KafkaError::ClientConfig(_, description, key, _) => Some(ConfigError::new(
            format!("kafka.\"{key}\""),
            description.clone(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_design() {
        let config = IngestConfig::default();
        assert_eq!(config.topics, ["ai-audit.events"]);
        assert_eq!(config.max_batch_bytes, 67_108_864);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn dlq_topic_must_not_be_consumed() {
        let config = IngestConfig {
            dlq_topic: "ai-audit.events".into(),
            ..IngestConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.key, "ingest.dlq_topic");
    }

    #[test]
    fn kafka_requires_brokers_and_group_and_refuses_auto_commit() {
        let missing = KafkaConfig::new([("group.id", "g")]);
        assert_eq!(
            missing.validate().unwrap_err().key,
            "kafka.\"bootstrap.servers\""
        );
        let no_group = KafkaConfig::new([("bootstrap.servers", "b:9092")]);
        assert_eq!(no_group.validate().unwrap_err().key, "kafka.\"group.id\"");
        let auto = KafkaConfig::new([
            ("bootstrap.servers", "b:9092"),
            ("group.id", "g"),
            ("enable.auto.commit", "true"),
        ]);
        assert_eq!(
            auto.validate().unwrap_err().key,
            "kafka.\"enable.auto.commit\""
        );
    }

    #[test]
    fn kafka_values_of_any_toml_type_become_properties() {
        let config: KafkaConfig = serde_json::from_str(
            r#"{"bootstrap.servers": "b:9092", "group.id": "g", "fetch.max.bytes": 1048576, "enable.partition.eof": false}"#,
        )
        .unwrap();
        assert_eq!(config.get("fetch.max.bytes"), Some("1048576"));
        assert_eq!(config.get("enable.partition.eof"), Some("false"));
    }

    #[test]
    fn the_consumer_gets_aitrail_defaults_that_the_configuration_overrides() {
        let defaults = KafkaConfig::new([("bootstrap.servers", "b:9092"), ("group.id", "g")]);
        let consumer = defaults.consumer();
        for (key, value) in CONSUMER_DEFAULTS {
            assert_eq!(consumer.get(key), Some(value), "{key}");
        }
        assert_eq!(defaults.producer().get("fetch.queue.backoff.ms"), None);

        let chosen = KafkaConfig::new([
            ("bootstrap.servers", "b:9092"),
            ("group.id", "g"),
            ("fetch.wait.max.ms", "500"),
        ]);
        assert_eq!(chosen.consumer().get("fetch.wait.max.ms"), Some("500"));
    }

    #[test]
    fn the_dead_letter_producer_gets_the_connection_but_not_the_consumer_properties() {
        let config = KafkaConfig::new([
            ("bootstrap.servers", "b:9092"),
            ("security.protocol", "SASL_SSL"),
            ("group.id", "g"),
            ("auto.offset.reset", "earliest"),
        ]);
        let producer = config.producer();
        assert_eq!(producer.get("bootstrap.servers"), Some("b:9092"));
        assert_eq!(producer.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(producer.get("group.id"), None);
        assert_eq!(producer.get("auto.offset.reset"), None);
        assert_eq!(config.consumer().get("group.id"), Some("g"));
    }
}
