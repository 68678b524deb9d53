//! The `[ingest]` section of `aitrail.toml` (DESIGN §8), and what the ingest
//! requires of `[kafka]`: a group, and the few properties that would break
//! exactly-once left to it, each refusal naming the key.

use std::net::SocketAddr;
use std::time::Duration;

use aitrail_store::compact::{DEFAULT_FAN_IN, MergePolicy};
use chrono::TimeDelta;
use rdkafka::ClientConfig;
use serde::Deserialize;

pub use aitrail_kafka::{ConfigError, KafkaConfig};

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

/// Properties the ingest sets itself: it stores offsets in the tables and
/// commits the group's offsets only after each Delta commit.
const OWNED_PROPERTIES: [(&str, &str); 2] = [
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
];

/// Refuses a `[kafka]` section that lacks the brokers or the group, or that
/// sets a property the ingest must own to keep its guarantees.
pub fn check_kafka(kafka: &KafkaConfig) -> Result<(), ConfigError> {
    kafka.brokers()?;
    kafka.group_id()?;
    for (key, owned) in OWNED_PROPERTIES {
        if let Some(value) = kafka.get(key).filter(|v| *v != owned) {
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

/// librdkafka settings of the ingest's consumer: `[kafka]` as a consumer
/// takes it, plus the offsets settings the ingest owns.
pub fn ingest_consumer(kafka: &KafkaConfig) -> ClientConfig {
    let mut config = kafka.consumer();
    for (key, value) in OWNED_PROPERTIES {
        config.set(key, value);
    }
    config
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
            check_kafka(&missing).unwrap_err().key,
            "kafka.\"bootstrap.servers\""
        );
        let no_group = KafkaConfig::new([("bootstrap.servers", "b:9092")]);
        assert_eq!(
            check_kafka(&no_group).unwrap_err().key,
            "kafka.\"group.id\""
        );
        let auto = KafkaConfig::new([
            ("bootstrap.servers", "b:9092"),
            ("group.id", "g"),
            ("enable.auto.commit", "true"),
        ]);
        assert_eq!(
            check_kafka(&auto).unwrap_err().key,
            "kafka.\"enable.auto.commit\""
        );
        let owned = ingest_consumer(&KafkaConfig::new([("bootstrap.servers", "b:9092")]));
        assert_eq!(owned.get("enable.auto.commit"), Some("false"));
    }
}
