//! The operations endpoints: `/metrics`, `/healthz` and `/readyz`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Whether the ingest can do its work: readiness is both of these.
#[derive(Debug, Default)]
pub struct Health {
    /// At least one broker is connected.
    pub broker: AtomicBool,
    /// The last store operation succeeded.
    pub store: AtomicBool,
}

impl Health {
    /// Ready to make progress: the broker and the store are both reachable.
    pub fn ready(&self) -> bool {
        self.broker.load(Ordering::Relaxed) && self.store.load(Ordering::Relaxed)
    }

    /// Records whether the broker is reachable, logging the change.
    pub fn set_broker(&self, up: bool) {
        if self.broker.swap(up, Ordering::Relaxed) != up {
            tracing::info!(broker_reachable = up, "broker reachability changed");
        }
    }

    /// Records whether the store is reachable, logging the change.
    pub fn set_store(&self, up: bool) {
        if self.store.swap(up, Ordering::Relaxed) != up {
            tracing::info!(store_reachable = up, "store reachability changed");
        }
    }
}

/// What the endpoints read.
pub struct Operations {
    /// Served at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Served at `/readyz`.
    pub health: Arc<Health>,
}

/// Serves the endpoints on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    operations: Arc<Operations>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(operations);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

async fn metrics(State(operations): State<Arc<Operations>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        operations.metrics.encode(),
    )
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(operations): State<Arc<Operations>>) -> (StatusCode, &'static str) {
    if operations.health.ready() {
        (StatusCode::OK, "ready\n")
    } else if !operations.health.broker.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "broker unreachable\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "store unreachable\n")
    }
}
