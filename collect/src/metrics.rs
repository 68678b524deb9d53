//! The Prometheus metrics of the collector, served at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of what happened to received records.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RecordLabels {
    /// `logs`, `traces`, `metrics` or a webhook's source.
    pub signal: &'static str,
    /// `produced`, `rejected` or `ignored`.
    pub outcome: &'static str,
}

/// Labels of answered requests.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    /// `logs`, `traces`, `metrics` or a webhook's source.
    pub signal: &'static str,
    /// The HTTP status (gRPC answers are counted by their HTTP equivalent).
    pub status: u16,
}

/// Labels of a per-reason counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The reject reason's wire name.
    pub reason: &'static str,
}

/// Every metric of the collector and the registry that exposes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Records (and data points) received, by what became of them.
    pub records: Family<RecordLabels, Counter>,
    /// Requests answered, by status.
    pub requests: Family<RequestLabels, Counter>,
    /// Mapped events the validator refused, by reason.
    pub rejected: Family<ReasonLabel, Counter>,
    /// Seconds from a request's first event produced to the last one
    /// acknowledged.
    pub ack_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("aitrail_collect");
        let metrics = Metrics {
            registry: Registry::default(),
            records: Family::default(),
            requests: Family::default(),
            rejected: Family::default(),
            ack_seconds: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
        };
        registry.register(
            "records",
            "Records received, by signal and outcome",
            metrics.records.clone(),
        );
        registry.register(
            "requests",
            "Requests answered, by signal and status",
            metrics.requests.clone(),
        );
        registry.register(
            "rejected",
            "Mapped events refused by the validator, by reason",
            metrics.rejected.clone(),
        );
        registry.register(
            "ack_seconds",
            "Seconds until Kafka acknowledged a request's events",
            metrics.ack_seconds.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }
}

impl Metrics {
    /// Counts `n` records of `signal` with `outcome`.
    pub fn count(&self, signal: &'static str, outcome: &'static str, n: usize) {
        if n > 0 {
            self.records
                .get_or_create(&RecordLabels { signal, outcome })
                .inc_by(n as u64);
        }
    }

    /// Counts one answer.
    pub fn answered(&self, signal: &'static str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels { signal, status })
            .inc();
    }

    /// Everything in Prometheus' text format.
    pub fn encode(&self) -> String {
        aitrail_ops::encode(&self.registry)
    }
}
