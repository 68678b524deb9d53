//! What every endpoint does with what it received: map each record, pass
//! the event through the §3 validator, produce the valid ones and the
//! (redacted) rejects, and wait for Kafka's acknowledgement. HTTP and gRPC
//! share it, so both answer alike.

use std::time::Instant;

use aitrail_kafka::outbox::Outgoing;
use aitrail_ops::Observed;
use aitrail_schemas::kafka_key::kafka_key_of_value;
use aitrail_schemas::{RejectRecord, RejectSource, Validator, ValidatorConfig};
use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use crate::auth::{Client, Tokens};
use crate::delivery::{Delivery, Unavailable};
use crate::mapping::{Mapper, Record};
use crate::metrics::Metrics;
use crate::otlp::records::{count_data_points, each_log_record, each_span};

/// What became of a request's records, for OTLP's `partial_success`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Records refused (sent to the dead-letter topic).
    pub rejected: i64,
    /// Why, naming the first refused record's field; empty when none was.
    pub message: String,
}

impl Outcome {
    /// The OTLP answer to a logs export.
    pub fn logs_response(self) -> ExportLogsServiceResponse {
        ExportLogsServiceResponse {
            partial_success: (self.rejected > 0).then_some(ExportLogsPartialSuccess {
                rejected_log_records: self.rejected,
                error_message: self.message,
            }),
        }
    }

    /// The OTLP answer to a traces export.
    pub fn traces_response(self) -> ExportTraceServiceResponse {
        ExportTraceServiceResponse {
            partial_success: (self.rejected > 0).then_some(ExportTracePartialSuccess {
                rejected_spans: self.rejected,
                error_message: self.message,
            }),
        }
    }
}

/// The collector's shared state.
pub struct Collector {
    mapper: Mapper,
    validator: Validator,
    delivery: std::sync::Arc<Delivery>,
    tokens: Tokens,
    metrics: Metrics,
    max_body_bytes: usize,
}

impl Collector {
    /// A collector mapping with `mapper`, producing through `delivery`,
    /// admitting clients of `tokens`, refusing bodies over
    /// `max_body_bytes`.
    pub fn new(
        mapper: Mapper,
        delivery: std::sync::Arc<Delivery>,
        tokens: Tokens,
        max_body_bytes: usize,
    ) -> Self {
        Collector {
            mapper,
            validator: Validator::new(ValidatorConfig::default()),
            delivery,
            tokens,
            metrics: Metrics::default(),
            max_body_bytes,
        }
    }

    /// The client of an `Authorization` value, if its token is known.
    pub fn client(&self, authorization: Option<&str>) -> Option<Client> {
        self.tokens.client(authorization)
    }

    /// How records become events.
    pub fn mapper(&self) -> &Mapper {
        &self.mapper
    }

    /// The largest body accepted, after decompression.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// The collector's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Maps, validates and produces the log records of `request`.
    pub async fn logs(
        &self,
        request: &ExportLogsServiceRequest,
        client: &Client,
        endpoint: &str,
    ) -> Result<Outcome, Unavailable> {
        let mut batch = Batch::new("logs", endpoint, client);
        each_log_record(request, |record| batch.add(self, record));
        self.send(batch).await
    }

    /// Maps, validates and produces the spans of `request`.
    pub async fn traces(
        &self,
        request: &ExportTraceServiceRequest,
        client: &Client,
        endpoint: &str,
    ) -> Result<Outcome, Unavailable> {
        let mut batch = Batch::new("traces", endpoint, client);
        each_span(request, |record| batch.add(self, record));
        self.send(batch).await
    }

    /// Validates and produces events a webhook mapped, each with the id of
    /// its source record, sent by `client` (the webhook's source).
    pub async fn webhook_events(
        &self,
        signal: &'static str,
        events: Vec<(String, Vec<u8>)>,
        client: &Client,
        endpoint: &str,
    ) -> Result<Outcome, Unavailable> {
        let mut batch = Batch::new(signal, endpoint, client);
        for (record_id, json) in events {
            batch.push(self, &record_id, json);
        }
        self.send(batch).await
    }

