//! The body of a refused OTLP/HTTP request: a `google.rpc.Status`, in the
//! request's format, as the OTLP/HTTP specification asks.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::body::Format;

/// `google.rpc.Status` without details.
#[derive(Clone, PartialEq, prost::Message, Serialize)]
pub struct RpcStatus {
    /// The gRPC status code.
    #[prost(int32, tag = "1")]
    pub code: i32,
    /// What is wrong, for the person reading the exporter's log.
    #[prost(string, tag = "2")]
    pub message: String,
}

impl RpcStatus {
    /// gRPC `INVALID_ARGUMENT` (3).
    pub fn invalid_argument(message: &str) -> Self {
        RpcStatus {
            code: 3,
            message: message.to_string(),
        }
    }

    /// gRPC `UNAVAILABLE` (14).
    pub fn unavailable(message: &str) -> Self {
        RpcStatus {
            code: 14,
            message: message.to_string(),
        }
    }

    /// gRPC `UNAUTHENTICATED` (16).
    pub fn unauthenticated(message: &str) -> Self {
        RpcStatus {
            code: 16,
            message: message.to_string(),
        }
    }

    /// The HTTP answer `status` with this body in `format`.
    pub fn answer(&self, status: StatusCode, format: Format) -> Response {
        (
            status,
            [(header::CONTENT_TYPE, format.content_type())],
            format.encode(self),
        )
            .into_response()
    }
}
