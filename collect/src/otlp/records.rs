//! The records of an OTLP export, each with the event id derived from its
//! content: a digest of its resource, its scope and the record itself as
//! protobuf, so the same record sent again — over HTTP or gRPC, in
//! protobuf or JSON — gets the same id, and the ingest drops the resend.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use sha2::{Digest, Sha256};

use super::attributes::Attributes;
use crate::mapping::Record;

/// Hex digits of the digest kept in an event id.
const EVENT_ID_HEX_DIGITS: usize = 40;

/// Calls `each` with every log record of `request`.
pub fn each_log_record(request: &ExportLogsServiceRequest, mut each: impl FnMut(&Record)) {
    for resource_logs in &request.resource_logs {
        let (resource, resource_digest) = resource_of(resource_logs.resource.as_ref());
        for scope_logs in &resource_logs.scope_logs {
            let scope = scope_name(scope_logs.scope.as_ref());
            for log in &scope_logs.log_records {
                let event_id = event_id(&resource_digest, scope, &log.encode_to_vec());
                let name = match log.body.as_ref().and_then(|b| b.value.as_ref()) {
                    Some(AnyValue::StringValue(body)) => body.as_str(),
                    _ => "",
                };
                each(&Record {
                    resource,
                    attributes: Attributes(&log.attributes),
                    scope,
                    name,
                    time_unix_nano: log.time_unix_nano,
                    observed_unix_nano: log.observed_time_unix_nano,
                    is_span: false,
                    event_id: &event_id,
                });
            }
        }
    }
}

/// Calls `each` with every span of `request`.
pub fn each_span(request: &ExportTraceServiceRequest, mut each: impl FnMut(&Record)) {
    for resource_spans in &request.resource_spans {
        let (resource, resource_digest) = resource_of(resource_spans.resource.as_ref());
        for scope_spans in &resource_spans.scope_spans {
            let scope = scope_name(scope_spans.scope.as_ref());
            for span in &scope_spans.spans {
                let event_id = event_id(&resource_digest, scope, &span.encode_to_vec());
                each(&Record {
                    resource,
                    attributes: Attributes(&span.attributes),
                    scope,
                    name: &span.name,
                    time_unix_nano: span.end_time_unix_nano,
                    observed_unix_nano: span.start_time_unix_nano,
                    is_span: true,
                    event_id: &event_id,
                });
            }
        }
    }
}

/// The number of log records in `request`.
pub fn count_log_records(request: &ExportLogsServiceRequest) -> usize {
    let scopes = request.resource_logs.iter().flat_map(|r| &r.scope_logs);
    scopes.map(|s| s.log_records.len()).sum()
}

/// The number of spans in `request`.
pub fn count_spans(request: &ExportTraceServiceRequest) -> usize {
    let scopes = request.resource_spans.iter().flat_map(|r| &r.scope_spans);
    scopes.map(|s| s.spans.len()).sum()
}

/// The number of data points in `request`: metrics are counted and
/// dropped, since the tools' logs already carry every count (DESIGN §9).
pub fn count_data_points(request: &ExportMetricsServiceRequest) -> usize {
    use opentelemetry_proto::tonic::metrics::v1::metric::Data;
    let metrics = request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics);
    metrics
        .map(|metric| match &metric.data {
            Some(Data::Gauge(g)) => g.data_points.len(),
            Some(Data::Sum(s)) => s.data_points.len(),
            Some(Data::Histogram(h)) => h.data_points.len(),
            Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
            Some(Data::Summary(s)) => s.data_points.len(),
            None => 0,
        })
        .sum()
}

fn resource_of(resource: Option<&Resource>) -> (Attributes<'_>, [u8; 32]) {
    let attributes = Attributes(resource.map(|r| r.attributes.as_slice()).unwrap_or(&[]));
    let digest = Sha256::digest(resource.map(Message::encode_to_vec).unwrap_or_default());
    (attributes, digest.into())
}

fn scope_name(scope: Option<&InstrumentationScope>) -> &str {
    scope.map(|s| s.name.as_str()).unwrap_or("")
}

/// `otlp:` and hex digits of SHA-256 over the resource's digest, the
/// scope's name and the record's protobuf encoding.
fn event_id(resource_digest: &[u8; 32], scope: &str, record: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(resource_digest);
    hasher.update((scope.len() as u64).to_le_bytes());
    hasher.update(scope.as_bytes());
    hasher.update(record);
    let digest = hex::encode(hasher.finalize());
    format!("otlp:{}", &digest[..EVENT_ID_HEX_DIGITS])
}
