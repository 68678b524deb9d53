//! Messages on their way to a Kafka topic, kept until the broker
//! acknowledges them, with a bound on how many are in flight.
//!
//! Both producers of aitrail use it: the dead-letter topic, which must never
//! lose a reject and so sends a failed delivery again, and the reference
//! collector, which reports the failure.

use std::collections::VecDeque;

use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;

use crate::backoff::Backoff;

/// A message to produce.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The partitioning key.
    pub key: Option<Vec<u8>>,
    /// The body.
    pub payload: Vec<u8>,
    /// Headers, name and value.
    pub headers: Vec<(&'static str, String)>,
}

/// What to do with a message the broker finally refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Send it again after a backoff, for as long as it takes.
    Resend,
    /// Report the error.
    Fail,
}

/// A producer to one topic with the messages it has not seen delivered.
pub struct Outbox {
    producer: FutureProducer,
    topic: String,
    in_flight: VecDeque<(Outgoing, DeliveryFuture)>,
    max_in_flight: usize,
    on_failure: OnFailure,
}

impl Outbox {
    /// An outbox producing to `topic` with at most `max_in_flight`
    /// unacknowledged messages.
    pub fn new(
        producer: FutureProducer,
        topic: &str,
        max_in_flight: usize,
        on_failure: OnFailure,
    ) -> Self {
        Outbox {
            producer,
            topic: topic.to_string(),
            in_flight: VecDeque::new(),
            max_in_flight: max_in_flight.max(1),
            on_failure,
        }
    }

    /// Messages sent and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Queues `message`, first waiting for the oldest deliveries when too
    /// many are in flight or librdkafka's queue is full.
    pub async fn send(&mut self, message: Outgoing) -> Result<(), KafkaError> {
        while self.in_flight.len() >= self.max_in_flight {
            self.settle_oldest().await?;
        }
        loop {
            match self.producer.send_result(record(&self.topic, &message)) {
                Ok(delivery) => {
                    self.in_flight.push_back((message, delivery));
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _))
                    if !self.in_flight.is_empty() =>
                {
                    self.settle_oldest().await?;
                }
                Err((error, _)) => {
                    if self.on_failure == OnFailure::Fail {
                        return Err(error);
                    }
                    tracing::warn!(topic = %self.topic, %error, "cannot queue a message; retrying");
                    Backoff::default().wait().await;
                }
            }
        }
    }

    /// Waits until every message sent is acknowledged by the broker.
    pub async fn flush(&mut self) -> Result<(), KafkaError> {
        while !self.in_flight.is_empty() {
            self.settle_oldest().await?;
        }
        Ok(())
    }

    /// Waits for the oldest delivery; with [`OnFailure::Resend`] a failed
    /// one is sent again, after a backoff, until it is delivered.
    async fn settle_oldest(&mut self) -> Result<(), KafkaError> {
        let Some((message, mut delivery)) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let mut backoff = Backoff::default();
        loop {
            let error = match delivery.await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err((error, _))) => error,
                Err(_) => KafkaError::Canceled,
            };
            if self.on_failure == OnFailure::Fail {
                return Err(error);
            }
            tracing::warn!(topic = %self.topic, %error, "delivery failed; sending again");
            delivery = loop {
                backoff.wait().await;
                match self.producer.send_result(record(&self.topic, &message)) {
                    Ok(delivery) => break delivery,
                    Err((error, _)) => {
                        tracing::warn!(topic = %self.topic, %error, "cannot queue a message; retrying");
                    }
                }
            };
        }
    }
}

fn record<'a>(topic: &'a str, message: &'a Outgoing) -> FutureRecord<'a, [u8], [u8]> {
    let mut headers = OwnedHeaders::new_with_capacity(message.headers.len());
    for (key, value) in &message.headers {
        headers = headers.insert(Header {
            key,
            value: Some(value.as_bytes()),
        });
    }
    let mut record = FutureRecord::to(topic)
        .payload(message.payload.as_slice())
        .headers(headers);
    if let Some(key) = &message.key {
        record = record.key(key.as_slice());
    }
    record
}
