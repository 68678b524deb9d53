//! The `/v1` endpoints: one handler that authenticates, routes, checks the
//! role, answers, and logs every request to `access_log`, whatever its
//! outcome.

use std::sync::Arc;
use std::time::Instant;

use aitrail_store::access_log::AccessRecord;
use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::App;
use super::config::Role;
use super::error::ApiError;
use super::respond::negotiate;
use crate::output::{Format, render};
use crate::reports::{self, GroupBy, ReportKind, ReportParams};

/// The largest request body read: a generous SQL text.
const MAX_BODY: usize = 1 << 20;
/// The most of a request's text kept in the access log.
const MAX_LOGGED: usize = 64 * 1024;

/// What a `/v1` path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    WhoAmI,
    Sql,
    Report(ReportKind),
    Unknown,
}

impl Endpoint {
    fn of(path: &str) -> Self {
        match path {
            "/v1/whoami" => return Endpoint::WhoAmI,
            "/v1/sql" => return Endpoint::Sql,
            _ => {}
        }
        path.strip_prefix("/v1/reports/")
            .and_then(ReportKind::from_name)
            .map_or(Endpoint::Unknown, Endpoint::Report)
    }

    /// The metrics label: a closed set, whatever paths clients try.
    fn label(self) -> &'static str {
        match self {
            Endpoint::WhoAmI => "/v1/whoami",
            Endpoint::Sql => "/v1/sql",
            Endpoint::Report(ReportKind::Adoption) => "/v1/reports/adoption",
            Endpoint::Report(ReportKind::TokenSpend) => "/v1/reports/token-spend",
            Endpoint::Report(ReportKind::Incidents) => "/v1/reports/incidents",
            Endpoint::Unknown => "other",
        }
    }
}

/// The body of `POST /v1/sql`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlRequest {
    sql: String,
}

/// Answers one `/v1` request and logs it.
pub(super) async fn handle(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let path = uri.path();
    let endpoint = Endpoint::of(path);
    let mut record = AccessRecord {
        time_micros: chrono::Utc::now().timestamp_micros(),
        token: None,
        role: None,
        endpoint: truncated(&format!("{method} {path}"), 512),
        request: String::new(),
        status: 0,
        error: None,
        rows: None,
        duration_ms: 0,
    };
    let request = Request {
        method: &method,
        endpoint,
        query: uri.query().unwrap_or_default(),
        headers: &headers,
    };
    let response = match answer(&app, request, body, &mut record).await {
        Ok((response, rows)) => {
            record.rows = Some(rows as u64);
            response
        }
        Err(err) => {
            record.error = Some(err.code.to_string());
            err.into_response()
        }
    };
    let elapsed = started.elapsed();
    record.status = response.status().as_u16();
    record.duration_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    app.metrics
        .observe(endpoint.label(), record.status, elapsed.as_secs_f64());
    app.access_log.record(record).await;
    response
}

struct Request<'a> {
    method: &'a Method,
    endpoint: Endpoint,
    query: &'a str,
    headers: &'a HeaderMap,
}

/// The answer and its row count, or why there is none. `record` gets the
/// token and the request's text as soon as they are known.
async fn answer(
    app: &App,
    request: Request<'_>,
    body: Body,
    record: &mut AccessRecord,
) -> Result<(Response, usize), ApiError> {
    let sql = match request.endpoint {
        Endpoint::Sql => Some(read_sql(body).await),
        _ => None,
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(request.query.as_bytes())
        .into_owned()
        .collect();
    record.request = match &sql {
        Some(Ok(sql)) => truncated(sql, MAX_LOGGED),
        Some(Err(_)) => String::new(),
        None => truncated(&pairs_json(&pairs), MAX_LOGGED),
    };
    let token = app
        .tokens
        .authenticate(request.headers.get(header::AUTHORIZATION))?;
    record.token = Some(token.name.clone());
    record.role = Some(token.role.name().to_string());
    match request.endpoint {
        Endpoint::Unknown => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "endpoints: GET /v1/whoami, POST /v1/sql, GET /v1/reports/adoption, \
             /v1/reports/token-spend, /v1/reports/incidents",
        )),
        Endpoint::WhoAmI => {
            expect_method(request.method, &Method::GET)?;
            let identity = json!({"name": token.name, "role": token.role.name()});
            Ok((Json(identity).into_response(), 1))
        }
        Endpoint::Sql => {
            expect_method(request.method, &Method::POST)?;
            if token.role != Role::Compliance {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!(
                        "SQL is for compliance tokens; `{}` is a {} token",
                        token.name,
                        token.role.name()
                    ),
                ));
            }
            let sql = sql.expect("the body of a SQL request is read before authentication")?;
            let format = negotiate(request.headers)?;
            let session = app.tables.session(app.config.limits()).await?;
            let answer = session.query(&sql).await?;
            Ok((rendered(format, &answer.batches)?, answer.rows()))
        }
        Endpoint::Report(kind) => {
            expect_method(request.method, &Method::GET)?;
            let today = chrono::Utc::now().date_naive();
            let params = ReportParams::parse(kind, pairs, today)?;
            record.request = params.to_json().to_string();
            let k = match token.role {
                Role::Compliance => 0,
                Role::Leadership if params.by == GroupBy::User => {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "forbidden",
                        "leadership reports are never grouped by user",
                    ));
                }
                Role::Leadership => app.config.k_anonymity,
            };
            let format = negotiate(request.headers)?;
            let session = app
                .tables
                .session_for_report(app.config.limits(), &params)
                .await?;
            let report = reports::run(&session, &params, k).await?;
            let rows = report.rows.rows();
            let response = if format == Format::Json {
                let body = report.to_json().map_err(render_error)?;
                (
                    [(header::CONTENT_TYPE, format.media_type())],
                    body.to_string(),
                )
                    .into_response()
            } else {
                rendered(format, &report.rows.batches)?
            };
            Ok((response, rows))
        }
    }
}

async fn read_sql(body: Body) -> Result<String, ApiError> {
    let bytes = to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            format!("the request body is larger than {MAX_BODY} bytes"),
        )
    })?;
    let request: SqlRequest = serde_json::from_slice(&bytes).map_err(|err| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the body must be a JSON object {{\"sql\": \"SELECT …\"}}: {err}"),
        )
    })?;
    Ok(request.sql)
}

fn expect_method(method: &Method, expected: &Method) -> Result<(), ApiError> {
    if method == expected {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("use {expected}"),
        ))
    }
}

fn rendered(
    format: Format,
    batches: &[arrow::record_batch::RecordBatch],
) -> Result<Response, ApiError> {
    let body = render(batches, format).map_err(render_error)?;
    Ok(([(header::CONTENT_TYPE, format.media_type())], body).into_response())
}

fn render_error(err: arrow::error::ArrowError) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "render",
        format!("the result could not be written: {err}"),
    )
}

/// Query parameters as a JSON object, for the log; a repeated name keeps
/// its last value.
fn pairs_json(pairs: &[(String, String)]) -> String {
    let object: Map<String, Value> = pairs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
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
