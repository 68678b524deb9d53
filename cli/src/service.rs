//! What the long-running commands (`ingest`, `serve`, `retention daemon`,
//! `dev`) share: logs on stderr, a multi-threaded runtime, and a graceful
//! stop on SIGTERM or SIGINT.

use std::future::Future;
use std::io::IsTerminal;

use aitrail_store::lifecycle::run_on_schedule;
use aitrail_store::schedule::Schedule;
use aitrail_store::{Policy, StoreRoot};
use clap::ValueEnum;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How log lines are written to stderr.
#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Text for people.
    Text,
}

/// Sends logs to stderr in `format`, then runs `service` on a
/// multi-threaded runtime with a token cancelled on the first SIGTERM or
/// SIGINT; `service` stops gracefully once it is.
pub fn run_service<T, F>(
    format: LogFormat,
    service: impl FnOnce(CancellationToken) -> F,
) -> anyhow::Result<T>
where
    F: Future<Output = anyhow::Result<T>>,
{
    run_service_with_filter(format, DEFAULT_LOG_FILTER, service)
}

/// [`run_service`] with `default_filter` in place of the services' default
/// log filter when `RUST_LOG` is not set.
pub fn run_service_with_filter<T, F>(
    format: LogFormat,
    default_filter: &str,
    service: impl FnOnce(CancellationToken) -> F,
) -> anyhow::Result<T>
where
    F: Future<Output = anyhow::Result<T>>,
{
    init_logs(format, default_filter);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signal(shutdown.clone()));
        service(shutdown).await
    })
}

/// Runs the retention purge and compaction of `root` at every time of
/// `schedule`, when there is one, until `shutdown` is cancelled; the task
/// is to be awaited after the service stops, so a running job finishes.
pub fn spawn_lifecycle(
    schedule: Option<Schedule>,
    root: StoreRoot,
    policy: Policy,
    shutdown: CancellationToken,
) -> Option<JoinHandle<()>> {
    schedule.map(|schedule| {
        tokio::spawn(async move {
            run_on_schedule(&schedule, &root, &policy, shutdown.cancelled()).await;
        })
    })
}

/// Without `RUST_LOG`: aitrail's own events at `info`, its libraries' only
/// from `warn` (the Delta kernel logs every snapshot load at `info`). The
/// kernel's snapshot builder is silenced: it logs an `ERROR` each time a
/// table that does not exist yet is probed before being created, and a
/// real failure to load a table reaches aitrail's own logs as an error.
/// delta-rs's commit warnings are too: a compaction or purge that finds
/// the table moved on is expected to fail its commit and try again
/// (`aitrail_store::compact`), and a real failure reaches aitrail's logs.
const DEFAULT_LOG_FILTER: &str = "warn,buoyant_kernel::snapshot::builder=off,\
     deltalake_core::kernel::transaction=error,aitrail=info,\
     aitrail_ingest=info,aitrail_store=info,aitrail_query=info";

/// Sends `tracing` output to stderr in `format`, filtered by `RUST_LOG`,
/// else by `default_filter`. Colours only on a terminal: a log file or a
/// collector reading a pipe would keep the escape codes as text.
fn init_logs(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Cancels `shutdown` on the first SIGTERM or SIGINT.
async fn stop_on_signal(shutdown: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
        () = terminate => tracing::info!("SIGTERM: stopping"),
    }
    shutdown.cancel();
}
