//! The dashboard of DESIGN §6 at `GET /`: a static page and its files,
//! served from the binary without authentication because they hold no
//! data. The page signs in with a bearer token and draws the `/v1`
//! reports, so what it shows is exactly what that token's role may read,
//! and every request it makes is in the access log.

mod assets;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use self::assets::{Asset, Assets};

/// Only this origin's files may run or style the page, and nothing
/// inline: a script injected into the page would hold the user's token.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";
/// The page and unversioned files: revalidated on every use (a 304 while
/// unchanged), so a new binary's page is seen at once.
const REVALIDATE: &str = "no-cache";
/// A file asked for by its current fingerprint never changes.
const FOREVER: &str = "public, max-age=31536000, immutable";

/// The routes `GET /` and `GET /assets/{name}`.
pub fn routes() -> Router {
    Router::new()
        .route("/", get(page))
        .route("/assets/{name}", get(file))
        .with_state(Arc::new(Assets::new()))
}

/// The query of an asset's link: its fingerprint.
#[derive(Deserialize)]
struct Version {
    v: Option<String>,
}

async fn page(State(assets): State<Arc<Assets>>, request: HeaderMap) -> Response {
    respond(&assets.page, REVALIDATE, &request)
}

async fn file(
    State(assets): State<Arc<Assets>>,
    Path(name): Path<String>,
    Query(version): Query<Version>,
    request: HeaderMap,
) -> Response {
    let Some(asset) = assets.file(&name) else {
        return (StatusCode::NOT_FOUND, "no such asset\n").into_response();
    };
    let cache = if version.v.as_deref() == Some(asset.fingerprint.as_str()) {
        FOREVER
    } else {
        REVALIDATE
    };
    respond(asset, cache, &request)
}

/// `asset` with its headers, or 304 when the request's `If-None-Match`
/// names its fingerprint.
fn respond(asset: &Asset, cache: &'static str, request: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", asset.fingerprint);
    let headers = [
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (
            header::ETAG,
            HeaderValue::from_str(&etag).expect("a fingerprint is hex digits"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    if matches(request, &etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (
        headers,
        [(header::CONTENT_TYPE, asset.content_type)],
        asset.body.clone(),
    )
        .into_response()
}

/// Whether `If-None-Match` names `etag` (weakly compared, as RFC 9110
/// asks for it) or is `*`.
fn matches(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}
