//! The reference collector: JSONL events onto a Kafka topic, the way
//! collectors are expected to send them (DESIGN §1) — an idempotent,
//! compressing producer, each message keyed `org_id/user_id` so that one
//! user's events stay in order on one partition.

use std::borrow::Cow;
use std::io::BufRead;

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureProducer;
use serde::Deserialize;
use serde_json::Value;

use crate::outbox::{OnFailure, Outbox, Outgoing};

/// Where and how to produce.
#[derive(Debug, Clone)]
pub struct ProduceConfig {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// The topic.
    pub topic: String,
    /// `compression.type`: `none`, `gzip`, `lz4`, `zstd` or `snappy`.
    pub compression: String,
    /// Further librdkafka properties, e.g. SASL or TLS settings.
    pub properties: Vec<(String, String)>,
}

/// The collector could not produce.
#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    /// The input could not be read.
    #[error("cannot read the input: {0}")]
    Read(#[from] std::io::Error),
    /// The producer could not be created or a message was not delivered.
    #[error("kafka: {0}")]
    Kafka(#[from] KafkaError),
}

/// Messages in flight at most, so that a large file does not sit in memory.
const MAX_IN_FLIGHT: usize = 100_000;

/// The librdkafka settings of the collector.
pub fn producer_config(config: &ProduceConfig) -> ClientConfig {
    let mut client = ClientConfig::new();
    client
        .set("bootstrap.servers", &config.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", &config.compression)
        .set("linger.ms", "20");
    for (key, value) in &config.properties {
        client.set(key, value);
    }
    client
}

/// Produces every non-blank line of `input` as one message and waits until
/// all are acknowledged; returns how many were sent.
pub async fn produce_lines(
    config: &ProduceConfig,
    input: &mut (dyn BufRead + Send),
) -> Result<u64, ProduceError> {
    let producer: FutureProducer = producer_config(config).create()?;
    let mut outbox = Outbox::new(producer, &config.topic, MAX_IN_FLIGHT, OnFailure::Fail);
    let mut sent = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let event = line.trim_ascii();
        if event.is_empty() {
            continue;
        }
        outbox
            .send(Outgoing {
                key: event_key(event),
                payload: event.to_vec(),
                headers: Vec::new(),
            })
            .await?;
        sent += 1;
    }
    outbox.flush().await?;
    Ok(sent)
}

#[derive(Deserialize)]
struct KeyFields<'a> {
    #[serde(borrow)]
    org_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user_id: Option<Cow<'a, str>>,
}

impl KeyFields<'_> {
    fn key(self) -> Vec<u8> {
        let org_id = self.org_id.unwrap_or_default();
        let user_id = self.user_id.unwrap_or_default();
        format!("{org_id}/{user_id}").into_bytes()
    }
}

/// The partitioning key of an event, `org_id/user_id` (`org_id/` for an
/// event without a user); `None` when it is not a JSON object, which the
/// ingest will reject anyway.
pub fn event_key(event: &[u8]) -> Option<Vec<u8>> {
    serde_json::from_slice(event).ok().map(KeyFields::key)
}

/// [`event_key`] of an event already parsed.
pub fn event_key_of(event: &Value) -> Option<Vec<u8>> {
    KeyFields::deserialize(event).ok().map(KeyFields::key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_org_and_user() {
        let event = br#"{"org_id":"acme","user_id":"u1","event_type":"ai_usage"}"#;
        assert_eq!(event_key(event).as_deref(), Some(&b"acme/u1"[..]));
        let incident = br#"{"org_id":"acme","event_type":"incident"}"#;
        assert_eq!(event_key(incident).as_deref(), Some(&b"acme/"[..]));
        assert_eq!(event_key(b"not json"), None);
        let parsed: Value = serde_json::from_slice(event).unwrap();
        assert_eq!(event_key_of(&parsed), event_key(event));
    }
}
