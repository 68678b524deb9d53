//! The `/v1` endpoints, one route and one small handler each, behind the
//! [`guard`] layer that authenticates and logs every request: `GET
//! /v1/whoami`, `POST /v1/sql` (compliance only) and `GET
//! /v1/reports/{name}` for every registered report.

mod guard;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router, middleware};
use serde::Deserialize;
use serde_json::json;

use self::guard::{Logged, guard};
use super::app::App;
use super::auth::Token;
use super::error::ApiError;
use super::respond::negotiate;
use crate::output::{Format, render};
use crate::reports;
use crate::role::Role;

/// The `/v1` routes of `app`, each behind the guard.
pub(super) fn routes(app: Arc<App>) -> Router {
    let mut routes = Router::new()
        .route("/v1/whoami", get(whoami).fallback(only("GET")))
        .route("/v1/sql", post(sql).fallback(only("POST")))
        .route("/v1/reports/{name}", get(report).fallback(only("GET")));
    for registered in app.reports.iter() {
        if let Some(alias) = registered.alias() {
            let name = registered.name();
            let handler = move |state: State<Arc<App>>,
                                token: Extension<Token>,
                                query: RawQuery,
                                headers: HeaderMap| {
                report(state, token, Path(name.to_string()), query, headers)
            };
            routes = routes.route(&format!("/v1/{alias}"), get(handler).fallback(only("GET")));
        }
    }
    routes
        .route("/v1/{*rest}", axum::routing::any(unknown))
        .layer(middleware::from_fn_with_state(Arc::clone(&app), guard))
        .with_state(app)
}

/// The body of `POST /v1/sql`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SqlRequest {
    sql: String,
}

async fn whoami(Extension(token): Extension<Token>) -> Response {
    let identity = json!({"name": token.name, "role": token.role.name()});
    noted(Json(identity).into_response(), Some(1), None)
}

async fn sql(
    State(app): State<Arc<App>>,
    Extension(token): Extension<Token>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
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
    let request: SqlRequest = serde_json::from_slice(&body).map_err(|err| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("the body must be a JSON object {{\"sql\": \"SELECT …\"}}: {err}"),
        )
    })?;
    let format = negotiate(&headers)?;
    let session = app.tables.session(app.config.limits()).await?;
    let answer = session.query(&request.sql).await?;
    Ok(noted(
        rendered(format, &answer.batches)?,
        Some(answer.rows()),
        None,
    ))
}

async fn report(
    State(app): State<Arc<App>>,
    Extension(token): Extension<Token>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(report) = app.reports.named(&name) else {
        return Err(not_found(&app));
    };
    let query = query.unwrap_or_default();
    let pairs = url::form_urlencoded::parse(query.as_bytes()).into_owned();
    let today = chrono::Utc::now().date_naive();
    let params = report.parse_params(pairs, today)?;
    let logged = params.to_json().to_string();
    if let Err(reason) = report.allows(token.role, &params) {
        let refused = ApiError::new(StatusCode::FORBIDDEN, "forbidden", reason);
        return Ok(noted(refused.into_response(), None, Some(logged)));
    }
    let k = match token.role {
        Role::Compliance => 0,
        Role::Leadership => app.config.k_anonymity,
    };
    let own_media = own_media_type(&headers, report.media_types());
    let format = match own_media {
        Some(_) => Format::Json,
        None => negotiate(&headers)?,
    };
    let session = app
        .sums
        .session(&app.tables, app.config.limits(), report.as_ref(), &params)
        .await?;
    let answer = reports::run(report.as_ref(), &session, &params, k).await?;
    let rows = answer.rows.rows();
    let response = if let Some(media) = own_media {
        let body = report.render(media, &answer).map_err(|reason| {
            ApiError::new(StatusCode::NOT_ACCEPTABLE, "not_acceptable", reason)
        })?;
        ([(header::CONTENT_TYPE, media)], body).into_response()
    } else if format == Format::Json {
        let body = answer.to_json().map_err(render_error)?;
        ([(header::CONTENT_TYPE, format.media_type())], body).into_response()
    } else {
        rendered(format, &answer.rows.batches)?
    };
    Ok(noted(response, Some(rows), Some(logged)))
}

/// The first of a report's own media types `Accept` lists, compared
/// without case or blanks (`application/x-ndjson; profile=ocsf`).
fn own_media_type(headers: &HeaderMap, offered: &'static [&'static str]) -> Option<&'static str> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    let normal = |text: &str| -> String {
        text.chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase()
    };
    accept.split(',').find_map(|range| {
        let range = normal(range);
        offered.iter().copied().find(|media| normal(media) == range)
    })
}

async fn unknown(State(app): State<Arc<App>>) -> ApiError {
    not_found(&app)
}

fn not_found(app: &App) -> ApiError {
    let reports: Vec<String> = app
        .reports
        .names()
        .iter()
        .map(|name| format!("GET /v1/reports/{name}"))
        .collect();
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "endpoints: GET /v1/whoami, POST /v1/sql, {}",
            reports.join(", ")
        ),
    )
}

/// The answer to a route's other methods.
fn only(method: &'static str) -> impl Fn() -> std::future::Ready<ApiError> + Clone {
    move || {
        std::future::ready(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("use {method}"),
        ))
    }
}

/// `response`, noting for the access log the `rows` it answered and the
/// request as the log keeps it, when the handler tells it better.
fn noted(mut response: Response, rows: Option<usize>, request: Option<String>) -> Response {
    response.extensions_mut().insert(Logged {
        rows: rows.map(|rows| rows as u64),
        request,
    });
    response
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
