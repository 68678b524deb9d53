//! The `[kafka]` section of `aitrail.toml` (DESIGN §8), shared by every
//! service that talks to Kafka.
//!
//! It is passed to librdkafka untouched, so SASL, TLS and tuning work the
//! way Kafka users expect; a property librdkafka refuses is reported naming
//! the key ([`kafka_config_error`]).

use std::collections::BTreeMap;

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
    /// The error of `key`.
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            problem: problem.into(),
        }
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

    /// The brokers, required by every client.
    pub fn brokers(&self) -> Result<&str, ConfigError> {
        self.get("bootstrap.servers")
            .filter(|b| !b.trim().is_empty())
            .ok_or_else(|| {
                ConfigError::new(
                    "kafka.\"bootstrap.servers\"",
                    "required: the brokers to connect to",
                )
            })
    }

    /// librdkafka settings of a consumer: every property as given, plus
    /// aitrail's defaults where the configuration sets none.
    pub fn consumer(&self) -> ClientConfig {
        let mut config = self.client();
        for (key, value) in CONSUMER_DEFAULTS {
            if self.get(key).is_none() {
                config.set(key, value);
            }
        }
        config
    }

    /// librdkafka settings of a producer: the connection properties as
    /// given, without the consumer's own (librdkafka would ignore them with
    /// a warning at every start), idempotent and acknowledged by all
    /// in-sync replicas.
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

    /// Every property as given.
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
/// Measured in benches/HISTORY.md (host C, "the consumer's prefetch").
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
        assert_eq!(config.brokers().unwrap(), "b:9092");
        assert_eq!(
            KafkaConfig::new([("group.id", "g")])
                .brokers()
                .unwrap_err()
                .key,
            "kafka.\"bootstrap.servers\""
        );
    }
}
