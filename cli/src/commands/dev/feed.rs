//! The synthetic collectors of `aitrail dev`: a backfill of generated
//! history, then a live stream of events stamped with the time they are
//! sent, both produced to the embedded broker as a real collector would.

use std::time::Duration;

use aitrail_kafka::outbox::{OnFailure, Outbox, Outgoing};
use aitrail_kafka::producer::{ProduceConfig, producer_config};
use aitrail_schemas::generator::{DayOutput, DayPlan, GenConfig, Organization, generate_day};
use aitrail_schemas::kafka_key::kafka_key_of_json;
use chrono::{DateTime, TimeDelta, Utc};
use rdkafka::error::KafkaError;
use rdkafka::producer::FutureProducer;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

/// Messages the feed leaves unacknowledged at most.
const MAX_IN_FLIGHT: usize = 50_000;

/// How often the live stream sends the events that fell due.
const LIVE_TICK: Duration = Duration::from_millis(100);

/// A producer of generated events to one topic.
pub struct Feed {
    outbox: Outbox,
    history: GenConfig,
    org: Organization,
}

impl Feed {
    /// A feed of the organization `history` describes, producing to
    /// `topic` on `brokers`.
    pub fn new(brokers: &str, topic: &str, history: GenConfig) -> Result<Self, KafkaError> {
        let config = ProduceConfig {
            brokers: brokers.to_string(),
            topic: topic.to_string(),
            compression: "lz4".to_string(),
            properties: Vec::new(),
        };
        let producer: FutureProducer = producer_config(&config).create()?;
        Ok(Feed {
            outbox: Outbox::new(producer, topic, MAX_IN_FLIGHT, OnFailure::Fail),
            org: history.organization(),
            history,
        })
    }

    /// Days of history [`Feed::backfill_day`] can produce.
    pub fn history_days(&self) -> u32 {
        self.history.days
    }

    /// Produces day number `day` of the history: the events `aitrail gen`
    /// writes for it, up to the history's clock. Returns how many it sent;
    /// the broker may not have acknowledged them yet (see [`Feed::flush`]).
    pub async fn backfill_day(&mut self, day: u32) -> Result<u64, KafkaError> {
        let mut output = DayOutput::default();
        let plan = DayPlan {
            day,
            date: self.history.start + TimeDelta::days(i64::from(day)),
            not_after: self.history.not_after,
        };
        self.make_day(&self.history.id_prefix(), &plan, &mut output);
        let mut sent = 0;
        for line in output.lines() {
            self.send(line.to_vec()).await?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Waits until the broker has acknowledged everything sent so far.
    pub async fn flush(&mut self) -> Result<(), KafkaError> {
        self.outbox.flush().await
    }

    /// Sends `rate` events a second until `shutdown` is cancelled: the
    /// organization's following days, each event stamped with the moment
    /// it is sent. `run` makes the event ids unique to this stream.
    pub async fn live(
        mut self,
        rate: f64,
        run: &str,
        shutdown: CancellationToken,
    ) -> Result<u64, KafkaError> {
        let id_prefix = format!("live-{run}-");
        let mut output = DayOutput::default();
        let mut cursor = 0;
        let mut day = self.history.days;
        let mut due = 0.0f64;
        let mut sent = 0u64;
        let per_tick = rate * LIVE_TICK.as_secs_f64();
        let mut tick = tokio::time::interval(LIVE_TICK);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            due += per_tick;
            while due >= 1.0 {
                let Some(line) = output.line(cursor) else {
                    let plan = DayPlan {
                        day,
                        date: Utc::now().date_naive(),
                        not_after: None,
                    };
                    self.make_day(&id_prefix, &plan, &mut output);
                    day += 1;
                    cursor = 0;
                    continue;
                };
                cursor += 1;
                if let Some(event) = restamp(line, Utc::now()) {
                    self.send(event).await?;
                    sent += 1;
                }
                due -= 1.0;
            }
        }
        self.outbox.flush().await?;
        Ok(sent)
    }

    /// The events of the planned day of the organization.
    fn make_day(&self, id_prefix: &str, plan: &DayPlan, output: &mut DayOutput) {
        generate_day(&self.org, self.history.seed, id_prefix, plan, output);
    }

    async fn send(&mut self, event: Vec<u8>) -> Result<(), KafkaError> {
        self.outbox
            .send(Outgoing {
                key: kafka_key_of_json(&event),
                payload: event,
                headers: Vec::new(),
            })
            .await
    }
}

/// The event moved in time so that it occurred at `now`; an incident's
/// `resolved_at` moves with it. `None` for a line that is not an event with
/// a valid `occurred_at` (the generator makes none).
fn restamp(line: &[u8], now: DateTime<Utc>) -> Option<Vec<u8>> {
    let mut event: Map<String, Value> = serde_json::from_slice(line).ok()?;
    let occurred_at = timestamp(event.get("occurred_at")?)?;
    let shift = now - occurred_at;
    for field in ["occurred_at", "resolved_at"] {
        if let Some(at) = event.get(field).and_then(timestamp) {
            let moved = (at + shift).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            event.insert(field.to_string(), Value::String(moved));
        }
    }
    serde_json::to_vec(&event).ok()
}

fn timestamp(value: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.as_str()?)
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restamp_moves_start_and_resolution_together() {
        let line = br#"{"event_type":"incident","occurred_at":"2026-01-01T10:00:00Z","resolved_at":"2026-01-01T12:30:00+01:00","severity":"sev2"}"#;
        let now = "2026-11-29T08:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let moved: Map<String, Value> =
            serde_json::from_slice(&restamp(line, now).unwrap()).unwrap();
        assert_eq!(moved["occurred_at"], "2026-11-29T08:00:00.000000Z");
        assert_eq!(moved["resolved_at"], "2026-11-29T09:30:00.000000Z");
        assert_eq!(moved["severity"], "sev2");
    }

    #[test]
    fn restamp_refuses_what_is_not_an_event() {
        let now = Utc::now();
        assert_eq!(restamp(b"not json", now), None);
        assert_eq!(restamp(br#"{"occurred_at":"yesterday"}"#, now), None);
    }
}
