//! The operations endpoints every aitrail service serves: `/healthz` (the
//! process answers), `/readyz` (it can do its work, and why not when it
//! cannot) and `/metrics` (Prometheus' text format). One router, so that
//! the ingest, the query service and the collector answer them alike; it
//! depends on neither the store nor Kafka, so any service can use it.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What a service tells its operators.
pub trait Observed: Send + Sync + 'static {
    /// `Ok` when the service can do its work; otherwise why not, in one
    /// line (the body of a `503` from `/readyz`).
    fn readiness(&self) -> Result<(), String>;

    /// Its metrics in Prometheus' text format ([`encode`] its registry).
    fn metrics(&self) -> String;
}

/// The media type of `/metrics`.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `/healthz`, `/readyz` and `/metrics` of `service`, to merge into the
/// service's own router or to serve alone ([`serve`]).
pub fn router<S: Observed>(service: Arc<S>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz::<S>))
        .route("/metrics", get(metrics::<S>))
        .with_state(service)
}

/// `registry` in Prometheus' text format.
pub fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)
        .expect("writing to a String cannot fail");
    text
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then lets
/// the requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz<S: Observed>(State(service): State<Arc<S>>) -> (StatusCode, String) {
    match service.readiness() {
        Ok(()) => (StatusCode::OK, "ready\n".to_string()),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")),
    }
}

async fn metrics<S: Observed>(State(service): State<Arc<S>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        service.metrics(),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use prometheus_client::metrics::counter::Counter;
    use tower::ServiceExt;

    use super::*;

    struct Fake {
        ready: AtomicBool,
        registry: Registry,
    }

    impl Observed for Fake {
        fn readiness(&self) -> Result<(), String> {
            if self.ready.load(Ordering::Relaxed) {
                Ok(())
            } else {
                Err("broker unreachable".to_string())
            }
        }

        fn metrics(&self) -> String {
            encode(&self.registry)
        }
    }

    async fn get(router: &Router, path: &str) -> (StatusCode, String, String) {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn readiness_and_metrics_come_from_the_service() {
        let mut registry = Registry::with_prefix("aitrail_test");
        let counter = Counter::<u64>::default();
        registry.register("things", "Things counted", counter.clone());
        counter.inc_by(3);
        let service = Arc::new(Fake {
            ready: AtomicBool::new(false),
            registry,
        });
        let router = router(Arc::clone(&service));

        assert_eq!(get(&router, "/healthz").await.0, StatusCode::OK);
        let (status, _, body) = get(&router, "/readyz").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "broker unreachable\n")
        );
        service.ready.store(true, Ordering::Relaxed);
        assert_eq!(get(&router, "/readyz").await.0, StatusCode::OK);

        let (status, content_type, body) = get(&router, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, METRICS_CONTENT_TYPE);
        assert!(body.contains("aitrail_test_things_total 3"), "{body}");
    }
}
