//! Every failure of a `/v1` request as one status and a JSON body
//! `{error, detail}`: `error` a stable code for programs, `detail` a
//! sentence for people. The response carries the error in its
//! extensions too, for the access log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::auth::AuthError;
use crate::engine::QueryError;
use crate::reports::ParamError;

/// A refused or failed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The stable error code.
    pub code: &'static str,
    /// What went wrong, for people.
    pub detail: String,
}

impl ApiError {
    /// An error with `status`, `code` and `detail`.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": self.code, "detail": self.detail});
        let mut response = (self.status, Json(body)).into_response();
        response.extensions_mut().insert(self);
        response
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", err.to_string())
    }
}

impl From<ParamError> for ApiError {
    fn from(err: ParamError) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            err.to_string(),
        )
    }
}

impl From<QueryError> for ApiError {
    fn from(err: QueryError) -> Self {
        let (status, code) = match &err {
            QueryError::Refused(_) => (StatusCode::BAD_REQUEST, "read_only"),
            QueryError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_query"),
            QueryError::TooManyRows { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "row_limit"),
            QueryError::OutOfMemory(_) => (StatusCode::PAYLOAD_TOO_LARGE, "memory_limit"),
            QueryError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
            QueryError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
            QueryError::Engine(_) => (StatusCode::INTERNAL_SERVER_ERROR, "engine"),
        };
        ApiError::new(status, code, err.to_string())
    }
}
