//! `aitrail serve`: the HTTP service of DESIGN §6. `/healthz`, `/readyz`,
//! `/metrics` and the dashboard's static files are open; every `/v1`
//! request is authenticated, checked against its token's role, answered,
//! and appended to `access_log`, refused ones too.

pub mod access;
pub mod auth;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod metrics;
mod respond;
mod v1;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use aitrail_store::StoreRoot;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::access::{AccessLog, AccessLogTask};
use self::auth::Tokens;
use self::config::ServerConfig;
use self::metrics::Metrics;
use crate::context::{QueryError, StoreTables};
use crate::limits::Limits;
use crate::prices::Prices;
use crate::reports::{ReportKind, ReportParams};

/// What every request handler shares.
pub struct App {
    tables: StoreTables,
    tokens: Tokens,
    config: ServerConfig,
    access_log: AccessLog,
    metrics: Arc<Metrics>,
    access_log_healthy: Arc<AtomicBool>,
}

impl App {
    /// Opens the store's access log (creating it) and prepares the tables;
    /// `config` must have been validated. The returned tasks must be
    /// finished after serving, to commit the last access records.
    pub async fn start(
        config: ServerConfig,
        root: StoreRoot,
        prices: Prices,
    ) -> Result<(Arc<App>, BackgroundTasks), QueryError> {
        let metrics = Arc::new(Metrics::default());
        let healthy = Arc::new(AtomicBool::new(true));
        let (access_log, task) =
            AccessLog::start(&root, Arc::clone(&metrics), Arc::clone(&healthy)).await?;
        let app = App {
            tables: StoreTables::new(root, prices)?,
            tokens: Tokens::new(&config.tokens),
            config,
            access_log,
            metrics,
            access_log_healthy: healthy,
        };
        let app = Arc::new(app);
        let stop_warming = CancellationToken::new();
        let warming = tokio::spawn(warm_up(Arc::clone(&app), stop_warming.clone()));
        let background = BackgroundTasks {
            access_log: task,
            stop_warming,
            warming,
        };
        Ok((app, background))
    }
}

/// The work the server does beside answering requests: warming the
/// per-day sums and committing the access log. Both are joined before the
/// process exits, so that no store read is cut off by the runtime shutting
/// down under it (the Delta kernel's reads then fail loudly).
pub struct BackgroundTasks {
    access_log: AccessLogTask,
    stop_warming: CancellationToken,
    warming: JoinHandle<()>,
}

impl BackgroundTasks {
    /// Stops warming up after the report it is on, then commits what the
    /// access log holds. Call it once no request is being served any more.
    pub async fn finish(self) {
        self.stop_warming.cancel();
        if let Err(error) = self.warming.await {
            tracing::error!(%error, "warming up the reports failed");
        }
        self.access_log.finish().await;
    }
}

/// Works out the per-day sums the reports read (see
/// [`crate::daily_sums`]), those of the incidents report for its default
/// lookback, as the server starts, so that the first reports do not wait
/// for them. Within the per-query memory limit, without its timeout: no
/// one waits for this answer, and a large store may take longer to sum
/// than one query may run.
async fn warm_up(app: Arc<App>, stop: CancellationToken) {
    let started = Instant::now();
    let limits = Limits {
        timeout: None,
        ..app.config.limits()
    };
    let today = chrono::Utc::now().date_naive();
    for kind in [ReportKind::Adoption, ReportKind::Incidents] {
        if stop.is_cancelled() {
            return;
        }
        let params = ReportParams::parse(kind, [], today).expect("the defaults are valid");
        if let Err(err) = app.tables.session_for_report(limits, &params).await {
            tracing::warn!(
                error = %err,
                report = kind.name(),
                "summing the tables per day for the reports failed; the first report tries again"
            );
            return;
        }
    }
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "the tables summed per day for the reports"
    );
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then lets the
/// requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/{*path}", any(v1::handle))
        .with_state(app)
        .merge(dashboard::routes());
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(app): State<Arc<App>>) -> (StatusCode, &'static str) {
    if app.access_log_healthy.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the access log cannot be committed to the store\n",
        )
    }
}

async fn metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.encode(),
    )
}
