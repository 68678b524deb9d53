//! The webhooks of DESIGN §9: `POST /v1/webhooks/github` and
//! `/v1/webhooks/pagerduty`, each signed with its shared secret (`401`
//! when the signature is missing or wrong, checked in constant time),
//! answered `202` for kinds aitrail does not keep, and otherwise once
//! Kafka has acknowledged the event.

pub mod github;
pub mod pagerduty;
pub mod signature;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::auth::Client;
use crate::collector::Collector;
use crate::config::{GithubConfig, PagerDutyConfig};
use crate::delivery::RETRY_AFTER_SECONDS;
use crate::http::counted;
use crate::otlp::body::{BodyError, read_limited};

/// The webhooks configured, each with the collector.
struct Webhooks<C> {
    collector: Arc<Collector>,
    config: C,
}

/// The routes of the configured webhooks (none when neither is).
pub fn router(
    collector: &Arc<Collector>,
    github: Option<GithubConfig>,
    pagerduty: Option<PagerDutyConfig>,
) -> Router {
    let mut router = Router::new();
    if let Some(config) = github {
        let state = Arc::new(Webhooks {
            collector: Arc::clone(collector),
            config,
        });
        router = router.route("/v1/webhooks/github", post(github_hook).with_state(state));
    }
    if let Some(config) = pagerduty {
        let state = Arc::new(Webhooks {
            collector: Arc::clone(collector),
            config,
        });
        router = router.route(
            "/v1/webhooks/pagerduty",
            post(pagerduty_hook).with_state(state),
        );
    }
    router
}

/// `source:` and 40 hex digits of SHA-256 over the record's kind and what
/// identifies it: a redelivery, or the same merge seen again, gets the
/// same id.
pub fn record_id(source: &str, kind: &str, identity: &str) -> String {
    let digest = hex::encode(Sha256::digest(format!("{kind}\n{identity}")));
    format!("{source}:{}", &digest[..40])
}

async fn github_hook(
    State(hook): State<Arc<Webhooks<GithubConfig>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = async {
        let body = read(&hook.collector, body).await?;
        let signature = text(&headers, "x-hub-signature-256")
            .and_then(|s| s.strip_prefix("sha256="))
            .unwrap_or("");
        if !signature::is_signed(&hook.config.secret, &body, signature) {
            return Err(answer(
                StatusCode::UNAUTHORIZED,
                "X-Hub-Signature-256 is missing or wrong",
            ));
        }
        let kind = text(&headers, "x-github-event").unwrap_or("");
        let payload: Value = serde_json::from_slice(&body).map_err(malformed)?;
        let mapper = hook.collector.mapper();
        let delivery = github::map(
            kind,
            &payload,
            &hook.config,
            mapper.pseudonyms(),
            mapper.default_org(),
        )
        .map_err(|problem| answer(StatusCode::BAD_REQUEST, &problem))?;
        match delivery {
            github::Delivery::Ping => Ok(answer(StatusCode::OK, "pong")),
            github::Delivery::Ignored(what) => Ok(ignored(&what)),
            github::Delivery::Event(id, json) => {
                produce(&hook.collector, "github", "/v1/webhooks/github", id, json).await
            }
        }
    };
    counted(&hook.collector, "github", answer.await)
}

async fn pagerduty_hook(
    State(hook): State<Arc<Webhooks<PagerDutyConfig>>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = async {
        let body = read(&hook.collector, body).await?;
        let signatures = text(&headers, "x-pagerduty-signature").unwrap_or("");
        let signed = signatures
            .split(',')
            .filter_map(|s| s.trim().strip_prefix("v1="))
            .any(|s| signature::is_signed(&hook.config.secret, &body, s));
        if !signed {
            return Err(answer(
                StatusCode::UNAUTHORIZED,
                "X-PagerDuty-Signature is missing or wrong",
            ));
        }
        let payload: Value = serde_json::from_slice(&body).map_err(malformed)?;
        let org = hook.collector.mapper().default_org();
        match pagerduty::map(&payload, &hook.config, org)
            .map_err(|problem| answer(StatusCode::BAD_REQUEST, &problem))?
        {
            pagerduty::Delivery::Ignored(what) => Ok(ignored(&what)),
            pagerduty::Delivery::Event(id, json) => {
                produce(
                    &hook.collector,
                    "pagerduty",
                    "/v1/webhooks/pagerduty",
                    id,
                    json,
                )
                .await
            }
        }
    };
    counted(&hook.collector, "pagerduty", answer.await)
}

async fn read(collector: &Collector, body: Body) -> Result<bytes::Bytes, Response> {
    read_limited(body, collector.max_body_bytes())
        .await
        .map_err(|err| {
            let status = match err {
                BodyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            };
            answer(status, &err.to_string())
        })
}

fn malformed(err: serde_json::Error) -> Response {
    answer(StatusCode::BAD_REQUEST, &format!("malformed JSON: {err}"))
}

async fn produce(
    collector: &Collector,
    source: &'static str,
    endpoint: &str,
    record_id: String,
    json: Vec<u8>,
) -> Result<Response, Response> {
    let client = Client {
        name: source.to_string(),
        org_id: None,
    };
    match collector
        .webhook_events(source, vec![(record_id, json)], &client, endpoint)
        .await
    {
        Ok(outcome) if outcome.rejected > 0 => Ok(answer(StatusCode::OK, &outcome.message)),
        Ok(_) => Ok(answer(StatusCode::OK, "stored")),
        Err(error) => {
            let mut response = answer(StatusCode::SERVICE_UNAVAILABLE, &error.to_string());
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            Err(response)
        }
    }
}

fn text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn ignored(what: &str) -> Response {
    answer(StatusCode::ACCEPTED, &format!("ignored: {what}"))
}

fn answer(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}
