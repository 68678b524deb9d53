//! OTLP/HTTP (`POST /v1/logs`, `/v1/traces`, `/v1/metrics`) with the
//! answers of the OTLP/HTTP specification, beside the operations
//! endpoints.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::auth::Client;
use crate::collector::Collector;
use crate::delivery::{RETRY_AFTER_SECONDS, Unavailable};
use crate::otlp::body::{BodyError, Format, decompress, read_limited};
use crate::otlp::status::RpcStatus;

/// The collector's HTTP routes: OTLP and the operations endpoints.
pub fn router(collector: Arc<Collector>) -> Router {
    otlp_router(collector.clone()).merge(aitrail_ops::router(collector))
}

/// OTLP/HTTP alone.
fn otlp_router(collector: Arc<Collector>) -> Router {
    Router::new()
        .route("/v1/logs", post(logs))
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(metrics))
        .layer(DefaultBodyLimit::disable())
        .with_state(collector)
}

async fn logs(State(collector): State<Arc<Collector>>, headers: HeaderMap, body: Body) -> Response {
    let answer = async {
        let (client, format, request) =
            read::<ExportLogsServiceRequest>(&collector, &headers, body).await?;
        let outcome = collector
            .logs(&request, &client, "/v1/logs")
            .await
            .map_err(|e| unavailable(&e, format))?;
        let response = outcome.logs_response();
        Ok::<_, Response>(encoded(format, &response))
    };
    counted(&collector, "logs", answer.await)
}

async fn traces(
    State(collector): State<Arc<Collector>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = async {
        let (client, format, request) =
            read::<ExportTraceServiceRequest>(&collector, &headers, body).await?;
        let outcome = collector
            .traces(&request, &client, "/v1/traces")
            .await
            .map_err(|e| unavailable(&e, format))?;
        let response = outcome.traces_response();
        Ok::<_, Response>(encoded(format, &response))
    };
    counted(&collector, "traces", answer.await)
}

async fn metrics(
    State(collector): State<Arc<Collector>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = async {
        let (_, format, request) =
            read::<ExportMetricsServiceRequest>(&collector, &headers, body).await?;
        collector.metrics_export(&request);
        Ok::<_, Response>(encoded(format, &ExportMetricsServiceResponse::default()))
    };
    counted(&collector, "metrics", answer.await)
}

/// The client, the body's format and the decoded request; the answer to
/// give instead when any of them is wrong.
async fn read<T>(
    collector: &Collector,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Client, Format, T), Response>
where
    T: prost::Message + Default + serde::de::DeserializeOwned,
{
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let format = Format::of(text(header::CONTENT_TYPE));
    let Some(client) = collector.client(text(header::AUTHORIZATION)) else {
        let status = RpcStatus::unauthenticated("a bearer token of role `collector` is required");
        let answer_format = *format.as_ref().unwrap_or(&Format::Json);
        return Err(status.answer(StatusCode::UNAUTHORIZED, answer_format));
    };
    let format = format.map_err(|e| refused(&e, Format::Json))?;
    let limit = collector.max_body_bytes();
    let body = read_limited(body, limit)
        .await
        .map_err(|e| refused(&e, format))?;
    let body =
        decompress(body, text(header::CONTENT_ENCODING), limit).map_err(|e| refused(&e, format))?;
    let request = format.decode::<T>(&body).map_err(|e| refused(&e, format))?;
    Ok((client, format, request))
}

fn encoded<T: prost::Message + serde::Serialize>(format: Format, message: &T) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type())],
        format.encode(message),
    )
        .into_response()
}

fn refused(error: &BodyError, format: Format) -> Response {
    let status = match error {
        BodyError::MediaType(_) | BodyError::Encoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        BodyError::Malformed(_) => StatusCode::BAD_REQUEST,
    };
    RpcStatus::invalid_argument(&error.to_string()).answer(status, format)
}

fn unavailable(error: &Unavailable, format: Format) -> Response {
    let status = match error {
        Unavailable::QueueFull => StatusCode::TOO_MANY_REQUESTS,
        Unavailable::Kafka(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    let mut response = RpcStatus::unavailable(&error.to_string()).answer(status, format);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

/// `answer`, refusal or not, counted by its status.
pub(crate) fn counted(
    collector: &Collector,
    signal: &'static str,
    answer: Result<Response, Response>,
) -> Response {
    let response = answer.unwrap_or_else(|refusal| refusal);
    collector
        .metrics()
        .answered(signal, response.status().as_u16());
    response
}
