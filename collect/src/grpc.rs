//! OTLP/gRPC: the logs, trace and metrics services, with the bearer token in
//! the `authorization` metadata and the same answers as OTLP/HTTP in gRPC
//! codes (`UNAUTHENTICATED`, `UNAVAILABLE`, `RESOURCE_EXHAUSTED`).

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use crate::auth::Client;
use crate::collector::Collector;
use crate::delivery::Unavailable;

/// The three OTLP services over one collector.
struct Grpc {
    collector: Arc<Collector>,
}

impl Grpc {
    /// The client of a request's `authorization` metadata.
    fn client<T>(&self, request: &Request<T>) -> Result<Client, Status> {
        let authorization = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        self.collector.client(authorization).ok_or_else(|| {
            Status::unauthenticated("a bearer token of role `collector` is required")
        })
    }

    fn answered(&self, signal: &'static str, result: &Result<impl Sized, Status>) {
        let status = match result {
            Ok(_) => 200,
            Err(status) => match status.code() {
                tonic::Code::Unauthenticated => 401,
                tonic::Code::ResourceExhausted => 429,
                tonic::Code::Unavailable => 503,
                _ => 400,
            },
        };
        self.collector.metrics().answered(signal, status);
    }
}

fn unavailable(error: Unavailable) -> Status {
    match error {
        Unavailable::QueueFull => Status::resource_exhausted(error.to_string()),
        Unavailable::Kafka(_) => Status::unavailable(error.to_string()),
    }
}

#[tonic::async_trait]
impl LogsService for Grpc {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let result = async {
            let client = self.client(&request)?;
            let outcome = self
                .collector
                .logs(request.get_ref(), &client, "grpc/logs")
                .await
                .map_err(unavailable)?;
            Ok(Response::new(outcome.logs_response()))
        }
        .await;
        self.answered("logs", &result);
        result
    }
}

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let result = async {
            let client = self.client(&request)?;
            let outcome = self
                .collector
                .traces(request.get_ref(), &client, "grpc/traces")
                .await
                .map_err(unavailable)?;
            Ok(Response::new(outcome.traces_response()))
        }
        .await;
        self.answered("traces", &result);
        result
    }
}

#[tonic::async_trait]
impl MetricsService for Grpc {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let result = self.client(&request).map(|_| {
            self.collector.metrics_export(request.get_ref());
            Response::new(ExportMetricsServiceResponse::default())
        });
        self.answered("metrics", &result);
        result
    }
}

/// Serves the OTLP/gRPC services of `collector` on `listener` until
/// `shutdown`, letting the calls in flight finish.
pub async fn serve(
    listener: TcpListener,
    collector: Arc<Collector>,
    shutdown: CancellationToken,
) -> Result<(), tonic::transport::Error> {
    let limit = collector.max_body_bytes();
    let grpc = Arc::new(Grpc { collector });
    let logs = LogsServiceServer::from_arc(Arc::clone(&grpc))
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    let traces = TraceServiceServer::from_arc(Arc::clone(&grpc))
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    let metrics = MetricsServiceServer::from_arc(grpc)
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(limit);
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tonic::transport::Server::builder()
        .add_service(logs)
        .add_service(traces)
        .add_service(metrics)
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await
}
