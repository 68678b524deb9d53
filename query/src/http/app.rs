//! What every request handler shares ([`App`]), the work the server does
//! beside answering (warming the reports' sums, committing the access
//! log), and what it tells its operators.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use aitrail_ops::Observed;
use aitrail_store::StoreRoot;
use arrow::record_batch::RecordBatch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::access::{AccessLog, AccessLogTask};
use super::auth::Tokens;
use super::config::ServerConfig;
use super::metrics::Metrics;
use crate::engine::{QueryError, StoreTables};
use crate::limits::Limits;
use crate::prices::Prices;
use crate::reports::{ReportSums, Reports};

/// What every request handler shares.
pub struct App {
    pub(super) tables: StoreTables,
    pub(super) sums: ReportSums,
    pub(super) reports: Reports,
    pub(super) tokens: Tokens,
    pub(super) config: ServerConfig,
    pub(super) access_log: AccessLog,
    pub(super) metrics: Arc<Metrics>,
    access_log_healthy: Arc<AtomicBool>,
}

impl App {
    /// Opens the store's access log (creating it) and prepares the tables,
    /// with `configured` tables beside them (the governance policy's), to
    /// answer `reports`; `config` must have been validated. The returned
    /// tasks must be finished after serving, to commit the last access
    /// records.
    pub async fn start(
        config: ServerConfig,
        root: StoreRoot,
        prices: Prices,
        reports: Reports,
        configured: Vec<(String, RecordBatch)>,
    ) -> Result<(Arc<App>, BackgroundTasks), QueryError> {
        let metrics = Arc::new(Metrics::default());
        let healthy = Arc::new(AtomicBool::new(true));
        let (access_log, task) =
            AccessLog::start(&root, Arc::clone(&metrics), Arc::clone(&healthy)).await?;
        let app = App {
            tables: configured
                .into_iter()
                .try_fold(StoreTables::new(root, prices)?, |tables, (name, rows)| {
                    Ok::<_, QueryError>(tables.with_table(&name, rows))
                })?,
            sums: ReportSums::new(config.report_sums_bytes()),
            reports,
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
/// [`crate::reports::daily_sums`]) for their default parameters, as the
/// server starts, so that the first reports do not wait
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
    for report in app.reports.iter() {
        if stop.is_cancelled() {
            return;
        }
        let params = report
            .parse_params([], today)
            .expect("the defaults are valid");
        let warmed = app
            .sums
            .session(&app.tables, limits, report.as_ref(), &params)
            .await;
        if let Err(err) = warmed {
            tracing::warn!(
                error = %err,
                report = report.name(),
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

impl Observed for App {
    fn readiness(&self) -> Result<(), String> {
        if self.access_log_healthy.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err("the access log cannot be committed to the store".to_string())
        }
    }

    fn metrics(&self) -> String {
        self.metrics
            .report_sums_bytes
            .set(i64::try_from(self.sums.bytes()).unwrap_or(i64::MAX));
        self.metrics.encode()
    }
}
