//! `aitrail serve`: the HTTP service of DESIGN §6. `/healthz`, `/readyz`,
//! `/metrics` (the shared [`aitrail_ops`] router) and the dashboard's
//! static files are open; every `/v1` request is authenticated, checked
//! against its token's role, answered, and appended to `access_log`,
//! refused ones too (see [`v1`]).

pub mod access;
mod app;
pub mod auth;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod metrics;
mod respond;
mod v1;

use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use self::app::{App, BackgroundTasks};

/// Every route of the service: the operations endpoints, `/v1` and the
/// dashboard.
pub fn router(app: Arc<App>) -> Router {
    aitrail_ops::router(Arc::clone(&app))
        .merge(v1::routes(app))
        .merge(dashboard::routes())
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then lets the
/// requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    aitrail_ops::serve(listener, router(app), shutdown).await
}