    /// Counts the data points of `request` and drops them: the tools' log
    /// records already carry every count, and counting both would count
    /// twice.
    pub fn metrics_export(&self, request: &ExportMetricsServiceRequest) -> Outcome {
        self.metrics
            .count("metrics", "ignored", count_data_points(request));
        Outcome::default()
    }

    async fn send(&self, batch: Batch<'_>) -> Result<Outcome, Unavailable> {
        let started = Instant::now();
        self.delivery.deliver(&batch.events, &batch.rejects).await?;
        if !batch.events.is_empty() || !batch.rejects.is_empty() {
            self.metrics
                .ack_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        let signal = batch.signal;
        self.metrics.count(signal, "produced", batch.events.len());
        self.metrics.count(signal, "rejected", batch.rejects.len());
        self.metrics.count(signal, "ignored", batch.ignored);
        let rejected = batch.rejects.len() as i64;
        let message = match batch.first_problem {
            Some(problem) if rejected > 1 => {
                format!("{rejected} records rejected; the first: {problem}")
            }
            Some(problem) => format!("1 record rejected: {problem}"),
            None => String::new(),
        };
        Ok(Outcome { rejected, message })
    }
}

impl Observed for Collector {
    fn readiness(&self) -> Result<(), String> {
        if self.delivery.is_reachable() {
            Ok(())
        } else {
            Err("Kafka is unreachable".to_string())
        }
    }

    fn metrics(&self) -> String {
        self.metrics.encode()
    }
}

/// The messages one request produces.
struct Batch<'c> {
    signal: &'static str,
    endpoint: &'c str,
    client: &'c Client,
    now: DateTime<Utc>,
    events: Vec<Outgoing>,
    rejects: Vec<Outgoing>,
    ignored: usize,
    first_problem: Option<String>,
}

impl<'c> Batch<'c> {
    fn new(signal: &'static str, endpoint: &'c str, client: &'c Client) -> Self {
        Batch {
            signal,
            endpoint,
            client,
            now: Utc::now(),
            events: Vec::new(),
            rejects: Vec::new(),
            ignored: 0,
            first_problem: None,
        }
    }

    fn add(&mut self, collector: &Collector, record: &Record) {
        match collector.mapper.map(record, self.client, self.now) {
            Some(draft) => self.push(collector, record.event_id, draft.to_json()),
            None => self.ignored += 1,
        }
    }

    /// Validates the event `json` (derived from the source record
    /// `record_id`) and keeps it for its topic or, refused, for the
    /// dead-letter topic.
    fn push(&mut self, collector: &Collector, record_id: &str, json: Vec<u8>) {
        match collector.validator.validate(&json, self.now) {
            Ok(event) => {
                let key = Some(event.kafka_key());
                self.events.push(Outgoing {
                    key,
                    payload: json,
                    headers: Vec::new(),
                });
            }
            Err(rejection) => {
                collector
                    .metrics
                    .rejected
                    .get_or_create(&crate::metrics::ReasonLabel {
                        reason: rejection.reason.as_str(),
                    })
                    .inc();
                self.first_problem.get_or_insert_with(|| {
                    format!("{record_id}: {}: {}", rejection.reason, rejection.detail)
                });
                let source = RejectSource::Collector {
                    endpoint: self.endpoint.to_string(),
                    client: self.client.name.clone(),
                    record: record_id.to_string(),
                };
                let reject = RejectRecord::new(rejection, source, self.now);
                let key = reject.event.as_ref().and_then(kafka_key_of_value);
                self.rejects.push(Outgoing {
                    key,
                    payload: serde_json::to_vec(&reject).expect("a reject serializes"),
                    headers: Vec::new(),
                });
            }
        }
    }
}
