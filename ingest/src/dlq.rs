//! The dead-letter topic: every rejected message goes there as the DESIGN §3
//! record (its event already redacted), with headers naming the reason and
//! the source topic, partition and offset.
//!
//! A reject is never lost: the batch holding its offset is committed only
//! after [`DeadLetters::deliver`] has seen every dead letter acknowledged,
//! and a failed delivery is sent again. After a crash a reject may appear
//! twice (at least once), never zero times.

use aitrail_schemas::{RejectRecord, RejectSource, Rejection};
use chrono::{DateTime, Utc};
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureProducer;

use crate::partitions::TopicPartition;
use aitrail_kafka::outbox::{OnFailure, Outbox, Outgoing};

/// Header naming the reject reason.
pub const REASON_HEADER: &str = "aitrail.reason";
/// Header naming the topic the message was read from.
pub const TOPIC_HEADER: &str = "aitrail.source.topic";
/// Header naming the partition the message was read from.
pub const PARTITION_HEADER: &str = "aitrail.source.partition";
/// Header naming the offset the message was read at.
pub const OFFSET_HEADER: &str = "aitrail.source.offset";

/// Dead letters awaiting the broker's acknowledgement are bounded so that a
/// flood of rejects cannot grow memory without limit.
const MAX_IN_FLIGHT: usize = 10_000;

/// The producer of the dead-letter topic.
pub struct DeadLetters {
    outbox: Outbox,
}

impl DeadLetters {
    /// Dead letters produced by `producer` (idempotent, `acks=all`) to `topic`.
    pub fn new(producer: FutureProducer, topic: &str) -> Self {
        DeadLetters {
            outbox: Outbox::new(producer, topic, MAX_IN_FLIGHT, OnFailure::Resend),
        }
    }

    /// Sends the record of `rejection`, read at `offset` of `source` with
    /// `key`, keeping the original key so a user's rejects stay in order.
    pub async fn send(
        &mut self,
        rejection: Rejection,
        source: &TopicPartition,
        offset: i64,
        key: Option<&[u8]>,
        received_at: DateTime<Utc>,
    ) -> Result<(), KafkaError> {
        let reason = rejection.reason;
        let record = RejectRecord::new(
            rejection,
            RejectSource::Kafka {
                topic: source.topic.to_string(),
                partition: source.partition,
                offset,
            },
            received_at,
        );
        let payload =
            serde_json::to_vec(&record).expect("a reject record always serializes to JSON");
        self.outbox
            .send(Outgoing {
                key: key.map(<[u8]>::to_vec),
                payload,
                headers: vec![
                    (REASON_HEADER, reason.as_str().to_string()),
                    (TOPIC_HEADER, source.topic.to_string()),
                    (PARTITION_HEADER, source.partition.to_string()),
                    (OFFSET_HEADER, offset.to_string()),
                ],
            })
            .await
    }

    /// Waits until every dead letter sent is acknowledged; failed deliveries
    /// are sent again until they succeed.
    pub async fn deliver(&mut self) -> Result<(), KafkaError> {
        self.outbox.flush().await
    }
}
