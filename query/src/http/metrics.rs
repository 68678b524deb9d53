//! The Prometheus metrics of the query service, served at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a request counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    /// The endpoint, e.g. `/v1/reports/adoption` (`other` for unknown
    /// paths, so a scanner cannot grow the label set).
    pub endpoint: String,
    /// The HTTP status answered.
    pub status: u16,
}

/// Labels of a latency histogram.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct EndpointLabel {
    /// The endpoint.
    pub endpoint: String,
}

type LatencyFamily = Family<EndpointLabel, Histogram, fn() -> Histogram>;

/// Every metric of the query service and the registry exposing them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `/v1` requests, by endpoint and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Seconds from a `/v1` request's arrival to its answer.
    pub seconds: LatencyFamily,
    /// Access-log flushes that failed (they are retried).
    pub access_log_failures: Counter,
    /// Bytes the reports' per-day sums hold between requests, as of the
    /// last scrape.
    pub report_sums_bytes: Gauge,
}

fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.002, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("aitrail_query");
        let requests = Family::<RequestLabels, Counter>::default();
        let seconds: LatencyFamily = Family::new_with_constructor(latency);
        let access_log_failures = Counter::default();
        let report_sums_bytes = Gauge::default();
        registry.register(
            "requests",
            "/v1 requests by endpoint and status",
            requests.clone(),
        );
        registry.register(
            "request_seconds",
            "Seconds from a /v1 request's arrival to its answer",
            seconds.clone(),
        );
        registry.register(
            "access_log_flush_failures",
            "Access-log flushes that failed and will be retried",
            access_log_failures.clone(),
        );
        registry.register(
            "report_sums_bytes",
            "Bytes the reports' per-day sums hold between requests",
            report_sums_bytes.clone(),
        );
        Metrics {
            registry,
            requests,
            seconds,
            access_log_failures,
            report_sums_bytes,
        }
    }
}

impl Metrics {
    /// Counts one answered request and its latency.
    pub fn observe(&self, endpoint: &str, status: u16, seconds: f64) {
        let endpoint = endpoint.to_string();
        self.seconds
            .get_or_create(&EndpointLabel {
                endpoint: endpoint.clone(),
            })
            .observe(seconds);
        self.requests
            .get_or_create(&RequestLabels { endpoint, status })
            .inc();
    }

    /// The metrics in the Prometheus text format.
    pub fn encode(&self) -> String {
        aitrail_ops::encode(&self.registry)
    }
}
