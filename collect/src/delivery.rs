//! Producing a request's events and waiting until Kafka has acknowledged
//! every one of them (DESIGN §9): the collector answers only then, so an
//! answered request is never lost. When Kafka does not acknowledge in
//! time, or is known to be down, the answer says to come back later; what
//! was queued may still arrive, and the resend is then a duplicate the
//! ingest drops.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aitrail_kafka::outbox::Outgoing;
use futures::future::join_all;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::types::RDKafkaErrorCode;
use tokio_util::sync::CancellationToken;

/// Why a request's events are not (yet) acknowledged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Unavailable {
    /// Kafka is unreachable or did not acknowledge in time: `503`.
    #[error("Kafka is unavailable: {0}")]
    Kafka(String),
    /// The producer's queue is full: `429`.
    #[error("the producer's queue is full; retry later")]
    QueueFull,
}

/// How long a client is asked to wait before retrying.
pub const RETRY_AFTER_SECONDS: u64 = 5;

/// The producer of the collector and what it knows of Kafka's health.
pub struct Delivery {
    producer: FutureProducer,
    topic: String,
    dlq_topic: String,
    ack_timeout: Duration,
    reachable: Arc<AtomicBool>,
}

impl Delivery {
    /// A delivery through `producer` to `topic` (rejects to `dlq_topic`),
    /// waiting at most `ack_timeout`; Kafka counts as unreachable until
    /// [`Delivery::watch`] has seen it.
    pub fn new(
        producer: FutureProducer,
        topic: String,
        dlq_topic: String,
        ack_timeout: Duration,
    ) -> Self {
        Delivery {
            producer,
            topic,
            dlq_topic,
            ack_timeout,
            reachable: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether Kafka answered the last time it was asked.
    pub fn is_reachable(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    /// Produces `events` and `rejects` and waits until all are
    /// acknowledged, or for the acknowledgement timeout.
    pub async fn deliver(
        &self,
        events: &[Outgoing],
        rejects: &[Outgoing],
    ) -> Result<(), Unavailable> {
        if events.is_empty() && rejects.is_empty() {
            return Ok(());
        }
        if !self.is_reachable() {
            return Err(Unavailable::Kafka("the brokers do not answer".to_string()));
        }
        let outgoing = events
            .iter()
            .map(|m| (m, self.topic.as_str()))
            .chain(rejects.iter().map(|m| (m, self.dlq_topic.as_str())));
        let mut deliveries = Vec::with_capacity(events.len() + rejects.len());
        for (message, topic) in outgoing {
            match self.producer.send_result(message.record(topic)) {
                Ok(delivery) => deliveries.push(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    return Err(Unavailable::QueueFull);
                }
                Err((error, _)) => return Err(Unavailable::Kafka(error.to_string())),
            }
        }
        let outcomes = tokio::time::timeout(self.ack_timeout, join_all(deliveries))
            .await
            .map_err(|_| {
                Unavailable::Kafka(format!(
                    "no acknowledgement within {} ms",
                    self.ack_timeout.as_millis()
                ))
            })?;
        for outcome in outcomes {
            match outcome {
                Ok(Ok(_)) => {}
                Ok(Err((error, _))) => return Err(Unavailable::Kafka(error.to_string())),
                Err(_) => return Err(Unavailable::Kafka("delivery cancelled".to_string())),
            }
        }
        Ok(())
    }

    /// Asks Kafka for the topic's metadata every `interval` (every quarter
    /// of it while unreachable) until `shutdown`, keeping
    /// [`Delivery::is_reachable`] and `/readyz` current.
    pub async fn watch(self: Arc<Self>, interval: Duration, shutdown: CancellationToken) {
        loop {
            let delivery = Arc::clone(&self);
            let timeout = interval.max(Duration::from_secs(1));
            let reachable = tokio::task::spawn_blocking(move || {
                delivery
                    .producer
                    .client()
                    .fetch_metadata(Some(&delivery.topic), timeout)
                    .is_ok()
            })
            .await
            .unwrap_or(false);
            if reachable != self.reachable.swap(reachable, Ordering::Relaxed) {
                if reachable {
                    tracing::info!(topic = %self.topic, "Kafka is reachable");
                } else {
                    tracing::warn!(topic = %self.topic, "Kafka is unreachable; answering 503");
                }
            }
            let pause = if reachable { interval } else { interval / 4 };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Waits until everything queued is acknowledged, for a clean stop.
    pub fn flush(&self) {
        if let Err(error) = self.producer.flush(self.ack_timeout) {
            tracing::warn!(%error, "events still queued at shutdown");
        }
    }
}
