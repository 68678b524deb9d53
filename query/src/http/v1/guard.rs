//! The layer every `/v1` request passes through, whatever its route, so
//! that none can forget it: it authenticates the bearer token (a refused
//! token never reaches a handler), then logs the request to `access_log`
//! and counts it in the metrics, refused ones too.

use std::sync::Arc;
use std::time::Instant;

use aitrail_store::access_log::AccessRecord;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use super::super::app::App;
use super::super::error::ApiError;

/// The largest request body read: a generous SQL text.
pub(super) const MAX_BODY: usize = 1 << 20;
/// The most of a request's text kept in the access log.
const MAX_LOGGED: usize = 64 * 1024;

/// What a handler tells the access log about its answer: the rows it
/// returned and, when the request's text is better told another way
/// than the guard can (a report's parameters with defaults filled in),
/// that text.
#[derive(Debug, Clone, Default)]
pub(super) struct Logged {
    /// The rows answered.
    pub rows: Option<u64>,
    /// The request as the access log keeps it.
    pub request: Option<String>,
}

/// Authenticates, answers through `next`, then logs and counts.
pub(super) async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let label = endpoint_label(&app, &path);
    let mut record = AccessRecord {
        time_micros: chrono::Utc::now().timestamp_micros(),
        token: None,
        role: None,
        endpoint: truncated(&format!("{} {path}", parts.method), 512),
        request: String::new(),
        status: 0,
        error: None,
        rows: None,
        duration_ms: 0,
    };
    let response = match to_bytes(body, MAX_BODY).await {
        Err(_) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!("the request body is larger than {MAX_BODY} bytes"),
        )
        .into_response(),
        Ok(bytes) => {
            record.request = truncated(
                &request_text(parts.uri.query().unwrap_or_default(), &bytes),
                MAX_LOGGED,
            );
            match app
                .tokens
                .authenticate(parts.headers.get(header::AUTHORIZATION))
            {
                Err(err) => ApiError::from(err).into_response(),
                Ok(token) => {
                    record.token = Some(token.name.clone());
                    record.role = Some(token.role.name().to_string());
                    let mut request = Request::from_parts(parts, Body::from(bytes));
                    request.extensions_mut().insert(token.clone());
                    next.run(request).await
                }
            }
        }
    };
    if let Some(logged) = response.extensions().get::<Logged>() {
        record.rows = logged.rows;
        if let Some(request) = &logged.request {
            record.request = truncated(request, MAX_LOGGED);
        }
    }
    record.error = response
        .extensions()
        .get::<ApiError>()
        .map(|err| err.code.to_string());
    let elapsed = started.elapsed();
    record.status = response.status().as_u16();
    record.duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    app.metrics
        .observe(&label, record.status, elapsed.as_secs_f64());
    app.access_log.record(record).await;
    response
}

/// The metrics label of `path`: a closed set (the endpoints and the
/// registered reports), whatever paths clients try.
fn endpoint_label(app: &App, path: &str) -> String {
    match path {
        "/v1/whoami" | "/v1/sql" => path.to_string(),
        _ => match path.strip_prefix("/v1/reports/") {
            Some(name) if app.reports.named(name).is_some() => path.to_string(),
            _ if app
                .reports
                .iter()
                .any(|report| report.alias().is_some_and(|a| path == format!("/v1/{a}"))) =>
            {
                path.to_string()
            }
            _ => "other".to_string(),
        },
    }
}

/// The request as the access log keeps it: a SQL body's statement, any
/// other body as it came, or else the query parameters as a JSON object
/// (a repeated name keeps its last value).
fn request_text(query: &str, body: &[u8]) -> String {
    if !body.is_empty() {
        if let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body)
            && let Some(Value::String(sql)) = fields.get("sql")
        {
            return sql.clone();
        }
        return String::from_utf8_lossy(body).into_owned();
    }
    let object: Map<String, Value> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    Value::Object(object).to_string()
}

fn truncated(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_the_statement_the_body_or_the_parameters() {
        assert_eq!(request_text("", br#"{"sql": "SELECT 1"}"#), "SELECT 1");
        assert_eq!(request_text("", b"not json"), "not json");
        assert_eq!(
            request_text("by=team&from=2026-01-01", b""),
            r#"{"by":"team","from":"2026-01-01"}"#
        );
        assert_eq!(truncated("ééé", 3), "é…");
    }
}
