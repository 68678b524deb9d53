//! The reference collector: JSONL events onto a Kafka topic, the way
//! collectors are expected to send them (DESIGN §1) — an idempotent,
//! compressing producer, each message keyed `org_id/user_id` so that one
//! user's events stay in order on one partition.

use std::io::BufRead;

use aitrail_schemas::kafka_key::kafka_key_of_json;
use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureProducer;

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
                key: kafka_key_of_json(event),
                payload: event.to_vec(),
                headers: Vec::new(),
            })
            .await?;
        sent += 1;
    }
    outbox.flush().await?;
    Ok(sent)
}
