//! Messages on their way to a Kafka topic, kept until the broker
//! acknowledges them, with a bound on how many are in flight.
//!
//! Every producer of aitrail uses it: the dead-letter topic, which must never
//! lose a reject and so sends a failed delivery again, and the reference
//! collector, which reports the failure.

use std::collections::VecDeque;

use futures::FutureExt;
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
        self.release_acknowledged().await?;
        while self.in_flight.len() >= self.max_in_flight {
            self.settle_oldest().await?;
        }
        loop {
            match self.producer.send_result(message.record(&self.topic)) {
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

    /// Lets go of the oldest messages the broker has already acknowledged,
    /// without waiting: a steady stream well under `max_in_flight` would
    /// otherwise keep that many delivered messages (a slow live stream's
    /// memory grew for the better part of an hour, benches/HISTORY.md).
    async fn release_acknowledged(&mut self) -> Result<(), KafkaError> {
        while let Some((_, delivery)) = self.in_flight.front_mut() {
            let Some(outcome) = delivery.now_or_never() else {
                return Ok(());
            };
            let (message, _) = self.in_flight.pop_front().expect("the front was just seen");
            if let Some(error) = failure(outcome) {
                self.redeliver(message, error).await?;
            }
        }
        Ok(())
    }

    /// Waits for the oldest delivery; a failed one is handled by
    /// [`Outbox::redeliver`].
    async fn settle_oldest(&mut self) -> Result<(), KafkaError> {
        let Some((message, delivery)) = self.in_flight.pop_front() else {
            return Ok(());
        };
        match failure(delivery.await) {
            None => Ok(()),
            Some(error) => self.redeliver(message, error).await,
        }
    }

    /// After a failed delivery of `message`: with [`OnFailure::Resend`] it is
    /// sent again, after a backoff, until it is delivered; otherwise the
    /// error is returned.
    async fn redeliver(&mut self, message: Outgoing, error: KafkaError) -> Result<(), KafkaError> {
        let mut error = error;
        let mut backoff = Backoff::default();
        loop {
            if self.on_failure == OnFailure::Fail {
                return Err(error);
            }
            tracing::warn!(topic = %self.topic, %error, "delivery failed; sending again");
            let delivery = loop {
                backoff.wait().await;
                match self.producer.send_result(message.record(&self.topic)) {
                    Ok(delivery) => break delivery,
                    Err((error, _)) => {
                        tracing::warn!(topic = %self.topic, %error, "cannot queue a message; retrying");
                    }
                }
            };
            match failure(delivery.await) {
                None => return Ok(()),
                Some(failed) => error = failed,
            }
        }
    }
}

/// The error of a finished delivery, `None` when the broker acknowledged it.
fn failure(outcome: <DeliveryFuture as Future>::Output) -> Option<KafkaError> {
    match outcome {
        Ok(Ok(_)) => None,
        Ok(Err((error, _))) => Some(error),
        Err(_) => Some(KafkaError::Canceled),
    }
}

impl Outgoing {
    /// The message as librdkafka's record to `topic`, for a producer that
    /// waits on its own deliveries (the collector answers a request only
    /// once all of its events are acknowledged).
    pub fn record<'a>(&'a self, topic: &'a str) -> FutureRecord<'a, [u8], [u8]> {
        let mut headers = OwnedHeaders::new_with_capacity(self.headers.len());
        for (key, value) in &self.headers {
            headers = headers.insert(Header {
                key,
                value: Some(value.as_bytes()),
            });
        }
        let mut record = FutureRecord::to(topic)
            .payload(self.payload.as_slice())
            .headers(headers);
        if let Some(key) = &self.key {
            record = record.key(key.as_slice());
        }
        record
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rdkafka::ClientConfig;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::Producer;

    use super::*;

    fn message(n: usize) -> Outgoing {
        Outgoing {
            key: None,
            payload: format!("event {n}").into_bytes(),
            headers: Vec::new(),
        }
    }

    #[tokio::test]
    async fn acknowledged_messages_are_let_go_long_before_the_bound() {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic("events", 1, 1).unwrap();
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", cluster.bootstrap_servers())
            .create()
            .unwrap();
        let mut outbox = Outbox::new(producer.clone(), "events", 1_000, OnFailure::Fail);
        for n in 0..100 {
            outbox.send(message(n)).await.unwrap();
        }
        producer.flush(Duration::from_secs(30)).unwrap();

        outbox.send(message(100)).await.unwrap();
        assert_eq!(outbox.in_flight(), 1, "only the message just sent is kept");
        outbox.flush().await.unwrap();
        assert_eq!(outbox.in_flight(), 0);
    }
}
